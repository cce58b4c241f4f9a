"""Limits: the rate limiter and the login/signup-attempt limiters (fixed windows in DynamoDB).

The user and project limits are conditions inside the stores' transactions
(``UserStore.create`` / ``ProjectStore.create``): the count and the item it guards
are written together or not at all. This module holds the windowed counters.

Rate limiting: each authenticated request adds 1 to the counter item of its
(user, bucket, window) with ``count < limit`` as the write's condition, so
concurrent requests can never pass the limit. Buckets (``Settings.rate_limit_for``):

- ``default`` — every authenticated request that changes something (50 per 15 minutes);
- ``read``    — other cheap reads: ``GET /me``, lists, single items (300 per 15 minutes),
  the default bucket of a GET route (``chalicelib.routes.endpoint.rate_bucket_for``);
- ``status``  — reads of a job's status, its logs and the project's items that clients
  follow (600 per 15 minutes), so that following a long job does not use up the others.
  Routes that also take a ``wait`` long-poll parameter count one hit per call, however
  long it waits.

Window items carry ``expires_at`` (TTL) and are also ignored in code once past.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib import keys
from chalicelib.errors import RateLimitedError, TooManyLoginAttemptsError, TooManySignupsError
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from chalicelib.store.counters import CounterStore

# Extra lifetime of a window item after the window ends (TTL deletion is lazy anyway).
_TTL_GRACE_S = 60


def window_start(now: float, window_s: int) -> int:
    return int(now // window_s) * window_s


@dataclass(frozen=True)
class RateStatus:
    limit: int
    remaining: int
    reset_at: int  # epoch seconds when the window ends

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }


class RateLimiter:
    def __init__(self, store: CounterStore, settings: Settings, clock: Callable[[], float]) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock

    def hit(self, user_id: str, bucket: str = "default") -> RateStatus:
        """Count one request; RateLimitedError (429, with headers) when the window is full."""
        limit = self._settings.rate_limit_for(bucket)
        window_s = self._settings.rate_window_s
        now = self._clock()
        start = window_start(now, window_s)
        reset_at = start + window_s
        count = self._store.hit(
            keys.rate_pk(user_id, bucket, start), keys.RATE_SK, limit, reset_at + _TTL_GRACE_S
        )
        if count is None:
            status = RateStatus(limit=limit, remaining=0, reset_at=reset_at)
            raise RateLimitedError(
                f"rate limit reached: {limit} requests per {window_s} s",
                retry_after_s=max(1, reset_at - int(now)),
                details={"bucket": bucket, "limit": limit, "window_s": window_s},
                headers=status.headers(),
            )
        return RateStatus(limit=limit, remaining=max(0, limit - count), reset_at=reset_at)


@dataclass
class LoginAttempt:
    """An admitted login attempt; ``succeeded()`` gives its counts back."""

    store: CounterStore
    keys: list[tuple[str, str]]

    def succeeded(self) -> None:
        for pk, sk in self.keys:
            self.store.release(pk, sk)


class LoginAttemptLimiter:
    """Failed logins per email and per client IP (IPv6: per /64, ``client_ip_group``), per window.

    Each attempt is counted *before* the password is checked (atomically, so a burst
    of parallel guesses cannot exceed the limit) and given back when it succeeds.
    """

    def __init__(self, store: CounterStore, settings: Settings, clock: Callable[[], float]) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock

    def begin(self, email: str, client_ip: str) -> LoginAttempt:
        window_s = self._settings.login_window_s
        now = self._clock()
        start = window_start(now, window_s)
        expires_at = start + window_s + _TTL_GRACE_S
        sk = keys.window_sk(start)
        checks = [
            (keys.login_email_pk(email), self._settings.login_max_per_email),
            (keys.login_ip_pk(client_ip_group(client_ip)), self._settings.login_max_per_ip),
        ]
        # Two single conditional writes (no transaction: this is the login hot path).
        taken: list[tuple[str, str]] = []
        for pk, limit in checks:
            if self._store.hit(pk, sk, limit, expires_at) is None:
                for taken_pk, taken_sk in taken:
                    self._store.release(taken_pk, taken_sk)
                raise TooManyLoginAttemptsError(
                    "too many login attempts; try again later",
                    retry_after_s=start + window_s - int(now),
                )
            taken.append((pk, sk))
        return LoginAttempt(store=self._store, keys=taken)


def is_loopback(client_ip: str) -> bool:
    import ipaddress  # only the per-IP limiters need it

    try:
        return ipaddress.ip_address(client_ip).is_loopback
    except ValueError:
        return False


def client_ip_group(client_ip: str) -> str:
    """What one per-IP count (login and signup attempts) is kept for: the IPv4 address,
    or the IPv6 /64 (one subscriber usually holds a whole /64, so single IPv6 addresses
    are free to rotate). Loopback addresses stay themselves (``::1`` is not widened to
    ``::/64``); an IPv4-mapped IPv6 address counts as its IPv4 address; anything that
    is not an address is kept as given."""
    import ipaddress  # only the per-IP limiters need it

    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return client_ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        if not address.is_loopback:
            # Built from the integer: a scoped address ("fe80::1%eth0") loses its zone.
            prefix = int(address) >> 64 << 64
            return str(ipaddress.IPv6Network((prefix, 64)))
    return str(address)


class SignupAttemptLimiter:
    """Signup attempts per client IP, per window (``AUTOSTACK_SIGNUP_MAX_PER_IP``).

    Every attempt that reaches the service counts, successful or not (a success is what
    fills the user cap; a taken email still costs a password hash), and is counted
    before the hash with one conditional write, so parallel signups cannot exceed it.

    Loopback sources are not limited: API Gateway's ``sourceIp`` is the public address
    of the caller's connection and is never loopback, while ``chalice local`` (and
    chalice's test client) give every caller 127.0.0.1, where one shared bucket would
    only make the local stack unusable after a few signups.
    """

    def __init__(self, store: CounterStore, settings: Settings, clock: Callable[[], float]) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock

    def hit(self, client_ip: str) -> None:
        """Count one attempt; TooManySignupsError (429, Retry-After) when the window is full."""
        if is_loopback(client_ip):
            return
        limit = self._settings.signup_max_per_ip
        window_s = self._settings.signup_window_s
        now = self._clock()
        start = window_start(now, window_s)
        expires_at = start + window_s + _TTL_GRACE_S
        pk = keys.signup_ip_pk(client_ip_group(client_ip))
        if self._store.hit(pk, keys.window_sk(start), limit, expires_at) is None:
            raise TooManySignupsError(
                "too many signups from this address; try again later",
                retry_after_s=start + window_s - int(now),
                details={"limit": limit, "window_s": window_s},
            )
