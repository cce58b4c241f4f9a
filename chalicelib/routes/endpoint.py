"""How a route is written: ``@endpoint(bp, path, method, ...)`` over ``handler(req, **path)``.

The wrapper does the common work so routes stay thin:
- declares the operation for /openapi.json;
- checks the content type (415) and parses the JSON body (400) into ``body=`` (422
  with the failing fields), and the query string into ``query=``;
- authenticates the bearer token (401) and counts the request in the user's
  rate-limit bucket (429), adding X-RateLimit-* headers to every response;
- turns the handler's return value into JSON: a pydantic model (``status``),
  None (204), or a chalice ``Response`` as is;
- turns an ``AutoStackError`` into the error shape.

Example (another area)::

    bp = Blueprint(__name__)

    @endpoint(bp, "/projects/{project_id}/jobs/{job_id}", "GET", summary="A job",
              response=JobOut, rate_bucket="status", query=WaitQuery)
    def get_job(req: ApiRequest, project_id: str, job_id: str) -> JobOut:
        project = projects.get_owned(req.ctx, req.user_id, project_id)  # 404 if not theirs
        ...
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response

from chalicelib import observability
from chalicelib.auth.tokens import unverified_key_id
from chalicelib.context import AppContext, get_context
from chalicelib.errors import (
    AutoStackError,
    InvalidJsonError,
    PayloadTooLargeError,
    RequestValidationError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
    error_body,
    unavailable_from,
)
from chalicelib.limits import RateStatus
from chalicelib.openapi import ModelRef, Operation, declare
from chalicelib.routes.cors import route_cors

if TYPE_CHECKING:
    # pydantic's machinery loads on the first request, not at import (cold start).
    from pydantic import BaseModel, ValidationError

JSON_HEADERS = {"Content-Type": "application/json"}

# The request being handled. Chalice keeps ``app.current_request`` on the shared app
# object, which concurrent threads under ``chalice local`` overwrite; the middleware
# stores each request here instead (a context variable is per thread).
_current_request: contextvars.ContextVar[Any] = contextvars.ContextVar("autostack_request")


def set_current_request(request: Any) -> None:
    _current_request.set(request)


def current_request() -> Any:
    """The chalice Request of this thread's request (use this, not ``bp.current_request``)."""
    return _current_request.get()


@dataclass
class ApiRequest:
    """What a handler gets: dependencies, the parsed input and who is calling."""

    ctx: AppContext
    raw: Any  # chalice.app.Request
    request_id: str
    body: Any = None
    query: Any = None
    _user_id: str | None = None
    rate: RateStatus | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def user_id(self) -> str:
        """The authenticated user's id (routes declared with ``auth=True`` always have one)."""
        if self._user_id is None:
            raise UnauthorizedError("authentication required")
        return self._user_id

    @property
    def client_ip(self) -> str:
        from chalicelib.client_address import client_ip

        identity = (self.raw.context or {}).get("identity") or {}
        headers = self.raw.headers or {}
        return client_ip(identity.get("sourceIp"), headers, self.ctx.settings.origin_token)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=body, status_code=status, headers={**JSON_HEADERS, **(headers or {})})


def error_response(error: AutoStackError) -> Response:
    return json_response(error.to_body(), error.status, error.headers)


def internal_error_response() -> Response:
    return json_response(error_body("internal_error", "an internal error occurred"), 500)


def unexpected_error_response(exc: Exception) -> Response:
    """503 `unavailable` when a dependency did not answer, else 500 (logged with its trace)."""
    unavailable = unavailable_from(exc)
    if unavailable is not None:
        observability.logger.error("dependency unavailable", extra={"error": repr(exc)})
        return error_response(unavailable)
    observability.logger.exception("unhandled error")
    return internal_error_response()


# A body of many unknown keys gives one error per key: 1 MB of them made a 6.5 MB answer
# (over Lambda's 6 MB response limit). Field names come from the client: cut them too.
MAX_VALIDATION_DETAILS = 20
MAX_FIELD_CHARS = 100


def validation_details(error: ValidationError) -> list[dict[str, str]]:
    """pydantic errors as ``[{"field", "message", "type"}]`` (field "body" for the whole),
    at most ``MAX_VALIDATION_DETAILS`` of them (then one saying how many more)."""
    details = []
    errors = error.errors(include_url=False, include_input=False)
    for item in errors[:MAX_VALIDATION_DETAILS]:
        location = ".".join(str(part) for part in item["loc"])[:MAX_FIELD_CHARS]
        message = str(item["msg"]).removeprefix("Value error, ")
        # Model-level checks name their field as "<field>: <message>".
        if not location and ": " in message and " " not in message.split(": ", 1)[0]:
            location, message = message.split(": ", 1)
        details.append({"field": location or "body", "message": message, "type": item["type"]})
    if len(errors) > MAX_VALIDATION_DETAILS:
        more = len(errors) - MAX_VALIDATION_DETAILS
        details.append(
            {"field": "body", "message": f"{more} more errors not shown", "type": "too_many_errors"}
        )
    return details


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return True  # API Gateway's default, and chalice's
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def body_required(model: type[BaseModel]) -> bool:
    """Whether a request must carry a body (a model whose fields all have defaults need not)."""
    return any(info.is_required() for info in model.model_fields.values())


