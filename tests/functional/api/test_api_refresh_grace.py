"""Refresh grace over HTTP and DynamoDB: a retried refresh (lost answer) keeps the session,
concurrent retries agree on one successor, and the table never holds the successor in clear."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from chalicelib.auth.tokens import hash_refresh_token
from chalicelib.context import AppContext
from tests.functional.api.conftest import Api, table_snapshot


def test_a_retried_refresh_returns_the_same_successor_and_the_table_keeps_it_sealed(
    api: Api, api_context: AppContext
) -> None:
    api.signup("grace@example.com")
    first = api.login("grace@example.com")["refresh_token"]
    status, second, _ = api.call("POST", "/auth/refresh", {"refresh_token": first})
    assert status == 200
    status, again, _ = api.call("POST", "/auth/refresh", {"refresh_token": first})
    assert status == 200, again
    assert again["refresh_token"] == second["refresh_token"]
    stored = str(table_snapshot(api_context))
    assert second["refresh_token"] not in stored and first not in stored
    assert hash_refresh_token(second["refresh_token"]) in stored
    status, me, _ = api.call("GET", "/me", token=again["access_token"])
    assert status == 200 and me["email"] == "grace@example.com"

    # The successor moves on; the first token is now a replay: the login is revoked.
    status, third, _ = api.call("POST", "/auth/refresh", {"refresh_token": again["refresh_token"]})
    assert status == 200
    status, reused, _ = api.call("POST", "/auth/refresh", {"refresh_token": first})
    assert status == 401 and reused["error"]["details"] == {"reason": "reused"}
    status, _, _ = api.call("POST", "/auth/refresh", {"refresh_token": third["refresh_token"]})
    assert status == 401


def test_concurrent_refreshes_of_one_token_all_get_one_successor(api: Api) -> None:
    api.signup("race@example.com")
    token = api.login("race@example.com")["refresh_token"]

    def refresh(_: int) -> tuple[int, str | None]:
        status, body, _ = api.call("POST", "/auth/refresh", {"refresh_token": token})
        return status, body.get("refresh_token") if status == 200 else None

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(refresh, range(4)))
    assert {status for status, _ in answers} == {200}
    assert len({successor for _, successor in answers}) == 1
