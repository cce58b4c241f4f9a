"""`make run` as a user runs it: devtools/local_stack.py in a terminal's process group.

It starts the emulator, the API and the runner; the deploy-role route answers (a
placeholder runner role is set); Ctrl-C (SIGINT to the group) or closing the terminal
(SIGHUP) stops every process it started and removes the runner's temporary state.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from devtools.local_stack import LOCAL_RUNNER_ROLE_ARN, ROOT
from tests.support.emulator import free_port, wait_for_http

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PASSWORD = "correct horse battery"


def _call(method: str, url: str, **kwargs: object) -> requests.Response:
    """`make run` reloads the API when a source file changes: retry a refused connection."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return requests.request(method, url, timeout=10, **kwargs)  # type: ignore[arg-type]
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _wait_for_runner(api_url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _call("GET", f"{api_url}/health").json()["runner"]["seen"]:
            return
        time.sleep(0.3)
    raise AssertionError("the runner never wrote a heartbeat")


def _deploy_role(api_url: str) -> requests.Response:
    email = "grace@example.com"
    body = {"email": email, "password": PASSWORD}
    assert _call("POST", f"{api_url}/auth/signup", json=body).status_code == 201
    token = _call("POST", f"{api_url}/auth/login", json=body).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    project = _call("POST", f"{api_url}/projects", json={"name": "shop"}, headers=auth).json()
    return _call("GET", f"{api_url}/projects/{project['id']}/deploy-role", headers=auth)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGHUP])
def test_make_run_starts_everything_and_one_signal_stops_everything(
    stop_signal: signal.Signals,
) -> None:
    emulator_port, api_port = free_port(), free_port()
    env = dict(
        os.environ,
        AUTOSTACK_EMULATOR_PORT=str(emulator_port),
        AUTOSTACK_API_PORT=str(api_port),
        AUTOSTACK_SCRYPT_N="4096",
    )
    env.pop("AUTOSTACK_RUNNER_ROLE_ARN", None)
    stack = subprocess.Popen(
        [sys.executable, str(ROOT / "devtools" / "local_stack.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # the "terminal's" process group
    )
    api_url = f"http://127.0.0.1:{api_port}"
    try:
        wait_for_http(f"{api_url}/health", timeout_s=60)
        _wait_for_runner(api_url)
        started = psutil.Process(stack.pid).children(recursive=True)
        commands = " ".join(" ".join(p.cmdline()) for p in started)
        assert "emulator_server.py" in commands
        assert "chalice_local.py" in commands
        assert "-m runner run" in commands
        runner_dirs = list(Path("/tmp").glob(f"autostack-runner-{emulator_port}-*"))
        assert len(runner_dirs) == 1

        if stop_signal == signal.SIGINT:
            role = _deploy_role(api_url)
            assert role.status_code == 200, role.text
            assert role.json()["runner_role_arn"] == LOCAL_RUNNER_ROLE_ARN

        os.killpg(stack.pid, stop_signal)
        assert stack.wait(timeout=30) == 0
        _, alive = psutil.wait_procs(started, timeout=10)
        assert alive == [], [p.cmdline() for p in alive]
        assert not runner_dirs[0].exists()
    finally:
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGTERM)
            stack.wait(timeout=30)
