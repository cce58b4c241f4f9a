"""The store's contract, on both implementations (DynamoDB over the emulator, and the fake)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.aws import AwsClients
from chalicelib.errors import EmailTakenError, LimitExceededError, NotFoundError
from chalicelib.store.dynamodb import DynamoStore, from_attr, to_attr
from chalicelib.store.memory import MemoryStore
from chalicelib.store.records import ProjectRecord, RefreshTokenRecord, UserRecord
from devtools.local_resources import LocalResources


@pytest.fixture(params=["dynamodb", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[object]:
    if request.param == "memory":
        yield MemoryStore()
        return
    resources: LocalResources = request.getfixturevalue("local_resources")
    aws = AwsClients("us-east-1", resources.endpoint_url, ("testing", "testing"))
    yield DynamoStore(aws.dynamodb, resources.table)


def user(n: int) -> UserRecord:
    return UserRecord(f"u{n}", f"u{n}@x.io", "hash", "2026-01-01T00:00:00Z")


def project(owner: str, n: int) -> ProjectRecord:
    return ProjectRecord(f"p{n}", owner, f"name{n}", "ext", "2026-01-01T00:00:00Z", "t")


def test_users(store) -> None:  # type: ignore[no-untyped-def]
    store.create_user(user(1), max_users=2)
    with pytest.raises(EmailTakenError):
        store.create_user(UserRecord("u9", "u1@x.io", "h", "t"), max_users=2)
    store.create_user(user(2), max_users=2)
    with pytest.raises(LimitExceededError):
        store.create_user(user(3), max_users=2)
    assert store.count_users() == 2
    assert store.get_user("u1") == user(1)
    assert store.get_user_by_email("u2@x.io") == user(2)
    assert store.get_user("u3") is None and store.get_user_by_email("u3@x.io") is None


def test_projects(store) -> None:  # type: ignore[no-untyped-def]
    store.create_user(user(1), max_users=5)
    with pytest.raises(NotFoundError):
        store.create_project(project("nobody", 0), max_projects=5)
    store.create_project(project("u1", 1), max_projects=2)
    store.create_project(project("u1", 2), max_projects=2)
    with pytest.raises(LimitExceededError):
        store.create_project(project("u1", 3), max_projects=2)
    assert [p.project_id for p in store.list_projects("u1")] == ["p1", "p2"]
    assert store.get_project_owner("p2") == "u1"
    updated = store.update_project("u1", "p1", {"name": "new"}, "t2")
    assert updated is not None and updated.name == "new" and updated.updated_at == "t2"
    assert store.update_project("u1", "missing", {"name": "x"}, "t") is None
    assert store.delete_project("u1", "p1") is True
    assert store.delete_project("u1", "p1") is False
    assert store.get_user("u1").project_count == 1
    assert store.get_project_owner("p1") is None


def test_refresh_tokens(store) -> None:  # type: ignore[no-untyped-def]
    first = RefreshTokenRecord("h1", "u1", "f1", expires_at=1000)
    store.create_refresh_family(first)
    assert store.get_refresh_token("h1") == first
    assert store.is_family_revoked("f1") is False
    second = RefreshTokenRecord("h2", "u1", "f1", expires_at=1100)
    assert store.rotate_refresh_token("h1", second, now=500) == "rotated"
    assert store.get_refresh_token("h1").used is True
    third = RefreshTokenRecord("h3", "u1", "f1", expires_at=1200)
    assert store.rotate_refresh_token("h1", third, now=500) == "reused"
    assert store.is_family_revoked("f1") is True
    assert store.rotate_refresh_token("h2", third, now=500) == "invalid"
    assert store.get_refresh_token("h3") is None
    assert store.rotate_refresh_token("missing", third, now=500) == "invalid"
    store.create_refresh_family(RefreshTokenRecord("h4", "u1", "f2", expires_at=600))
    assert store.rotate_refresh_token("h4", RefreshTokenRecord("h5", "u1", "f2", 900), 600) == (
        "invalid"
    )  # expired
    store.create_refresh_family(RefreshTokenRecord("h6", "u1", "f3", expires_at=2000))
    store.revoke_refresh_family("f3", 2000)  # logout before any rotation
    assert store.is_family_revoked("f3") is True
    assert store.rotate_refresh_token("h6", RefreshTokenRecord("h7", "u1", "f3", 2100), 500) == (
        "invalid"
    )
    assert store.get_refresh_token("h6").used is False  # nothing written


def test_counters(store) -> None:  # type: ignore[no-untyped-def]
    assert [store.hit_counter("C", "W", 2, 1000) for _ in range(3)] == [1, 2, None]
    assert store.get_counter("C", "W", now=999) == 2
    assert store.get_counter("C", "W", now=1000) == 0  # expired: filtered in code
    store.release_counter("C", "W")
    assert store.get_counter("C", "W", now=0) == 1
    store.release_counter("C", "W")
    store.release_counter("C", "W")  # never below zero
    assert store.get_counter("C", "W", now=0) == 0
    store.release_counter("missing", "W")


def test_health_and_heartbeats(store) -> None:  # type: ignore[no-untyped-def]
    store.ping()
    assert store.runner_heartbeats() == []


@pytest.mark.parametrize("value", ["s", 1, 2.5, True, None, {"a": [1, "b"]}, [], 10**15])
def test_attribute_round_trip(value: object) -> None:
    assert from_attr(to_attr(value)) == value


def test_credentials_in_one_read(store) -> None:  # type: ignore[no-untyped-def]
    store.create_user(user(1), max_users=5)
    assert store.get_credentials("u1@x.io") == ("u1", "hash")
    if isinstance(store, DynamoStore):  # one read: the email item carries the hash
        assert store._get("EMAIL#u1@x.io", "EMAIL")["password_hash"] == {"S": "hash"}
    assert store.get_credentials("nobody@x.io") is None
