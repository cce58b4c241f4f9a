"""Adversarial sweep over EVERY route of the OpenAPI registry (new routes are covered
automatically): bad tokens (401), malformed/oversized/mistyped bodies, hostile path ids,
bad query strings, and another user's ids (404, never 403). Every answer is the error
shape, never a 5xx, and changes nothing in the table (rate-limit windows aside).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.openapi import Operation, operations
from tests.functional.api import qa_world
from tests.functional.api.conftest import table_snapshot
from tests.functional.api.qa_world import (
    _PARAM,
    HOSTILE_IDS,
    VALID_BODIES,
    World,
    _bad_tokens,
    _objects,
    _queued,
    _state,
    assert_error,
    assert_unchanged,
)

module_resources = pytest.fixture(scope="module")(qa_world.make_resources)
world = pytest.fixture(scope="module")(qa_world.make_world)

AUTH_OPS = [op for op in operations() if op.auth]
BODY_OPS = [op for op in operations() if op.request_model is not None]
PATH_OPS = [op for op in operations() if _PARAM.search(op.path)]
QUERY_OPS = [op for op in operations() if op.query_model is not None]


def _id(op: Operation) -> str:
    return f"{op.method} {op.path}"


def test_the_sweep_sees_every_route() -> None:
    from app import app

    declared = {(op.path, op.method) for op in operations()}
    routed = {(path, method) for path, methods in app.routes.items() for method in methods}
    assert routed == declared
    assert len(AUTH_OPS) >= 25 and len(BODY_OPS) >= 10


def test_every_body_route_has_a_sample() -> None:
    for op in BODY_OPS:
        required = op.request_model.model_json_schema().get("required", [])  # type: ignore[union-attr]
        if required:
            assert op.operation_id in VALID_BODIES, f"add a valid body for {_id(op)}"
            assert set(required) <= set(VALID_BODIES[op.operation_id]), _id(op)


@pytest.mark.parametrize("op", AUTH_OPS, ids=_id)
def test_bad_tokens_are_401_and_change_nothing(world: World, op: Operation) -> None:
    before = (table_snapshot(world.ctx), _objects(world.ctx), _queued(world.ctx))
    path, body = world.path_for(op), world.valid_body(op)
    for name, token in _bad_tokens(world).items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        status, answer, got = world.api.call(op.method, path, raw=body, headers=headers)
        assert_error(status, answer, 401, f"{name} {_id(op)}")
        assert "WWW-Authenticate" in got and got.get("X-Request-Id")
    status, answer, _ = world.api.call(op.method, path, raw=body)
    assert_error(status, answer, 401, f"no token {_id(op)}")
    # Rejected before the rate counter too: not even a RATE# item.
    assert (table_snapshot(world.ctx), _objects(world.ctx), _queued(world.ctx)) == before


def _bad_bodies(op: Operation, valid: dict[str, Any]) -> list[tuple[str, bytes, str, int]]:
    """(name, raw body, content type, expected status)."""
    json_type = "application/json"
    cases = [
        ("malformed", b"{not json", json_type, 400),
        ("truncated", b'{"a": ', json_type, 400),
        ("not-utf8", b"\xff\xfe\xfd", json_type, 400),
        ("nan", b'{"x": NaN}', json_type, 422),
        ("deep", b"[" * 50_000, json_type, 400),
        ("huge-int", b'{"x": ' + b"9" * 5000 + b"}", json_type, 400),
        ("text-plain", json.dumps(valid).encode(), "text/plain", 415),
        ("form", b"a=b", "application/x-www-form-urlencoded", 415),
        ("multipart", b"--x--", "multipart/form-data; boundary=x", 415),
        ("array", b"[]", json_type, 422),
        ("string", b'"hello"', json_type, 422),
        ("null", b"null", json_type, 422),
        ("number", b"42", json_type, 422),
        ("extra-field", json.dumps({**valid, "owner_id": "x"}).encode(), json_type, 422),
        ("proto", json.dumps({**valid, "__proto__": {}}).encode(), json_type, 422),
        ("2MB", b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}', json_type, 413),
        # One validation error per key: the answer must stay small (regression: 6.5 MB).
        ("many-keys", json.dumps({f"k{i}": 0 for i in range(60_000)}).encode(), json_type, 422),
        ("long-key", json.dumps({"k" * 500_000: 0}).encode(), json_type, 422),
    ]
    schema = op.request_model.model_json_schema()  # type: ignore[union-attr]
    required = schema.get("required", [])
    for name in required:
        cases.append(
            (f"missing-{name}", json.dumps({k: v for k, v in valid.items() if k != name}).encode(),
             json_type, 422)
        )  # fmt: skip
    for name in schema.get("properties", {}):
        for label, value in (("object", {"$gt": ""}), ("list", [1]), ("bool", True)):
            if label == "bool" and schema["properties"][name].get("type") == "boolean":
                continue
            body = json.dumps({**valid, name: value}).encode()
            cases.append((f"{label}-{name}", body, json_type, 422))
        long = json.dumps({**valid, name: "a" * 200_000}).encode()
        cases.append((f"long-{name}", long, json_type, 422))
        ctrl = json.dumps({**valid, name: "a\x00b\u202e"}).encode()
        cases.append((f"control-{name}", ctrl, json_type, 422))
    return cases


@pytest.mark.parametrize("op", BODY_OPS, ids=_id)
def test_bad_bodies_answer_the_error_shape_and_change_nothing(world: World, op: Operation) -> None:
    token = world.alice if op.auth else None
    path = world.path_for(op)
    valid = json.loads(world.valid_body(op) or b"{}")
    before = _state(world.ctx)
    for name, raw, content_type, expected in _bad_bodies(op, valid):
        if name.startswith("control-") and op.operation_id in {"login", "refresh", "logout"}:
            expected = (401, 422)  # type: ignore[assignment]  # a credential check, not a shape
        status, answer, headers = world.api.call(
            op.method, path, token=token, raw=raw, headers={"Content-Type": content_type}
        )
        if name.startswith("control-") and status not in (401, 422):
            # Free-text fields may accept odd characters; what matters: no 5xx, no change.
            assert status < 500, (name, answer)
            continue
        assert_error(status, answer, expected, f"{name} {_id(op)}")
        assert headers.get("X-Request-Id")
        assert len(json.dumps(answer)) < 10_000, f"{name} {_id(op)}: answer too large"
    assert_unchanged(before, world.ctx)


@pytest.mark.parametrize("op", PATH_OPS, ids=_id)
def test_hostile_path_ids_are_404_and_change_nothing(world: World, op: Operation) -> None:
    body = world.valid_body(op)
    before = _state(world.ctx)
    for name in _PARAM.findall(op.path):
        for hostile in HOSTILE_IDS:
            path = world.path_for(op, {name: hostile})
            status, answer, _ = world.api.call(op.method, path, token=world.alice, raw=body)
            assert_error(status, answer, 404, f"{name}={hostile[:20]!r} {_id(op)}")
            assert len(json.dumps(answer)) < 2000, "the error must not echo a huge id"
    assert_unchanged(before, world.ctx)


@pytest.mark.parametrize("op", PATH_OPS, ids=_id)
def test_another_users_ids_are_404_and_change_nothing(world: World, op: Operation) -> None:
    body = world.valid_body(op)
    before = _state(world.ctx)
    # Bob with Alice's ids.
    status, answer, _ = world.api.call(op.method, world.path_for(op), token=world.bob, raw=body)
    assert_error(status, answer, 404, f"bob on alice's {_id(op)}")
    # Alice's inner ids (in the path or the body) under Bob's own project: still 404.
    body_ids = bool(_PARAM.search(json.dumps(VALID_BODIES.get(op.operation_id, {}))))
    if "{project_id}" in op.path and (op.path.count("{") > 1 or body_ids):
        path = world.path_for(op, {"project_id": world.ids["bob_project_id"]})
        status, answer, _ = world.api.call(op.method, path, token=world.bob, raw=body)
        assert_error(status, answer, 404, f"bob's project, alice's ids {_id(op)}")
    assert_unchanged(before, world.ctx)


def _bad_query_values(prop: dict[str, Any]) -> tuple[str, ...]:
    kinds = {prop.get("type")} | {p.get("type") for p in prop.get("anyOf", [])}
    if kinds & {"integer", "number"}:
        return ("abc", "-1", "1e999", "9" * 400)
    if "string" in kinds:
        # A constrained string: too long, a path, a NUL.
        constrained = "pattern" in str(prop) or "maxLength" in str(prop)
        return ("a" * 5000, "..%2Fx", "%00") if constrained else ()
    return ("abc",)


@pytest.mark.parametrize("op", QUERY_OPS, ids=_id)
def test_bad_query_strings_are_422(world: World, op: Operation) -> None:
    path = world.path_for(op)
    props = op.query_model.model_json_schema().get("properties", {})  # type: ignore[union-attr]
    before = _state(world.ctx)
    cases = ["unknown=1"] + [
        f"{name}={value}" for name, prop in props.items() for value in _bad_query_values(prop)
    ]
    for query in cases:
        status, answer, _ = world.api.call(op.method, f"{path}?{query}", token=world.alice)
        assert_error(status, answer, 422, f"?{query[:30]} {_id(op)}")
    assert_unchanged(before, world.ctx)


def test_unknown_paths_and_methods_use_the_error_shape(world: World) -> None:
    # (Unknown paths are answered by API Gateway itself, before the Lambda.)
    for method, path in (
        ("PUT", "/projects"),
        ("DELETE", "/auth/login"),
        ("POST", "/health"),
    ):
        status, answer, _ = world.api.call(method, path, token=world.alice)
        assert_error(status, answer, (403, 404, 405), f"{method} {path}")
