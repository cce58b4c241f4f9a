"""The DynamoDB implementation of ``Store`` (low-level client: cheaper than the resource API).

Every limit is a condition inside the same write or transaction as the change
it guards, so concurrent requests at the boundary can never pass it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from chalicelib import keys
from chalicelib.errors import EmailTakenError, LimitExceededError, NotFoundError
from chalicelib.store.codec import from_attr, from_item, to_attr, to_item
from chalicelib.store.items import cancellation_codes, error_code
from chalicelib.store.records import (
    ProjectRecord,
    RefreshTokenRecord,
    RotateOutcome,
    RunnerHeartbeat,
    UserRecord,
)

USERS_COUNTER_KEY = {"pk": {"S": keys.USERS_COUNTER_PK}, "sk": {"S": keys.USERS_COUNTER_SK}}
__all__ = ["DynamoStore", "from_attr", "from_item", "query_items", "to_attr", "to_item"]
_TRANSACTION_ATTEMPTS = 6


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def query_items(
    ddb: Any,
    table: str,
    pk: str,
    *,
    sk_prefix: str | None = None,
    consistent_read: bool = False,
    raw: bool = False,
) -> list[dict[str, Any]]:
    """Every item of partition ``pk`` (whose ``sk`` starts with ``sk_prefix``), all pages:
    plain Python values, or DynamoDB items with ``raw``."""
    values: dict[str, Any] = {":pk": {"S": pk}}
    condition = "pk = :pk"
    if sk_prefix is not None:
        condition += " AND begins_with(sk, :prefix)"
        values[":prefix"] = {"S": sk_prefix}
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
    }
    if consistent_read:
        kwargs["ConsistentRead"] = True
    items: list[dict[str, Any]] = []
    while True:
        page = ddb.query(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items if raw else [from_item(item) for item in items]
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _user_from(item: dict[str, Any]) -> UserRecord:
    v = from_item(item)
    return UserRecord(
        user_id=v["user_id"],
        email=v["email"],
        password_hash=v["password_hash"],
        created_at=v["created_at"],
        project_count=int(v.get("project_count", 0)),
    )


def _project_from(item: dict[str, Any]) -> ProjectRecord:
    v = from_item(item)
    return ProjectRecord(
        project_id=v["project_id"],
        owner_id=v["owner_id"],
        name=v["name"],
        external_id=v["external_id"],
        created_at=v["created_at"],
        updated_at=v["updated_at"],
        description=v.get("description", ""),
    )


def _token_from(item: dict[str, Any]) -> RefreshTokenRecord:
    v = from_item(item)
    return RefreshTokenRecord(
        token_hash=v["token_hash"],
        user_id=v["user_id"],
        family_id=v["family_id"],
        expires_at=int(v["expires_at"]),
        used=bool(v.get("used", False)),
        used_at=int(v["used_at"]) if v.get("used_at") is not None else None,
        successor_hash=v.get("successor_hash"),
        successor_sealed=v.get("successor_sealed") or None,
    )


class DynamoStore:
    def __init__(
        self,
        client: Any,
        table: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.table = table
        self._sleep = sleep

    # -- helpers ---------------------------------------------------------------------------

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self.client.get_item(TableName=self.table, Key=_key(pk, sk), ConsistentRead=True)
        return response.get("Item")

    def _transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """Run a transaction; None on success, else the cancellation codes.

        A TransactionConflict (another transaction on the same item in flight) is
        retried with jittered backoff; a ConditionalCheckFailed is returned at once.
        """
        for attempt in range(_TRANSACTION_ATTEMPTS):
            # Errors matched by code, not ``client.exceptions`` classes (a thread race in
            # botocore: see chalicelib.store.items.error_code).
            try:
                self.client.transact_write_items(TransactItems=items)
                return None
            except Exception as exc:
                code = error_code(exc)
                if code == "TransactionCanceledException":
                    codes = cancellation_codes(exc)
                    if "ConditionalCheckFailed" in codes or attempt == _TRANSACTION_ATTEMPTS - 1:
                        return codes
                elif code != "TransactionConflictException" or attempt == _TRANSACTION_ATTEMPTS - 1:
                    raise
            self._sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311 - jitter
        raise AssertionError("unreachable")

    # -- users -----------------------------------------------------------------------------

    def create_user(self, user: UserRecord, max_users: int) -> None:
        user_item = to_item(
            {
                "pk": keys.user_pk(user.user_id),
                "sk": keys.USER_SK,
                "user_id": user.user_id,
                "email": user.email,
                "password_hash": user.password_hash,
                "created_at": user.created_at,
                "project_count": 0,
            }
        )
        # The email item also carries the hash so that a login reads one item.
        email_item = to_item(
            {
                "pk": keys.email_pk(user.email),
                "sk": keys.EMAIL_SK,
                "user_id": user.user_id,
                "password_hash": user.password_hash,
            }
        )
        codes = self._transact(
            [
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": email_item,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": USERS_COUNTER_KEY,
                        "UpdateExpression": "SET #c = if_not_exists(#c, :zero) + :one",
                        "ConditionExpression": "attribute_not_exists(#c) OR #c < :max",
                        "ExpressionAttributeNames": {"#c": "count"},
                        "ExpressionAttributeValues": {
                            ":zero": {"N": "0"},
                            ":one": {"N": "1"},
                            ":max": {"N": str(max_users)},
                        },
                    }
                },
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": user_item,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
        if codes is None:
            return
        if codes and codes[0] == "ConditionalCheckFailed":
            raise EmailTakenError("an account with this email already exists")
        if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
            raise LimitExceededError("users", max_users)
        raise RuntimeError(f"signup transaction cancelled: {codes}")

    def get_user(self, user_id: str) -> UserRecord | None:
        item = self._get(keys.user_pk(user_id), keys.USER_SK)
        return _user_from(item) if item else None

    def get_user_by_email(self, email: str) -> UserRecord | None:
        item = self._get(keys.email_pk(email), keys.EMAIL_SK)
        if not item:
            return None
        return self.get_user(item["user_id"]["S"])

    def get_credentials(self, email: str) -> tuple[str, str] | None:
        item = self._get(keys.email_pk(email), keys.EMAIL_SK)
        if not item:
            return None
        values = from_item(item)
        if "password_hash" not in values:
            user = self.get_user(values["user_id"])
            return (user.user_id, user.password_hash) if user else None
        return values["user_id"], values["password_hash"]

    def count_users(self) -> int:
        item = self._get(keys.USERS_COUNTER_PK, keys.USERS_COUNTER_SK)
        return int(from_item(item).get("count", 0)) if item else 0

    # -- projects --------------------------------------------------------------------------

    def create_project(self, project: ProjectRecord, max_projects: int) -> None:
        values = {
            "pk": keys.user_pk(project.owner_id),
            "sk": keys.project_sk(project.project_id),
            "project_id": project.project_id,
            "owner_id": project.owner_id,
            "name": project.name,
            "description": project.description,
            "external_id": project.external_id,
            "created_at": project.created_at,
            "updated_at": project.updated_at,
        }
        lookup = {
            "pk": keys.project_pk(project.project_id),
            "sk": keys.PROJECT_SK,
            "owner_id": project.owner_id,
        }
        codes = self._transact(
            [
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": _key(keys.user_pk(project.owner_id), keys.USER_SK),
                        "UpdateExpression": "SET project_count = project_count + :one",
                        "ConditionExpression": "attribute_exists(pk) AND project_count < :max",
                        "ExpressionAttributeValues": {
                            ":one": {"N": "1"},
                            ":max": {"N": str(max_projects)},
                        },
                    }
                },
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": to_item(values),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": to_item(lookup),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
        if codes is None:
            return
        if codes and codes[0] == "ConditionalCheckFailed":
            if self.get_user(project.owner_id) is None:
                raise NotFoundError("user not found")
            raise LimitExceededError("projects_per_user", max_projects)
        raise RuntimeError(f"project transaction cancelled: {codes}")

    def get_project(self, owner_id: str, project_id: str) -> ProjectRecord | None:
        item = self._get(keys.user_pk(owner_id), keys.project_sk(project_id))
        return _project_from(item) if item else None

    def list_projects(self, owner_id: str) -> list[ProjectRecord]:
        items = query_items(
            self.client,
            self.table,
            keys.user_pk(owner_id),
            sk_prefix=keys.PROJECT_PREFIX,
            consistent_read=True,
            raw=True,
        )
        projects = [_project_from(item) for item in items]
        return sorted(projects, key=lambda p: (p.created_at, p.project_id))

    def get_project_owner(self, project_id: str) -> str | None:
        item = self._get(keys.project_pk(project_id), keys.PROJECT_SK)
        return item["owner_id"]["S"] if item else None

    def update_project(
        self, owner_id: str, project_id: str, changes: dict[str, str], updated_at: str
    ) -> ProjectRecord | None:
        allowed = {"name", "description"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)}")
        fields = {**changes, "updated_at": updated_at}
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": to_attr(value) for i, value in enumerate(fields.values())}
        assignments = ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=_key(keys.user_pk(owner_id), keys.project_sk(project_id)),
                UpdateExpression=f"SET {assignments}",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return _project_from(response["Attributes"])

    def delete_project(self, owner_id: str, project_id: str) -> bool:
        codes = self._transact(
            [
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": _key(keys.user_pk(owner_id), keys.project_sk(project_id)),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": _key(keys.project_pk(project_id), keys.PROJECT_SK),
                    }
                },
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": _key(keys.user_pk(owner_id), keys.USER_SK),
                        "UpdateExpression": "SET project_count = project_count - :one",
                        "ConditionExpression": "project_count > :zero",
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}},
                    }
                },
            ]
        )
        if codes is None:
            return True
        if codes and codes[0] == "ConditionalCheckFailed":
            return False
        raise RuntimeError(f"project delete transaction cancelled: {codes}")

    # -- refresh tokens --------------------------------------------------------------------

    def _token_put(self, token: RefreshTokenRecord) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": to_item(
                    {
                        "pk": keys.refresh_pk(token.token_hash),
                        "sk": keys.REFRESH_SK,
                        "token_hash": token.token_hash,
                        "user_id": token.user_id,
                        "family_id": token.family_id,
                        "used": False,
                        "expires_at": token.expires_at,
                    }
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def create_refresh_family(self, token: RefreshTokenRecord) -> None:
        # One put: the family item is created by the first rotation or revocation
        # (a family with no item is a live one). Login is the hot path.
        self.client.put_item(**self._token_put(token)["Put"])

    def get_refresh_token(self, token_hash: str) -> RefreshTokenRecord | None:
        item = self._get(keys.refresh_pk(token_hash), keys.REFRESH_SK)
        return _token_from(item) if item else None

    def rotate_refresh_token(
        self,
        old_hash: str,
        new: RefreshTokenRecord,
        now: int,
        successor_sealed: str | None = None,
        grace_s: int = 0,
    ) -> RotateOutcome:
        # Optimistic: one transaction; only a refusal costs a read to learn why.
        codes = self._transact(
            [
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": _key(keys.refresh_pk(old_hash), keys.REFRESH_SK),
                        "UpdateExpression": (
                            "SET used = :true, used_at = :now, successor_hash = :next,"
                            " successor_sealed = :sealed"
                        ),
                        "ConditionExpression": (
                            "attribute_exists(pk) AND used = :false AND expires_at > :now"
                            " AND family_id = :family"
                        ),
                        "ExpressionAttributeValues": {
                            ":true": {"BOOL": True},
                            ":false": {"BOOL": False},
                            ":now": {"N": str(now)},
                            ":family": {"S": new.family_id},
                            ":next": {"S": new.token_hash},
                            ":sealed": {"S": successor_sealed or ""},
                        },
                    }
                },
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": _key(keys.family_pk(new.family_id), keys.FAMILY_SK),
                        "UpdateExpression": (
                            "SET expires_at = :exp, user_id = :user, revoked = :false"
                        ),
                        "ConditionExpression": "attribute_not_exists(pk) OR revoked = :false",
                        "ExpressionAttributeValues": {
                            ":exp": {"N": str(new.expires_at)},
                            ":user": {"S": new.user_id},
                            ":false": {"BOOL": False},
                        },
                    }
                },
                self._token_put(new),
            ]
        )
        if codes is None:
            return "rotated"
        if codes and codes[0] == "ConditionalCheckFailed":
            current = self.get_refresh_token(old_hash)
            if (
                current is not None
                and current.expires_at > now
                and current.used
                and current.family_id == new.family_id
            ):
                if (
                    grace_s > 0
                    and current.used_at is not None
                    and 0 <= now - current.used_at <= grace_s
                ):
                    return "replayed"
                self.revoke_refresh_family(current.family_id, current.expires_at)
                return "reused"
        return "invalid"

    def revoke_refresh_family(self, family_id: str, expires_at: int | None = None) -> None:
        values: dict[str, Any] = {":true": {"BOOL": True}}
        update = "SET revoked = :true"
        if expires_at is not None:  # TTL: the item outlives every token of the family
            update += ", expires_at = if_not_exists(expires_at, :exp)"
            values[":exp"] = {"N": str(expires_at)}
        self.client.update_item(
            TableName=self.table,
            Key=_key(keys.family_pk(family_id), keys.FAMILY_SK),
            UpdateExpression=update,
            ExpressionAttributeValues=values,
        )

    def is_family_revoked(self, family_id: str) -> bool:
        item = self._get(keys.family_pk(family_id), keys.FAMILY_SK)
        return item is not None and bool(from_item(item).get("revoked"))

    # -- counters --------------------------------------------------------------------------

    def hit_counter(self, pk: str, sk: str, limit: int, expires_at: int) -> int | None:
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=_key(pk, sk),
                UpdateExpression="SET #c = if_not_exists(#c, :zero) + :one, expires_at = :exp",
                ConditionExpression="attribute_not_exists(#c) OR #c < :limit",
                ExpressionAttributeNames={"#c": "count"},
                ExpressionAttributeValues={
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":exp": {"N": str(expires_at)},
                },
                ReturnValues="UPDATED_NEW",
            )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return int(response["Attributes"]["count"]["N"])

    def release_counter(self, pk: str, sk: str) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key=_key(pk, sk),
                UpdateExpression="SET #c = #c - :one",
                ConditionExpression="#c > :zero",
                ExpressionAttributeNames={"#c": "count"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":zero": {"N": "0"}},
            )
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            # already zero or gone: nothing to give back

    def get_counter(self, pk: str, sk: str, now: int) -> int:
        item = self._get(pk, sk)
        if not item:
            return 0
        values = from_item(item)
        # The emulator (and DynamoDB, for up to days) keeps expired items: filter here.
        if int(values.get("expires_at", now + 1)) <= now:
            return 0
        return int(values.get("count", 0))

    # -- health ----------------------------------------------------------------------------

    def ping(self) -> None:
        self.client.get_item(TableName=self.table, Key=_key(keys.HEALTH_PK, keys.HEALTH_SK))

    def runner_heartbeats(self) -> list[RunnerHeartbeat]:
        response = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.RUNNERS_PK}},
        )
        beats = []
        for item in response.get("Items", []):
            v = from_item(item)
            runner_id = v.get("runner_id") or str(v["sk"]).removeprefix(keys.runner_sk(""))
            beats.append(
                RunnerHeartbeat(
                    runner_id=runner_id,
                    at=float(v.get("at", 0)),
                    version=v.get("version"),
                    current_job=v.get("current_job"),
                )
            )
        return beats
