"""GET /health and GET /openapi.json (no authentication, no rate limit)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint, Response

from chalicelib.routes.endpoint import ApiRequest, endpoint, json_response

if TYPE_CHECKING:
    pass


bp = Blueprint(__name__)


@endpoint(
    bp,
    "/health",
    "GET",
    summary="Health of the table, bucket, queue and runner (503 when degraded)",
    response="chalicelib.models.api:HealthOut",
    auth=False,
    rate_bucket=None,
    tags=("meta",),
    errors=(503,),
)
def health(req: ApiRequest) -> Response:
    from chalicelib.services import health as health_service

    report = health_service.check(req.ctx)
    return json_response(report.model_dump(mode="json"), 200 if report.status == "ok" else 503)


@endpoint(
    bp,
    "/openapi.json",
    "GET",
    summary="This API's OpenAPI 3.1 document",
    auth=False,
    rate_bucket=None,
    tags=("meta",),
    response_schema={"type": "object"},
)
def openapi_document(req: ApiRequest) -> Response:
    from chalicelib.openapi import document

    return json_response(document())
