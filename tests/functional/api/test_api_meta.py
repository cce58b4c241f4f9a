"""/health and /openapi.json, and the request id / log shape."""

from __future__ import annotations

import time

from chalicelib.context import AppContext
from chalicelib.store.codec import to_item
from tests.functional.api.conftest import Api


def test_health_ok_without_a_runner(api: Api) -> None:
    status, body, headers = api.call("GET", "/health")
    assert status == 200, body
    assert body["status"] == "ok"
    assert {name for name, check in body["checks"].items() if check["ok"]} == {
        "table",
        "bucket",
        "queue",
    }
    assert body["runner"] == {
        "seen": False,
        "detail": "no runner seen",
        "state": None,
        "newest_heartbeat_age_s": None,
        "runners": 0,
        "required": False,
    }
    assert len(headers["X-Request-Id"]) >= 16


def _heartbeat(context: AppContext, runner_id: str, at: float) -> None:
    context.aws.dynamodb.put_item(
        TableName=context.settings.table,
        Item=to_item(
            {"pk": "RUNNERS", "sk": f"RUNNER#{runner_id}", "runner_id": runner_id, "at": at}
        ),
    )


def test_health_reports_the_newest_heartbeat(api: Api, api_context: AppContext) -> None:
    _heartbeat(api_context, "old", time.time() - 3600)
    _heartbeat(api_context, "new", time.time() - 5)
    status, body, _ = api.call("GET", "/health")
    assert status == 200
    assert body["runner"]["seen"] is True and body["runner"]["runners"] == 2
    assert 4 <= body["runner"]["newest_heartbeat_age_s"] < 60


def test_health_degrades_when_a_required_runner_is_missing_or_stale(
    api: Api, api_context: AppContext
) -> None:
    from chalicelib.context import build_context, set_context

    required = build_context(api_context.settings.replace(runner_required=True))
    set_context(required)
    status, body, _ = api.call("GET", "/health")
    assert status == 503 and body["status"] == "degraded"
    _heartbeat(required, "r1", time.time() - 10_000)
    status, body, _ = api.call("GET", "/health")
    assert status == 503 and body["runner"]["detail"].startswith("stale")
    _heartbeat(required, "r1", time.time())
    assert api.call("GET", "/health")[0] == 200


def test_health_names_what_failed(api: Api, api_context: AppContext) -> None:
    from chalicelib.context import build_context, set_context

    set_context(build_context(api_context.settings.replace(bucket="no-such-bucket")))
    status, body, _ = api.call("GET", "/health")
    assert status == 503
    assert body["checks"]["bucket"]["ok"] is False
    assert body["checks"]["table"]["ok"] is True


def test_openapi_covers_every_route(api: Api) -> None:
    from app import app

    status, doc, _ = api.call("GET", "/openapi.json")
    assert status == 200
    assert doc["openapi"].startswith("3.1")
    for path, methods in app.routes.items():
        for method in methods:
            assert method.lower() in doc["paths"].get(path, {}), f"{method} {path} undocumented"
    signup = doc["paths"]["/auth/signup"]["post"]
    assert signup["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/SignupRequest"
    )
    assert {"201", "409", "403", "422"} <= set(signup["responses"])
    schemas = doc["components"]["schemas"]
    assert "password" in schemas["SignupRequest"]["properties"]
    assert schemas["ErrorOut"]["properties"]["error"]
    get_project = doc["paths"]["/projects/{project_id}"]["get"]
    assert get_project["parameters"][0]["name"] == "project_id"
    assert get_project["security"] == [{"bearerAuth": []}]
    from openapi_spec_validator import validate

    validate(doc)  # a valid OpenAPI 3.1 document
    operation_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"
    # Every $ref resolves.
    import json
    import re

    for ref in set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(doc))):
        assert ref in schemas, ref


def test_internal_errors_use_the_error_shape(api: Api, api_context: AppContext) -> None:
    from chalicelib.context import build_context, set_context

    broken = build_context(api_context.settings.replace(table="no-such-table"))
    set_context(broken)
    status, body, _ = api.call(
        "POST", "/auth/signup", {"email": "x@example.com", "password": "correct horse battery"}
    )
    assert status == 500 and body == {
        "error": {
            "code": "internal_error",
            "message": "an internal error occurred",
            "details": None,
        }
    }


def test_every_log_line_of_a_request_carries_its_request_id(api: Api) -> None:
    import io
    import json
    import logging

    from chalicelib.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger._logger.addHandler(handler)
    try:
        status, _, headers = api.call("POST", "/projects", {"name": "x"}, token="bad")
    finally:
        logger._logger.removeHandler(handler)
    assert status == 401
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) >= 2  # the failure and the access line
    assert {line["request_id"] for line in lines} == {headers["X-Request-Id"]}
    access = next(line for line in lines if line["message"] == "request")
    assert access["status"] == 401 and access["route"] == "POST /projects"
    assert access["service"] == "autostack-api"
