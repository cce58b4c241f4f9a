"""The OpenAPI 3.1 document, built from a registry that every route declares into.

``routes.endpoint.endpoint`` declares its operation here automatically; a route
written with plain ``@bp.route`` must call ``declare(Operation(...))`` itself
(a test walks ``app.routes`` and fails on any route missing from the document).

Models are named by reference (``"chalicelib.models.api:ProjectOut"``) and imported on
first use (the route's first request, or the first /openapi.json): importing the model
modules, and pydantic's machinery under them, was most of ``import app`` (cold start).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from pydantic import BaseModel

# A model class, or where to find it: "package.module:ClassName".
ModelRef: TypeAlias = "type[BaseModel] | str"

_PATH_PARAM = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    summary: str
    operation_id: str
    tags: tuple[str, ...] = ()
    request_ref: ModelRef | None = None
    query_ref: ModelRef | None = None
    response_ref: ModelRef | None = None
    status: int = 200
    auth: bool = True
    rate_bucket: str | None = "default"
    error_statuses: tuple[int, ...] = ()
    # For responses that are not a pydantic model (e.g. the OpenAPI document itself).
    response_schema: dict[str, Any] | None = None

    @property
    def request_model(self) -> type[BaseModel] | None:
        return resolve_model(self.request_ref)

    @property
    def query_model(self) -> type[BaseModel] | None:
        return resolve_model(self.query_ref)

    @property
    def response_model(self) -> type[BaseModel] | None:
        return resolve_model(self.response_ref)


def resolve_model(ref: ModelRef | None) -> type[BaseModel] | None:
    """The model class ``ref`` names (imported on first use), or ``ref`` itself if a class."""
    if ref is None or not isinstance(ref, str):
        return ref
    return _import_model(ref)


@cache
def _import_model(ref: str) -> type[BaseModel]:
    module, sep, name = ref.partition(":")
    if not sep or not name:
        raise ValueError(f"model reference {ref!r} must read 'package.module:ClassName'")
    model: type[BaseModel] = getattr(importlib.import_module(module), name)
    return model


_registry: dict[tuple[str, str], Operation] = {}


def declare(operation: Operation) -> None:
    _registry[(operation.path, operation.method.upper())] = operation


def operations() -> list[Operation]:
    return sorted(_registry.values(), key=lambda op: (op.path, op.method))


_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Malformed request (bad JSON, not an object)",
    401: "Missing, invalid or expired credentials",
    403: "A limit is reached",
    404: "Not found (or not yours)",
    409: "Conflict",
    413: "Body too large",
    415: "Body is not application/json",
    422: "Validation failed; details name the fields",
    429: "Rate limited; see Retry-After",
    500: "Internal error",
    503: "Unavailable",
}
_RATE_HEADERS = {
    name: {"schema": {"type": "integer"}, "description": text}
    for name, text in (
        ("X-RateLimit-Limit", "Requests allowed in the window"),
        ("X-RateLimit-Remaining", "Requests left in the window"),
        ("X-RateLimit-Reset", "Epoch seconds when the window ends"),
    )
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation_doc(op: Operation, error_model: type[BaseModel]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": list(op.tags),
        "security": [{"bearerAuth": []}] if op.auth else [],
    }
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(op.path)
    ]
    if op.query_model is not None:
        schema = op.query_model.model_json_schema()
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    if params:
        doc["parameters"] = params
    if op.request_model is not None:
        # A model whose fields all have defaults may be sent without a body (routes.endpoint).
        body_required = any(f.is_required() for f in op.request_model.model_fields.values())
        doc["requestBody"] = {"required": body_required, "content": _json(_ref(op.request_model))}
    success: dict[str, Any] = {"description": _REASONS.get(op.status, "Success")}
    if op.response_model is not None:
        success["content"] = _json(_ref(op.response_model))
    elif op.response_schema is not None:
        success["content"] = _json(op.response_schema)
    if op.auth and op.rate_bucket:
        success["headers"] = _RATE_HEADERS
    responses: dict[str, Any] = {str(op.status): success}
    statuses = set(op.error_statuses)
    if op.request_model is not None:
        statuses |= {400, 413, 415, 422}
    if op.auth:
        statuses |= {401}
    if op.rate_bucket and op.auth:
        statuses |= {429}
    for status in sorted(statuses):
        responses[str(status)] = {
            "description": _REASONS.get(status, "Error"),
            "content": _json(_ref(error_model)),
        }
    doc["responses"] = responses
    return doc


_cache: dict[int, dict[str, Any]] = {}


def document() -> dict[str, Any]:
    """The document, built once per set of declared operations."""
    key = len(_registry)
    if key not in _cache:
        _cache.clear()
        _cache[key] = build_document()
    return _cache[key]


def build_document(title: str = "AutoStack API", version: str = "1") -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema

    from chalicelib.models.api import ErrorOut

    models: set[type[BaseModel]] = {ErrorOut}
    for op in _registry.values():
        for model in (op.request_model, op.response_model):
            if model is not None:
                models.add(model)
    ordered = sorted(models, key=lambda m: m.__name__)
    _, defs = models_json_schema(
        [(m, "validation") for m in ordered], ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in operations():
        paths.setdefault(op.path, {})[op.method.lower()] = _operation_doc(op, ErrorOut)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": (
                'Errors always answer {"error": {"code", "message", "details"}}. '
                "Authenticated responses carry X-RateLimit-* headers."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
