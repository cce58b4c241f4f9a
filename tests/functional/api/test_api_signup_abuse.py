"""Signup abuse over the emulator: the per-IP signup limit (races at the boundary) and
the email-domain allow-list.

Chalice's test client gives every request the source IP 127.0.0.1, which the limit
exempts (see ``SignupAttemptLimiter``); these tests send API Gateway events with public
source addresses through chalice's local gateway instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from chalice.config import Config
from chalice.local import LocalGateway

from chalicelib.context import AppContext, build_context, reset_context, set_context
from devtools.local_resources import LocalResources
from tests.functional.api.conftest import PASSWORD, Api, settings_for, table_snapshot

IP_A = "203.0.113.7"
IP_B = "198.51.100.23"


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Caller:
    """Requests through chalice's local gateway, as if from ``source_ip``."""

    def __init__(self, source_ip: str) -> None:
        from app import app

        self.gateway = LocalGateway(app, Config.create(chalice_stage="test"))
        self.gateway.event_converter.LOCAL_SOURCE_IP = source_ip  # type: ignore[misc]

    def signup(self, email: str) -> tuple[int, Any, dict[str, str]]:
        response = self.gateway.handle_request(
            method="POST",
            path="/auth/signup",
            headers={"content-type": "application/json"},
            body=json.dumps({"email": email, "password": PASSWORD}).encode(),
        )
        body = json.loads(response["body"]) if response["body"] else None
        return response["statusCode"], body, response["headers"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_800_000_000.0)


def install(resources: LocalResources, clock: FakeClock, **overrides: Any) -> AppContext:
    context = build_context(settings_for(resources, **overrides), clock=clock)
    set_context(context)
    return context


@pytest.fixture
def context(local_resources: LocalResources, clock: FakeClock) -> Iterator[AppContext]:
    yield install(local_resources, clock)
    reset_context()


def test_five_signups_per_ip_then_429_until_the_window_ends(
    context: AppContext, clock: FakeClock
) -> None:
    a, b = Caller(IP_A), Caller(IP_B)
    assert a.signup("u0@example.com")[0] == 201
    assert a.signup("u0@example.com")[0] == 409  # a taken email still counts (it cost a hash)
    for n in range(1, 4):
        assert a.signup(f"u{n}@example.com")[0] == 201
    before = table_snapshot(context)
    status, body, headers = a.signup("u9@example.com")
    assert status == 429, body
    assert body["error"]["code"] == "too_many_signups"
    assert body["error"]["details"] == {"limit": 5, "window_s": 3600}
    assert 1 <= int(headers["Retry-After"]) <= 3600
    assert table_snapshot(context) == before  # no user, no count beyond the limit
    assert context.stores.users.count() == 4
    assert b.signup("u9@example.com")[0] == 201  # another address is not affected
    clock.now += 3600  # the next window
    assert a.signup("u10@example.com")[0] == 201


def test_a_race_of_twenty_signups_from_one_ip_at_the_boundary_admits_one(
    context: AppContext,
) -> None:
    a = Caller(IP_A)
    for n in range(4):
        assert a.signup(f"early{n}@example.com")[0] == 201
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda n: a.signup(f"racer{n}@example.com"), range(20)))
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [201] + [429] * 19, statuses
    assert context.stores.users.count() == 5


def test_a_race_from_a_fresh_ip_admits_exactly_the_limit(
    local_resources: LocalResources, clock: FakeClock
) -> None:
    context = install(local_resources, clock, signup_max_per_ip=3, max_users=50)
    try:
        a = Caller(IP_A)
        with ThreadPoolExecutor(max_workers=12) as pool:
            results = list(pool.map(lambda n: a.signup(f"racer{n}@example.com"), range(12)))
        statuses = sorted(status for status, _, _ in results)
        assert statuses == [201] * 3 + [429] * 9, statuses
        assert context.stores.users.count() == 3
    finally:
        reset_context()


def test_loopback_callers_are_not_limited(context: AppContext, api: Api) -> None:
    for n in range(7):  # chalice's test client: 127.0.0.1
        api.signup(f"local{n}@example.com")
    assert context.stores.users.count() == 7


def test_email_domain_allow_list(local_resources: LocalResources, clock: FakeClock) -> None:
    context = install(local_resources, clock, signup_email_domains=("example.org", "corp.example"))
    try:
        a = Caller(IP_A)
        before = table_snapshot(context)
        for email in ("eve@example.com", "eve@sub.example.org", "eve@example.org.evil.io"):
            status, body, _ = a.signup(email)
            assert status == 403, body
            assert body["error"]["code"] == "email_domain_not_allowed"
            assert "example.org, corp.example" in body["error"]["message"]
            assert body["error"]["details"]["field"] == "email"
        assert table_snapshot(context) == before  # refused before counting or hashing
        assert a.signup("Ada@Example.ORG")[0] == 201
        assert a.signup("bob@corp.example")[0] == 201
        # Rejected domains did not use up the address's signups.
        for n in range(3):
            assert a.signup(f"u{n}@corp.example")[0] == 201
        assert a.signup("late@corp.example")[0] == 429
    finally:
        reset_context()
