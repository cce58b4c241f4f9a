"""A static site shipped by the AWS executor against the emulator: the release job reaches
the "user account" through the job's scoped session and the deploy role, uploads the
source to the stack's build bucket, starts CodeBuild, checks the release's files in the
site bucket, moves CloudFront's origin path to them and invalidates ``/*``.

What the emulator proves: the calls, their order and arguments, and the state they leave
(the source zip, a build started, the marker, the distribution's origin path, the
invalidations, the release records), a failed health check moving the origin back, a
rollback switching without a build. What only AWS proves: that CodeBuild runs the
buildspec (moto marks a build SUCCEEDED without running anything: here the fixture's own
build runs with node on this machine and its output is put where the buildspec's
``aws s3 sync`` puts it), that CloudFront serves the bucket through its origin access
control, that the distribution deploys and the invalidation completes in minutes (moto
says ``Deployed`` / ``COMPLETED`` at once), and the GET of the cloudfront.net URL (the
emulator serves nothing there: the stack's URL is a loopback server standing in).
"""

from __future__ import annotations

import io
import json
import shutil
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib import keys
from chalicelib.store.bundles import DynamoBundleStore
from chalicelib.store.jobs import DynamoJobStore
from chalicelib.store.releases import DynamoReleaseStore
from devtools.local_resources import REGION, LocalResources
from runner.errors import PermanentJobError
from runner.jobs.context import JobContext
from runner.jobs.registry import HandlerRegistry
from runner.jobs.release import ShippingServices, live_image_tag
from runner.local_runtime import http_probe
from runner.shipping.aws_access import AwsExecutorFactory, DeployRoleClients
from runner.shipping.aws_static import marker_key
from runner.shipping.settings import ShippingSettings
from runner.shipping.verify import HealthCheck
from tests.functional.shipping.aws_user_stack import HealthServer, health_server, put_item
from tests.functional.shipping.static_user_stack import (
    FIXTURE,
    OLD_TAG,
    PROJECT,
    StaticStack,
    built_site,
    seed_static,
    tag_of,
    zip_source,
)
from tests.functional.terraform.harness import EXTERNAL_ID, ROLE_ARN, job_session_issuer
from tests.functional.terraform.jobs_harness import JobsHarness, make_jobs_harness

pytestmark = pytest.mark.slow

FAST = ShippingSettings(executor="aws", poll_interval_s=0.1, wait_timeout_s=60)


def _shipping(jobs: JobsHarness, resources: LocalResources) -> ShippingServices:
    dynamodb, table = jobs.clients.dynamodb, jobs.settings.table
    clients = DeployRoleClients(
        issuer=job_session_issuer(resources), bucket=resources.bucket, stage="test",
        endpoint_url=resources.endpoint_url,
    )  # fmt: skip
    return ShippingServices(
        executor=None,
        make_executor=AwsExecutorFactory(clients_for=clients, settings=FAST),
        check=HealthCheck(
            probe=http_probe, clock=time.time, sleep=time.sleep, timeout_s=3, interval_s=0.1
        ),
        releases=DynamoReleaseStore(dynamodb, table),
        bundles=DynamoBundleStore(dynamodb, table),
        jobs=DynamoJobStore(dynamodb, table),
    )


def _release_job(jobs: JobsHarness, shipping: ShippingServices, **extra: Any) -> JobContext:
    payload: dict[str, Any] = {"stack": "dep1", "bundle_id": "b1", **extra}
    if "rollback_of" not in extra:  # as an apply job's; the API's rollback names no role
        payload |= {"role_arn": ROLE_ARN, "external_id": EXTERNAL_ID, "region": REGION}
    ctx = jobs.context("release", payload)
    ctx.services["shipping"] = shipping
    put_item(jobs, {
        "pk": keys.project_pk(PROJECT), "sk": keys.job_sk(ctx.message.job_id),
        "job_id": ctx.message.job_id, "project_id": PROJECT, "kind": "release",
        "status": "running", "payload": payload, "runner_id": jobs.settings.runner_id,
        "lease_until": time.time() + 600, "created_at_epoch": time.time(),
    })  # fmt: skip
    return ctx


@pytest.fixture
def site() -> Iterator[HealthServer]:
    with health_server(200) as server:
        yield server


