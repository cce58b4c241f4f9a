"""A lost answer to a refresh does not end the session; a real replay still revokes it."""

from __future__ import annotations

import pytest

from chalicelib.auth.refresh_grace import open_successor, seal_successor, within_grace
from chalicelib.auth.tokens import hash_refresh_token, new_refresh_token
from chalicelib.errors import UnauthorizedError
from chalicelib.services import users
from tests.unit.api.helpers import FakeClock, make_context

PASSWORD = "correct horse battery"


def _login(grace_s: int = 30) -> tuple[FakeClock, object, users.Session]:
    clock = FakeClock()
    ctx = make_context(clock, refresh_reuse_grace_s=grace_s)
    users.signup(ctx, "a@x.io", PASSWORD)
    return clock, ctx, users.login(ctx, "a@x.io", PASSWORD, "ip")


def test_the_seal_opens_only_with_the_spent_token() -> None:
    spent, successor = new_refresh_token(), new_refresh_token()
    sealed = seal_successor(spent, successor)
    assert successor not in sealed
    assert open_successor(spent, sealed, hash_refresh_token(successor)) == successor
    assert open_successor(new_refresh_token(), sealed, hash_refresh_token(successor)) is None
    assert open_successor(spent, "!!not base64", hash_refresh_token(successor)) is None


def test_within_grace() -> None:
    assert within_grace(100, 130, 30) and not within_grace(100, 131, 30)
    assert not within_grace(None, 100, 30) and not within_grace(100, 100, 0)


def test_a_lost_answer_gets_the_same_successor_within_the_window() -> None:
    clock, ctx, first = _login()
    second = users.refresh(ctx, first.refresh_token)  # the answer is "lost"
    clock.advance(5)
    again = users.refresh(ctx, first.refresh_token)  # the client retries with what it has
    assert again.refresh_token == second.refresh_token
    assert ctx.signer.verify(again.access_token, ctx.now()).user_id
    assert again.refresh_expires_in == second.refresh_expires_in - 5
    third = users.refresh(ctx, again.refresh_token)  # the session goes on
    assert users.refresh(ctx, third.refresh_token).refresh_token


def test_reuse_after_the_window_revokes_the_family() -> None:
    clock, ctx, first = _login(grace_s=30)
    second = users.refresh(ctx, first.refresh_token)
    clock.advance(31)
    with pytest.raises(UnauthorizedError) as reused:
        users.refresh(ctx, first.refresh_token)
    assert reused.value.details == {"reason": "reused"}
    with pytest.raises(UnauthorizedError):
        users.refresh(ctx, second.refresh_token)  # the whole login is gone


def test_reuse_once_the_successor_was_used_revokes_even_within_the_window() -> None:
    clock, ctx, first = _login()
    second = users.refresh(ctx, first.refresh_token)
    third = users.refresh(ctx, second.refresh_token)  # the answer did arrive: it moved on
    clock.advance(1)
    with pytest.raises(UnauthorizedError) as reused:
        users.refresh(ctx, first.refresh_token)  # someone else holds the first token
    assert reused.value.details == {"reason": "reused"}
    with pytest.raises(UnauthorizedError):
        users.refresh(ctx, third.refresh_token)


def test_no_grace_after_logout_nor_with_the_window_off() -> None:
    _, ctx, first = _login()
    users.refresh(ctx, first.refresh_token)
    users.logout(ctx, first.refresh_token)
    with pytest.raises(UnauthorizedError):
        users.refresh(ctx, first.refresh_token)
    _, ctx, first = _login(grace_s=0)
    users.refresh(ctx, first.refresh_token)
    with pytest.raises(UnauthorizedError) as reused:
        users.refresh(ctx, first.refresh_token)
    assert reused.value.details == {"reason": "reused"}
