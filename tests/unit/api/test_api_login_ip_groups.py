"""The login limiter's per-IP count uses the same grouping as signups (IPv6 per /64)."""

from __future__ import annotations

import pytest

from chalicelib.errors import TooManyLoginAttemptsError
from chalicelib.limits import LoginAttemptLimiter, client_ip_group
from chalicelib.settings import load_settings
from chalicelib.store.registry import memory_stores

REQUIRED = {
    "AUTOSTACK_STAGE": "test",
    "AUTOSTACK_TABLE": "t",
    "AUTOSTACK_BUCKET": "bucket",
    "AUTOSTACK_QUEUE_URL": "http://q",
}


def _limiter(max_per_ip: int = 2) -> LoginAttemptLimiter:
    # The per-email limit is high so that only the per-IP count can refuse.
    settings = load_settings(
        {
            **REQUIRED,
            "AUTOSTACK_LOGIN_MAX_PER_IP": str(max_per_ip),
            "AUTOSTACK_LOGIN_MAX_PER_EMAIL": "1000",
        }
    )
    return LoginAttemptLimiter(memory_stores().counters, settings, lambda: 0.0)


def _fail(limiter: LoginAttemptLimiter, ip: str, n: int = 1) -> None:
    for i in range(n):
        limiter.begin(f"user{i}@example.com", ip)  # never .succeeded(): a failed login


def test_two_addresses_in_one_64_share_the_login_count() -> None:
    limiter = _limiter()
    _fail(limiter, "2001:db8:1:2::1")
    _fail(limiter, "2001:db8:1:2:ffff:ffff:ffff:fffe")
    with pytest.raises(TooManyLoginAttemptsError):
        limiter.begin("x@example.com", "2001:db8:1:2::abcd")  # a fresh address, same /64
    _fail(limiter, "2001:db8:1:3::1", 2)  # the next /64 has its own count


def test_ipv4_login_counts_stay_per_address() -> None:
    limiter = _limiter()
    _fail(limiter, "203.0.113.7", 2)
    with pytest.raises(TooManyLoginAttemptsError):
        limiter.begin("x@example.com", "203.0.113.7")
    _fail(limiter, "203.0.113.8", 2)  # its neighbour is not affected


def test_loopback_logins_are_still_counted_per_address() -> None:
    # Unlike signups, login attempts from loopback were always counted (one bucket per
    # loopback address); the grouping keeps that and does not widen ::1 to ::/64.
    limiter = _limiter()
    _fail(limiter, "127.0.0.1", 2)
    with pytest.raises(TooManyLoginAttemptsError):
        limiter.begin("x@example.com", "127.0.0.1")
    _fail(limiter, "::1", 2)
    with pytest.raises(TooManyLoginAttemptsError):
        limiter.begin("x@example.com", "::1")
    _fail(limiter, "::2", 2)  # not loopback; before this change it was its own count too


def test_a_successful_login_gives_the_group_count_back() -> None:
    limiter = _limiter(max_per_ip=1)
    limiter.begin("a@example.com", "2001:db8::1").succeeded()
    limiter.begin("b@example.com", "2001:db8::2")  # the /64's count was given back
    with pytest.raises(TooManyLoginAttemptsError):
        limiter.begin("c@example.com", "2001:db8::3")


@pytest.mark.parametrize(
    ("client_ip", "group"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("127.0.0.1", "127.0.0.1"),
        ("::1", "::1"),
        ("::ffff:203.0.113.7", "203.0.113.7"),  # IPv4-mapped: its IPv4 address
        ("fe80::1%eth0", "fe80::/64"),  # the zone does not make a separate count
        ("unknown", "unknown"),
        ("", ""),
    ],
)
def test_client_ip_group(client_ip: str, group: str) -> None:
    assert client_ip_group(client_ip) == group
