"""Users (``USER#<id>`` / ``USER``), their unique emails (``EMAIL#<email>``) and the user count.

Signup is one transaction: the email item (must be new), the user count (must be under
the limit) and the user item are written together or not at all, so concurrent signups
at the boundary can never pass the limit or share an email. The email item also
carries the password hash, so a login reads one item.
"""

from __future__ import annotations

from typing import Any

from chalicelib import keys
from chalicelib.errors import EmailTakenError, LimitExceededError
from chalicelib.store.expressions import Update, below, item_absent
from chalicelib.store.items import (
    Change,
    DynamoItems,
    ItemStore,
    MemoryItems,
    Put,
    StoreConditionError,
)
from chalicelib.store.records import UserRecord

COUNT = "count"  # the attribute of the users counter (a reserved word: placeholders only)


def user_from(values: dict[str, Any]) -> UserRecord:
    return UserRecord(
        user_id=values["user_id"],
        email=values["email"],
        password_hash=values["password_hash"],
        created_at=values["created_at"],
        project_count=int(values.get("project_count", 0)),
    )


class UserStore(ItemStore):
    def create(self, user: UserRecord, max_users: int) -> None:
        """Create the user and its unique-email item, counting against ``max_users``.

        Raises EmailTakenError (409) or LimitExceededError (403); nothing is written then.
        """
        user_item = {
            "pk": keys.user_pk(user.user_id),
            "sk": keys.USER_SK,
            "user_id": user.user_id,
            "email": user.email,
            "password_hash": user.password_hash,
            "created_at": user.created_at,
            "project_count": 0,
        }
        email_item = {
            "pk": keys.email_pk(user.email),
            "sk": keys.EMAIL_SK,
            "user_id": user.user_id,
            "password_hash": user.password_hash,
        }
        try:
            self._transact(
                [
                    Put(email_item, item_absent()),
                    Change(
                        keys.USERS_COUNTER_PK,
                        keys.USERS_COUNTER_SK,
                        Update().add(COUNT, 1),
                        below(COUNT, max_users),
                    ),
                    Put(user_item, item_absent()),
                ]
            )
        except StoreConditionError as refused:
            if refused.failed(0):
                raise EmailTakenError("an account with this email already exists") from None
            if refused.failed(1):
                raise LimitExceededError("users", max_users) from None
            raise RuntimeError(f"signup transaction cancelled: {refused.codes}") from None

    def get(self, user_id: str) -> UserRecord | None:
        values = self._get(keys.user_pk(user_id), keys.USER_SK)
        return user_from(values) if values else None

    def get_by_email(self, email: str) -> UserRecord | None:
        values = self._get(keys.email_pk(email), keys.EMAIL_SK)
        return self.get(values["user_id"]) if values else None

    def credentials(self, email: str) -> tuple[str, str] | None:
        """``(user_id, password_hash)`` for a login, in one read; None for an unknown email."""
        values = self._get(keys.email_pk(email), keys.EMAIL_SK)
        if not values:
            return None
        if "password_hash" not in values:  # an email item written before it carried the hash
            user = self.get(values["user_id"])
            return (user.user_id, user.password_hash) if user else None
        return values["user_id"], values["password_hash"]

    def count(self) -> int:
        values = self._get(keys.USERS_COUNTER_PK, keys.USERS_COUNTER_SK)
        return int(values.get(COUNT, 0)) if values else 0


class DynamoUserStore(DynamoItems, UserStore):
    pass


class MemoryUserStore(MemoryItems, UserStore):
    pass
