"""The rate limit and the login-attempt limit, with small limits, over the emulator."""

from __future__ import annotations

import pytest

from chalicelib.context import AppContext
from chalicelib.settings import Settings
from devtools.local_resources import LocalResources
from tests.functional.api.conftest import Api, settings_for
from tests.functional.api.test_api_limits import concurrently


@pytest.fixture
def api_settings(local_resources: LocalResources) -> Settings:
    """Small limits for this module (overrides the conftest fixture)."""
    return settings_for(
        local_resources, rate_limit=5, read_rate_limit=5, login_max_per_email=3, login_max_per_ip=50
    )


def test_rate_limit_429_with_headers(api: Api, api_context: AppContext) -> None:
    token = api.user("busy@example.com")
    seen = []
    for _ in range(5):
        status, _, headers = api.call("GET", "/projects", token=token)
        assert status == 200
        seen.append(int(headers["X-RateLimit-Remaining"]))
        assert headers["X-RateLimit-Limit"] == "5"
    assert seen == [4, 3, 2, 1, 0]
    status, body, headers = api.call("GET", "/me", token=token)
    assert status == 429 and body["error"]["code"] == "rate_limited"
    assert 0 < int(headers["Retry-After"]) <= 900
    assert headers["X-RateLimit-Remaining"] == "0"
    assert int(headers["X-RateLimit-Reset"]) > api_context.now()
    # Concurrent requests at the boundary never pass it either.
    other = api.user("other@example.com")
    results = concurrently(12, lambda n: api.call("GET", "/projects", token=other))
    assert sorted(s for s, _, _ in results) == [200] * 5 + [429] * 7


def test_login_attempts_are_limited(api: Api, api_context: AppContext) -> None:
    api.signup("target@example.com")
    for _ in range(3):
        status, body, _ = api.call(
            "POST", "/auth/login", {"email": "target@example.com", "password": "wrong guess!!"}
        )
        assert status == 401 and body["error"]["code"] == "unauthorized"
    status, body, headers = api.call(
        "POST", "/auth/login", {"email": "target@example.com", "password": "correct horse battery"}
    )
    assert status == 429 and body["error"]["code"] == "too_many_login_attempts"
    assert int(headers["Retry-After"]) > 0
