"""The runner process killed (SIGKILL) while a release verifies, then restarted.

Real pieces: two runner processes (``python -m runner run``, the real worker loop) with
``AUTOSTACK_RELEASE_EXECUTOR=aws`` against the emulator's "user account" (CodeBuild,
ECR, ECS through the job's scoped session). The app's URL is a loopback server that
answers 503 and sets an event on its first probe: the first runner has rolled out and is
verifying when it is killed. The restarted runner must fail the job naming the phase,
put the previous image back on the service, and build nothing again.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.services.jobs import JobService
from chalicelib.store.releases import DynamoReleaseStore
from devtools.local_resources import REGION, LocalResources
from tests.functional.shipping.aws_user_stack import (
    OLD_TAG,
    PROJECT,
    health_server,
    make_user_stack,
    seed,
)
from tests.functional.terraform.harness import EXTERNAL_ID, ROLE_ARN
from tests.functional.terraform.jobs_harness import make_jobs_harness
from tests.support.runner_processes import RunnerProcesses
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def start_runner(local_resources: LocalResources, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    runners = RunnerProcesses(
        local_resources,
        tmp_path,
        {
            "AUTOSTACK_RELEASE_EXECUTOR": "aws",
            "AUTOSTACK_RELEASE_POLL_S": "0.2",
            "AUTOSTACK_RELEASE_HEALTH_TIMEOUT_S": "600",
        },
    )
    yield runners.start
    runners.kill_all()


def test_a_runner_killed_while_verifying_fails_the_release_and_puts_the_previous_back(
    local_resources: LocalResources, tmp_path: Path, start_runner: Callable[..., Any]
) -> None:
    base = make_jobs_harness(local_resources, tmp_path)
    jobs = JobService(
        dynamodb=base.client("dynamodb"),
        sqs=base.client("sqs"),
        table=local_resources.table,
        queue_url=local_resources.queue_url,
    )
    releases = DynamoReleaseStore(base.clients.dynamodb, local_resources.table)
    with health_server(503) as app:
        stack = make_user_stack(local_resources.endpoint_url, "ecs-fargate", app.url)
        seed(base, stack)
        old_image = stack.service_image()
        job = jobs.submit(
            project_id=PROJECT,
            kind="release",
            payload={
                "stack": "dep1",
                "bundle_id": "b1",
                "role_arn": ROLE_ARN,
                "external_id": EXTERNAL_ID,
                "region": REGION,
            },
            request_id="req-killed",
        )
        first = start_runner("runner-r")
        assert app.probed.wait(180), (tmp_path / "runner-r.log").read_text()[-3000:]
        # The first runner rolled out the new image and is verifying it.
        record = jobs.get(PROJECT, job.job_id)
        assert record is not None and record.phase == "verifying", record
        new_image = stack.service_image()
        assert new_image != old_image
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        probes = len(app.probes)

        second = start_runner("runner-r")  # the same machine restarted
        done = wait_for(
            lambda: (r := jobs.get(PROJECT, job.job_id)) is not None and r.is_terminal and r,
            120,
            "the job after the restart",
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0
        assert len(app.probes) == probes  # the restarted runner verified nothing further

    assert done.status == "failed", (done.status, done.error)
    assert done.error is not None
    assert "the runner stopped during verifying; the previous release is still serving" in (
        done.error.message
    )
    assert done.attempts == 2
    # Nothing half-switched: the service is back on the previous image, nothing rebuilt.
    assert stack.service_image() == old_image == f"{stack.repository_url}:{OLD_TAG}"
    assert len(stack.builds()) == 1
    statuses = {r["image_tag"]: r for r in releases.list_project(PROJECT)}
    assert statuses[OLD_TAG]["status"] == "live"
    (cut,) = [r for tag, r in statuses.items() if tag != OLD_TAG]
    assert (cut["status"], cut["failed_phase"]) == ("failed", "verifying")
