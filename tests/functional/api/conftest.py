"""Fixtures for the API's functional tests: the app wired to a fresh set of emulator resources."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.context import AppContext, build_context, reset_context, set_context
from chalicelib.settings import Settings, load_settings
from devtools.local_resources import LocalResources

# Cheap scrypt for tests that create many users; the real cost is tested in unit tests.
PASSWORD = "correct horse battery"
FAST_SCRYPT = {"scrypt_n": 2**10, "scrypt_r": 8, "scrypt_p": 1}


def settings_for(resources: LocalResources, **overrides: Any) -> Settings:
    settings = load_settings({**resources.environment(), "AUTOSTACK_STAGE": "test"})
    # A loaded 2-core test host's emulator can take over 5 s for /health's three probes; the
    # tests that want the real deadline (test_api_dependency_paused.py) pass their own.
    return settings.replace(**{**FAST_SCRYPT, "health_deadline_s": 20.0, **overrides})


@pytest.fixture
def api_settings(local_resources: LocalResources) -> Settings:
    return settings_for(local_resources)


@pytest.fixture
def api_context(api_settings: Settings) -> Iterator[AppContext]:
    context = build_context(api_settings)
    set_context(context)
    yield context
    reset_context()


@pytest.fixture
def client(api_context: AppContext) -> Iterator[Client]:
    from app import app

    with Client(app, stage_name="test") as test_client:
        yield test_client


class Api:
    """Small helpers over chalice's test client: JSON in, (status, body, headers) out."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        response = self.client.http.request(method, path, headers=sent, body=payload)
        parsed = json.loads(response.body) if response.body else None
        return response.status_code, parsed, dict(response.headers)

    def signup(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        status, body, _ = self.call("POST", "/auth/signup", {"email": email, "password": password})
        assert status == 201, body
        return body

    def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        status, body, _ = self.call("POST", "/auth/login", {"email": email, "password": password})
        assert status == 200, body
        return body

    def user(self, email: str) -> str:
        """Sign up and log in; the access token."""
        self.signup(email)
        return self.login(email)["access_token"]


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


def table_snapshot(context: AppContext) -> list[dict[str, Any]]:
    """Every item of the table, sorted: to assert that a rejected request changed nothing."""
    ddb = context.aws.dynamodb
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": context.settings.table, "ConsistentRead": True}
    while True:
        page = ddb.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))
