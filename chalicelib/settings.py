"""Typed settings, read once from the environment.

Every knob of the API is here, with the default from DESIGN.md. A missing
required setting or a malformed value fails at start with the variable's name.
Tests build a ``Settings`` with ``load_settings(environ)`` and install it with
``chalicelib.context.set_context``; nothing reads ``os.environ`` elsewhere.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from chalicelib.errors import SettingsError

STAGES = ("local", "test", "prod")
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ORIGIN = re.compile(r"^https?://[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {raw!r}")


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError(f"must be at least 1, got {value}")
    return value


def _poll_interval(raw: str) -> float:
    value = float(raw)
    if not 0.05 <= value <= 5.0:
        raise ValueError(f"must be between 0.05 and 5 seconds, got {raw!r}")
    return value


def _health_deadline(raw: str) -> float:
    value = float(raw)
    if not 0.5 <= value <= 25.0:  # the HTTP API gives a request 30 s at most
        raise ValueError(f"must be between 0.5 and 25 seconds, got {raw!r}")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError(f"must be at least 0, got {value}")
    return value


def _domains(raw: str) -> tuple[str, ...]:
    """A comma-separated list of email domains ("example.com, @corp.example")."""
    domains = []
    for part in raw.split(","):
        domain = part.strip().lower().removeprefix("@")
        if not domain:
            continue
        if not _DOMAIN.fullmatch(domain):
            raise ValueError(f"not an email domain: {part.strip()!r}")
        domains.append(domain)
    return tuple(dict.fromkeys(domains))


def _origin(raw: str) -> str:
    """One browser origin: scheme, host and optional port ("https://app.example.com")."""
    origin = raw.strip().lower().rstrip("/")
    if not _ORIGIN.fullmatch(origin):
        raise ValueError(f"not an origin like https://app.example.com[:port]: {raw.strip()!r}")
    return origin


def cors_origin_from_environment(environ: Mapping[str, str] | None = None) -> str | None:
    """AUTOSTACK_CORS_ORIGIN alone, for declaring routes at import (chalicelib.routes.cors)."""
    raw = (os.environ if environ is None else environ).get("AUTOSTACK_CORS_ORIGIN") or ""
    if not raw.strip():
        return None
    try:
        return _origin(raw)
    except ValueError as exc:
        raise SettingsError(f"invalid setting AUTOSTACK_CORS_ORIGIN: {exc}") from None


def _setting(env: str, default: Any = None, parse: Callable[[str], Any] = str) -> Any:
    """A dataclass field bound to an environment variable; no default means required."""
    return field(
        default=default, metadata={"env": env, "parse": parse, "required": default is None}
    )


def _origin_token(raw: str) -> str:
    token = raw.strip()
    if len(token) < 32:
        raise ValueError("must be at least 32 characters (terraform output api_origin_token)")
    return token


def _optional(env: str, parse: Callable[[str], Any] = str) -> Any:
    return field(default=None, metadata={"env": env, "parse": parse, "required": False})


@dataclass(frozen=True)
class Settings:
    stage: str = _setting("AUTOSTACK_STAGE")
    table: str = _setting("AUTOSTACK_TABLE")
    bucket: str = _setting("AUTOSTACK_BUCKET")
    queue_url: str = _setting("AUTOSTACK_QUEUE_URL")
    dlq_url: str | None = _optional("AUTOSTACK_DLQ_URL")
    region: str = _setting("AWS_DEFAULT_REGION", "us-east-1")
    aws_endpoint_url: str | None = _optional("AWS_ENDPOINT_URL")
    # Only used with an emulator endpoint (in AWS the default credential chain applies).
    emulator_access_key_id: str | None = field(
        default=None,
        repr=False,
        metadata={"env": "AWS_ACCESS_KEY_ID", "parse": str, "required": False},
    )
    emulator_secret_access_key: str | None = field(
        default=None,
        repr=False,
        metadata={"env": "AWS_SECRET_ACCESS_KEY", "parse": str, "required": False},
    )

    # Tokens. The key itself (local only) wins over the SSM parameter.
    jwt_key_param: str = _setting("AUTOSTACK_JWT_KEY_PARAM", "/autostack/jwt-signing-key")
    jwt_key: str | None = field(
        default=None,
        repr=False,
        metadata={"env": "AUTOSTACK_JWT_KEY", "parse": str, "required": False},
    )
    jwt_issuer: str = _setting("AUTOSTACK_JWT_ISSUER", "autostack")
    jwt_audience: str = _setting("AUTOSTACK_JWT_AUDIENCE", "autostack-api")
    access_token_ttl_s: int = _setting("AUTOSTACK_ACCESS_TOKEN_TTL_S", 900, _positive_int)
    refresh_token_ttl_s: int = _setting("AUTOSTACK_REFRESH_TOKEN_TTL_S", 7 * 86400, _positive_int)
    # A refresh token presented again this soon after its rotation gets the same successor
    # back (a lost answer), instead of revoking the login (chalicelib.auth.refresh_grace).
    refresh_reuse_grace_s: int = _setting("AUTOSTACK_REFRESH_REUSE_GRACE_S", 30, _non_negative_int)

    # scrypt cost: n=2**14, r=8, p=1 uses 16 MiB per hash (memory-hard) and ~40-60 ms.
    scrypt_n: int = _setting("AUTOSTACK_SCRYPT_N", 2**14, _positive_int)
    scrypt_r: int = _setting("AUTOSTACK_SCRYPT_R", 8, _positive_int)
    scrypt_p: int = _setting("AUTOSTACK_SCRYPT_P", 1, _positive_int)

    # Limits (DESIGN.md).
    max_users: int = _setting("AUTOSTACK_MAX_USERS", 10, _positive_int)
    max_projects_per_user: int = _setting("AUTOSTACK_MAX_PROJECTS_PER_USER", 5, _positive_int)
    max_upload_bytes: int = _setting("AUTOSTACK_MAX_UPLOAD_BYTES", 10 * 1024 * 1024, _positive_int)
    max_concurrent_deployments: int = _setting(
        "AUTOSTACK_MAX_CONCURRENT_DEPLOYMENTS", 2, _positive_int
    )
    max_body_bytes: int = _setting("AUTOSTACK_MAX_BODY_BYTES", 1024 * 1024, _positive_int)

    # Rate limits: fixed windows counted in DynamoDB. "default" is every authenticated
    # request that changes something; "read" other reads; "status" job-status reads and
    # their long polls (see README).
    rate_limit: int = _setting("AUTOSTACK_RATE_LIMIT", 50, _positive_int)
    rate_window_s: int = _setting("AUTOSTACK_RATE_WINDOW_S", 900, _positive_int)
    status_rate_limit: int = _setting("AUTOSTACK_STATUS_RATE_LIMIT", 600, _positive_int)
    # Cheap reads (GET /me, lists, single items): counted apart from mutations.
    read_rate_limit: int = _setting("AUTOSTACK_READ_RATE_LIMIT", 300, _positive_int)
    login_max_per_email: int = _setting("AUTOSTACK_LOGIN_MAX_PER_EMAIL", 10, _positive_int)
    login_max_per_ip: int = _setting("AUTOSTACK_LOGIN_MAX_PER_IP", 30, _positive_int)
    login_window_s: int = _setting("AUTOSTACK_LOGIN_WINDOW_S", 900, _positive_int)
    # Signup attempts per client IP (counted before the password is hashed) and the
    # email domains allowed to sign up (empty: anyone). See README "Rate limits".
    signup_max_per_ip: int = _setting("AUTOSTACK_SIGNUP_MAX_PER_IP", 5, _positive_int)
    signup_window_s: int = _setting("AUTOSTACK_SIGNUP_WINDOW_S", 3600, _positive_int)
    signup_email_domains: tuple[str, ...] = _setting("AUTOSTACK_SIGNUP_EMAIL_DOMAINS", (), _domains)

    # /health: a runner heartbeat older than this is "stale"; only fails when required.
    runner_required: bool = _setting("AUTOSTACK_RUNNER_REQUIRED", False, _bool)
    runner_stale_after_s: int = _setting("AUTOSTACK_RUNNER_STALE_AFTER_S", 300, _positive_int)
    # The runner's EC2 instance: started when a job is queued and it sleeps
    # (services/runner_wake.py); unset: no instance to wake (local stack, tests).
    runner_instance_id: str | None = _optional("AUTOSTACK_RUNNER_INSTANCE_ID")

    log_level: str = _setting("AUTOSTACK_LOG_LEVEL", "INFO")
    # How often a long poll (``?wait=``) reads again while a client waits. The tests' local
    # stacks read less often: every read costs the emulator and the API CPU for minutes.
    long_poll_s: float = _setting("AUTOSTACK_LONG_POLL_S", 0.5, _poll_interval)
    # /health answers 503 once a dependency has not answered for this long (services/health.py).
    health_deadline_s: float = _setting("AUTOSTACK_HEALTH_DEADLINE_S", 5.0, _health_deadline)

    # The one browser origin allowed to call the API (CORS); None: CORS off.
    cors_origin: str | None = _optional("AUTOSTACK_CORS_ORIGIN", _origin)
    # CloudFront's proof on /api/* (infrastructure/api.tf): with it the API takes
    # CloudFront-Viewer-Address as the caller's address (chalicelib/client_address.py).
    origin_token: str | None = _optional("AUTOSTACK_ORIGIN_TOKEN", _origin_token)

    # Deployments (issue 6): the principal of the trust policy users create (the runner's
    # role, from the infrastructure's output) and how long a saved plan may be approved.
    runner_role_arn: str | None = _optional("AUTOSTACK_RUNNER_ROLE_ARN")
    # The API's own role: users' trust policies name it too, for the config routes (the
    # API writes the app's config and secrets into the user's SSM).
    api_role_arn: str | None = _optional("AUTOSTACK_API_ROLE_ARN")
    plan_max_age_s: int = _setting("AUTOSTACK_PLAN_MAX_AGE_S", 3600, _positive_int)

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise SettingsError(f"AUTOSTACK_STAGE must be one of {', '.join(STAGES)}")
        # Catches the placeholders of .chalice/config.json left unconfigured.
        if not _BUCKET_NAME.fullmatch(self.bucket):
            raise SettingsError(f"AUTOSTACK_BUCKET is not a bucket name: {self.bucket!r}")
        for name, url in (
            ("AUTOSTACK_QUEUE_URL", self.queue_url),
            ("AUTOSTACK_DLQ_URL", self.dlq_url),
        ):
            if url is not None and not url.startswith(("https://", "http://")):
                raise SettingsError(f"{name} is not a queue URL: {url!r}")

    def rate_limit_for(self, bucket: str) -> int:
        """Requests allowed per window in a rate-limit bucket."""
        limits = {
            "default": self.rate_limit,
            "read": self.read_rate_limit,
            "status": self.status_rate_limit,
        }
        try:
            return limits[bucket]
        except KeyError:
            raise SettingsError(f"unknown rate-limit bucket {bucket!r}") from None

    def replace(self, **changes: Any) -> Settings:
        """A copy with some values changed (tests, benchmarks)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read every setting from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    missing: list[str] = []
    for f in fields(Settings):
        name = f.metadata["env"]
        raw = env.get(name)
        if raw is None or raw == "":
            if f.metadata["required"]:
                missing.append(name)
            continue
        try:
            values[f.name] = f.metadata["parse"](raw)
        except ValueError as exc:
            raise SettingsError(f"invalid setting {name}: {exc}") from None
    if missing:
        raise SettingsError(f"missing setting(s): {', '.join(missing)}")
    return Settings(**values)
