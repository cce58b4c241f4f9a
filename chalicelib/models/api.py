"""Request and response bodies of the API (pydantic), also the source of /openapi.json.

Request models forbid unknown fields and are validated strictly (no "1" -> 1
coercion): a client bug shows up as a 422 naming the field.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

EMAIL_MAX = 254
PASSWORD_MIN = 12
PASSWORD_MAX = 256  # bounds the hashing work an attacker can ask for
PROJECT_NAME_MAX = 64
DESCRIPTION_MAX = 500
TOKEN_MAX = 128

_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z]{2,63}$")
_PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# defer_build: a model's validator is built on first use, not at import (cold start:
# a request builds only the models of its own route).
class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_max_length=100_000, defer_build=True)


class QueryModel(BaseModel):
    """Query strings arrive as text: coercion on ("5" -> 5), unknown parameters refused."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class WaitQuery(QueryModel):
    """``?wait=N``: long-poll up to N seconds for a change (counted as one request)."""

    wait: int = Field(default=0, ge=0, le=20)


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


def normalize_email(value: str) -> str:
    """Trimmed and lower-cased; raises ValueError when it is not an address."""
    email = value.strip().lower()
    if (
        len(email) > EMAIL_MAX
        or not _EMAIL.fullmatch(email)
        or ".." in email
        or _CONTROL.search(email)
    ):
        raise ValueError("not a valid email address")
    return email


class Credentials(RequestModel):
    email: str = Field(max_length=EMAIL_MAX, examples=["ada@example.com"])
    password: str = Field(max_length=PASSWORD_MAX)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalize_email(value)


class SignupRequest(Credentials):
    password: str = Field(
        min_length=PASSWORD_MIN,
        max_length=PASSWORD_MAX,
        description=f"At least {PASSWORD_MIN} characters, not the email address.",
    )

    @model_validator(mode="after")
    def _not_the_email(self) -> SignupRequest:
        lowered = self.password.strip().lower()
        if lowered in (self.email, self.email.split("@")[0]):
            raise ValueError("password: must not be the email address")
        return self


class LoginRequest(Credentials):
    pass


class RefreshRequest(RequestModel):
    refresh_token: str = Field(min_length=1, max_length=TOKEN_MAX)


class TokenResponse(ResponseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str
    refresh_expires_in: int


class UserOut(ResponseModel):
    id: str
    email: str
    created_at: str
    project_count: int


class _ProjectFields(RequestModel):
    @field_validator("name", check_fields=False)
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is None:
            return value
        name = value.strip()
        if not name or not _PROJECT_NAME.fullmatch(name):
            raise ValueError(
                "must start with a letter or digit and contain only letters, digits, "
                "spaces, '_', '.' and '-'"
            )
        return name

    @field_validator("description", check_fields=False)
    @classmethod
    def _description(cls, value: str | None) -> str | None:
        if value is not None and _CONTROL.search(value):
            raise ValueError("must not contain control characters")
        return value


class ProjectCreate(_ProjectFields):
    name: str = Field(min_length=1, max_length=PROJECT_NAME_MAX, examples=["shop-backend"])
    description: str = Field(default="", max_length=DESCRIPTION_MAX)


class ProjectUpdate(_ProjectFields):
    name: str | None = Field(default=None, min_length=1, max_length=PROJECT_NAME_MAX)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)

    @model_validator(mode="after")
    def _something(self) -> ProjectUpdate:
        if self.name is None and self.description is None:
            raise ValueError("give at least one of: name, description")
        return self


class ProjectOut(ResponseModel):
    id: str
    name: str
    description: str
    external_id: str = Field(description="Put this in your role's trust policy (sts:ExternalId).")
    created_at: str
    updated_at: str


class ProjectList(ResponseModel):
    projects: list[ProjectOut]
    limit: int = Field(description="How many projects this user may have.")


class HealthCheck(ResponseModel):
    ok: bool
    detail: str | None = None


class RunnerStatus(ResponseModel):
    seen: bool
    detail: str
    # "starting" (woken, no heartbeat yet) or "asleep" (stopped while idle); else None.
    state: Literal["starting", "asleep"] | None = None
    newest_heartbeat_age_s: float | None = None
    runners: int = 0
    required: bool = False


class HealthOut(ResponseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, HealthCheck]
    runner: RunnerStatus


class ErrorDetail(ResponseModel):
    code: str
    message: str
    details: Any = None


class ErrorOut(ResponseModel):
    error: ErrorDetail
