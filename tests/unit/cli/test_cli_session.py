"""Token handling of the client: refreshed before expiry, once for concurrent callers (threads
and processes sharing the profile), a lost refresh answer retried safely, a revoked login."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from autostack.config import Profile, ProfileStore
from autostack.errors import AuthError
from autostack.session import Session

API = "http://api.test"


class FakeApi:
    """/auth/refresh rotating tokens as the server does (with its grace window for a
    retried token) and /me accepting only the newest access token."""

    def __init__(self) -> None:
        self.generation = 0
        self.refresh_calls = 0
        self.lock = threading.Lock()
        self.rotated: dict[str, dict[str, Any]] = {}  # spent token -> the answer given
        self.live_refresh = "r0"
        self.revoked = False
        self.drop_next_answer = False
        self.refresh_started = threading.Event()
        self.release_refresh = threading.Event()
        self.release_refresh.set()

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/refresh":
            self.refresh_started.set()
            self.release_refresh.wait(5)
            token = json.loads(request.content)["refresh_token"]
            with self.lock:
                self.refresh_calls += 1
                if self.revoked:
                    return httpx.Response(401, json=_error("unauthorized", "revoked"))
                if token in self.rotated:  # within the grace window: the same successor
                    answer = self.rotated[token]
                elif token == self.live_refresh:
                    self.generation += 1
                    answer = {
                        "access_token": f"a{self.generation}",
                        "expires_in": 900,
                        "refresh_token": f"r{self.generation}",
                        "refresh_expires_in": 86400,
                    }
                    self.rotated[token] = answer
                    self.live_refresh = answer["refresh_token"]
                else:
                    self.revoked = True
                    return httpx.Response(401, json=_error("unauthorized", "reused"))
                if self.drop_next_answer:
                    self.drop_next_answer = False
                    raise httpx.ReadError("connection dropped", request=request)
            return httpx.Response(200, json=answer)
        if request.url.path == "/me":
            expected = f"Bearer a{self.generation}"
            if request.headers.get("authorization") != expected:
                return httpx.Response(401, json=_error("unauthorized", "expired"))
            return httpx.Response(200, json={"email": "ada@example.com"})
        return httpx.Response(404, json=_error("not_found", "no such route"))


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": None}}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _signed_in(tmp_path: Path, clock: Clock, access_expires_in: float = 900) -> ProfileStore:
    store = ProfileStore(tmp_path / "config")
    store.save(
        Profile(
            api=API,
            email="ada@example.com",
            access_token="a0",
            access_expires_at=clock() + access_expires_in,
            refresh_token="r0",
            refresh_expires_at=clock() + 86400,
        )
    )
    return store


def _session(store: ProfileStore, api: FakeApi, clock: Clock) -> Session:
    http = httpx.Client(transport=httpx.MockTransport(api.handler))
    return Session(store, API, http=http, clock=clock, sleep=lambda s: None)


def test_the_profile_is_written_with_mode_0600(tmp_path: Path) -> None:
    store = _signed_in(tmp_path, Clock())
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.load().refresh_token == "r0"


def test_a_fresh_token_is_used_as_is_and_an_expiring_one_is_refreshed(tmp_path: Path) -> None:
    clock, api = Clock(), FakeApi()
    session = _session(_signed_in(tmp_path, clock), api, clock)
    assert session.access_token() == "a0" and api.refresh_calls == 0
    clock.now += 900 - 30  # inside the refresh margin
    assert session.call("GET", "/me") == {"email": "ada@example.com"}
    assert api.refresh_calls == 1
    saved = session.store.load()
    assert (saved.access_token, saved.refresh_token) == ("a1", "r1")
    assert saved.access_expires_at == clock() + 900


def test_a_401_refreshes_once_and_retries(tmp_path: Path) -> None:
    clock, api = Clock(), FakeApi()
    api.generation = 0
    session = _session(_signed_in(tmp_path, clock), api, clock)
    api.generation = 5  # the server no longer accepts a0 (e.g. its key rotated)
    api.rotated.clear()
    api.live_refresh = "r0"
    assert session.call("GET", "/me") == {"email": "ada@example.com"}
    assert api.refresh_calls == 1


def test_concurrent_callers_share_one_refresh_across_threads_and_profiles(tmp_path: Path) -> None:
    clock, api = Clock(), FakeApi()
    store = _signed_in(tmp_path, clock, access_expires_in=0)
    # Two "processes" (separate sessions over the same profile dir), two threads each.
    sessions = [_session(ProfileStore(store.directory), api, clock) for _ in range(2)]
    api.release_refresh.clear()
    results: list[str] = []
    errors: list[BaseException] = []

    def work(session: Session) -> None:
        try:
            results.append(session.call("GET", "/me")["email"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in sessions for _ in range(2)]
    for thread in threads:
        thread.start()
    assert api.refresh_started.wait(5)
    api.release_refresh.set()
    for thread in threads:
        thread.join(10)
    assert errors == [] and len(results) == 4
    assert api.refresh_calls == 1 and not api.revoked


def test_a_lost_refresh_answer_is_retried_with_the_same_token(tmp_path: Path) -> None:
    clock, api = Clock(), FakeApi()
    session = _session(_signed_in(tmp_path, clock, access_expires_in=0), api, clock)
    api.drop_next_answer = True  # the server rotated, the answer never arrived
    assert session.call("GET", "/me") == {"email": "ada@example.com"}
    assert api.refresh_calls == 2 and not api.revoked
    assert session.store.load().refresh_token == "r1"


def test_a_revoked_login_says_to_log_in_and_forgets_the_tokens(tmp_path: Path) -> None:
    clock, api = Clock(), FakeApi()
    session = _session(_signed_in(tmp_path, clock, access_expires_in=0), api, clock)
    api.revoked = True
    with pytest.raises(AuthError) as ended:
        session.call("GET", "/me")
    assert ended.value.exit_code == 4 and "autostack login" in (ended.value.hint or "")
    assert session.store.load().refresh_token is None
    with pytest.raises(AuthError):
        session.call("GET", "/me")  # not signed in now: no request at all
    assert api.refresh_calls == 1


def test_not_signed_in(tmp_path: Path) -> None:
    session = _session(ProfileStore(tmp_path / "empty"), FakeApi(), Clock())
    with pytest.raises(AuthError) as missing:
        session.call("GET", "/me")
    assert "not signed in" in missing.value.message
