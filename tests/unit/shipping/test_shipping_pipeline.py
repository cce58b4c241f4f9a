"""The release pipeline and its phases with a fake executor (no processes, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chalicelib.models.plan import AppPlan, ServiceBinding, Toolchain
from runner.shipping import verify
from runner.shipping.build import content_hash, image_tag
from runner.shipping.executor import Candidate, PhaseFailedError, ReleaseSpec
from runner.shipping.local import LocalApps, LocalExecutor, LocalServicesError, local_services
from runner.shipping.pipeline import ShipCancelledError, ShipFailedError, ship
from runner.shipping.settings import ShippingSettings, ShippingSettingsError
from runner.shipping.verify import HealthCheck, health_url


def plan(**overrides: Any) -> AppPlan:
    fields: dict[str, Any] = {
        "name": "demo-web",
        "path": ".",
        "toolchain": Toolchain(language="python", version="3.13", image="python:3.13"),
        "package_manager": "pip",
        "install": ["pip install -r requirements.txt"],
        "release": ["flask db upgrade"],
        "start": "gunicorn app:app --bind 0.0.0.0:$PORT",
        "port": 8000,
        "health_path": "/health",
        **overrides,
    }
    return AppPlan(**fields)


def spec(tmp: Path, **overrides: Any) -> ReleaseSpec:
    return ReleaseSpec(
        project_id="p", stack="main", release_id="r1", image_tag="src-0123456789abcdef",
        plan=plan(**overrides), source_dir=tmp / "src", work_dir=tmp / "app",
    )  # fmt: skip


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeExecutor:
    name = "fake"

    def __init__(self, clock: FakeClock, fail: dict[str, str] | None = None) -> None:
        self.clock = clock
        self.fail = fail or {}
        self.calls: list[str] = []

    def _maybe_fail(self, step: str, phase: str) -> None:
        if step in self.fail:
            raise PhaseFailedError(phase, self.fail[step], log_tail="line 1\n\nTraceback: boom\n")

    def build(self, spec: ReleaseSpec, log: Any) -> Candidate:
        self.calls.append("build")
        self.clock.now += 5
        self._maybe_fail("build", "building")
        self._maybe_fail("release-in-build", "releasing")
        return Candidate(spec.release_id, "http://127.0.0.1:9", {"install": 4.0})

    def run_release(self, spec: ReleaseSpec, candidate: Candidate, log: Any) -> None:
        self.calls.append("release")
        self.clock.now += 1
        self._maybe_fail("release", "releasing")

    def roll_out(self, spec: ReleaseSpec, candidate: Candidate, log: Any) -> str:
        self.calls.append("roll_out")
        return candidate.url or ""

    def keep(self, spec: ReleaseSpec, candidate: Candidate, log: Any) -> None:
        self.calls.append("keep")

    def discard(self, spec: ReleaseSpec, candidate: Candidate, log: Any) -> None:
        self.calls.append("discard")


class Recorder:
    def __init__(self) -> None:
        self.phases: list[str] = []
        self.last_timings: list[dict[str, Any]] = []

    def enter(self, phase: str) -> None:
        self.phases.append(phase)

    def timings(self, entries: list[dict[str, Any]]) -> None:
        self.last_timings = [dict(e) for e in entries]


def run(tmp: Path, executor: FakeExecutor, clock: FakeClock, statuses: list[int | None], **o: Any):
    answers = iter(statuses)

    def probe(url: str, timeout: float) -> int | None:
        clock.now += 0.1
        return next(answers, None)

    check = HealthCheck(probe=probe, clock=clock, sleep=clock.sleep, timeout_s=3, interval_s=1)
    recorder, lines = Recorder(), []
    try:
        shipped = ship(spec(tmp, **o), executor, check, recorder, lines.append, clock)
    except ShipFailedError as exc:
        return exc, recorder, lines
    return shipped, recorder, lines


def test_success_walks_every_phase_once_and_keeps_the_candidate(tmp_path: Path) -> None:
    clock = FakeClock()
    executor = FakeExecutor(clock)
    shipped, recorder, lines = run(tmp_path, executor, clock, [None, 503, 200])
    assert shipped.url == "http://127.0.0.1:9"
    assert recorder.phases == ["building", "releasing", "verifying"]
    assert executor.calls == ["build", "release", "roll_out", "keep"]
    assert [(t["phase"], t["status"]) for t in shipped.timings] == [
        ("building", "succeeded"), ("releasing", "succeeded"), ("verifying", "succeeded"),
    ]  # fmt: skip
    assert shipped.timings[0]["duration_s"] == 5.0
    assert shipped.timings[1]["duration_s"] == 1.0
    assert recorder.last_timings == shipped.timings
    assert "===== building =====" in lines and "===== verifying =====" in lines
    assert "GET http://127.0.0.1:9/health -> 200" in lines


def test_build_failure_ends_in_building_with_the_last_error_lines(tmp_path: Path) -> None:
    clock = FakeClock()
    executor = FakeExecutor(clock, fail={"build": "install step failed with exit code 1"})
    failed, recorder, _lines = run(tmp_path, executor, clock, [200])
    assert isinstance(failed, ShipFailedError)
    assert failed.phase == "building"
    assert "Traceback: boom" in failed.last_lines and "install step failed" in str(failed)
    assert executor.calls == ["build"]  # nothing to discard: the build made nothing
    assert [(t["phase"], t["status"]) for t in failed.timings] == [("building", "failed")]
    assert recorder.phases == ["building"]


def test_release_step_failing_inside_the_build_is_reported_as_releasing(tmp_path: Path) -> None:
    clock = FakeClock()
    executor = FakeExecutor(clock, fail={"release-in-build": "release step failed"})
    failed, recorder, _ = run(tmp_path, executor, clock, [200])
    assert failed.phase == "releasing"
    assert recorder.phases == ["building", "releasing"]


def test_failing_health_check_discards_the_candidate_so_the_previous_serves(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    executor = FakeExecutor(clock)
    failed, _recorder, lines = run(tmp_path, executor, clock, [500] * 100)
    assert isinstance(failed, ShipFailedError)
    assert failed.phase == "verifying"
    assert "did not answer 2xx/3xx within 3 s" in failed.message and "500" in failed.message
    assert executor.calls == ["build", "release", "roll_out", "discard"]
    assert "the previous release (if any) keeps serving" in lines
    assert failed.timings[-1]["phase"] == "verifying" and failed.timings[-1]["status"] == "failed"


def test_release_command_failure_discards_and_names_releasing(tmp_path: Path) -> None:
    clock = FakeClock()
    executor = FakeExecutor(clock, fail={"release": "migrations failed"})
    failed, _, _ = run(tmp_path, executor, clock, [200])
    assert failed.phase == "releasing"
    assert executor.calls == ["build", "release", "discard"]


def test_plan_without_release_command_skips_the_executor(tmp_path: Path) -> None:
    clock = FakeClock()
    executor = FakeExecutor(clock)
    _shipped, _, lines = run(tmp_path, executor, clock, [200], release=[])
    assert "release" not in executor.calls
    assert "the plan has no release command" in lines


def test_verify_accepts_redirects_and_builds_the_health_url() -> None:
    clock = FakeClock()
    check = HealthCheck(probe=lambda u, t: 302, clock=clock, sleep=clock.sleep)
    assert verify.run(check, "http://127.0.0.1:5/", "health", lambda line: None) == 302
    assert health_url("http://h:1/", "/up") == "http://h:1/up"


def test_image_tag_is_derived_from_the_content(tmp_path: Path) -> None:
    one, two = tmp_path / "a.zip", tmp_path / "b.zip"
    one.write_bytes(b"same bytes")
    two.write_bytes(b"same bytes")
    assert image_tag(content_hash(one)) == image_tag(content_hash(two))
    two.write_bytes(b"other bytes")
    assert image_tag(content_hash(one)) != image_tag(content_hash(two))
    assert image_tag(content_hash(one)).startswith("src-") and len(image_tag("a" * 64)) == 20
    with pytest.raises(ValueError, match="source_hash"):
        image_tag("not-hex")


def test_phase_failed_error_refuses_unknown_phases() -> None:
    with pytest.raises(ValueError, match="phase"):
        PhaseFailedError("cooking", "x")


def test_settings_default_to_no_executor_and_refuse_local_outside_local_stages() -> None:
    assert ShippingSettings.from_environ({}).executor == "none"
    local = {"AUTOSTACK_RELEASE_EXECUTOR": "local", "AUTOSTACK_STAGE": "local"}
    assert ShippingSettings.from_environ(local).executor == "local"
    with pytest.raises(ShippingSettingsError, match="only allowed in the local and test stages"):
        ShippingSettings.from_environ({**local, "AUTOSTACK_STAGE": "prod"})
    with pytest.raises(ShippingSettingsError, match="AUTOSTACK_RELEASE_EXECUTOR"):
        ShippingSettings.from_environ({"AUTOSTACK_RELEASE_EXECUTOR": "codebuild"})
    with pytest.raises(ShippingSettingsError, match="AUTOSTACK_RELEASE_HEALTH_TIMEOUT_S"):
        ShippingSettings.from_environ({"AUTOSTACK_RELEASE_HEALTH_TIMEOUT_S": "soon"})


def test_local_services_from_urls() -> None:
    services = local_services(
        {"AUTOSTACK_LOCAL_POSTGRESQL_URL": "postgresql://app:p%40ss@127.0.0.1:5433/shop"}
    )
    pg = services["postgresql"]
    assert (pg.host, pg.port, pg.user, pg.password, pg.db) == (
        "127.0.0.1", 5433, "app", "p@ss", "shop",
    )  # fmt: skip
    assert "redis" not in services
    with pytest.raises(LocalServicesError, match="AUTOSTACK_LOCAL_REDIS_URL"):
        local_services({"AUTOSTACK_LOCAL_REDIS_URL": "not a url"})


class NoRuntime:
    def start(self, *args: Any) -> Any:
        raise AssertionError("the runtime must not start an app whose services are missing")


def test_local_executor_fails_building_naming_a_missing_service(tmp_path: Path) -> None:
    executor = LocalExecutor(runtime=NoRuntime(), apps=LocalApps())  # type: ignore[arg-type]
    needs_redis = spec(tmp_path, services=[ServiceBinding(kind="redis", env={"REDIS_URL": "x"})])
    with pytest.raises(PhaseFailedError) as caught:
        executor.build(needs_redis, lambda line: None)
    assert caught.value.phase == "building"
    assert "services[redis]" in caught.value.message
    assert "AUTOSTACK_LOCAL_REDIS_URL" in caught.value.message


def test_a_cancel_between_phases_discards_the_candidate(tmp_path: Path) -> None:
    clock = FakeClock()
    executor = FakeExecutor(clock)
    asked = iter([False, False, True])  # seen before building, releasing, then verifying
    check = HealthCheck(probe=lambda u, t: 200, clock=clock, sleep=clock.sleep)
    with pytest.raises(ShipCancelledError) as caught:
        ship(spec(tmp_path), executor, check, Recorder(), lambda line: None, clock,
             lambda: next(asked, True))  # fmt: skip
    assert caught.value.phase == "verifying"
    assert executor.calls == ["build", "release", "discard"]
    assert [t["phase"] for t in caught.value.timings] == ["building", "releasing"]
