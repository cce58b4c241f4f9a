"""scripts/gateway_responses.py against the emulator's API Gateway (moto server, boto3)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from scripts.gateway_responses import (
    GATEWAY_MESSAGE,
    GATEWAY_RESPONSES,
    apply_gateway_responses,
    main,
)

_names = itertools.count()


@pytest.fixture
def apigateway(emulator_url: str) -> Any:
    return boto3.client(
        "apigateway",
        endpoint_url=emulator_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _rest_api(client: Any) -> tuple[str, str]:
    """A REST API shaped like chalice's: one GET route on the root, a Lambda-less mock."""
    name = f"autostack-gw-{next(_names)}-{id(client)}"
    api_id = client.create_rest_api(name=name)["id"]
    root = client.get_resources(restApiId=api_id)["items"][0]["id"]
    client.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    client.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    return api_id, name


def _responses(client: Any, api_id: str) -> dict[str, dict[str, Any]]:
    items = client.get_gateway_responses(restApiId=api_id)["items"]
    return {item["responseType"]: item for item in items}


def _body(item: dict[str, Any], gateway_message: str = "Forbidden") -> dict[str, Any]:
    """The answer's body as API Gateway renders it (its message is a quoted string)."""
    template = item["responseTemplates"]["application/json"]
    return json.loads(template.replace(GATEWAY_MESSAGE, json.dumps(gateway_message)))


def _chalice_dir(tmp_path: Path, api_id: str | None) -> Path:
    chalice = tmp_path / ".chalice"
    (chalice / "deployed").mkdir(parents=True)
    config = {"version": "2.0", "app_name": "autostack", "stages": {"prod": {}}}
    (chalice / "config.json").write_text(json.dumps(config))
    if api_id is not None:
        deployed = {
            "resources": [
                {"name": "api_handler", "resource_type": "lambda_function"},
                {"name": "rest_api", "resource_type": "rest_api", "rest_api_id": api_id},
            ],
            "schema_version": "2.0",
        }
        (chalice / "deployed" / "prod.json").write_text(json.dumps(deployed))
    return chalice


def test_api_gateway_errors_get_our_error_shape_and_a_deployment(apigateway: Any) -> None:
    api_id, _ = _rest_api(apigateway)
    summary = apply_gateway_responses(apigateway, api_id, "api")

    items = _responses(apigateway, api_id)
    unknown_route = items["MISSING_AUTHENTICATION_TOKEN"]
    assert unknown_route["statusCode"] == "404"
    assert _body(unknown_route) == {
        "error": {"code": "not_found", "message": "no such route", "details": None}
    }
    throttled = items["THROTTLED"]
    assert throttled["statusCode"] == "429"
    assert _body(throttled)["error"]["code"] == "rate_limited"
    assert throttled["responseParameters"] == {"gatewayresponse.header.Retry-After": "'1'"}
    assert items["REQUEST_TOO_LARGE"]["statusCode"] == "413"
    # The catch-alls keep API Gateway's status and message.
    for kind, code in (("DEFAULT_4XX", "bad_request"), ("DEFAULT_5XX", "unavailable")):
        assert "statusCode" not in items[kind] or items[kind]["statusCode"] is None
        assert _body(items[kind], "Invalid request body") == {
            "error": {"code": code, "message": "Invalid request body", "details": None}
        }
    assert all(item["responseTemplates"].keys() == {"application/json"} for item in items.values())
    deployments = apigateway.get_deployments(restApiId=api_id)["items"]
    assert [d["id"] for d in deployments] == [summary["deployment_id"]]
    assert (
        apigateway.get_stage(restApiId=api_id, stageName="api")["deploymentId"]
        == (summary["deployment_id"])
    )


def test_running_it_again_leaves_the_same_responses(apigateway: Any) -> None:
    api_id, _ = _rest_api(apigateway)
    apply_gateway_responses(apigateway, api_id, "api")
    first = _responses(apigateway, api_id)
    second_summary = apply_gateway_responses(apigateway, api_id, "api")
    assert _responses(apigateway, api_id) == first
    assert set(first) == {r.response_type for r in GATEWAY_RESPONSES}
    stage = apigateway.get_stage(restApiId=api_id, stageName="api")
    assert stage["deploymentId"] == second_summary["deployment_id"]


def test_the_cli_reads_the_api_id_chalice_recorded(
    apigateway: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api_id, _ = _rest_api(apigateway)
    chalice = _chalice_dir(tmp_path, api_id)
    assert main(["--chalice-dir", str(chalice)], client=apigateway) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["rest_api_id"], summary["stage"]) == (api_id, "api")
    assert _responses(apigateway, api_id)["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "404"


def test_the_cli_finds_the_api_by_name(
    apigateway: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api_id, name = _rest_api(apigateway)
    chalice = _chalice_dir(tmp_path, None)
    assert main(["--chalice-dir", str(chalice), "--api-name", name], client=apigateway) == 0
    assert json.loads(capsys.readouterr().out)["rest_api_id"] == api_id


def test_the_cli_says_what_is_missing(
    apigateway: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chalice = _chalice_dir(tmp_path, None)
    assert main(["--chalice-dir", str(chalice)], client=apigateway) == 2
    assert "prod.json: not found" in capsys.readouterr().err
    assert (
        main(["--chalice-dir", str(chalice), "--api-name", "no-such-api"], client=apigateway) == 2
    )
    assert "0 REST APIs are named 'no-such-api'" in capsys.readouterr().err
    assert (
        main(["--chalice-dir", str(chalice), "--rest-api-id", "nosuchid"], client=apigateway) == 2
    )
    assert "gateway_responses:" in capsys.readouterr().err