def parse_body(raw_request: Any, model: type[BaseModel], max_bytes: int) -> BaseModel:
    content_type = raw_request.headers.get("content-type")
    if not _is_json(content_type):
        raise UnsupportedMediaTypeError(
            "the body must be application/json", details={"content_type": content_type[:100]}
        )
    raw = raw_request.raw_body or b""
    if len(raw) > max_bytes:
        raise PayloadTooLargeError(
            f"the body is larger than {max_bytes} bytes", details={"max_bytes": max_bytes}
        )
    if not raw.strip():
        if body_required(model):
            raise InvalidJsonError("a JSON body is required")
        raw = b"{}"  # every field has a default: no body means all defaults
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, huge ints
        position = getattr(exc, "pos", None)
        raise InvalidJsonError(
            "the body is not valid JSON", details={"position": position}
        ) from None
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(
            "the request is not valid", details=validation_details(exc)
        ) from None


def parse_query(raw_request: Any, model: type[BaseModel]) -> BaseModel:
    from pydantic import ValidationError

    params = raw_request.query_params or {}
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        raise RequestValidationError(
            "the query string is not valid", details=validation_details(exc)
        ) from None


def authenticate(ctx: AppContext, raw_request: Any) -> str:
    header = raw_request.headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError(
            "a bearer access token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    token = token.strip()
    try:
        if len(token) > 4096:
            raise UnauthorizedError("invalid or expired access token")
        try:
            return ctx.signer.verify(token, ctx.now()).user_id
        except UnauthorizedError:
            # A key id we do not know may mean the key was rotated: re-read it once.
            kid = unverified_key_id(token)
            if kid and kid != ctx.signer.kid and ctx.refresh_signing_key():
                return ctx.signer.verify(token, ctx.now()).user_id
            raise
    except UnauthorizedError as exc:
        exc.headers.setdefault("WWW-Authenticate", 'Bearer error="invalid_token"')
        raise


def _to_response(result: Any, status: int) -> Response:
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(body="", status_code=204)
    from pydantic import BaseModel

    if isinstance(result, BaseModel):
        return json_response(result.model_dump(mode="json"), status)
    return json_response(result, status)


def _run(op: Operation, handler: Callable[..., Any], path_params: dict) -> Response:
    raw = current_request()
    ctx = get_context()
    req = ApiRequest(ctx=ctx, raw=raw, request_id=observability.current_request_id() or "-")
    try:
        if op.auth:
            user_id = authenticate(ctx, raw)
            req._user_id = user_id
            observability.bind_user(user_id)
            if op.rate_bucket:
                req.rate = ctx.rate_limiter.hit(user_id, op.rate_bucket)
                req.extra_headers.update(req.rate.headers())
        if op.query_model is not None:
            req.query = parse_query(raw, op.query_model)
        if op.request_model is not None:
            req.body = parse_body(raw, op.request_model, ctx.settings.max_body_bytes)
        response = _to_response(handler(req, **path_params), op.status)
    except AutoStackError as exc:
        if exc.status < 500:
            observability.logger.warning("request failed", extra={"code": exc.code})
        else:
            observability.logger.error("request failed", extra={"code": exc.code})
        response = error_response(exc)
    except Exception as exc:
        response = unexpected_error_response(exc)
    for name, value in req.extra_headers.items():
        response.headers.setdefault(name, value)
    return response


# Rate-limit buckets (chalicelib.limits): without an explicit one, a GET counts in "read"
# (cheap reads: /me, lists, single items) and anything else in "default" (mutations), so
# looking around never uses up what a user needs to change things.
AUTO_BUCKET = "auto"


def rate_bucket_for(method: str, rate_bucket: str | None) -> str | None:
    """The bucket a route counts in: ``AUTO_BUCKET`` becomes "read" for GET, else "default"."""
    if rate_bucket != AUTO_BUCKET:
        return rate_bucket
    return "read" if method.upper() == "GET" else "default"


def endpoint(
    bp: Blueprint,
    path: str,
    method: str = "GET",
    *,
    summary: str,
    body: ModelRef | None = None,
    query: ModelRef | None = None,
    response: ModelRef | None = None,
    status: int = 200,
    auth: bool = True,
    rate_bucket: str | None = AUTO_BUCKET,
    tags: tuple[str, ...] = (),
    errors: tuple[int, ...] = (),
    response_schema: dict[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``handler(req, **path_params)`` as a route of ``bp`` (see module doc).

    ``body``/``query``/``response`` name models as ``"chalicelib.models.api:ProjectOut"``
    (imported on the route's first request: cold start) or pass the class itself.
    """

    def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
        bucket = rate_bucket_for(method, rate_bucket)
        op = Operation(
            path=path,
            method=method.upper(),
            summary=summary,
            operation_id=handler.__name__,
            tags=tags,
            request_ref=body,
            query_ref=query,
            response_ref=response,
            status=status,
            auth=auth,
            rate_bucket=bucket,
            error_statuses=errors,
            response_schema=response_schema,
        )
        declare(op)

        def view(**path_params: str) -> Response:
            return _run(op, handler, path_params)

        view.__name__ = handler.__name__
        view.__doc__ = handler.__doc__
        # Content types are checked by us (415 in our error shape), so chalice accepts all.
        # CORS preflights are answered before the Lambda (see chalicelib.routes.cors).
        bp.route(
            path,
            methods=[op.method],
            content_types=["*/*"],
            name=handler.__name__,
            cors=route_cors(),
        )(view)
        return handler

    return decorator
