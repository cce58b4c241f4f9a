"""The world the QA sweep runs in: Alice owns one of everything (project, upload,
finished analysis, template bundle, uploaded bundle, deployment); Bob owns an empty
project. Built once per test module (building it is the slow part).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import jwt
from chalice.test import Client

import app as _app  # noqa: F401  (registers every route in the OpenAPI registry)
from chalicelib.auth.tokens import key_id
from chalicelib.context import AppContext, build_context, reset_context, set_context
from chalicelib.openapi import Operation
from chalicelib.store.codec import to_item
from devtools.local_resources import LocalResources, create_local_resources
from tests.functional.api.conftest import Api, settings_for, table_snapshot
from tests.golden.stack_profiles import flask_postgres

ROLE_ARN = "arn:aws:iam::123456789012:role/autostack-deploy"
RUNNER_ROLE_ARN = "arn:aws:iam::210987654321:role/autostack-runner"
_PARAM = re.compile(r"{(\w+)}")

# A valid body per operation whose model has required fields (ids are filled in from
# the world). A new route with a required field fails test_every_body_route_has_a_sample
# until it gets a line here.
VALID_BODIES: dict[str, dict[str, Any]] = {
    "signup": {"email": "sweep-new@example.com", "password": "correct horse battery"},
    "login": {"email": "nobody@example.com", "password": "correct horse battery"},
    "refresh": {"refresh_token": "x" * 40},
    "logout": {"refresh_token": "x" * 40},
    "create_project": {"name": "sweep"},
    "update_project": {"name": "renamed"},
    "create_analysis": {"upload_id": "{upload_id}"},
    "create_templates": {"analysis_id": "{job_id}"},
    "create_deployment": {"bundle_id": "{bundle_id}", "role_arn": ROLE_ARN, "region": "us-east-1"},
    "create_release": {"upload_id": "{upload_id}"},
    "put_config": {"values": {"LOG_LEVEL": "info"}},
}

HOSTILE_IDS = [
    "a" * 5000,
    "é漢字🙂",
    "..",
    "../etc/passwd",
    "..%2F..%2Fetc",
    "%00",
    "\x00",
    "x\nInjected: 1",
    "' OR '1'='1",
    "PROJECT#x",
    "{project_id}",
    " ",
]


@dataclass
class World:
    api: Api
    ctx: AppContext
    alice: str
    bob: str
    ids: dict[str, str] = field(default_factory=dict)

    def path_for(self, op: Operation, overrides: dict[str, str] | None = None) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            value = (overrides or {}).get(name, self.id_for(op, name))
            return quote(value, safe="")

        return _PARAM.sub(fill, op.path)

    def id_for(self, op: Operation, name: str) -> str:
        return self.id_for_path(op.path, name)

    def id_for_path(self, path: str, name: str) -> str:
        # {bundle_id} names a generated bundle under /templates, an uploaded one under /bundles.
        if name == "bundle_id" and "/bundles/" in path:
            return self.ids["tfbundle_id"]
        return self.ids[name]

    def valid_body(self, op: Operation) -> bytes | None:
        if op.request_model is None:
            return None
        sample = VALID_BODIES.get(op.operation_id, {})
        text = json.dumps(sample)
        for name, value in self.ids.items():
            text = text.replace("{" + name + "}", value)
        return text.encode()


def _rest(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Rate and login-attempt windows are the only writes a refused request may make.
    return [i for i in items if not i["pk"]["S"].startswith(("RATE#", "LOGIN#"))]


def _objects(ctx: AppContext) -> list[str]:
    found = ctx.aws.s3.list_objects_v2(Bucket=ctx.settings.bucket).get("Contents", [])
    return sorted(o["Key"] for o in found)


def _queued(ctx: AppContext) -> int:
    attrs = ctx.aws.sqs.get_queue_attributes(
        QueueUrl=ctx.settings.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def _state(ctx: AppContext) -> tuple[Any, ...]:
    return (_rest(table_snapshot(ctx)), _objects(ctx), _queued(ctx))


def assert_unchanged(before: tuple[Any, ...], ctx: AppContext) -> None:
    after = _state(ctx)
    added = [i for i in after[0] if i not in before[0]]
    removed = [i for i in before[0] if i not in after[0]]
    assert (added, removed) == ([], []), "the table changed"
    assert after[1:] == before[1:], "objects or queue changed"


def assert_error(status: int, body: Any, expected: int | tuple[int, ...], what: str) -> None:
    wanted = expected if isinstance(expected, tuple) else (expected,)
    assert status in wanted, (what, status, body)
    assert isinstance(body, dict) and set(body) == {"error"}, (what, body)
    assert set(body["error"]) == {"code", "message", "details"}, (what, body)
    assert isinstance(body["error"]["code"], str) and body["error"]["message"], (what, body)


def make_resources(emulator_url: str) -> LocalResources:
    """Fixture body (module scope): a fresh table, bucket and queues."""
    return create_local_resources(emulator_url, suffix=f"-qa{secrets.token_hex(3)}")


def make_world(module_resources: LocalResources) -> Iterator[World]:
    """Fixture body (module scope): Alice and Bob with their things (module doc)."""
    settings = settings_for(
        module_resources,
        rate_limit=100_000,
        status_rate_limit=100_000,
        read_rate_limit=100_000,
        runner_role_arn=RUNNER_ROLE_ARN,
        login_max_per_ip=100_000,
    )
    ctx = build_context(settings)
    set_context(ctx)
    try:
        from app import app

        with Client(app, stage_name="test") as client:
            api = Api(client)
            world = World(api, ctx, api.user("alice@example.com"), api.user("bob@example.com"))
            _populate(world)
            yield world
    finally:
        reset_context()


def _call_ok(world: World, method: str, path: str, body: Any, status: int) -> Any:
    got, answer, _ = world.api.call(method, path, body, token=world.alice)
    assert got == status, (method, path, answer)
    return answer


def _populate(world: World) -> None:
    ctx, ids = world.ctx, world.ids
    project_id = _call_ok(world, "POST", "/projects", {"name": "alice-shop"}, 201)["id"]
    ids["project_id"] = project_id
    upload = _call_ok(world, "POST", f"/projects/{project_id}/uploads", {"format": "zip"}, 201)
    ids["upload_id"] = upload["id"]
    # A finished analysis as the runner leaves it (item + report).
    job_id = "job" + secrets.token_hex(4)
    report_key = f"reports/{project_id}/{job_id}.json"
    ctx.aws.s3.put_object(
        Bucket=ctx.settings.bucket, Key=report_key, Body=flask_postgres().model_dump_json()
    )
    item = {
        "pk": f"PROJECT#{project_id}",
        "sk": f"JOB#{job_id}",
        "job_id": job_id,
        "project_id": project_id,
        "kind": "analyze",
        "status": "succeeded",
        "payload": {"upload_id": ids["upload_id"]},
        "result": {"report_key": report_key},
        "created_at_epoch": int(time.time()),
    }
    ctx.aws.dynamodb.put_item(TableName=ctx.settings.table, Item=to_item(item))
    ids["job_id"] = job_id
    bundle = _call_ok(
        world, "POST", f"/projects/{project_id}/templates", {"analysis_id": job_id}, 201
    )
    ids["bundle_id"] = bundle["id"]
    tfbundle = _call_ok(world, "POST", f"/projects/{project_id}/bundles", {}, 201)
    ids["tfbundle_id"] = tfbundle["id"]
    deployment = _call_ok(
        world,
        "POST",
        f"/projects/{project_id}/deployments",
        {"bundle_id": bundle["id"], "role_arn": ROLE_ARN, "region": "us-east-1"},
        202,
    )
    ids["deployment_id"] = deployment["id"]
    # A release that went live (the runner writes these; the API only reads and rolls back).
    ctx.stores.releases.put(
        project_id,
        "0000000000001-qa",
        {"status": "live", "stack": "main", "bundle_id": bundle["id"], "image_tag": "src-qa",
         "source_upload_id": ids["upload_id"], "created_at_epoch": 1.0, "created_by": "qa"},
    )  # fmt: skip
    ids["release_id"] = "0000000000001-qa"
    ids["config_name"] = "LOG_LEVEL"
    ids["bob_project_id"] = _call_ok_as(world, world.bob, "/projects", {"name": "bob"})["id"]


def _call_ok_as(world: World, token: str, path: str, body: Any) -> Any:
    got, answer, _ = world.api.call("POST", path, body, token=token)
    assert got == 201, answer
    return answer


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    def part(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    return f"{part(header)}.{part(claims)}."


def _bad_tokens(world: World) -> dict[str, str]:
    ctx = world.ctx
    key, now = ctx.signer.key, ctx.now()
    sub = ctx.signer.verify(world.alice, now).user_id
    good = {"iss": "autostack", "aud": "autostack-api", "sub": sub, "iat": now, "exp": now + 900}
    kid = {"kid": key_id(key)}
    return {
        "expired": jwt.encode({**good, "iat": now - 2000, "exp": now - 1000}, key, headers=kid),
        "forged": jwt.encode(good, "f" * 48, headers=kid),
        "alg-none": _unsigned({"alg": "none", "typ": "JWT", **kid}, good),
        "alg-none-no-sig": _unsigned({"alg": "none", **kid}, good).rstrip("."),
        "wrong-audience": jwt.encode({**good, "aud": "someone-else"}, key, headers=kid),
        "wrong-issuer": jwt.encode({**good, "iss": "evil"}, key, headers=kid),
        "no-sub": jwt.encode({k: v for k, v in good.items() if k != "sub"}, key, headers=kid),
        "future-iat": jwt.encode({**good, "iat": now + 3600}, key, headers=kid),
        "hs512": jwt.encode(good, key, algorithm="HS512", headers=kid),
        "unknown-kid": jwt.encode(good, key, headers={"kid": "nope"}),
        "garbage": "abc.def.ghi",
        "huge": "a" * 10_000,
        "empty-bearer": "",
    }
