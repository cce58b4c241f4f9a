"""The local executor with the real local runtime: a static site from source to a URL.

The local stage's stand-in for CodeBuild + S3 + CloudFront (``runner.local_runtime``):
the plan's build runs natively (``npm run build`` -> ``node build.mjs``, no npm
dependency, so nothing is downloaded) and the output folder is served on 127.0.0.1.
"""

from __future__ import annotations

import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.local_runtime import LocalRuntime, SubprocessRunner, http_probe
from runner.shipping.executor import ReleaseSpec
from runner.shipping.local import LocalApps, LocalExecutor
from runner.shipping.pipeline import ship
from runner.shipping.verify import HealthCheck
from tests.golden.plan_profiles import plan_of, profile

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "shipping" / "static_site"


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


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
        return response.status, response.read().decode()


def test_a_static_site_is_built_natively_and_served_on_loopback(
    tmp_path: Path, apps: LocalApps
) -> None:
    plan = plan_of(profile("static", framework="vite", kind="static", language="javascript",
                           build_command="npm run build", static_output_dir="dist"))  # fmt: skip
    runtime = LocalRuntime(
        runner=SubprocessRunner(), machine_env=dict(os.environ), health_timeout_s=30
    )
    executor = LocalExecutor(runtime=runtime, apps=apps)
    spec = ReleaseSpec(
        project_id="p", stack="main", release_id="r1", image_tag="src-test", plan=plan,
        source_dir=FIXTURE, work_dir=tmp_path / "r1",
    )  # fmt: skip
    check = HealthCheck(probe=http_probe, clock=time.monotonic, sleep=time.sleep, timeout_s=10)
    recorder, lines = Recorder(), []
    shipped = ship(spec, executor, check, recorder, lines.append, time.monotonic)
    assert recorder.phases == ["building", "releasing", "verifying"]
    assert shipped.url.startswith("http://127.0.0.1:")
    status, body = get(shipped.url + "/")
    assert status == 200 and "Hello from a static site" in body
    assert "built by node v" in body  # the build ran, it is not the source's page
    assert get(shipped.url + "/assets/app-5d41402a.js")[1].startswith("document.body")
    assert not (FIXTURE / "dist").exists()  # built in the release's own folder
