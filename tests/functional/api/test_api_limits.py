"""Limits over the emulator: races at the boundary, the rate limit, login attempts, tokens."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib.context import AppContext
from chalicelib.services import users
from tests.functional.api.conftest import Api


def concurrently(count: int, call: Any) -> list[Any]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(call, range(count)))


def test_twenty_concurrent_signups_with_nine_users_exactly_one_wins(
    api: Api, api_context: AppContext
) -> None:
    for n in range(9):
        users.signup(api_context, f"existing{n}@example.com", "correct horse battery")
    results = concurrently(
        20,
        lambda n: api.call(
            "POST", "/auth/signup", {"email": f"racer{n}@example.com", "password": "p" * 12 + "x"}
        ),
    )
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [201] + [403] * 19, statuses
    limited = [body for status, body, _ in results if status == 403]
    assert all(b["error"]["details"] == {"limit": "users", "max": 10} for b in limited)
    assert api_context.stores.users.count() == 10


def test_twenty_concurrent_project_creations_stop_at_five(
    api: Api, api_context: AppContext
) -> None:
    token = api.user("maker@example.com")
    results = concurrently(
        20, lambda n: api.call("POST", "/projects", {"name": f"p{n}"}, token=token)
    )
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [201] * 5 + [403] * 15, statuses
    _, listed, _ = api.call("GET", "/projects", token=token)
    assert len(listed["projects"]) == 5
    user_id = api_context.signer.verify(token, api_context.now()).user_id
    owner = api_context.stores.users.get(user_id)
    assert owner is not None and owner.project_count == 5


def test_four_existing_projects_then_a_race_for_the_last_slot(api: Api) -> None:
    token = api.user("maker@example.com")
    for n in range(4):
        assert api.call("POST", "/projects", {"name": f"p{n}"}, token=token)[0] == 201
    results = concurrently(
        20, lambda n: api.call("POST", "/projects", {"name": f"q{n}"}, token=token)
    )
    assert sorted(s for s, _, _ in results) == [201] + [403] * 19
    # Deleting frees a slot.
    _, listed, _ = api.call("GET", "/projects", token=token)
    assert api.call("DELETE", f"/projects/{listed['projects'][0]['id']}", token=token)[0] == 204
    assert api.call("POST", "/projects", {"name": "again"}, token=token)[0] == 201


def test_refresh_rotation_reuse_and_logout_over_http(api: Api) -> None:
    api.signup("r@example.com")
    first = api.login("r@example.com")
    status, second, _ = api.call("POST", "/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert status == 200 and second["refresh_token"] != first["refresh_token"]
    assert api.call("GET", "/me", token=second["access_token"])[0] == 200
    # Presented again at once (a lost answer): the same successor (chalicelib/auth/refresh_grace).
    status, again, _ = api.call("POST", "/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert status == 200 and again["refresh_token"] == second["refresh_token"]
    status, third, _ = api.call("POST", "/auth/refresh", {"refresh_token": second["refresh_token"]})
    assert status == 200  # the client moved on: the first token is now a replay
    status, body, _ = api.call("POST", "/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert status == 401 and body["error"]["details"] == {"reason": "reused"}
    status, _, _ = api.call("POST", "/auth/refresh", {"refresh_token": third["refresh_token"]})
    assert status == 401  # the family was revoked by the reuse
    third = api.login("r@example.com")
    assert api.call("POST", "/auth/logout", {"refresh_token": third["refresh_token"]})[0] == 204
    status, _, _ = api.call("POST", "/auth/refresh", {"refresh_token": third["refresh_token"]})
    assert status == 401
