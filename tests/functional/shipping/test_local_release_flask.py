"""The local executor with the real local runtime: a Flask app from source to a live URL.

Real processes (a fresh virtualenv, pip, gunicorn) on 127.0.0.1; the plan is the one
AutoStack makes for the fixture (real analysis, real planner). A second release that
does not start fails in ``verifying`` and the first keeps serving; a build that cannot
install fails in ``building`` with pip's own error lines.
"""

from __future__ import annotations

import os
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.generate.plan import build_app_plans
from chalicelib.models.plan import AppPlan
from chalicelib.models.templates import TemplateRequest
from runner.analysis.engine import analyze_directory
from runner.local_runtime import LocalRuntime, SubprocessRunner, http_probe
from runner.shipping.executor import ReleaseSpec
from runner.shipping.local import LocalApps, LocalExecutor
from runner.shipping.pipeline import ShipFailedError, Shipped, ship
from runner.shipping.verify import HealthCheck

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "shipping" / "flask_hello"


class Recorder:
    def __init__(self) -> None:
        self.phases: list[str] = []

    def enter(self, phase: str) -> None:
        self.phases.append(phase)

    def timings(self, entries: list[dict[str, Any]]) -> None:
        pass


@pytest.fixture
def apps() -> Iterator[LocalApps]:
    serving = LocalApps()
    yield serving
    serving.stop_all()


def the_plan(source: Path) -> AppPlan:
    profile = analyze_directory(source)
    plans = build_app_plans(profile, TemplateRequest(analysis_id="ship", target="ec2"))
    assert [p.kind for p in plans] == ["web"]
    return plans[0]


def release(executor: LocalExecutor, source: Path, work: Path, release_id: str) -> Any:
    spec = ReleaseSpec(
        project_id="p", stack="main", release_id=release_id, image_tag="src-test",
        plan=the_plan(source), source_dir=source, work_dir=work / release_id,
    )  # fmt: skip
    check = HealthCheck(probe=http_probe, clock=time.monotonic, sleep=time.sleep, timeout_s=10)
    recorder, lines = Recorder(), []
    try:
        shipped: Shipped | ShipFailedError = ship(
            spec, executor, check, recorder, lines.append, time.monotonic
        )
    except ShipFailedError as exc:
        shipped = exc
    return shipped, recorder.phases, lines


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
        return response.status, response.read().decode()


def test_flask_app_goes_live_and_a_broken_release_leaves_it_serving(
    tmp_path: Path, apps: LocalApps
) -> None:
    runtime = LocalRuntime(
        runner=SubprocessRunner(), machine_env=dict(os.environ), health_timeout_s=30
    )
    executor = LocalExecutor(runtime=runtime, apps=apps)

    shipped, phases, lines = release(executor, FIXTURE, tmp_path, "r1")
    assert isinstance(shipped, Shipped), lines
    assert phases == ["building", "releasing", "verifying"]
    assert shipped.url.startswith("http://127.0.0.1:")
    status, body = get(shipped.url + "/")
    assert status == 200 and "Hello from the shipped fixture" in body
    serving = apps.serving("p", "main")
    assert serving is not None and serving[0] == "r1"

    # A new source whose app crashes at import: verifying fails, r1 keeps serving.
    broken = tmp_path / "broken-src"
    shutil.copytree(FIXTURE, broken)
    (broken / "app.py").write_text(
        (FIXTURE / "app.py").read_text() + "\nraise RuntimeError('boom at import')\n"
    )
    failed, phases, lines = release(executor, broken, tmp_path, "r2")
    assert isinstance(failed, ShipFailedError), lines
    assert failed.phase == "verifying"
    assert "boom at import" in failed.last_lines
    assert get(shipped.url + "/")[0] == 200  # the previous release still serves
    assert apps.serving("p", "main")[0] == "r1"  # type: ignore[index]


def test_a_build_that_cannot_install_fails_in_building(tmp_path: Path, apps: LocalApps) -> None:
    source = tmp_path / "src"
    shutil.copytree(FIXTURE, source)
    (source / "requirements.txt").write_text("./no-such-wheel-1.0-py3-none-any.whl\n")
    runtime = LocalRuntime(runner=SubprocessRunner(), machine_env=dict(os.environ))
    failed, phases, lines = release(
        LocalExecutor(runtime=runtime, apps=apps), source, tmp_path, "r1"
    )
    assert isinstance(failed, ShipFailedError), lines
    assert failed.phase == "building"
    assert "install step failed" in failed.message
    assert "no-such-wheel" in failed.last_lines
    assert phases == ["building"]
    assert apps.serving("p", "main") is None
