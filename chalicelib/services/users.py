"""Use cases of identity: signup, login, refresh rotation, logout, the current user."""

from __future__ import annotations

from dataclasses import dataclass, replace

from chalicelib.auth import refresh_grace
from chalicelib.auth.passwords import dummy_hash, hash_password, verify_password
from chalicelib.auth.tokens import hash_refresh_token, new_refresh_token
from chalicelib.context import AppContext
from chalicelib.errors import (
    EmailDomainNotAllowedError,
    LimitExceededError,
    NotFoundError,
    UnauthorizedError,
)
from chalicelib.limits import SignupAttemptLimiter
from chalicelib.services.ids import iso, new_id
from chalicelib.store.records import RefreshTokenRecord, UserRecord


@dataclass(frozen=True)
class Session:
    access_token: str
    access_expires_in: int
    refresh_token: str
    refresh_expires_in: int


def check_email_domain(email: str, allowed: tuple[str, ...]) -> None:
    """EmailDomainNotAllowedError unless ``allowed`` is empty or holds the email's domain."""
    domain = email.rpartition("@")[2].lower()
    if allowed and domain not in allowed:
        raise EmailDomainNotAllowedError(
            f"signups are limited to addresses at {', '.join(allowed)}",
            details={"field": "email", "allowed_domains": list(allowed)},
        )


def signup(ctx: AppContext, email: str, password: str, client_ip: str | None = None) -> UserRecord:
    """Create a user (email already normalized and policy-checked by the model).

    ``client_ip`` (a request's source address) is counted against the per-IP signup
    limit before anything costly; None (scripts, tests seeding users) skips it.
    """
    s = ctx.settings
    check_email_domain(email, s.signup_email_domains)
    if client_ip is not None:
        SignupAttemptLimiter(ctx.stores.counters, s, ctx.clock).hit(client_ip)
    # Fail fast before paying for the hash; the transaction below is the real check.
    if ctx.stores.users.count() >= s.max_users:
        raise LimitExceededError("users", s.max_users)
    user = UserRecord(
        user_id=new_id(),
        email=email,
        password_hash=hash_password(password, n=s.scrypt_n, r=s.scrypt_r, p=s.scrypt_p),
        created_at=iso(ctx.clock()),
    )
    ctx.stores.users.create(user, s.max_users)
    return user


def _issue_session(
    ctx: AppContext, user_id: str, family_id: str | None
) -> tuple[Session, RefreshTokenRecord]:
    now = ctx.now()
    token = new_refresh_token()
    record = RefreshTokenRecord(
        token_hash=hash_refresh_token(token),
        user_id=user_id,
        family_id=family_id or new_id(),
        expires_at=now + ctx.settings.refresh_token_ttl_s,
    )
    session = Session(
        access_token=ctx.signer.issue(user_id, now),
        access_expires_in=ctx.settings.access_token_ttl_s,
        refresh_token=token,
        refresh_expires_in=ctx.settings.refresh_token_ttl_s,
    )
    return session, record


def login(ctx: AppContext, email: str, password: str, client_ip: str) -> Session:
    """Check the credentials (same 401 for an unknown email and a wrong password)."""
    attempt = ctx.login_limiter.begin(email, client_ip)
    credentials = ctx.stores.users.credentials(email)
    s = ctx.settings
    stored = credentials[1] if credentials else dummy_hash(s.scrypt_n, s.scrypt_r, s.scrypt_p)
    if not verify_password(password, stored) or credentials is None:
        raise UnauthorizedError("wrong email or password")
    attempt.succeeded()
    session, record = _issue_session(ctx, credentials[0], family_id=None)
    ctx.stores.tokens.create_family(record)
    return session


def refresh(ctx: AppContext, refresh_token: str) -> Session:
    """Rotate a refresh token; a reused one revokes its whole family."""
    invalid = UnauthorizedError("invalid or expired refresh token")
    old_hash = hash_refresh_token(refresh_token)
    old = ctx.stores.tokens.get(old_hash)
    now = ctx.now()
    if old is None or old.expires_at <= now:
        raise invalid
    session, record = _issue_session(ctx, old.user_id, family_id=old.family_id)
    sealed = refresh_grace.seal_successor(refresh_token, session.refresh_token)
    grace_s = ctx.settings.refresh_reuse_grace_s
    outcome = ctx.stores.tokens.rotate(old_hash, record, now, sealed, grace_s)
    if outcome == "replayed":  # the answer to a refresh was lost: the same successor again
        replayed = refresh_grace.replayed_successor(ctx.stores.tokens, refresh_token, now)
        if replayed is not None:
            token, successor = replayed
            return replace(
                session, refresh_token=token, refresh_expires_in=successor.expires_at - now
            )
        outcome = "reused"
    if outcome == "reused":
        raise UnauthorizedError(
            "refresh token already used: every session of this login is revoked",
            details={"reason": "reused"},
        )
    if outcome != "rotated":
        raise invalid
    return session


def logout(ctx: AppContext, refresh_token: str) -> None:
    """Revoke the token's family (idempotent; unknown tokens are ignored)."""
    token = ctx.stores.tokens.get(hash_refresh_token(refresh_token))
    if token is not None:
        ctx.stores.tokens.revoke_family(token.family_id, token.expires_at)


def get_user(ctx: AppContext, user_id: str) -> UserRecord:
    user = ctx.stores.users.get(user_id)
    if user is None:
        raise NotFoundError("user not found")
    return user
