"""How a job attempt can end other than with success, and how errors are classified.

Handlers raise these; the worker decides what happens to the job and its message:

- ``PermanentJobError``: the job fails now (retrying cannot help: refused archive, bad payload).
- ``TransientJobError`` (and throttling / connection errors from AWS): the claim is released
  and the message comes back after a capped, jittered exponential backoff; after
  ``max_receive_count`` receives the job fails with the last reason and SQS dead-letters it.
- ``JobDeferredError``: not an error: the job cannot start yet (e.g. no free Terraform slot).
  It goes back to ``queued`` and a fresh copy of its message is sent with a delay, so waiting
  does not use up its receive count.
- ``JobCancelledError``: the user cancelled; the job ends ``cancelled``.
- ``JobInterruptedError``: the handler stopped early on a warm stop; the message is handed
  back at once for another attempt.
"""

from __future__ import annotations

from typing import Literal

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

Classification = Literal["permanent", "transient"]

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
    }
)


class JobError(Exception):
    """Base of the outcomes a handler may raise."""


class PermanentJobError(JobError):
    def __init__(self, message: str, code: str = "job_failed"):
        super().__init__(message)
        self.code = code
        self.message = message


class TransientJobError(JobError):
    def __init__(self, message: str, code: str = "transient_error"):
        super().__init__(message)
        self.code = code
        self.message = message


class JobDeferredError(JobError):
    def __init__(self, reason: str, delay_s: int = 30, attributes: dict | None = None):
        super().__init__(reason)
        self.reason = reason
        self.delay_s = max(0, min(int(delay_s), 900))  # SQS DelaySeconds is at most 15 min
        self.attributes = attributes or {}  # e.g. the job's place in line, written on the item


class JobCancelledError(JobError):
    pass


class JobInterruptedError(JobError):
    pass


def classify(exc: BaseException) -> Classification:
    """Permanent (fail now) or transient (retry with backoff)."""
    if isinstance(exc, PermanentJobError):
        return "permanent"
    if isinstance(exc, TransientJobError):
        return "transient"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if error.get("Code") in THROTTLING_CODES or int(status) >= 500 or int(status) == 429:
            return "transient"
        return "permanent"
    if isinstance(
        exc,
        EndpointConnectionError
        | ConnectionClosedError
        | ConnectTimeoutError
        | ReadTimeoutError
        | ConnectionError
        | TimeoutError,
    ):
        return "transient"
    if isinstance(exc, ValueError | TypeError | KeyError | LookupError):
        # A bad payload or a bug on this input: the same input fails the same way again.
        return "permanent"
    # Anything else (disk full, a crash in a library): retried, bounded by the receive count.
    return "transient"


def error_code(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        return code
    if isinstance(exc, ClientError):
        return "aws_" + str(exc.response.get("Error", {}).get("Code", "error"))
    return "internal_error"


def describe(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    text = message if isinstance(message, str) else str(exc)
    return (text or type(exc).__name__)[:1000]
