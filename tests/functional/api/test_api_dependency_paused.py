"""A dependency that stops answering: with the emulator paused (SIGSTOP), login, signup and
/health answer 503 `unavailable` within a few seconds; after SIGCONT they recover."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest
from chalice.test import Client

from chalicelib.context import build_context, reset_context, set_context
from devtools.local_resources import create_local_resources
from tests.functional.api.conftest import PASSWORD, Api, settings_for
from tests.support.emulator import moto_server_process

pytestmark = pytest.mark.slow

# The clients' worst case is ~7 s per call (aws.py), measured ~9 s for login (two calls
# may each retry); API Gateway gives up at 29 s.
ANSWER_WITHIN_S = 10.0


@pytest.fixture
def paused_world() -> Iterator[tuple[Api, object]]:
    # An emulator of its own: pausing the worker's shared one would stall other tests.
    with moto_server_process() as (url, proc):
        resources = create_local_resources(url)
        set_context(build_context(settings_for(resources, health_deadline_s=5.0)))
        from app import app

        try:
            with Client(app, stage_name="test") as client:
                yield Api(client), proc
        finally:
            reset_context()


def test_paused_emulator_answers_503_within_seconds_then_recovers(
    paused_world: tuple[Api, object],
) -> None:
    api, proc = paused_world
    api.signup("before@example.com")
    proc.send_signal(signal.SIGSTOP)  # type: ignore[attr-defined]
    try:
        for method, path, body in [
            ("POST", "/auth/login", {"email": "before@example.com", "password": PASSWORD}),
            ("POST", "/auth/signup", {"email": "during@example.com", "password": PASSWORD}),
            ("GET", "/health", None),
        ]:
            started = time.monotonic()
            status, answer, _ = api.call(method, path, body)
            elapsed = time.monotonic() - started
            assert status == 503, (path, answer)
            if path != "/health":
                assert answer["error"]["code"] == "unavailable", answer
            assert elapsed < ANSWER_WITHIN_S, (path, elapsed)
    finally:
        proc.send_signal(signal.SIGCONT)  # type: ignore[attr-defined]
    assert api.login("before@example.com")["access_token"]
    status, _, _ = api.call("GET", "/health")
    assert status == 200
