"""The client's errors, each with its exit code (documented in README, "The autostack CLI").

0 ok, 1 failed, 2 usage, 3 refused, 4 not found / not signed in.
"""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_NOT_FOUND = 4


class CliError(Exception):
    """One clear line for the user: what went wrong and what to do."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details
        self.code = "failed"

    def line(self) -> str:
        return f"{self.message}{f' ({self.hint})' if self.hint else ''}"

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        if self.details is not None:
            body["details"] = self.details
        return {"error": body, "exit_code": self.exit_code}


class UsageError(CliError):
    exit_code = EXIT_USAGE


class RefusedError(CliError):
    """Refused before or by the API: a limit, a conflict, a declined prompt, too big."""

    exit_code = EXIT_REFUSED


class NotFoundError(CliError):
    exit_code = EXIT_NOT_FOUND


class AuthError(CliError):
    """Not signed in, or the session ended."""

    exit_code = EXIT_NOT_FOUND


class NotAvailableError(RefusedError):
    """The server has no route for this yet (a newer server brings it)."""


class ApiError(CliError):
    """An answer in the API's error shape, mapped to an exit code by its status."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message, hint=_hint(status, code), details=details)
        self.status = status
        self.code = code
        if status in (401,):
            self.exit_code = EXIT_NOT_FOUND
        elif status == 404:
            self.exit_code = EXIT_NOT_FOUND
        elif status in (403, 409, 413, 429):
            self.exit_code = EXIT_REFUSED
        elif status in (400, 415, 422):
            self.exit_code = EXIT_USAGE
        else:
            self.exit_code = EXIT_FAILED


def _hint(status: int, code: str) -> str | None:
    if status == 401:
        return "run `autostack login`"
    if status == 404:
        return "check the id, or `autostack projects`"
    if status == 429:
        return "wait for the window to reset (Retry-After), then run the command again"
    if code == "limit_exceeded":
        return "remove something you no longer need first"
    if status >= 500:
        return "the server had a problem; try again in a moment"
    return None
