"""The Chalice app answers API Gateway HTTP API events (payload format 1.0), as
infrastructure/api.tf sends them: one route per Chalice route, stage "api" (CloudFront's
/api/* prefix), in-process against the emulator.

The events follow AWS's documented 1.0 shape ("Create AWS Lambda proxy integrations for
HTTP APIs", payload format 1.0): `version` "1.0", `resource` and
`requestContext.resourcePath` the matched route's path template, `path` the request's
path (with the stage on the execute-api address), lower-case header names,
`multiValueHeaders`, `multiValueQueryStringParameters`, `pathParameters`, `isBase64Encoded`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import keys
from chalicelib.context import AppContext, build_context, reset_context, set_context
from devtools.local_resources import LocalResources
from tests.functional.api.conftest import PASSWORD, settings_for

ORIGIN_TOKEN = "T" * 40
EDGE_IP = "130.176.1.10"  # a CloudFront edge: API Gateway's sourceIp behind /api/*
VIEWER_IP = "203.0.113.7"


class LambdaContext:
    aws_request_id = "req-http-api-1"
    function_name = "autostack-prod"
    memory_limit_in_mb = 512

    def get_remaining_time_in_millis(self) -> int:
        return 25000


def http_api_event(
    method: str,
    route: str,
    path: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    source_ip: str = VIEWER_IP,
) -> dict[str, Any]:
    sent = {
        "accept": "application/json",
        "content-type": "application/json",
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "test",
        "x-forwarded-for": source_ip,
        **{name.lower(): value for name, value in (headers or {}).items()},
    }
    full_path = f"/api{path}"
    return {
        "version": "1.0",
        "resource": route,
        "path": full_path,
        "httpMethod": method,
        "headers": sent,
        "multiValueHeaders": {name: [value] for name, value in sent.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": (
            {name: [value] for name, value in query.items()} if query else None
        ),
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "authorizer": {"claims": None, "scopes": None},
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "extendedRequestId": "ext-1",
            "httpMethod": method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": source_ip,
                "user": None,
                "userAgent": "test",
                "userArn": None,
            },
            "path": full_path,
            "protocol": "HTTP/1.1",
            "requestId": "id-1",
            "requestTime": "07/Dec/2026:20:00:00 +0000",
            "requestTimeEpoch": 1796673600000,
            "resourceId": f"{method} {route}",
            "resourcePath": route,
            "stage": "api",
        },
        "pathParameters": path_parameters,
        "stageVariables": None,
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


@pytest.fixture
def context(local_resources: LocalResources) -> Iterator[AppContext]:
    context = build_context(settings_for(local_resources, origin_token=ORIGIN_TOKEN))
    set_context(context)
    yield context
    reset_context()


def invoke(event: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    from app import app

    response = app(event, LambdaContext())
    body = json.loads(response["body"]) if response.get("body") else None
    return response["statusCode"], body, response.get("headers") or {}


def signup_and_login(email: str) -> str:
    status, body, _ = invoke(
        http_api_event(
            "POST", "/auth/signup", "/auth/signup", body={"email": email, "password": PASSWORD}
        )
    )
    assert status == 201, body
    status, body, _ = invoke(
        http_api_event(
            "POST", "/auth/login", "/auth/login", body={"email": email, "password": PASSWORD}
        )
    )
    assert status == 200, body
    return str(body["access_token"])


def test_health_answers_a_payload_1_0_event(context: AppContext) -> None:
    status, body, headers = invoke(http_api_event("GET", "/health", "/health"))
    assert status == 200, body
    assert body["checks"]["table"]["ok"] is True
    assert headers["Content-Type"].startswith("application/json")


def test_login_with_a_json_body_and_a_path_parameter_route(context: AppContext) -> None:
    token = signup_and_login("http-api@example.com")
    auth = {"Authorization": f"Bearer {token}"}
    status, project, _ = invoke(
        http_api_event("POST", "/projects", "/projects", body={"name": "shop"}, headers=auth)
    )
    assert status == 201, project
    route = "/projects/{project_id}"
    status, body, _ = invoke(
        http_api_event(
            "GET",
            route,
            f"/projects/{project['id']}",
            headers=auth,
            path_parameters={"project_id": project["id"]},
        )
    )
    assert status == 200, body
    assert body["id"] == project["id"] and body["name"] == "shop"
    # A wrong password is the app's 401 in our error shape, not API Gateway's.
    status, body, _ = invoke(
        http_api_event(
            "POST",
            "/auth/login",
            "/auth/login",
            body={"email": "http-api@example.com", "password": "wrong password here"},
        )
    )
    assert status == 401 and body["error"]["code"] == "unauthorized", body


def test_a_catch_all_proxy_route_would_reach_no_view(context: AppContext) -> None:
    """Why api.tf lists every route: Chalice routes on resourcePath, which an HTTP API
    1.0 event sets to the route's template, so `ANY /{proxy+}` finds no view."""
    event = http_api_event("GET", "/{proxy+}", "/health", path_parameters={"proxy": "health"})
    status, body, _ = invoke(event)
    # Chalice has no "/{proxy+}" route: its "unsupported method" answer.
    assert status == 405, body
    assert body["error"]["code"] == "method_not_allowed"
    assert "checks" not in body  # /health was not reached


def _signup_ip_items(context: AppContext) -> set[str]:
    page = context.aws.dynamodb.scan(TableName=context.settings.table, ConsistentRead=True)
    return {item["pk"]["S"] for item in page["Items"] if item["pk"]["S"].startswith("SIGNUP#ip#")}


def _signup(email: str, headers: dict[str, str]) -> int:
    status, _, _ = invoke(
        http_api_event(
            "POST",
            "/auth/signup",
            "/auth/signup",
            body={"email": email, "password": PASSWORD},
            headers=headers,
            source_ip=EDGE_IP,
        )
    )
    return status


def test_behind_cloudfront_the_limits_count_the_viewer_not_the_edge(context: AppContext) -> None:
    viewer = {"CloudFront-Viewer-Address": f"{VIEWER_IP}:51234"}
    assert _signup("a@example.com", {**viewer, "X-AutoStack-Origin-Token": ORIGIN_TOKEN}) == 201
    assert _signup_ip_items(context) == {keys.signup_ip_pk(VIEWER_IP)}
    # Without CloudFront's token (a direct call to the execute-api address) the header
    # is not believed: the call counts against its own source address.
    assert _signup("b@example.com", viewer) == 201
    assert _signup("c@example.com", {**viewer, "X-AutoStack-Origin-Token": "x" * 40}) == 201
    assert _signup_ip_items(context) == {
        keys.signup_ip_pk(VIEWER_IP),
        keys.signup_ip_pk(EDGE_IP),
    }
