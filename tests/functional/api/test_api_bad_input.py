"""Hostile and malformed input: each answers the error shape and changes nothing."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from chalicelib.auth.tokens import key_id
from chalicelib.context import AppContext
from tests.functional.api.conftest import Api, table_snapshot


def assert_error(status: int, body: object, expected_status: int, code: str | None = None) -> None:
    assert status == expected_status, body
    assert isinstance(body, dict) and set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    if code:
        assert body["error"]["code"] == code


@pytest.fixture
def alice(api: Api) -> str:
    return api.user("alice@example.com")


BAD_BODIES = [
    pytest.param(b"{not json", "application/json", 400, "invalid_json", id="malformed"),
    pytest.param(b"", "application/json", 400, "invalid_json", id="empty"),
    pytest.param(b"\xff\xfe", "application/json", 400, "invalid_json", id="not-utf8"),
    pytest.param(b"[" * 100_000, "application/json", 400, "invalid_json", id="deep-nesting"),
    pytest.param(b'{"name": "x"}', "text/plain", 415, "unsupported_media_type", id="text"),
    pytest.param(b"name=x", "application/x-www-form-urlencoded", 415, None, id="form"),
    pytest.param(b"[]", "application/json", 422, "validation_error", id="array"),
    pytest.param(b"{}", "application/json", 422, "validation_error", id="missing"),
    pytest.param(b'{"name": 5}', "application/json", 422, "validation_error", id="wrong-type"),
    pytest.param(b'{"name": "ok", "owner": "x"}', "application/json", 422, None, id="extra"),
    pytest.param(b'{"name": "' + b"a" * 65 + b'"}', "application/json", 422, None, id="long"),
    pytest.param(b'{"name": "../etc"}', "application/json", 422, None, id="bad-chars"),
    pytest.param(b'{"name": "   "}', "application/json", 422, None, id="blank"),
    pytest.param(
        b'{"name": "' + b"a" * (1024 * 1024 + 10) + b'"}', "application/json", 413, None, id="1MB"
    ),
]


def test_bad_project_bodies_change_nothing(api: Api, alice: str, api_context: AppContext) -> None:
    # One user and table for all cases (setting up resources is the slow part).
    def without_rate_items(items: list[dict]) -> list[dict]:
        return [i for i in items if not i["pk"]["S"].startswith("RATE#")]

    for case in BAD_BODIES:
        raw, content_type, status, code = case.values
        before = without_rate_items(table_snapshot(api_context))
        got, body, _ = api.call(
            "POST", "/projects", token=alice, raw=raw, headers={"Content-Type": content_type}
        )
        assert_error(got, body, status, code)
        assert without_rate_items(table_snapshot(api_context)) == before, case.id


def test_validation_details_name_the_fields(api: Api) -> None:
    status, body, _ = api.call("POST", "/auth/signup", {"email": "nope", "password": 12})
    assert_error(status, body, 422, "validation_error")
    fields = {d["field"] for d in body["error"]["details"]}
    assert fields == {"email", "password"}
    status, body, _ = api.call(
        "POST", "/auth/signup", {"email": "bob@example.com", "password": "bob@example.com"}
    )
    assert_error(status, body, 422)
    assert body["error"]["details"][0]["field"] == "password"
    status, body, _ = api.call(
        "POST", "/auth/signup", {"email": "b@example.com", "password": "short"}
    )
    assert body["error"]["details"][0]["field"] == "password"


def test_signup_normalizes_email_and_rejects_duplicates(api: Api, api_context: AppContext) -> None:
    api.signup("  Bob@Example.COM ")
    before = table_snapshot(api_context)
    status, body, _ = api.call(
        "POST", "/auth/signup", {"email": "bob@example.com", "password": "another long one"}
    )
    assert_error(status, body, 409, "email_taken")
    assert table_snapshot(api_context) == before
    assert api.login("BOB@example.com")["token_type"] == "Bearer"


def _unsigned(header: dict, claims: dict) -> str:
    def part(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    return f"{part(header)}.{part(claims)}."


def test_bad_tokens_get_401(api: Api, alice: str, api_context: AppContext) -> None:
    key = api_context.signer.key
    now = api_context.now()
    sub = api_context.signer.verify(alice, now).user_id
    good = {"iss": "autostack", "aud": "autostack-api", "sub": sub, "iat": now, "exp": now + 900}
    kid = {"kid": key_id(key)}
    tokens = {
        "expired": jwt.encode({**good, "iat": now - 1000, "exp": now - 100}, key, headers=kid),
        "forged": jwt.encode(good, "f" * 48, headers=kid),
        "alg-none": _unsigned({"alg": "none", "typ": "JWT", **kid}, good),
        "wrong-audience": jwt.encode({**good, "aud": "someone-else"}, key, headers=kid),
        "garbage": "abc",
    }
    before = table_snapshot(api_context)
    for name, token in tokens.items():
        status, body, headers = api.call("POST", "/projects", {"name": "x"}, token=token)
        assert_error(status, body, 401, "unauthorized")
        assert "WWW-Authenticate" in headers, name
    status, body, _ = api.call("GET", "/projects")
    assert_error(status, body, 401)
    status, body, _ = api.call("GET", "/projects", headers={"Authorization": "Basic eDp5"})
    assert_error(status, body, 401)
    assert table_snapshot(api_context) == before  # rejected before the rate counter too


def test_another_users_project_is_404(api: Api, alice: str, api_context: AppContext) -> None:
    _, project, _ = api.call("POST", "/projects", {"name": "mine"}, token=alice)
    bob = api.user("bob@example.com")
    before = [i for i in table_snapshot(api_context) if not i["pk"]["S"].startswith("RATE#")]
    for method, body in (("GET", None), ("PATCH", {"name": "stolen"}), ("DELETE", None)):
        status, answer, _ = api.call(method, f"/projects/{project['id']}", body, token=bob)
        assert_error(status, answer, 404, "not_found")
        status, answer, _ = api.call(method, "/projects/does-not-exist", body, token=bob)
        assert_error(status, answer, 404, "not_found")
    after = [i for i in table_snapshot(api_context) if not i["pk"]["S"].startswith("RATE#")]
    assert after == before


def test_chalice_level_errors_use_our_shape(api: Api, alice: str) -> None:
    status, body, _ = api.call("PUT", "/projects", {"name": "x"}, token=alice)
    assert_error(status, body, 405, "method_not_allowed")
    status, body, _ = api.call("PATCH", "/projects/abc", {}, token=alice)
    assert_error(status, body, 422)
    status, body, headers = api.call(
        "POST", "/auth/login", raw=b"{}", headers={"Content-Length": str(5 * 1024 * 1024)}
    )
    assert_error(status, body, 413, "payload_too_large")
    assert headers["X-Request-Id"]
