"""infrastructure/api.tf: the HTTP API in front of the Chalice Lambda (payload format 1.0,
one route per Chalice route, a stage named like CloudFront's /api/ prefix, access logs,
throttling, the invoke permission) and its route list kept equal to the app's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scripts import api_routes
from tests.unit.infra.infra_support import INFRA_DIR, load_hcl, single


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return load_hcl()


def test_routes_file_lists_every_method_and_path_of_the_app() -> None:
    app = api_routes.load_app()
    listed = json.loads((INFRA_DIR / "api_routes.json").read_text())["routes"]
    expected = {f"{m} {path}" for path, methods in app.routes.items() for m in methods}
    assert set(listed) == expected
    assert len(listed) == len(expected)  # no duplicates
    # Chalice's path parameters are the HTTP API's syntax: resourcePath then matches.
    assert "GET /projects/{project_id}/deployments/{deployment_id}" in listed
    assert "POST /auth/login" in listed
    assert not any("{proxy+}" in key for key in listed)


def test_check_mode_notices_a_stale_routes_file(tmp_path: Path) -> None:
    stale = tmp_path / "api_routes.json"
    stale.write_text(api_routes.document(["GET /health"]))
    assert api_routes.main(["--check", "--path", str(stale)]) == 1
    assert api_routes.main(["--path", str(stale)]) == 0
    assert api_routes.main(["--check", "--path", str(stale)]) == 0
    assert stale.read_text() == (INFRA_DIR / "api_routes.json").read_text()


def test_route_keys_are_sorted_method_and_path() -> None:
    keys = api_routes.route_keys({"/b/{id}": {"GET": None, "DELETE": None}, "/a": {"POST": None}})
    assert keys == ["DELETE /b/{id}", "GET /b/{id}", "POST /a"]


def test_http_api_proxies_to_the_chalice_function_with_payload_1_0(config: dict[str, Any]) -> None:
    resources = config["resource"]
    api = resources["aws_apigatewayv2_api"]["http"]
    assert api["protocol_type"] == "HTTP"
    assert "cors_configuration" not in api  # same origin through CloudFront: no CORS
    integration = resources["aws_apigatewayv2_integration"]["lambda"]
    assert integration["integration_type"] == "AWS_PROXY"
    assert integration["payload_format_version"] == "1.0"
    assert integration["integration_uri"] == "${local.api_function_arn}"
    assert "var.api_http_function_name" in config["locals"]["api_function_arn"]
    assert config["variable"]["api_http_function_name"]["default"] == "autostack-prod"
    # Under CloudFront's 30 s origin read timeout, above the Lambda's 25 s.
    assert 25000 < integration["timeout_milliseconds"] <= 30000
    route = resources["aws_apigatewayv2_route"]["chalice"]
    assert route["route_key"] == "${each.key}"
    assert "local.api_routes" in route["for_each"]
    assert "api_routes.json" in config["locals"]["api_routes"]
    # Integration, routes and permission wait for the function chalice deploys.
    for block in (integration, resources["aws_lambda_permission"]["http_api"]):
        assert block["count"] == "${local.api_lambda_deployed ? 1 : 0}"
    assert "data.aws_lambda_functions.all.function_names" in config["locals"]["api_lambda_deployed"]


def test_stage_is_named_like_the_path_prefix_throttled_and_logged(config: dict[str, Any]) -> None:
    resources = config["resource"]
    stage = resources["aws_apigatewayv2_stage"]["api"]
    assert stage["name"] == "${var.api_stage_name}"
    assert stage["auto_deploy"] is True
    throttle = single(stage["default_route_settings"])
    assert throttle["throttling_rate_limit"] == "${var.api_throttling_rate_limit}"
    assert throttle["throttling_burst_limit"] == "${var.api_throttling_burst_limit}"
    variables = config["variable"]
    assert 0 < variables["api_throttling_rate_limit"]["default"] <= 100
    assert (
        variables["api_throttling_burst_limit"]["default"]
        >= (variables["api_throttling_rate_limit"]["default"])
    )
    logs = single(stage["access_log_settings"])
    assert logs["destination_arn"] == "${aws_cloudwatch_log_group.api_access.arn}"
    group = resources["aws_cloudwatch_log_group"]["api_access"]
    assert group["retention_in_days"] == "${var.api_log_retention_days}"


def test_only_this_api_may_invoke_the_function(config: dict[str, Any]) -> None:
    permission = config["resource"]["aws_lambda_permission"]["http_api"]
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["function_name"] == "${var.api_http_function_name}"
    assert permission["source_arn"] == "${aws_apigatewayv2_api.http.execution_arn}/*/*"


def test_latency_alarm_watches_the_http_api(config: dict[str, Any]) -> None:
    alarm = config["resource"]["aws_cloudwatch_metric_alarm"]["api_latency_p95"]
    assert alarm["dimensions"] == {
        "ApiId": "${aws_apigatewayv2_api.http.id}",
        "Stage": "${aws_apigatewayv2_stage.api.name}",
    }


def test_origin_token_is_generated_and_an_output_marked_sensitive(config: dict[str, Any]) -> None:
    token = config["resource"]["random_password"]["api_origin_token"]
    assert token["length"] >= 32 and token["special"] is False
    output = config["output"]["api_origin_token"]
    assert output["sensitive"] is True
    assert config["output"]["api_url"]["value"].endswith("/${var.api_stage_name}")


def test_table_is_provisioned_at_the_always_free_units_by_default(config: dict[str, Any]) -> None:
    variables = config["variable"]
    assert variables["table_billing_mode"]["default"] == "PROVISIONED"
    assert variables["table_read_capacity"]["default"] == 25
    assert variables["table_write_capacity"]["default"] == 25
    table = config["resource"]["aws_dynamodb_table"]["main"]
    assert table["billing_mode"] == "${var.table_billing_mode}"
    assert "var.table_write_capacity" in table["write_capacity"]
    assert "var.table_read_capacity" in table["read_capacity"]
    # No auto scaling: it could only buy capacity above the free units.
    assert "aws_appautoscaling_target" not in config["resource"]
