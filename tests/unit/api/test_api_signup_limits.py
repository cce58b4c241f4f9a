"""Signup abuse settings and the per-IP signup limiter (pure logic, in-memory store)."""

from __future__ import annotations

import pytest

from chalicelib.errors import EmailDomainNotAllowedError, SettingsError, TooManySignupsError
from chalicelib.limits import SignupAttemptLimiter, client_ip_group, is_loopback
from chalicelib.services.users import check_email_domain
from chalicelib.settings import load_settings
from chalicelib.store.registry import memory_stores

REQUIRED = {
    "AUTOSTACK_STAGE": "test",
    "AUTOSTACK_TABLE": "t",
    "AUTOSTACK_BUCKET": "bucket",
    "AUTOSTACK_QUEUE_URL": "http://q",
}


def test_signup_defaults() -> None:
    s = load_settings(REQUIRED)
    assert (s.signup_max_per_ip, s.signup_window_s, s.signup_email_domains) == (5, 3600, ())
    empty = load_settings({**REQUIRED, "AUTOSTACK_SIGNUP_EMAIL_DOMAINS": ""})
    assert empty.signup_email_domains == ()


def test_email_domains_are_normalized() -> None:
    raw = " Example.COM, @corp.example ,, example.com"
    s = load_settings({**REQUIRED, "AUTOSTACK_SIGNUP_EMAIL_DOMAINS": raw})
    assert s.signup_email_domains == ("example.com", "corp.example")


@pytest.mark.parametrize("bad", ["not a domain", "example", "a@b.com", "-x.com", "x..com"])
def test_malformed_email_domains_are_named(bad: str) -> None:
    with pytest.raises(SettingsError, match="AUTOSTACK_SIGNUP_EMAIL_DOMAINS"):
        load_settings({**REQUIRED, "AUTOSTACK_SIGNUP_EMAIL_DOMAINS": f"ok.com,{bad}"})


def test_signup_limit_must_be_positive() -> None:
    with pytest.raises(SettingsError, match="AUTOSTACK_SIGNUP_MAX_PER_IP"):
        load_settings({**REQUIRED, "AUTOSTACK_SIGNUP_MAX_PER_IP": "0"})


def test_check_email_domain_is_exact() -> None:
    check_email_domain("a@anything.io", ())
    check_email_domain("a@corp.example", ("example.com", "corp.example"))
    for email in ("a@example.org", "a@sub.corp.example", "a@corp.example.evil.io"):
        with pytest.raises(EmailDomainNotAllowedError) as caught:
            check_email_domain(email, ("corp.example",))
        assert caught.value.status == 403
        assert "corp.example" in caught.value.message


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("127.9.9.9")
    assert not is_loopback("203.0.113.7") and not is_loopback("unknown")
    assert not is_loopback("")


def test_limiter_counts_per_ip_per_window() -> None:
    now = [7200.0]
    settings = load_settings({**REQUIRED, "AUTOSTACK_SIGNUP_MAX_PER_IP": "2"})
    limiter = SignupAttemptLimiter(memory_stores().counters, settings, lambda: now[0])
    limiter.hit("203.0.113.7")
    limiter.hit("203.0.113.7")
    now[0] += 600
    with pytest.raises(TooManySignupsError) as caught:
        limiter.hit("203.0.113.7")
    assert caught.value.status == 429 and caught.value.headers["Retry-After"] == "3000"
    limiter.hit("198.51.100.1")  # another address has its own count
    for _ in range(10):
        limiter.hit("127.0.0.1")  # loopback (chalice local) is not limited
    now[0] += 3000  # the next window
    limiter.hit("203.0.113.7")


def test_ipv6_addresses_share_their_64() -> None:
    assert client_ip_group("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert client_ip_group("2001:DB8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64"
    assert client_ip_group("203.0.113.7") == "203.0.113.7"
    assert client_ip_group("unknown") == "unknown"
    settings = load_settings({**REQUIRED, "AUTOSTACK_SIGNUP_MAX_PER_IP": "2"})
    limiter = SignupAttemptLimiter(memory_stores().counters, settings, lambda: 0.0)
    limiter.hit("2001:db8:1:2::1")
    limiter.hit("2001:db8:1:2::2")
    with pytest.raises(TooManySignupsError):
        limiter.hit("2001:db8:1:2::3")  # a new address in the same /64
    limiter.hit("2001:db8:1:3::1")  # another /64
