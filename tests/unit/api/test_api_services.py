"""Use cases over the in-memory store: signup/login/refresh, projects, limits."""

import pytest

from chalicelib.errors import (
    EmailTakenError,
    LimitExceededError,
    NotFoundError,
    RateLimitedError,
    TooManyLoginAttemptsError,
    UnauthorizedError,
)
from chalicelib.services import projects, users
from tests.unit.api.helpers import FakeClock, make_context

PASSWORD = "correct horse battery"


def test_signup_limit_and_duplicate() -> None:
    ctx = make_context(max_users=2)
    users.signup(ctx, "a@x.io", PASSWORD)
    with pytest.raises(EmailTakenError):
        users.signup(ctx, "a@x.io", PASSWORD)
    users.signup(ctx, "b@x.io", PASSWORD)
    with pytest.raises(LimitExceededError) as caught:
        users.signup(ctx, "c@x.io", PASSWORD)
    assert caught.value.status == 403
    assert caught.value.details == {"limit": "users", "max": 2}
    assert ctx.stores.users.count() == 2


def test_login_same_error_for_unknown_email_and_wrong_password() -> None:
    ctx = make_context()
    users.signup(ctx, "a@x.io", PASSWORD)
    with pytest.raises(UnauthorizedError) as wrong:
        users.login(ctx, "a@x.io", "wrong password!!", "1.2.3.4")
    with pytest.raises(UnauthorizedError) as unknown:
        users.login(ctx, "nobody@x.io", PASSWORD, "1.2.3.4")
    assert wrong.value.message == unknown.value.message
    session = users.login(ctx, "a@x.io", PASSWORD, "1.2.3.4")
    assert ctx.signer.verify(session.access_token, ctx.now()).user_id


def test_login_attempts_limited_per_email_and_refunded_on_success() -> None:
    clock = FakeClock()
    ctx = make_context(clock, login_max_per_email=3, login_max_per_ip=100)
    users.signup(ctx, "a@x.io", PASSWORD)
    for _ in range(5):  # successes give their attempt back
        users.login(ctx, "a@x.io", PASSWORD, "1.1.1.1")
    for _ in range(3):
        with pytest.raises(UnauthorizedError):
            users.login(ctx, "a@x.io", "bad password!!", "1.1.1.1")
    with pytest.raises(TooManyLoginAttemptsError) as caught:
        users.login(ctx, "a@x.io", PASSWORD, "1.1.1.1")  # even the right password
    assert caught.value.status == 429 and 0 < caught.value.retry_after_s <= 900
    assert caught.value.headers["Retry-After"] == str(caught.value.retry_after_s)
    clock.advance(900)
    users.login(ctx, "a@x.io", PASSWORD, "1.1.1.1")  # a new window


def test_login_attempts_limited_per_ip() -> None:
    ctx = make_context(login_max_per_email=100, login_max_per_ip=2)
    for email in ("a@x.io", "b@x.io"):
        with pytest.raises(UnauthorizedError):
            users.login(ctx, email, PASSWORD, "9.9.9.9")
    with pytest.raises(TooManyLoginAttemptsError):
        users.login(ctx, "c@x.io", PASSWORD, "9.9.9.9")
    with pytest.raises(UnauthorizedError):  # another IP is not affected
        users.login(ctx, "c@x.io", PASSWORD, "8.8.8.8")


def test_refresh_rotates_and_reuse_revokes_the_family() -> None:
    clock = FakeClock()
    ctx = make_context(clock)
    users.signup(ctx, "a@x.io", PASSWORD)
    first = users.login(ctx, "a@x.io", PASSWORD, "ip")
    second = users.refresh(ctx, first.refresh_token)
    assert second.refresh_token != first.refresh_token
    third = users.refresh(ctx, second.refresh_token)
    with pytest.raises(UnauthorizedError) as reused:
        users.refresh(ctx, first.refresh_token)  # replay of a rotated token
    assert reused.value.details == {"reason": "reused"}
    with pytest.raises(UnauthorizedError):
        users.refresh(ctx, third.refresh_token)  # the whole family is gone
    other = users.login(ctx, "a@x.io", PASSWORD, "ip")  # a new login is unaffected
    users.refresh(ctx, other.refresh_token)


def test_refresh_expires_and_logout_revokes() -> None:
    clock = FakeClock()
    ctx = make_context(clock, refresh_token_ttl_s=100)
    users.signup(ctx, "a@x.io", PASSWORD)
    session = users.login(ctx, "a@x.io", PASSWORD, "ip")
    clock.advance(100)
    with pytest.raises(UnauthorizedError):
        users.refresh(ctx, session.refresh_token)
    session = users.login(ctx, "a@x.io", PASSWORD, "ip")
    users.logout(ctx, session.refresh_token)
    users.logout(ctx, session.refresh_token)  # idempotent
    users.logout(ctx, "unknown")
    with pytest.raises(UnauthorizedError):
        users.refresh(ctx, session.refresh_token)


def test_projects_limit_ownership_and_count() -> None:
    ctx = make_context(max_projects_per_user=2)
    alice = users.signup(ctx, "a@x.io", PASSWORD).user_id
    bob = users.signup(ctx, "b@x.io", PASSWORD).user_id
    p1 = projects.create(ctx, alice, "one")
    projects.create(ctx, alice, "two")
    with pytest.raises(LimitExceededError):
        projects.create(ctx, alice, "three")
    assert (
        len(p1.external_id) == 32 and p1.external_id != projects.create(ctx, bob, "b").external_id
    )
    with pytest.raises(NotFoundError):
        projects.get_owned(ctx, bob, p1.project_id)
    with pytest.raises(NotFoundError):
        projects.update(ctx, bob, p1.project_id, {"name": "stolen"})
    with pytest.raises(NotFoundError):
        projects.delete(ctx, bob, p1.project_id)
    projects.delete(ctx, alice, p1.project_id)
    owner = ctx.stores.users.get(alice)
    assert owner is not None and owner.project_count == 1
    projects.create(ctx, alice, "three")  # room again
    with pytest.raises(NotFoundError):
        projects.get_owned(ctx, alice, "x" * 500)


def test_rate_limiter_window_buckets_and_headers() -> None:
    clock = FakeClock(now=1_800_000_100.0)  # 100 s into a 900 s window
    ctx = make_context(clock, rate_limit=3, status_rate_limit=5)
    limiter = ctx.rate_limiter
    statuses = [limiter.hit("u") for _ in range(3)]
    assert [s.remaining for s in statuses] == [2, 1, 0]
    window_end = (int(clock.now) // 900 + 1) * 900
    assert statuses[0].headers()["X-RateLimit-Reset"] == str(window_end)
    with pytest.raises(RateLimitedError) as caught:
        limiter.hit("u")
    assert caught.value.headers["Retry-After"] == str(window_end - int(clock.now))
    assert caught.value.headers["X-RateLimit-Remaining"] == "0"
    assert limiter.hit("u", bucket="status").limit == 5  # a separate bucket
    assert limiter.hit("other-user").remaining == 2
    clock.now = window_end
    assert limiter.hit("u").remaining == 2