def test_a_static_site_is_built_switched_invalidated_and_rolled_back(
    local_resources: LocalResources, tmp_path: Path, site: HealthServer
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    stack = StaticStack(local_resources.endpoint_url, site.url)
    first = zip_source(FIXTURE)
    changed_source = tmp_path / "changed"
    shutil.copytree(FIXTURE, changed_source)
    page = changed_source / "src" / "index.html"
    page.write_text(page.read_text().replace("Hello from", "Hello again from"))
    second = zip_source(changed_source)
    seed_static(jobs, stack, {"up1": first, "up2": second})
    tag1, tag2 = tag_of(first), tag_of(second)
    # Stands in for CodeBuild's build + sync (moto runs no buildspec): the fixture's real
    # build output, where the buildspec puts it, without the marker (the runner writes it).
    stack.put_release(tag1, built_site(FIXTURE, tmp_path), marker=False)
    stack.put_release(tag2, built_site(changed_source, tmp_path), marker=False)
    shipping = _shipping(jobs, local_resources)
    registry = HandlerRegistry()

    ctx = _release_job(jobs, shipping)
    result = registry.resolve("release")(ctx)
    assert result.attributes["phase"] == "live"
    assert [t["phase"] for t in result.attributes["phase_timings"]] == [
        "building", "releasing", "verifying",
    ]  # fmt: skip
    # The source went to the build bucket (the bundle's Dockerfile rides along, unused),
    # one build was started, the release's files are checked and marked built.
    body = (
        stack.client("s3")
        .get_object(Bucket=stack.build_bucket, Key=f"sources/{tag1}.zip")["Body"]
        .read()
    )
    names = zipfile.ZipFile(io.BytesIO(body)).namelist()
    assert {"package.json", "build.mjs", "src/index.html"} <= set(names)
    assert "infra/static.tf" not in names
    assert len(stack.builds()) == 1
    assert json.loads(stack.object(marker_key(tag1)))["files"] == 2
    assert b"built by node" in stack.object(f"releases/{tag1}/index.html")
    # CloudFront reads the new release's prefix, and its caches were invalidated.
    assert stack.origin_path() == f"/releases/{tag1}"
    assert len(stack.invalidations()) == 1
    assert site.probes == ["/"]
    releases = {r["image_tag"]: r for r in shipping.releases.list_project(PROJECT)}
    assert (releases[tag1]["status"], releases[OLD_TAG]["status"]) == ("live", "superseded")
    assert releases[tag1]["executor"] == "aws-static"
    assert releases[tag1]["target_outputs"]["site_bucket"]["value"] == stack.site_bucket
    assert live_image_tag(ctx, "dep1") == tag1  # later plans keep this origin path
    log = jobs.log_text(ctx)
    assert "CodeBuild" in log and f"origin path /releases/{OLD_TAG} -> /releases/{tag1}" in log

    # A redeploy of changed source: a second build, the origin moves on.
    again = _release_job(jobs, shipping, upload_id="up2")
    registry.resolve("release")(again)
    assert len(stack.builds()) == 2 and stack.origin_path() == f"/releases/{tag2}"
    assert b"Hello again" in stack.object(f"releases/{tag2}/index.html")

    # Rollback to the first source (as the API queues it: no role in the payload, the
    # live release's job names it): already built, so no build, just the switch.
    live = next(r for r in shipping.releases.list_project(PROJECT) if r["status"] == "live")
    back = _release_job(jobs, shipping, upload_id="up1", rollback_of=live["release_id"])
    registry.resolve("release")(back)
    assert len(stack.builds()) == 2
    assert stack.origin_path() == f"/releases/{tag1}"
    assert len(stack.invalidations()) == 3
    assert "already built" in jobs.log_text(back)
    statuses = {r["image_tag"]: r["status"] for r in shipping.releases.list_project(PROJECT)}
    assert statuses[tag2] == "rolled_back"
    assert [r["status"] for r in shipping.releases.list_project(PROJECT)].count("live") == 1


def test_a_site_whose_health_check_fails_goes_back_to_the_previous_release(
    local_resources: LocalResources, tmp_path: Path, site: HealthServer
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    site.status[0] = 404
    stack = StaticStack(local_resources.endpoint_url, site.url)
    archive = zip_source(FIXTURE)
    seed_static(jobs, stack, {"up1": archive})
    stack.put_release(tag_of(archive), built_site(FIXTURE, tmp_path), marker=False)
    shipping = _shipping(jobs, local_resources)
    with pytest.raises(PermanentJobError) as failed:
        HandlerRegistry().resolve("release")(_release_job(jobs, shipping))
    assert failed.value.code == "verifying_failed"
    assert site.probes  # it was asked, and said 404
    assert stack.origin_path() == f"/releases/{OLD_TAG}"
    assert len(stack.invalidations()) == 2  # the switch, and the switch back
    statuses = {r["image_tag"]: r["status"] for r in shipping.releases.list_project(PROJECT)}
    assert statuses[OLD_TAG] == "live" and statuses[tag_of(archive)] == "failed"


def test_a_build_that_uploads_nothing_fails_building_and_switches_nothing(
    local_resources: LocalResources, tmp_path: Path, site: HealthServer
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    stack = StaticStack(local_resources.endpoint_url, site.url)
    archive = zip_source(FIXTURE)
    seed_static(jobs, stack, {"up1": archive})  # and no files under the release's prefix
    shipping = _shipping(jobs, local_resources)
    with pytest.raises(PermanentJobError) as failed:
        HandlerRegistry().resolve("release")(_release_job(jobs, shipping))
    assert failed.value.code == "building_failed"
    assert f"releases/{tag_of(archive)}/index.html" in str(failed.value)
    assert len(stack.builds()) == 1
    assert stack.origin_path() == f"/releases/{OLD_TAG}" and stack.invalidations() == []
    assert site.probes == []
