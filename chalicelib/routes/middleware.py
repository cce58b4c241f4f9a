"""The HTTP middleware: request id, body-size limit, one error shape, access log, metrics.

It wraps every request, including the ones chalice answers itself (405, 415,
its own 500s): their ``{"Code", "Message"}`` bodies become our error shape.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib import observability
from chalicelib.context import get_context
from chalicelib.errors import (
    CHALICE_CODES,
    AutoStackError,
    PayloadTooLargeError,
    error_body,
)
from chalicelib.routes.cors import cors_headers
from chalicelib.routes.endpoint import (
    error_response,
    json_response,
    set_current_request,
    unexpected_error_response,
)

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def request_id_of(request: Any) -> str:
    """API Gateway's request id when there is one, else a fresh one."""
    context = getattr(request, "context", None) or {}
    candidate = str(context.get("requestId") or "")
    if _SAFE_ID.fullmatch(candidate):
        return candidate
    return uuid.uuid4().hex


def _too_large(request: Any, max_bytes: int) -> PayloadTooLargeError | None:
    declared = request.headers.get("content-length")
    try:
        declared_size = int(declared) if declared is not None else 0
    except ValueError:
        declared_size = 0
    if declared_size > max_bytes or len(request.raw_body or b"") > max_bytes:
        return PayloadTooLargeError(
            f"the body is larger than {max_bytes} bytes", details={"max_bytes": max_bytes}
        )
    return None


def _chalice_error_to_ours(response: Response) -> Response:
    body = response.body
    if isinstance(body, str | bytes) and response.status_code >= 400:
        try:
            body = json.loads(body)
        except ValueError:
            return response
    if response.status_code >= 400 and isinstance(body, dict) and set(body) == {"Code", "Message"}:
        code = CHALICE_CODES.get(str(body["Code"]), "error")
        headers = {k: str(v) for k, v in response.headers.items() if k.lower() != "content-type"}
        return json_response(error_body(code, str(body["Message"])), response.status_code, headers)
    return response


def http_middleware(request: Any, get_response: Callable[[Any], Response]) -> Response:
    started = time.perf_counter()
    request_id = request_id_of(request)
    lambda_context = getattr(request, "lambda_context", None)
    observability.bind_request(request_id, getattr(lambda_context, "aws_request_id", None))
    set_current_request(request)
    route = f"{request.method} {(request.context or {}).get('resourcePath', '?')}"
    cors_origin = None
    try:
        settings = get_context().settings
        cors_origin = settings.cors_origin
        observability.configure_level(settings.log_level)
        too_large = _too_large(request, settings.max_body_bytes)
        response = error_response(too_large) if too_large else get_response(request)
        response = _chalice_error_to_ours(response)
    except AutoStackError as exc:
        response = error_response(exc)
    except Exception as exc:
        response = unexpected_error_response(exc)
    duration_ms = (time.perf_counter() - started) * 1000
    response.headers["X-Request-Id"] = request_id
    if cors_origin:
        response.headers.update(cors_headers(cors_origin))
    try:
        observability.logger.info(
            "request",
            extra={
                "route": route,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(duration_ms, 2),
            },
        )
        observability.record_request(response.status_code, duration_ms)
    finally:
        observability.unbind_request()
    return response
