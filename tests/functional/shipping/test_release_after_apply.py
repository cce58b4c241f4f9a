"""An apply of a generated bundle ships its app: real Terraform, the emulator's S3 and
DynamoDB, the real local runtime. Then a ``release`` job (a rollback) puts the source
back; an uploaded bundle (no app) still ends at ``applied``."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib import keys
from chalicelib.generate.plan import build_app_plans
from chalicelib.models.templates import TemplateRequest
from chalicelib.store.bundles import DynamoBundleStore
from chalicelib.store.codec import to_item
from chalicelib.store.jobs import DynamoJobStore
from chalicelib.store.releases import DynamoReleaseStore
from chalicelib.store.uploads import DynamoUploadStore
from devtools.local_resources import LocalResources
from runner.analysis.engine import analyze_directory
from runner.errors import PermanentJobError
from runner.jobs.context import JobContext
from runner.jobs.registry import HandlerRegistry
from runner.jobs.release import ShippingServices
from runner.local_runtime import LocalRuntime, SubprocessRunner, http_probe
from runner.shipping.local import LocalApps, LocalExecutor
from runner.shipping.verify import HealthCheck
from tests.functional.terraform.bundles import BASIC
from tests.functional.terraform.jobs_harness import JobsHarness, make_jobs_harness

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "shipping" / "flask_hello"
PROJECT = "proj1"


@pytest.fixture
def apps() -> Iterator[LocalApps]:
    serving = LocalApps()
    yield serving
    serving.stop_all()


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def _generated_bundle(jobs: JobsHarness, needs: str | None = None) -> bytes:
    """Bundle b1 generated from upload up1 (analysis an1), as the API stores them."""
    s3, bucket, table = jobs.clients.s3, jobs.settings.bucket, jobs.settings.table
    jobs.upload_bundle("b1", {"infra/main.tf": BASIC % {"sleep": 0}})
    plans = build_app_plans(
        analyze_directory(FIXTURE), TemplateRequest(analysis_id="an1", target="ec2")
    )
    dumped = [p.model_dump(mode="json") for p in plans]
    if needs:  # as if the app used a service
        dumped[0]["services"] = [{"kind": needs, "env": {"REDIS_URL": "redis://{host}:{port}"}}]
    document = {"record": {"id": "b1", "plans": dumped}}
    s3.put_object(Bucket=bucket, Key=keys.bundle_document_key(PROJECT, "b1"),
                  Body=json.dumps(document).encode())  # fmt: skip
    archive = _zip(FIXTURE)
    s3.put_object(Bucket=bucket, Key=keys.upload_key(PROJECT, "up1", "zip"), Body=archive)
    DynamoBundleStore(jobs.clients.dynamodb, table).put(
        PROJECT, "b1", {"bundle_id": "b1", "analysis_id": "an1", "target": "ec2"}
    )
    source = {"upload_id": "up1", "key": keys.upload_key(PROJECT, "up1", "zip")}
    _put_job(jobs, "an1", "analyze", "succeeded", payload=source)
    return archive


def _put_job(jobs: JobsHarness, job_id: str, kind: str, status: str, **extra: Any) -> None:
    item = {"pk": keys.project_pk(PROJECT), "sk": keys.job_sk(job_id), "job_id": job_id,
            "project_id": PROJECT, "kind": kind, "status": status,
            "created_at_epoch": time.time(), **extra}  # fmt: skip
    jobs.clients.dynamodb.put_item(TableName=jobs.settings.table, Item=to_item(item))


def _held(jobs: JobsHarness, ctx: JobContext) -> JobContext:
    """The job item exists and this runner holds it (as after the worker's claim)."""
    _put_job(jobs, ctx.message.job_id, ctx.message.kind, "running", payload=ctx.message.payload,
             runner_id=jobs.settings.runner_id, lease_until=time.time() + 600)  # fmt: skip
    return ctx


def _shipping(jobs: JobsHarness, apps: LocalApps) -> ShippingServices:
    dynamodb, table = jobs.clients.dynamodb, jobs.settings.table
    runtime = LocalRuntime(runner=SubprocessRunner(), machine_env=dict(os.environ))
    return ShippingServices(
        executor=LocalExecutor(runtime=runtime, apps=apps),
        check=HealthCheck(probe=http_probe, clock=time.time, sleep=time.sleep, timeout_s=15),
        releases=DynamoReleaseStore(dynamodb, table),
        bundles=DynamoBundleStore(dynamodb, table),
        jobs=DynamoJobStore(dynamodb, table),
    )


def _page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
        return response.read().decode()


def test_apply_ships_the_app_to_live_then_a_rollback_release_replaces_it(
    local_resources: LocalResources, tmp_path: Path, apps: LocalApps
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    archive = _generated_bundle(jobs)
    registry = HandlerRegistry()
    shipping = _shipping(jobs, apps)

    planned = registry.resolve("plan")(jobs.context("plan", jobs.payload()))
    apply_ctx = jobs.context("apply", jobs.payload(plan_key=planned.result["plan_key"]))
    apply_ctx.services["shipping"] = shipping
    applied = registry.resolve("apply")(_held(jobs, apply_ctx))

    assert applied.status == "succeeded"
    assert applied.attributes["phase"] == "live"
    url = applied.result["outputs"]["app_url"]["value"]
    assert url.startswith("http://127.0.0.1:")
    assert "Hello from the shipped fixture" in _page(url + "/")
    assert applied.result["outputs"]["external_id"]["value"]  # Terraform's outputs kept
    phases = [t["phase"] for t in applied.attributes["phase_timings"]]
    assert phases == ["building", "releasing", "verifying"]
    item = shipping.jobs.get(PROJECT, apply_ctx.message.job_id)
    assert item is not None and item.phase_timings and len(item.phase_timings) == 3
    (first,) = shipping.releases.list_project(PROJECT)
    expected_tag = "src-" + hashlib.sha256(archive).hexdigest()[:16]
    assert (first["status"], first["image_tag"], first["source_upload_id"], first["url"]) == (
        "live", expected_tag, "up1", url,
    )  # fmt: skip
    log = jobs.log_text(apply_ctx)
    assert "===== building =====" in log and "===== verifying =====" in log

    # A release job (here a rollback to the first release's source) replaces it.
    again_ctx = jobs.context(
        "release", {"stack": "dep1", "bundle_id": "b1", "rollback_of": first["release_id"]}
    )
    again_ctx.services["shipping"] = shipping
    released = registry.resolve("release")(_held(jobs, again_ctx))
    new_url = released.result["outputs"]["app_url"]["value"]
    assert new_url != url and "Hello from the shipped fixture" in _page(new_url + "/")
    with pytest.raises(urllib.error.URLError):
        _page(url + "/")  # the replaced release stopped
    newest, older = shipping.releases.list_project(PROJECT)
    assert (newest["status"], newest["rollback_of"]) == ("live", first["release_id"])
    assert older["status"] == "rolled_back"

    # A redeploy of new source (another ready upload): built and released on the same
    # infrastructure, no Terraform; the page changes.
    changed = _new_source(jobs, tmp_path, "up2", "Hello from the redeployed source")
    redeploy_ctx = jobs.context("release", {"stack": "dep1", "bundle_id": "b1", "upload_id": "up2"})
    redeploy_ctx.services["shipping"] = shipping
    redeployed = registry.resolve("release")(_held(jobs, redeploy_ctx))
    third_url = redeployed.result["outputs"]["app_url"]["value"]
    assert "Hello from the redeployed source" in _page(third_url + "/")
    latest = shipping.releases.list_project(PROJECT)[0]
    assert (latest["status"], latest["source_upload_id"], latest["image_tag"]) == (
        "live", "up2", "src-" + hashlib.sha256(changed).hexdigest()[:16],
    )  # fmt: skip
    assert shipping.releases.list_project(PROJECT)[1]["status"] == "superseded"
    assert "Apply complete" not in jobs.log_text(redeploy_ctx)  # no Terraform ran

    # Destroying the stack stops its app and retires the live release (kept in the list).
    destroy_ctx = jobs.context("destroy", jobs.payload(auto_approve=True))
    destroy_ctx.services["shipping"] = shipping
    destroyed = registry.resolve("destroy")(_held(jobs, destroy_ctx))
    assert destroyed.status == "succeeded" and destroyed.result["applied"] is True
    with pytest.raises(urllib.error.URLError):
        _page(third_url + "/")
    statuses = [r["status"] for r in shipping.releases.list_project(PROJECT)]
    assert statuses == ["retired", "superseded", "rolled_back"]


def _new_source(jobs: JobsHarness, tmp_path: Path, upload_id: str, text: str) -> bytes:
    """The fixture with a changed page, uploaded and settled ``ready`` as the API leaves it."""
    folder = tmp_path / upload_id
    for path in FIXTURE.rglob("*"):
        if path.is_file():
            target = folder / path.relative_to(FIXTURE)
            target.parent.mkdir(parents=True, exist_ok=True)
            body = path.read_text().replace("Hello from the shipped fixture", text)
            target.write_text(body)
    archive = _zip(folder)
    key = keys.upload_key(PROJECT, upload_id, "zip")
    jobs.clients.s3.put_object(Bucket=jobs.settings.bucket, Key=key, Body=archive)
    uploads = DynamoUploadStore(jobs.clients.dynamodb, jobs.settings.table)
    uploads.put_pending(PROJECT, upload_id, {"upload_id": upload_id, "key": key,
                                             "status": "pending", "format": "zip"})  # fmt: skip
    assert uploads.settle(PROJECT, upload_id, "ready", {"size": len(archive)}) is not None
    return archive


def test_an_uploaded_bundle_still_ends_at_applied(
    local_resources: LocalResources, tmp_path: Path, apps: LocalApps
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    jobs.upload_bundle("b2", {"infra/main.tf": BASIC % {"sleep": 0}})
    registry = HandlerRegistry()
    planned = registry.resolve("plan")(jobs.context("plan", jobs.payload(bundle_id="b2")))
    ctx = jobs.context("apply", jobs.payload(bundle_id="b2", plan_key=planned.result["plan_key"]))
    ctx.services["shipping"] = _shipping(jobs, apps)
    applied = registry.resolve("apply")(ctx)
    assert applied.attributes["phase"] == "applied"
    assert "app_url" in applied.result["outputs"]  # Terraform's own output, nothing shipped
    assert applied.result["outputs"]["app_url"]["value"].startswith("https://example.test/")
    assert (
        DynamoReleaseStore(jobs.clients.dynamodb, jobs.settings.table).list_project(PROJECT) == []
    )


def test_an_app_needing_a_service_fails_in_building_with_the_infrastructure_kept(
    local_resources: LocalResources, tmp_path: Path, apps: LocalApps
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    _generated_bundle(jobs, needs="redis")
    registry = HandlerRegistry()
    shipping = _shipping(jobs, apps)
    planned = registry.resolve("plan")(jobs.context("plan", jobs.payload()))
    ctx = jobs.context("apply", jobs.payload(plan_key=planned.result["plan_key"]))
    ctx.services["shipping"] = shipping
    with pytest.raises(PermanentJobError) as failed:
        registry.resolve("apply")(_held(jobs, ctx))
    assert failed.value.code == "building_failed"
    assert "services[redis]" in failed.value.message
    assert "AUTOSTACK_LOCAL_REDIS_URL" in failed.value.message
    item = shipping.jobs.get(PROJECT, ctx.message.job_id)
    assert item is not None
    assert (item.phase, item.error_code) == ("building", "building_failed")
    assert item.result["outputs"]["external_id"]["value"]  # what Terraform applied is shown
    assert item.resources  # and what the stack holds
    (release,) = shipping.releases.list_project(PROJECT)
    assert (release["status"], release["failed_phase"]) == ("failed", "building")
    assert apps.serving(PROJECT, "dep1") is None
