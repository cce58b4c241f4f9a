"""One error hierarchy: each error knows its HTTP status, code and details.

Every API error answers ``{"error": {"code", "message", "details"}}``
(``to_body``). Status mapping (README "Errors"):

400 bad_request / invalid_json   body is not parseable JSON or not an object
401 unauthorized                 missing/invalid/expired token, wrong credentials
403 limit_exceeded / forbidden   a configured limit (users, projects, ...) is reached
404 not_found                    unknown id, or another user's resource, or unknown route
405 method_not_allowed
409 conflict / email_taken       a uniqueness or state conflict
413 payload_too_large            JSON body over AUTOSTACK_MAX_BODY_BYTES
415 unsupported_media_type       a body that is not application/json
422 validation_error             well-formed JSON that breaks the schema (details name fields)
429 rate_limited / too_many_login_attempts (with Retry-After)
500 internal_error, 503 unavailable
"""

from __future__ import annotations

from typing import Any


class SettingsError(Exception):
    """A missing or malformed setting: raised at start, never answered to a client."""


class AutoStackError(Exception):
    status = 500
    code = "internal_error"

    def __init__(
        self,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = dict(headers or {})

    def to_body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


class BadRequestError(AutoStackError):
    status = 400
    code = "bad_request"


class InvalidJsonError(BadRequestError):
    code = "invalid_json"


class RequestValidationError(AutoStackError):
    """Details: a list of ``{"field": "a.b", "message": ..., "type": ...}``."""

    status = 422
    code = "validation_error"


class UnauthorizedError(AutoStackError):
    status = 401
    code = "unauthorized"


class ForbiddenError(AutoStackError):
    status = 403
    code = "forbidden"


class LimitExceededError(ForbiddenError):
    """A configured limit is reached. Details: ``{"limit": name, "max": n}``."""

    code = "limit_exceeded"

    def __init__(self, limit: str, maximum: int, message: str | None = None) -> None:
        super().__init__(
            message or f"limit reached: at most {maximum} {limit.replace('_', ' ')}",
            details={"limit": limit, "max": maximum},
        )


class EmailDomainNotAllowedError(ForbiddenError):
    """Signup with an email outside ``AUTOSTACK_SIGNUP_EMAIL_DOMAINS``."""

    code = "email_domain_not_allowed"


class NotFoundError(AutoStackError):
    status = 404
    code = "not_found"


class MethodNotAllowedError(AutoStackError):
    status = 405
    code = "method_not_allowed"


class ConflictError(AutoStackError):
    status = 409
    code = "conflict"


class EmailTakenError(ConflictError):
    code = "email_taken"


class ProjectBusyError(ConflictError):
    """A project cannot be deleted yet: a job is in flight or a stack is live."""

    code = "project_busy"


class PayloadTooLargeError(AutoStackError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(AutoStackError):
    status = 415
    code = "unsupported_media_type"


class RateLimitedError(AutoStackError):
    status = 429
    code = "rate_limited"

    def __init__(
        self,
        message: str,
        retry_after_s: int,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        merged = {"Retry-After": str(max(1, retry_after_s)), **(headers or {})}
        super().__init__(message, details=details, headers=merged)
        self.retry_after_s = max(1, retry_after_s)


class TooManyLoginAttemptsError(RateLimitedError):
    code = "too_many_login_attempts"


class TooManySignupsError(RateLimitedError):
    code = "too_many_signups"


class ServiceUnavailableError(AutoStackError):
    status = 503
    code = "unavailable"


def unavailable_from(exc: BaseException) -> ServiceUnavailableError | None:
    """503 `unavailable` when `exc` means a dependency did not answer (timeout, refused).

    The clients' bounded timeouts (chalicelib/aws.py) turn a paused DynamoDB into one of
    these within seconds; without this mapping they surfaced as 500 internal_error.
    """
    # Imported here: botocore is not needed to import the app (cold start).
    from botocore.exceptions import ClientError, ReadTimeoutError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(exc, BotoConnectionError | ReadTimeoutError):
        return ServiceUnavailableError("a dependency did not answer; try again shortly")
    # Still throttled after the SDK's retries: DynamoDB's provisioned capacity
    # (infrastructure/table.tf) or an API's rate. The client may try again.
    if isinstance(exc, ClientError) and _throttled(exc.response):
        return ServiceUnavailableError("a dependency is over its capacity; try again shortly")
    return None


THROTTLED = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
    }
)


def _throttled(response: dict[str, Any]) -> bool:
    """Throttled as a whole, or a transaction cancelled because one of its items was."""
    if response.get("Error", {}).get("Code") in THROTTLED:
        return True
    reasons = response.get("CancellationReasons") or []
    return any(r.get("Code") in THROTTLED_REASONS for r in reasons)


# A cancelled transaction's per-item reasons that mean capacity, not a refused condition.
THROTTLED_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})


# Chalice's own error codes (its {"Code", "Message"} bodies) mapped to ours.
CHALICE_CODES = {
    "BadRequestError": "bad_request",
    "BadRequest": "bad_request",
    "UnauthorizedError": "unauthorized",
    "ForbiddenError": "forbidden",
    "NotFoundError": "not_found",
    "MethodNotAllowedError": "method_not_allowed",
    "RequestTimeoutError": "timeout",
    "ConflictError": "conflict",
    "UnprocessableEntityError": "validation_error",
    "TooManyRequestsError": "rate_limited",
    "UnsupportedMediaType": "unsupported_media_type",
    "InternalServerError": "internal_error",
}
