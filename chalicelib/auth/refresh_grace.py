"""A dropped answer to a refresh must not end the session.

Refresh tokens rotate on use, and presenting a spent token again revokes its whole
family (a stolen token is detected by its second use). But a client whose refresh
request reached the server and whose answer was lost (a dropped connection, a killed
process) holds only the spent token: without a grace window its retry logs it out.

So, for ``Settings.refresh_reuse_grace_s`` (30 s) after a rotation, re-presenting the
just-spent token answers the *same* successor refresh token (and a fresh access
token) instead of revoking, as long as the successor itself was never used and the
family is live. After the window, or once the successor was used, reuse revokes as
before.

The store keeps only hashes of tokens, so to give the same successor back it keeps
the successor *sealed* with a key derived from the spent token, which the store never
holds: reading the table is not enough to open it. The keystream is SHA-256 in counter
mode over that key (each spent token seals exactly one successor, so it is used once),
and the opened token is checked against the successor's stored hash.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

from chalicelib.auth.tokens import hash_refresh_token

if TYPE_CHECKING:
    from chalicelib.store.records import RefreshTokenRecord
    from chalicelib.store.tokens import TokenStore

_CONTEXT = b"autostack refresh successor v1\x00"


def _keystream(spent_token: str, length: int) -> bytes:
    seed = hashlib.sha256(_CONTEXT + spent_token.encode()).digest()
    blocks = []
    for counter in range((length + 31) // 32):
        blocks.append(hashlib.sha256(seed + counter.to_bytes(4, "big")).digest())
    return b"".join(blocks)[:length]


def seal_successor(spent_token: str, successor_token: str) -> str:
    """The successor, readable only by whoever presents ``spent_token`` again."""
    data = successor_token.encode()
    sealed = bytes(a ^ b for a, b in zip(data, _keystream(spent_token, len(data)), strict=True))
    return base64.urlsafe_b64encode(sealed).decode()


def open_successor(spent_token: str, sealed: str, successor_hash: str) -> str | None:
    """The successor sealed by ``seal_successor``; None when it does not match its hash."""
    try:
        data = base64.urlsafe_b64decode(sealed.encode())
    except ValueError:
        return None
    opened = bytes(a ^ b for a, b in zip(data, _keystream(spent_token, len(data)), strict=True))
    try:
        token = opened.decode()
    except UnicodeDecodeError:
        return None
    return token if hash_refresh_token(token) == successor_hash else None


def within_grace(used_at: int | None, now: int, grace_s: int) -> bool:
    """Whether a token spent at ``used_at`` may still be presented again at ``now``."""
    return used_at is not None and grace_s > 0 and 0 <= now - used_at <= grace_s


def replayed_successor(
    store: TokenStore, spent_token: str, now: int
) -> tuple[str, RefreshTokenRecord] | None:
    """The successor to answer again for a spent token presented within the grace window
    (the store said "replayed"), with its record; None when it must count as a reuse:
    the successor was used or is gone, the family was revoked, or the seal does not open.
    None revokes the family (the caller answers 401)."""
    spent = store.get(hash_refresh_token(spent_token))
    if spent is None or not spent.successor_hash or not spent.successor_sealed:
        return None
    successor = store.get(spent.successor_hash)
    token = open_successor(spent_token, spent.successor_sealed, spent.successor_hash)
    if (
        successor is None
        or successor.used
        or successor.expires_at <= now
        or token is None
        or store.is_family_revoked(spent.family_id)
    ):
        store.revoke_family(spent.family_id, spent.expires_at)
        return None
    return token, successor
