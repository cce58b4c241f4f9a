"""The static executor's decisions with fake S3, CodeBuild and CloudFront clients (the
emulator tier drives the same code against moto: test_aws_static_release_emulator.py)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from chalicelib.models.plan import AppPlan
from runner.shipping.aws_static import StaticExecutor, StaticRollout, entry_key, marker_key
from runner.shipping.aws_target import AwsClients, AwsTarget, AwsTargetError, Waiter
from runner.shipping.executor import Candidate, PhaseCancelledError, PhaseFailedError, ReleaseSpec
from runner.shipping.pipeline import ShipFailedError, ship
from runner.shipping.verify import HealthCheck
from tests.golden.plan_profiles import bundle_of, profile

TAG = "src-0123456789abcdef"
SITE = "shop-site-1"
BUILDS = "shop-build-1"
DIST = "E2ABCDEF"


class ClientError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes, **extra: Any) -> dict[str, Any]:
        self.objects[(Bucket, Key)] = {"Body": Body, **extra}
        return {}

    def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        if (Bucket, Key) not in self.objects:
            raise ClientError("404")
        return {}

    def list_objects_v2(self, Bucket: str, Prefix: str, **_: Any) -> dict[str, Any]:
        keys = sorted(k for b, k in self.objects if b == Bucket and k.startswith(Prefix))
        return {"KeyCount": len(keys), "Contents": [{"Key": k} for k in keys]}


class FakeCodeBuild:
    """Each build ends with the statuses given; ``syncs`` are the files its buildspec
    uploads (what ``aws s3 sync`` would leave)."""

    def __init__(self, s3: FakeS3, syncs: dict[str, bytes], statuses: list[str]) -> None:
        self.s3, self.syncs, self.statuses = s3, syncs, statuses
        self.started: list[dict[str, Any]] = []
        self.stopped: list[str] = []

    def start_build(self, **kwargs: Any) -> dict[str, Any]:
        self.started.append(kwargs)
        tag = kwargs["environmentVariablesOverride"][0]["value"]
        for name, body in self.syncs.items():
            self.s3.put_object(Bucket=SITE, Key=f"releases/{tag}/{name}", Body=body)
        return {"build": {"id": "shop-build:1"}}

    def batch_get_builds(self, ids: list[str]) -> dict[str, Any]:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        build: dict[str, Any] = {
            "id": ids[0], "buildStatus": status,
            "currentPhase": "BUILD" if status == "IN_PROGRESS" else "COMPLETED",
            "logs": {"groupName": "/aws/codebuild/shop", "streamName": "1"},
        }  # fmt: skip
        if status == "FAILED":
            build["phases"] = [{"phaseType": "BUILD", "phaseStatus": "FAILED",
                                "contexts": [{"message": "COMMAND_EXECUTION_ERROR"}]}]  # fmt: skip
        return {"builds": [build]}

    def stop_build(self, id: str) -> dict[str, Any]:
        self.stopped.append(id)
        return {}


class FakeLogs:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def get_log_events(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("nextToken"):
            return {"events": [], "nextForwardToken": kwargs["nextToken"]}
        return {"events": [{"message": m} for m in self.lines], "nextForwardToken": "t1"}


class FakeCloudFront:
    """One distribution whose changes deploy after ``polls`` status reads."""

    def __init__(self, origin_path: str = "", polls: int = 1) -> None:
        self.origin_path = origin_path
        self.etag = "E1"
        self.polls = polls
        self.pending = 0
        self.updates: list[str] = []
        self.invalidations: list[dict[str, Any]] = []
        self.invalidation_reads = 0

    def get_distribution_config(self, Id: str) -> dict[str, Any]:
        assert Id == DIST
        origin = {"Id": "site-bucket", "DomainName": f"{SITE}.s3.amazonaws.com",
                  "OriginPath": self.origin_path}  # fmt: skip
        return {"ETag": self.etag, "DistributionConfig": {
            "Comment": "shop", "Origins": {"Quantity": 1, "Items": [origin]}}}  # fmt: skip

    def update_distribution(self, Id: str, IfMatch: str, DistributionConfig: Any) -> Any:
        if IfMatch != self.etag:
            raise ClientError("PreconditionFailed")
        self.origin_path = DistributionConfig["Origins"]["Items"][0]["OriginPath"]
        self.updates.append(self.origin_path)
        self.etag = f"E{len(self.updates) + 1}"
        self.pending = self.polls
        return {"ETag": self.etag}

    def get_distribution(self, Id: str) -> dict[str, Any]:
        if self.pending:
            self.pending -= 1
            return {"Distribution": {"Status": "InProgress"}}
        return {"Distribution": {"Status": "Deployed"}}

    def create_invalidation(self, DistributionId: str, InvalidationBatch: Any) -> Any:
        self.invalidations.append(InvalidationBatch)
        return {"Invalidation": {"Id": f"I{len(self.invalidations)}", "Status": "InProgress"}}

    def get_invalidation(self, DistributionId: str, Id: str) -> dict[str, Any]:
        self.invalidation_reads += 1
        done = self.invalidation_reads % 2 == 0  # in progress once, then completed
        return {"Invalidation": {"Id": Id, "Status": "Completed" if done else "InProgress"}}


def _plan(**extra: Any) -> AppPlan:
    raw: dict[str, Any] = {
        "name": "shop-site", "path": ".", "kind": "static",
        "toolchain": {"language": "static", "version": "", "image": "node:24"},
        "package_manager": "npm", "install": ["npm install"], "build": ["npm run build"],
        "start": "./start", "port": 8080, "static_output": "dist",
    }  # fmt: skip
    return AppPlan.model_validate({**raw, **extra})


def _spec(tmp_path: Path, **extra: Any) -> ReleaseSpec:
    source = tmp_path / "source"
    (source / "src").mkdir(parents=True, exist_ok=True)
    (source / "package.json").write_text('{"scripts": {"build": "node build.js"}}\n')
    (source / "src" / "index.html").write_text("<h1>shop</h1>\n")
    values: dict[str, Any] = {
        "project_id": "p1", "stack": "prod", "release_id": "r2", "image_tag": TAG,
        "plan": _plan(), "source_dir": source, "work_dir": tmp_path / "work",
        "build_files": {"Dockerfile": "FROM node:24\n"},
    }  # fmt: skip
    return ReleaseSpec(**{**values, **extra})


def _target() -> AwsTarget:
    return AwsTarget.from_outputs("static", {
        "app_url": {"value": "https://d111.cloudfront.net"},
        "build_project": {"value": "shop-build"}, "build_source_bucket": {"value": BUILDS},
        "site_bucket": {"value": SITE}, "cloudfront_distribution_id": {"value": DIST},
    })  # fmt: skip


class Stack:
    def __init__(self, syncs: dict[str, bytes] | None = None, statuses: list[str] | None = None,
                 origin_path: str = "", logs: list[str] | None = None) -> None:  # fmt: skip
        self.s3 = FakeS3()
        self.codebuild = FakeCodeBuild(
            self.s3, {"index.html": b"<h1>shop</h1>"} if syncs is None else syncs,
            statuses or ["IN_PROGRESS", "SUCCEEDED"],
        )  # fmt: skip
        self.cloudfront = FakeCloudFront(origin_path)
        self.clock = Clock()
        clients = AwsClients(s3=self.s3, codebuild=self.codebuild, ecr=None,
                             logs=FakeLogs(logs or []), cloudfront=self.cloudfront)  # fmt: skip
        waiter = Waiter(clock=self.clock, sleep=self.clock.sleep, timeout_s=600, interval_s=5)
        self.executor = StaticExecutor(clients, _target(), waiter)


# --------------------------------------------------------------------------- outputs


def test_a_static_target_needs_its_bucket_and_distribution_but_no_image_repository() -> None:
    target = _target()
    assert (target.site_bucket, target.distribution_id, target.repository_url) == (SITE, DIST, "")
    again = AwsTarget.from_outputs("static", target.as_outputs())
    assert again == target  # what the release record keeps is enough for a redeploy
    outputs = dict(target.as_outputs())
    del outputs["cloudfront_distribution_id"]
    with pytest.raises(AwsTargetError, match=r"outputs\.cloudfront_distribution_id: missing"):
        AwsTarget.from_outputs("static", outputs)


@pytest.mark.parametrize(("health", "key"), [
    ("/", f"releases/{TAG}/index.html"), ("/docs/", f"releases/{TAG}/docs/index.html"),
    ("/ok.txt?x=1", f"releases/{TAG}/ok.txt"),
])  # fmt: skip
def test_the_health_path_names_the_object_cloudfront_serves(health: str, key: str) -> None:
    assert entry_key(TAG, health) == key


# --------------------------------------------------------------------------- build


def test_a_first_release_builds_in_codebuild_and_checks_what_the_build_uploaded(
    tmp_path: Path,
) -> None:
    stack = Stack(syncs={"index.html": b"<h1>shop</h1>", "assets/app-1a2b.js": b"1"})
    lines: list[str] = []
    candidate = stack.executor.build(_spec(tmp_path), lines.append)

    (started,) = stack.codebuild.started
    assert started["projectName"] == "shop-build"
    assert started["sourceLocationOverride"] == f"{BUILDS}/sources/{TAG}.zip"
    assert started["environmentVariablesOverride"] == [
        {"name": "IMAGE_TAG", "value": TAG, "type": "PLAINTEXT"}
    ]
    source = zipfile.ZipFile(io.BytesIO(stack.s3.objects[(BUILDS, f"sources/{TAG}.zip")]["Body"]))
    assert sorted(source.namelist()) == ["Dockerfile", "package.json", "src/index.html"]
    marker = json.loads(stack.s3.objects[(SITE, marker_key(TAG))]["Body"])
    assert marker == {"release_id": "r2", "files": 2}
    assert candidate.handle == StaticRollout(f"/releases/{TAG}", files=2)
    assert candidate.url == "https://d111.cloudfront.net"
    assert stack.cloudfront.updates == []  # nothing serves it yet
    assert f"s3://{SITE}/releases/{TAG}/ holds the site (2 files)" in lines


def test_the_same_source_already_built_is_not_built_again(tmp_path: Path) -> None:
    stack = Stack()
    stack.s3.put_object(Bucket=SITE, Key=f"releases/{TAG}/index.html", Body=b"x")
    stack.s3.put_object(Bucket=SITE, Key=marker_key(TAG), Body=b"{}")
    lines: list[str] = []
    stack.executor.build(_spec(tmp_path), lines.append)
    assert stack.codebuild.started == [] and (BUILDS, f"sources/{TAG}.zip") not in stack.s3.objects
    assert any("already built" in line for line in lines)


def test_objects_without_the_marker_are_built_again(tmp_path: Path) -> None:
    # A build cut off mid-upload leaves files but no marker: it must not be served as is.
    stack = Stack()
    stack.s3.put_object(Bucket=SITE, Key=f"releases/{TAG}/index.html", Body=b"half")
    stack.executor.build(_spec(tmp_path), lambda _: None)
    assert len(stack.codebuild.started) == 1


def test_a_build_that_uploads_no_index_fails_building_naming_the_key(tmp_path: Path) -> None:
    stack = Stack(syncs={"other.html": b"x"})
    with pytest.raises(PhaseFailedError) as failed:
        stack.executor.build(_spec(tmp_path), lambda _: None)
    assert failed.value.phase == "building"
    assert f"s3://{SITE}/releases/{TAG}/index.html" in failed.value.message
    assert "'dist'" in failed.value.message and "1 files" in failed.value.message
    assert (SITE, marker_key(TAG)) not in stack.s3.objects


def test_a_failed_build_fails_building_with_its_own_last_lines(tmp_path: Path) -> None:
    stack = Stack(statuses=["IN_PROGRESS", "FAILED"],
                  logs=["> vite build", "error: Could not resolve './missing.js'"])  # fmt: skip
    with pytest.raises(PhaseFailedError) as failed:
        stack.executor.build(_spec(tmp_path), lambda _: None)
    assert failed.value.phase == "building"
    assert "ended FAILED in its BUILD phase: COMMAND_EXECUTION_ERROR" in failed.value.message
    assert "Could not resolve './missing.js'" in failed.value.last_lines()
    assert stack.cloudfront.updates == []


def test_a_cancel_during_the_build_stops_it(tmp_path: Path) -> None:
    stack = Stack(statuses=["IN_PROGRESS"])
    asked = iter([False, True])
    spec = _spec(tmp_path, cancelled=lambda: next(asked, True))
    with pytest.raises(PhaseCancelledError):
        stack.executor.build(spec, lambda _: None)
    assert stack.codebuild.stopped == ["shop-build:1"]


# --------------------------------------------------------------------------- roll out


def _built(tmp_path: Path, stack: Stack) -> tuple[ReleaseSpec, Candidate]:
    spec = _spec(tmp_path)
    return spec, stack.executor.build(spec, lambda _: None)


def test_the_roll_out_moves_the_origin_path_waits_for_it_and_invalidates(
    tmp_path: Path,
) -> None:
    stack = Stack(origin_path="/releases/src-1111111111111111")
    spec, candidate = _built(tmp_path, stack)
    lines: list[str] = []
    url = stack.executor.roll_out(spec, candidate, lines.append)
    assert url == "https://d111.cloudfront.net"
    assert stack.cloudfront.updates == [f"/releases/{TAG}"]
    assert stack.cloudfront.pending == 0  # it waited until deployed
    (batch,) = stack.cloudfront.invalidations
    assert batch["Paths"] == {"Quantity": 1, "Items": ["/*"]}
    assert stack.cloudfront.invalidation_reads == 2  # in progress, then completed
    assert lines.index(f"CloudFront {DIST} is deployed") < lines.index(
        "CloudFront invalidation I1 of /* created"
    )
    assert candidate.handle.previous_origin_path == "/releases/src-1111111111111111"


def test_discard_puts_the_previous_release_back_and_invalidates_again(tmp_path: Path) -> None:
    stack = Stack(origin_path="/releases/src-1111111111111111")
    spec, candidate = _built(tmp_path, stack)
    stack.executor.discard(spec, candidate, lambda _: None)
    assert stack.cloudfront.updates == []  # never switched: nothing to put back
    stack.executor.roll_out(spec, candidate, lambda _: None)
    stack.executor.discard(spec, candidate, lambda _: None)
    assert stack.cloudfront.updates == [f"/releases/{TAG}", "/releases/src-1111111111111111"]
    assert len(stack.cloudfront.invalidations) == 2


def test_a_deployment_that_never_ends_fails_verifying_and_can_still_be_undone(
    tmp_path: Path,
) -> None:
    stack = Stack()
    spec, candidate = _built(tmp_path, stack)
    stack.cloudfront.polls = 10_000
    with pytest.raises(PhaseFailedError) as failed:
        stack.executor.roll_out(spec, candidate, lambda _: None)
    assert failed.value.phase == "verifying"
    assert "did not finish within 600 s" in failed.value.message
    stack.cloudfront.polls = 0
    stack.executor.discard(spec, candidate, lambda _: None)
    assert stack.cloudfront.origin_path == ""  # the bucket's root, as before the release


def test_put_back_serves_an_earlier_release(tmp_path: Path) -> None:
    stack = Stack(origin_path=f"/releases/{TAG}")
    stack.executor.put_back("src-1111111111111111", lambda _: None)
    assert stack.cloudfront.origin_path == "/releases/src-1111111111111111"
    assert len(stack.cloudfront.invalidations) == 1


def test_a_failing_health_check_rolls_the_site_back_through_the_pipeline(
    tmp_path: Path,
) -> None:
    stack = Stack(origin_path="/releases/src-1111111111111111")
    clock = stack.clock
    probes: list[str] = []

    def probe(url: str, timeout: float) -> int | None:
        probes.append(url)
        return 503

    class Recorder:
        def enter(self, phase: str) -> None: ...
        def timings(self, entries: list[dict[str, Any]]) -> None: ...

    check = HealthCheck(probe=probe, clock=clock, sleep=clock.sleep, timeout_s=10, interval_s=1)
    with pytest.raises(ShipFailedError) as failed:
        ship(_spec(tmp_path), stack.executor, check, Recorder(), lambda _: None, clock)
    assert failed.value.phase == "verifying"
    assert probes[0] == "https://d111.cloudfront.net/"
    assert stack.cloudfront.origin_path == "/releases/src-1111111111111111"


# --------------------------------------------------------------------------- the bundle


def test_the_static_bundle_builds_in_codebuild_and_uploads_one_release() -> None:
    prof = profile("static", framework="vite", kind="static", language="javascript",
                   build_command="npm run build", static_output_dir="dist",
                   lockfile="package-lock.json", lockfile_kind="npm")  # fmt: skip
    files = bundle_of(prof, "static").files
    codebuild = " ".join(files["infra/codebuild.tf"].split())
    assert "privileged_mode = false" in codebuild and "aws_ecr" not in codebuild
    assert 'resources = ["${aws_s3_bucket.site.arn}/releases/*"]' in codebuild
    assert 'origin_path = trimsuffix("/releases/${var.image_tag}", "/releases/")' in " ".join(
        files["infra/static.tf"].split()
    )
    spec = yaml.safe_load(files["infra/buildspec.yml"])
    assert spec["phases"]["install"]["runtime-versions"] == {"nodejs": "22"}
    assert spec["phases"]["pre_build"]["commands"][-1] == "npm ci"
    build = spec["phases"]["build"]["commands"]
    assert build[1] == "npm run build"
    hashed, rest = build[-2], build[-1]
    assert hashed.startswith('aws s3 sync dist "s3://$SITE_BUCKET/releases/$IMAGE_TAG/" --delete')
    assert "--include 'assets/*'" in hashed and "max-age=31536000, immutable" in hashed
    assert "--exclude 'assets/*'" in rest and rest.endswith("--cache-control no-cache")
    for output in ("build_project", "build_source_bucket", "site_bucket",
                   "cloudfront_distribution_id"):  # fmt: skip
        assert f'output "{output}"' in files["infra/outputs.tf"]


@pytest.mark.parametrize(
    ("prof", "runtime", "first_command"),
    [
        (profile("static", framework="hugo", kind="static", language="html",
                 build_command="hugo --minify", static_output_dir="public"),
         {"golang": "1.23"}, 'hugo --minify --baseURL "${SITE_URL:-/}"'),
        (profile("static", framework="mkdocs", kind="static", language="markdown",
                 build_command="mkdocs build", static_output_dir="site"),
         {"python": "3.12"}, "mkdocs build"),
        (profile("static", kind="static", language="html", static_output_dir="."), None, None),
    ],
    ids=["hugo", "mkdocs", "plain-html"],
)  # fmt: skip
def test_other_site_tools_build_with_their_runtime_and_revalidate_every_file(
    prof: Any, runtime: dict[str, str] | None, first_command: str | None
) -> None:
    spec = yaml.safe_load(bundle_of(prof, "static").files["infra/buildspec.yml"])
    assert (spec["phases"].get("install") or {}).get("runtime-versions") == runtime
    build = spec["phases"]["build"]["commands"]
    if first_command:
        assert build[1] == first_command
    (upload,) = [c for c in build if c.startswith("aws s3 sync")]
    assert upload.endswith("--cache-control no-cache") and "immutable" not in upload
    assert "--exclude 'infra/*'" in upload  # the repository's own files are never published
