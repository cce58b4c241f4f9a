"""Access tokens (JWT, HS256) and opaque refresh tokens.

Access tokens: 15 minutes, ``iss``/``aud``/``sub``/``iat``/``exp`` required and
checked, algorithm pinned to HS256 (so ``alg=none`` and RS/HS confusion fail),
``kid`` header naming the signing key (a hash prefix of it, so a rotated key
invalidates old tokens with a clear reason). pyjwt is imported lazily: it is
not needed to answer /health or to start.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from chalicelib.errors import UnauthorizedError

ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "exp"]
# Our ids are token_urlsafe strings; refuse anything else as a subject.
_MAX_SUBJECT_LEN = 64


def unverified_key_id(token: str) -> str | None:
    """The ``kid`` a token claims (unverified: only to decide whether to re-read keys)."""
    import jwt

    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return None
    return kid if isinstance(kid, str) else None


def key_id(key: str) -> str:
    """A public name for a signing key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    issued_at: int
    expires_at: int


class TokenSigner:
    def __init__(self, key: str, issuer: str, audience: str, ttl_s: int) -> None:
        if len(key) < 32:
            raise ValueError("the JWT signing key must be at least 32 characters")
        self.key = key
        self.kid = key_id(key)
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s

    def issue(self, user_id: str, now: int) -> str:
        import jwt

        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user_id,
            "iat": now,
            "exp": now + self.ttl_s,
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(claims, self.key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def verify(self, token: str, now: int) -> AccessClaims:
        """The claims of a valid token; UnauthorizedError (the same message) otherwise."""
        import jwt

        invalid = UnauthorizedError("invalid or expired access token")
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM or header.get("kid") != self.kid:
                raise invalid
            claims = jwt.decode(
                token,
                self.key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": _REQUIRED_CLAIMS, "verify_iat": False, "verify_exp": False},
            )
        except jwt.PyJWTError:
            raise invalid from None
        # Time is checked against our clock (injected), not pyjwt's.
        sub, iat, exp = claims["sub"], claims["iat"], claims["exp"]
        if not isinstance(sub, str) or not 0 < len(sub) <= _MAX_SUBJECT_LEN:
            raise invalid
        if not isinstance(iat, int) or not isinstance(exp, int):
            raise invalid
        if exp <= now or iat > now + 60:
            raise invalid
        return AccessClaims(user_id=sub, issued_at=iat, expires_at=exp)


def new_refresh_token() -> str:
    """An opaque refresh token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """What the store keeps: the SHA-256 of the token (it is random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()
