"""Refresh tokens (``REFRESH#<hash>``) and their login families (``FAMILY#<id>``).

Only hashes are stored. A token is spent by rotation: one transaction marks it used
(with when, and its successor), checks the family is live and writes the successor.
A family with no item is a live one (login, the hot path, is one put); the first
rotation or a revocation creates it. The grace window for a lost answer
(``chalicelib.auth.refresh_grace``) needs the spent token's ``used_at`` and its
successor (hash, and the successor sealed with a key only the spent token gives).
"""

from __future__ import annotations

from typing import Any

from chalicelib import keys
from chalicelib.store.expressions import Condition, Update, attr, item_absent, item_exists
from chalicelib.store.items import (
    Change,
    DynamoItems,
    ItemStore,
    MemoryItems,
    Put,
    StoreConditionError,
)
from chalicelib.store.records import RefreshTokenRecord, RotateOutcome

# --------------------------------------------------------------------------- named clauses


def unspent_in(family_id: str, now: int) -> Condition:
    """A token that can be rotated: not used yet, not expired, of this family."""
    return (
        item_exists()
        & attr("used").eq(False)
        & attr("expires_at").gt(now)
        & attr("family_id").eq(family_id)
    )


def family_live() -> Condition:
    return item_absent() | attr("revoked").eq(False)


# --------------------------------------------------------------------------- the store


def token_from(values: dict[str, Any]) -> RefreshTokenRecord:
    return RefreshTokenRecord(
        token_hash=values["token_hash"],
        user_id=values["user_id"],
        family_id=values["family_id"],
        expires_at=int(values["expires_at"]),
        used=bool(values.get("used", False)),
        used_at=int(values["used_at"]) if values.get("used_at") is not None else None,
        successor_hash=values.get("successor_hash"),
        successor_sealed=values.get("successor_sealed") or None,
    )


def _token_item(token: RefreshTokenRecord) -> dict[str, Any]:
    return {
        "pk": keys.refresh_pk(token.token_hash),
        "sk": keys.REFRESH_SK,
        "token_hash": token.token_hash,
        "user_id": token.user_id,
        "family_id": token.family_id,
        "used": False,
        "expires_at": token.expires_at,
    }


class TokenStore(ItemStore):
    def create_family(self, token: RefreshTokenRecord) -> None:
        """Store the first token of a new login (its family starts live: no item yet)."""
        if not self._put(_token_item(token), item_absent()):
            raise ValueError("refresh token already exists")

    def get(self, token_hash: str) -> RefreshTokenRecord | None:
        values = self._get(keys.refresh_pk(token_hash), keys.REFRESH_SK)
        return token_from(values) if values else None

    def rotate(
        self,
        old_hash: str,
        new: RefreshTokenRecord,
        now: int,
        successor_sealed: str | None = None,
        grace_s: int = 0,
    ) -> RotateOutcome:
        """Mark ``old_hash`` used (at ``now``, with its successor) and store ``new`` in one step.

        "reused": the old token was already used (the family is now revoked);
        "replayed": it was used less than ``grace_s`` ago (nothing written, not revoked);
        "invalid": unknown, expired or revoked family; nothing written.
        """
        spend = Update().set_all(
            {
                "used": True,
                "used_at": now,
                "successor_hash": new.token_hash,
                "successor_sealed": successor_sealed or "",
            }
        )
        keep_live = Update().set_all(
            {"expires_at": new.expires_at, "user_id": new.user_id, "revoked": False}
        )
        # Optimistic: one transaction; only a refusal costs a read to learn why.
        try:
            self._transact(
                [
                    Change(
                        keys.refresh_pk(old_hash),
                        keys.REFRESH_SK,
                        spend,
                        unspent_in(new.family_id, now),
                    ),
                    Change(keys.family_pk(new.family_id), keys.FAMILY_SK, keep_live, family_live()),
                    Put(_token_item(new), item_absent()),
                ]
            )
        except StoreConditionError as refused:
            if not refused.failed(0):
                return "invalid"
            current = self.get(old_hash)
            if (
                current is None
                or current.expires_at <= now
                or not current.used
                or current.family_id != new.family_id
            ):
                return "invalid"
            if (
                grace_s > 0
                and current.used_at is not None
                and 0 <= now - current.used_at <= grace_s
            ):
                return "replayed"
            self.revoke_family(current.family_id, current.expires_at)
            return "reused"
        return "rotated"

    def revoke_family(self, family_id: str, expires_at: int | None = None) -> None:
        """Revoke every token of the family; ``expires_at`` bounds the record's life (TTL)."""
        update = Update().set("revoked", True)
        if expires_at is not None:  # TTL: the item outlives every token of the family
            update.set_default("expires_at", expires_at)
        self._update(keys.family_pk(family_id), keys.FAMILY_SK, update)

    def is_family_revoked(self, family_id: str) -> bool:
        values = self._get(keys.family_pk(family_id), keys.FAMILY_SK)
        return values is not None and bool(values.get("revoked"))


class DynamoTokenStore(DynamoItems, TokenStore):
    pass


class MemoryTokenStore(MemoryItems, TokenStore):
    pass
