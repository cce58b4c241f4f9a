"""The real local stack as processes (moto server + `chalice local`), walked over HTTP."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from devtools.local_stack import LocalStack
from tests.support.emulator import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PASSWORD = "correct horse battery"
RATE_LIMIT = 40


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    local = LocalStack(
        emulator_port=free_port(),
        api_port=free_port(),
        extra_env={
            "AUTOSTACK_RATE_LIMIT": str(RATE_LIMIT),
            "AUTOSTACK_READ_RATE_LIMIT": str(RATE_LIMIT),  # the walk uses it up with GET /me
            "AUTOSTACK_SCRYPT_N": "4096",
        },
        quiet=True,
    )
    local.start()
    yield local
    pids = [p.pid for p in local.processes.values()]
    local.stop()
    for pid in pids:  # every process group is gone: no orphans
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)


def test_walk_signup_login_refresh_projects_and_limits(stack: LocalStack) -> None:
    url = stack.api_url
    http = requests.Session()
    health = http.get(f"{url}/health", timeout=10)
    assert health.status_code == 200 and health.json()["checks"]["queue"]["ok"]

    signup = http.post(
        f"{url}/auth/signup", json={"email": "Ada@Example.com", "password": PASSWORD}
    )
    assert signup.status_code == 201 and signup.json()["email"] == "ada@example.com"
    login = http.post(f"{url}/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert login.status_code == 200
    tokens = login.json()
    refreshed = http.post(f"{url}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    auth = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert http.get(f"{url}/me", headers=auth).json()["email"] == "ada@example.com"

    created = [
        http.post(f"{url}/projects", json={"name": f"app-{n}"}, headers=auth) for n in range(5)
    ]
    assert [r.status_code for r in created] == [201] * 5
    sixth = http.post(f"{url}/projects", json={"name": "one-too-many"}, headers=auth)
    assert sixth.status_code == 403
    assert sixth.json()["error"]["details"] == {"limit": "projects_per_user", "max": 5}
    project = created[0].json()
    path = f"{url}/projects/{project['id']}"
    assert http.get(path, headers=auth).json() == project
    patched = http.patch(path, json={"description": "the shop"}, headers=auth)
    assert patched.status_code == 200 and patched.json()["description"] == "the shop"
    assert http.delete(path, headers=auth).status_code == 204
    missing = http.get(path, headers=auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    listing = http.get(f"{url}/projects", headers=auth)
    assert len(listing.json()["projects"]) == 4
    remaining = int(listing.headers["X-RateLimit-Remaining"])

    too_big = http.post(
        f"{url}/projects",
        data=b'{"name": "' + b"x" * (1024 * 1024 + 1) + b'"}',
        headers={**auth, "Content-Type": "application/json"},
    )
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"

    # Use up the rate limit: the next request is 429 with Retry-After.
    for _ in range(remaining):  # the 413 above was refused before counting
        assert http.get(f"{url}/me", headers=auth).status_code == 200
    limited = http.get(f"{url}/me", headers=auth)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.headers["X-RateLimit-Limit"] == str(RATE_LIMIT)

    # The user limit, raced: 8 more users make 9, then 20 signups at once -> exactly one.
    for n in range(8):
        ok = http.post(
            f"{url}/auth/signup", json={"email": f"u{n}@example.com", "password": PASSWORD}
        )
        assert ok.status_code == 201

    def racer(n: int) -> int:
        body = {"email": f"racer{n}@example.com", "password": PASSWORD}
        return requests.post(f"{url}/auth/signup", json=body, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = sorted(pool.map(racer, range(20)))
    assert statuses == [201] + [403] * 19


def test_openapi_and_unknown_routes(stack: LocalStack) -> None:
    doc = requests.get(f"{stack.api_url}/openapi.json", timeout=10).json()
    assert "/projects/{project_id}" in doc["paths"]
    wrong_type = requests.post(
        f"{stack.api_url}/auth/login", data="x", headers={"Content-Type": "text/plain"}, timeout=10
    )
    assert wrong_type.status_code == 415
    assert wrong_type.json()["error"]["code"] == "unsupported_media_type"
    unknown = requests.get(f"{stack.api_url}/no/such/route", timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


def test_stop_leaves_nothing_running() -> None:
    local = LocalStack(emulator_port=free_port(), api_port=free_port(), quiet=True).start()
    pids = [p.pid for p in local.processes.values()]
    os.killpg(pids[-1], signal.SIGSTOP)  # even a stuck child is stopped (SIGKILL after timeout)
    local.stop(timeout_s=2)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
