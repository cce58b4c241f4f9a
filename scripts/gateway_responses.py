"""Give API Gateway's own error answers AutoStack's error shape.

    .venv/bin/chalice deploy --stage prod
    .venv/bin/python scripts/gateway_responses.py            # after every deploy

API Gateway answers some requests itself, before the Lambda runs: an unknown route
(403 {"message": "Missing Authentication Token"}), its throttling (429), a body over
its own limit, its integration failures (5xx). This script puts a *gateway response*
for each of those types on the REST API so they answer
``{"error": {"code", "message", "details": null}}`` like the Lambda does, then creates
a deployment of the stage so they take effect. Running it again puts the same values
and deploys again: nothing else changes.

The REST API id comes from ``.chalice/deployed/<stage>.json`` (written by ``chalice
deploy``), or ``--rest-api-id``, or ``--api-name`` (looked up with GetRestApis). It
runs with the deployer's credentials (``apigateway:PUT``/``POST``/``GET`` on the API),
not the Lambda's role.

Headers: a gateway response's header values may only be request parameters or
static strings, not ``$context.requestId``; API Gateway sends its request id on
every answer, these included, as ``x-amzn-RequestId``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STAGE = "prod"
DEFAULT_API_GATEWAY_STAGE = "api"  # chalice's default for "api_gateway_stage"
JSON_TYPE = "application/json"
# API Gateway's own message, already a quoted JSON string ("..."): used as is.
GATEWAY_MESSAGE = "$context.error.messageString"


class GatewayResponsesError(RuntimeError):
    """The REST API or the stage cannot be found, or the files cannot be read."""


class ApiGatewayClient(Protocol):
    """The part of boto3's ``apigateway`` client this script uses."""

    def put_gateway_response(self, **kwargs: Any) -> dict[str, Any]: ...
    def create_deployment(self, **kwargs: Any) -> dict[str, Any]: ...
    def get_rest_apis(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class GatewayResponse:
    """One gateway response: its type, status (None keeps API Gateway's), our error."""

    response_type: str
    status: str | None
    code: str
    message: str | None  # None: API Gateway's own message
    headers: Mapping[str, str] | None = None  # header name -> static value

    def template(self) -> str:
        message = GATEWAY_MESSAGE if self.message is None else json.dumps(self.message)
        return (
            f'{{"error": {{"code": {json.dumps(self.code)}, "message": {message}, '
            '"details": null}}'
        )

    def put_arguments(self, rest_api_id: str) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "restApiId": rest_api_id,
            "responseType": self.response_type,
            "responseParameters": {
                f"gatewayresponse.header.{name}": f"'{value}'"
                for name, value in (self.headers or {}).items()
            },
            "responseTemplates": {JSON_TYPE: self.template()},
        }
        if self.status is not None:
            arguments["statusCode"] = self.status
        return arguments


# The specific types first; DEFAULT_4XX/5XX cover every other type of their class
# (API Gateway applies the most specific one).
GATEWAY_RESPONSES: tuple[GatewayResponse, ...] = (
    # An unknown route or method: the Lambda's own 404 for unknown ids says the same.
    GatewayResponse("MISSING_AUTHENTICATION_TOKEN", "404", "not_found", "no such route"),
    # Stage/account throttling; its token bucket refills every second.
    GatewayResponse(
        "THROTTLED", "429", "rate_limited", "too many requests", headers={"Retry-After": "1"}
    ),
    GatewayResponse("REQUEST_TOO_LARGE", "413", "payload_too_large", "the request is too large"),
    GatewayResponse("DEFAULT_4XX", None, "bad_request", None),
    GatewayResponse("DEFAULT_5XX", None, "unavailable", None),
)


