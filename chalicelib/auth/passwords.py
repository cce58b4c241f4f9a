"""Password hashing with scrypt (memory-hard, in the standard library).

Stored form: ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`` so the cost can be
raised later; old hashes still verify with their own parameters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_KEY_LEN = 32
_SALT_LEN = 16
_MAX_MEM = 256 * 1024 * 1024  # OpenSSL refuses parameters above this


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, n: int = 2**14, r: int = 8, p: int = 1) -> str:
    salt = secrets.token_bytes(_SALT_LEN)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAX_MEM, dklen=_KEY_LEN
    )
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches; False for a mismatch or a malformed hash."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAX_MEM,
            dklen=_KEY_LEN,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, _unb64(expected))


# A real hash of a random password, verified against when the email is unknown so that
# "no such user" costs the same time as "wrong password".
_DUMMY_HASHES: dict[tuple[int, int, int], str] = {}


def dummy_hash(n: int, r: int, p: int) -> str:
    key = (n, r, p)
    if key not in _DUMMY_HASHES:
        _DUMMY_HASHES[key] = hash_password(secrets.token_urlsafe(16), n=n, r=r, p=p)
    return _DUMMY_HASHES[key]
