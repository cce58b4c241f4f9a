"""OPTIONS and CORS: through `devtools/chalice_local.py` as a process, and in-process.

The processes need no emulator: OPTIONS never reaches the app, and the other requests
used here (/openapi.json, an unauthenticated /me, a malformed signup) touch no AWS.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from chalicelib.context import AppContext
from chalicelib.routes.cors import EXPOSE_HEADERS
from devtools.local_resources import LocalResources
from tests.functional.api.conftest import Api
from tests.support.emulator import free_port, wait_for_http

ROOT = Path(__file__).resolve().parents[3]
ORIGIN = "http://localhost:5173"


def start_api(extra_env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if k != "AUTOSTACK_CORS_ORIGIN"}
    env = {
        **inherited,
        "AUTOSTACK_STAGE": "local",
        "AUTOSTACK_TABLE": "autostack",
        "AUTOSTACK_BUCKET": "autostack-local",
        "AUTOSTACK_QUEUE_URL": "http://127.0.0.1:9/queue/autostack-jobs",
        "AUTOSTACK_JWT_KEY": "k" * 64,
        "AWS_DEFAULT_REGION": "us-east-1",
        **extra_env,
    }
    command = [sys.executable, "devtools/chalice_local.py", "local", "--stage", "local"]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--no-autoreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/openapi.json", timeout_s=60)
    except Exception:
        stop(proc)
        raise
    return proc, url


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def api_without_cors() -> Iterator[str]:
    proc, url = start_api({})
    yield url
    stop(proc)


@pytest.fixture(scope="module")
def api_with_cors() -> Iterator[str]:
    proc, url = start_api({"AUTOSTACK_CORS_ORIGIN": ORIGIN + "/"})
    yield url
    stop(proc)


@pytest.mark.parametrize("path", ["/projects", "/projects/abc", "/health", "/auth/signup"])
def test_options_without_cors_is_a_405_in_the_error_shape(api_without_cors: str, path: str) -> None:
    answer = requests.options(
        api_without_cors + path,
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
        timeout=10,
    )
    assert answer.status_code == 405
    error = answer.json()["error"]
    assert error["code"] == "method_not_allowed"
    assert "OPTIONS" not in error["details"]["allowed"] and error["details"]["allowed"]
    assert answer.headers["Allow"] == ", ".join(error["details"]["allowed"])
    assert answer.headers["X-Request-Id"]
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_without_cors_answers_carry_no_cors_headers(api_without_cors: str) -> None:
    answer = requests.get(
        api_without_cors + "/openapi.json", headers={"Origin": ORIGIN}, timeout=10
    )
    assert answer.status_code == 200
    assert not [h for h in answer.headers if h.lower().startswith("access-control-")]
    unknown = requests.options(api_without_cors + "/no/such/route", timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


def test_a_preflight_with_cors_on(api_with_cors: str) -> None:
    answer = requests.options(
        api_with_cors + "/projects/abc",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    headers = answer.headers
    assert headers["Access-Control-Allow-Origin"] == ORIGIN  # the trailing "/" is dropped
    assert set(headers["Access-Control-Allow-Methods"].split(",")) == {
        "GET",
        "PATCH",
        "DELETE",
        "OPTIONS",
    }
    allowed = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Allow-Credentials" not in headers


def test_answers_and_errors_carry_the_origin_with_cors_on(api_with_cors: str) -> None:
    for answer, status in (
        (requests.get(api_with_cors + "/openapi.json", timeout=10), 200),
        (requests.get(api_with_cors + "/me", timeout=10), 401),
        (requests.post(api_with_cors + "/auth/signup", data=b"{", timeout=10), 400),
        (requests.put(api_with_cors + "/projects", timeout=10), 405),
    ):
        assert answer.status_code == status, answer.text
        assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
        exposed = answer.headers["Access-Control-Expose-Headers"].split(",")
        assert set(EXPOSE_HEADERS) <= set(exposed)


def test_a_malformed_origin_fails_at_start_naming_the_setting() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import app"],
        cwd=ROOT,
        env={**os.environ, "AUTOSTACK_CORS_ORIGIN": "*"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "AUTOSTACK_CORS_ORIGIN" in result.stderr


@pytest.fixture
def cors_api(local_resources: LocalResources) -> Iterator[Api]:
    from chalice.test import Client

    from app import app
    from chalicelib.context import build_context, reset_context, set_context
    from tests.functional.api.conftest import settings_for

    context: AppContext = build_context(settings_for(local_resources, cors_origin=ORIGIN))
    set_context(context)
    with Client(app, stage_name="test") as client:
        yield Api(client)
    reset_context()


def test_in_process_every_answer_carries_the_origin_from_settings(cors_api: Api) -> None:
    token = cors_api.user("ada@example.com")
    for status, headers in (
        cors_api.call("GET", "/me", token=token)[::2],
        cors_api.call("GET", "/projects/nope", token=token)[::2],
        cors_api.call("POST", "/projects", raw=b"x" * (2 * 1024 * 1024), token=token)[::2],
    ):
        assert headers["Access-Control-Allow-Origin"] == ORIGIN, status
    assert cors_api.call("GET", "/me", token=token)[0] == 200
