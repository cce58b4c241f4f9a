"""Every authenticated route counts against the user's rate limit (the documented
``status`` bucket for job status and logs, ``read`` for other reads, ``default`` for
everything that changes something), a full window answers 429 everywhere, and every route
is in /openapi.json with its models.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from chalicelib.limits import window_start
from chalicelib.openapi import Operation, operations
from tests.functional.api import qa_world
from tests.functional.api.qa_world import _PARAM, World, _state, assert_error, assert_unchanged

module_resources = pytest.fixture(scope="module")(qa_world.make_resources)
world = pytest.fixture(scope="module")(qa_world.make_world)

# Unauthenticated routes, and why: the rest must authenticate and be rate-limited.
PUBLIC = {
    ("GET", "/health"),  # load balancers and humans
    ("GET", "/openapi.json"),
    ("POST", "/auth/signup"),  # bounded by the user limit
    ("POST", "/auth/login"),  # login attempts limited per email and per IP
    ("POST", "/auth/refresh"),  # 128-bit opaque token; reuse revokes the family
    ("POST", "/auth/logout"),
}


def _id(op: Operation) -> str:
    return f"{op.method} {op.path}"


AUTH_OPS = [op for op in operations() if op.auth]
BUCKETS = ("default", "read", "status")


def test_only_the_listed_routes_are_public_and_every_other_is_rate_limited() -> None:
    public = {(op.method, op.path) for op in operations() if not op.auth}
    assert public == PUBLIC
    for op in AUTH_OPS:
        assert op.rate_bucket in BUCKETS, _id(op)
        # The cheap "status" and "read" buckets are for reads only (README: following a job
        # or looking around must not exhaust the default bucket); anything that changes
        # something counts in "default", and every read is counted apart from it.
        if op.rate_bucket in ("status", "read"):
            assert op.method == "GET", f"{_id(op)}: only reads may use the {op.rate_bucket} bucket"
        else:
            assert op.method != "GET", f"{_id(op)}: a read counts apart from mutations"


def test_reads_without_a_declared_bucket_count_in_read() -> None:
    buckets = {_id(op): op.rate_bucket for op in AUTH_OPS}
    assert buckets["GET /me"] == "read"
    assert buckets["GET /projects"] == "read"
    assert buckets["GET /projects/{project_id}"] == "read"
    assert buckets["POST /projects"] == "default"


def _count(world: World, bucket: str, user_id: str) -> int:
    ctx = world.ctx
    start = window_start(ctx.now(), ctx.settings.rate_window_s)
    item = ctx.aws.dynamodb.get_item(
        TableName=ctx.settings.table,
        Key={"pk": {"S": f"RATE#{user_id}#{bucket}#{start}"}, "sk": {"S": "RATE"}},
        ConsistentRead=True,
    ).get("Item")
    return int(item["count"]["N"]) if item else 0


def _harmless(world: World, op: Operation) -> tuple[str, bytes | None]:
    """A request that reaches the rate limiter but changes nothing: unknown ids, or a body
    that fails validation when the route has no path id."""
    path = world.path_for(op, {name: "nope" for name in _PARAM.findall(op.path)})
    body = world.valid_body(op)
    if not _PARAM.search(op.path) and op.request_model is not None:
        body = b"[]"
    return path, body


@pytest.mark.parametrize("op", AUTH_OPS, ids=_id)
def test_each_authenticated_route_counts_one_hit_in_its_bucket(world: World, op: Operation) -> None:
    user_id = world.ctx.signer.verify(world.alice, world.ctx.now()).user_id
    path, body = _harmless(world, op)
    before = {b: _count(world, b, user_id) for b in BUCKETS}
    status, answer, headers = world.api.call(op.method, path, token=world.alice, raw=body)
    assert status < 500, answer
    after = {b: _count(world, b, user_id) for b in BUCKETS}
    expected = {b: before[b] + (1 if b == op.rate_bucket else 0) for b in before}
    assert after == expected, _id(op)
    assert headers["X-RateLimit-Limit"] == str(world.ctx.settings.rate_limit_for(op.rate_bucket))
    assert int(headers["X-RateLimit-Remaining"]) >= 0 and int(headers["X-RateLimit-Reset"]) > 0


def test_a_full_window_answers_429_on_every_authenticated_route(world: World) -> None:
    ctx = world.ctx
    user_id = ctx.signer.verify(world.bob, ctx.now()).user_id
    start = window_start(ctx.now(), ctx.settings.rate_window_s)
    for bucket in BUCKETS:
        limit = ctx.settings.rate_limit_for(bucket)
        ctx.aws.dynamodb.put_item(
            TableName=ctx.settings.table,
            Item={
                "pk": {"S": f"RATE#{user_id}#{bucket}#{start}"},
                "sk": {"S": "RATE"},
                "count": {"N": str(limit)},
                "expires_at": {"N": str(start + 2 * ctx.settings.rate_window_s)},
            },
        )
    before = _state(ctx)
    # Bob at his limit, on Alice's real ids too: 429 before any lookup or change.
    for op in AUTH_OPS:
        status, answer, headers = world.api.call(
            op.method, world.path_for(op), token=world.bob, raw=world.valid_body(op)
        )
        assert_error(status, answer, 429, _id(op))
        assert answer["error"]["details"]["bucket"] == op.rate_bucket
        assert int(headers["Retry-After"]) >= 1
        assert headers["X-RateLimit-Remaining"] == "0"
    assert_unchanged(before, ctx)


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    match = re.fullmatch(r"#/components/schemas/(\w+)", ref)
    assert match, schema
    return doc["components"]["schemas"][match.group(1)]


def test_every_route_is_documented_with_its_models(world: World) -> None:
    status, doc, _ = world.api.call("GET", "/openapi.json")
    assert status == 200
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == {(op.method, op.path) for op in operations()}
    for op in operations():
        entry = doc["paths"][op.path][op.method.lower()]
        params = {p["name"]: p["in"] for p in entry.get("parameters", [])}
        for name in _PARAM.findall(op.path):
            assert params.get(name) == "path", _id(op)
        if op.query_model is not None:
            for name in op.query_model.model_fields:
                assert params.get(name) == "query", _id(op)
        if op.request_model is not None:
            schema = entry["requestBody"]["content"]["application/json"]["schema"]
            props = _resolve(doc, schema)["properties"]
            assert set(props) == set(op.request_model.model_fields), _id(op)
            needs_body = any(f.is_required() for f in op.request_model.model_fields.values())
            assert entry["requestBody"]["required"] is needs_body, _id(op)
            assert {"400", "413", "415", "422"} <= set(entry["responses"]), _id(op)
        success = entry["responses"][str(op.status)]
        if op.status == 204:
            assert "content" not in success, _id(op)
        else:
            schema = success["content"]["application/json"]["schema"]
            if op.response_model is not None:
                assert set(_resolve(doc, schema)["properties"]) == set(
                    op.response_model.model_fields
                ), _id(op)
            else:
                assert schema, f"{_id(op)} answers JSON without a documented schema"
        if op.auth:
            assert entry["security"] == [{"bearerAuth": []}]
            assert {"401", "429"} <= set(entry["responses"]), _id(op)
            assert set(success["headers"]) >= {"X-RateLimit-Limit", "X-RateLimit-Remaining"}
        for code, answer in entry["responses"].items():
            if int(code) >= 400:
                schema = answer["content"]["application/json"]["schema"]
                assert schema["$ref"].endswith("/ErrorOut"), (_id(op), code)


@pytest.mark.parametrize("op", [op for op in operations() if op.method == "GET"], ids=_id)
def test_what_a_read_answers_matches_its_documented_model(world: World, op: Operation) -> None:
    status, answer, _ = world.api.call("GET", world.path_for(op), token=world.alice)
    if op.path == "/health":
        assert status in (200, 503)
    else:
        assert status == op.status, (_id(op), answer)
    if op.response_model is not None:
        op.response_model.model_validate(answer)
    else:
        assert json.dumps(answer)