def rest_api_id_from_deployed(deployed_file: Path) -> str:
    """The REST API id ``chalice deploy`` recorded in ``.chalice/deployed/<stage>.json``."""
    try:
        data = json.loads(deployed_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GatewayResponsesError(
            f"{deployed_file}: not found; run `chalice deploy` first or pass --rest-api-id"
        ) from None
    except (OSError, ValueError) as exc:
        raise GatewayResponsesError(f"{deployed_file}: {exc}") from None
    resources = data.get("resources") if isinstance(data, dict) else None
    for resource in resources if isinstance(resources, list) else []:
        if isinstance(resource, dict) and resource.get("resource_type") == "rest_api":
            rest_api_id = resource.get("rest_api_id")
            if isinstance(rest_api_id, str) and rest_api_id:
                return rest_api_id
    raise GatewayResponsesError(f"{deployed_file}: no rest_api resource with a rest_api_id")


def rest_api_id_by_name(client: ApiGatewayClient, name: str) -> str:
    """The id of the one REST API called ``name`` (several or none is an error)."""
    found: list[str] = []
    position: str | None = None
    while True:
        page = client.get_rest_apis(limit=500, **({"position": position} if position else {}))
        found += [item["id"] for item in page.get("items", []) if item.get("name") == name]
        position = page.get("position")
        if not position:
            break
    if len(found) != 1:
        raise GatewayResponsesError(
            f"--api-name: {len(found)} REST APIs are named {name!r}; pass --rest-api-id"
        )
    return found[0]


def api_gateway_stage(config_file: Path, chalice_stage: str) -> str:
    """The API Gateway stage chalice deploys to (``api_gateway_stage``, default "api")."""
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GatewayResponsesError(f"{config_file}: {exc}") from None
    stage_config = config.get("stages", {}).get(chalice_stage, {})
    stage = stage_config.get("api_gateway_stage", config.get("api_gateway_stage"))
    return stage if isinstance(stage, str) and stage else DEFAULT_API_GATEWAY_STAGE


def apply_gateway_responses(
    client: ApiGatewayClient,
    rest_api_id: str,
    stage_name: str,
    responses: tuple[GatewayResponse, ...] = GATEWAY_RESPONSES,
) -> dict[str, Any]:
    """Put every gateway response, then deploy the stage so they take effect.

    A put replaces the whole response of its type, so a second run leaves the same
    values; the deployment snapshots the API as it now is (chalice's routes included).
    """
    for response in responses:
        client.put_gateway_response(**response.put_arguments(rest_api_id))
    deployment = client.create_deployment(
        restApiId=rest_api_id,
        stageName=stage_name,
        description="AutoStack gateway responses (scripts/gateway_responses.py)",
    )
    return {
        "rest_api_id": rest_api_id,
        "stage": stage_name,
        "gateway_responses": [r.response_type for r in responses],
        "deployment_id": deployment.get("id"),
    }


def main(argv: list[str] | None = None, client: ApiGatewayClient | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--stage", default=DEFAULT_STAGE, help="the chalice stage (prod)")
    parser.add_argument("--chalice-dir", type=Path, default=REPO_ROOT / ".chalice")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--rest-api-id", help="instead of .chalice/deployed/<stage>.json")
    source.add_argument("--api-name", help="look the REST API up by name")
    parser.add_argument("--region", help="default: the AWS configuration's")
    parser.add_argument("--endpoint-url", help="an emulator (tests)")
    args = parser.parse_args(argv)
    try:
        stage_name = api_gateway_stage(args.chalice_dir / "config.json", args.stage)
        if client is None:
            import boto3  # only when run for real: tests pass their client

            client = boto3.client(
                "apigateway", region_name=args.region, endpoint_url=args.endpoint_url
            )
        if args.rest_api_id:
            rest_api_id = args.rest_api_id
        elif args.api_name:
            rest_api_id = rest_api_id_by_name(client, args.api_name)
        else:
            deployed = args.chalice_dir / "deployed" / f"{args.stage}.json"
            rest_api_id = rest_api_id_from_deployed(deployed)
        summary = apply_gateway_responses(client, rest_api_id, stage_name)
    except (GatewayResponsesError, ClientError, BotoCoreError) as exc:
        print(f"gateway_responses: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
