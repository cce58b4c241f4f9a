"""The local stage's apps do not outlive their runner.

Real processes throughout: runner processes (``python -m runner run``, the real worker
loop, ``AUTOSTACK_RELEASE_EXECUTOR=local``) against the emulator, the fixture Flask app
built in a fresh virtualenv and served by gunicorn on loopback.

1. A release goes live; the runner process is SIGKILLed: the app's port stops answering
   and no process of its group is left (the leader was spawned from the runner's
   long-lived spawner thread, under a guard shell that stops the group on PDEATHSIG;
   before, the signal fired when the *job thread* ended and stopped only ``sh -c``: the
   orphaned gunicorn served on, and outlived the runner).
2. What a signal cannot stop (a group that ignores SIGTERM, as a stuck app may) is killed
   by the next runner started on the same database, from the groups it recorded; a
   recorded pid that now names another process (another start time) is left alone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib import keys
from chalicelib.generate.plan import build_app_plans
from chalicelib.models.templates import TemplateRequest
from chalicelib.services.jobs import JobService
from chalicelib.store.bundles import DynamoBundleStore
from chalicelib.store.releases import DynamoReleaseStore
from devtools.local_resources import LocalResources
from runner.analysis.engine import analyze_directory
from runner.shipping.local import process_start_time
from tests.functional.shipping.aws_user_stack import FIXTURE, PROJECT, _zip, put_item
from tests.functional.terraform.jobs_harness import JobsHarness, make_jobs_harness
from tests.support.runner_processes import RunnerProcesses
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def start_runner(local_resources: LocalResources, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    runners = RunnerProcesses(
        local_resources,
        tmp_path,
        {"AUTOSTACK_RELEASE_EXECUTOR": "local", "AUTOSTACK_RELEASE_HEALTH_TIMEOUT_S": "120"},
    )
    yield runners.start
    runners.kill_all()


def _seed_local(jobs: JobsHarness) -> None:
    """Bundle b1 (the fixture Flask app's plan) generated from upload up1."""
    s3, bucket = jobs.clients.s3, jobs.settings.bucket
    plans = build_app_plans(
        analyze_directory(FIXTURE), TemplateRequest(analysis_id="an1", target="ec2")
    )
    document = {
        "record": {"id": "b1", "plans": [p.model_dump(mode="json") for p in plans], "target": "ec2"}
    }
    s3.put_object(Bucket=bucket, Key=keys.bundle_document_key(PROJECT, "b1"),
                  Body=json.dumps(document).encode())  # fmt: skip
    s3.put_object(Bucket=bucket, Key=keys.upload_key(PROJECT, "up1", "zip"), Body=_zip(FIXTURE))
    DynamoBundleStore(jobs.clients.dynamodb, jobs.settings.table).put(
        PROJECT, "b1", {"bundle_id": "b1", "analysis_id": "an1", "target": "ec2"}
    )
    put_item(jobs, {
        "pk": keys.project_pk(PROJECT), "sk": keys.job_sk("an1"), "job_id": "an1",
        "project_id": PROJECT, "kind": "analyze", "status": "succeeded",
        "created_at_epoch": time.time(),
        "payload": {"upload_id": "up1", "key": keys.upload_key(PROJECT, "up1", "zip")},
    })  # fmt: skip


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)
    except OSError:
        return False


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of the group, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def test_a_killed_runner_takes_its_live_app_down(
    local_resources: LocalResources, tmp_path: Path, start_runner: Callable[..., Any]
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    _seed_local(jobs)
    service = JobService(
        dynamodb=jobs.client("dynamodb"), sqs=jobs.client("sqs"),
        table=local_resources.table, queue_url=local_resources.queue_url,
    )  # fmt: skip
    job = service.submit(
        project_id=PROJECT, kind="release", payload={"stack": "dep1", "bundle_id": "b1"},
        request_id="req-local-kill",
    )  # fmt: skip
    runner = start_runner("runner-l")
    done = wait_for(
        lambda: (r := service.get(PROJECT, job.job_id)) is not None and r.is_terminal and r,
        400,
        "the release on the local runtime",
    )
    assert done.status == "succeeded", (tmp_path / "runner-l.log").read_text()[-3000:]
    (live,) = DynamoReleaseStore(jobs.clients.dynamodb, local_resources.table).list_project(PROJECT)
    url = str(live["url"])
    # The job thread has ended: the app still serves (it did not die with that thread).
    assert live["status"] == "live" and _answers(url)
    recorded = json.loads((tmp_path / "runner-l.db.apps.json").read_text())["groups"]
    serving = [g["pgid"] for g in recorded if _group_members(g["pgid"])]
    assert len(serving) == 1, recorded  # the web process group (the build steps are gone)
    (pgid,) = serving

    runner.send_signal(signal.SIGKILL)
    runner.wait(10)
    wait_for(lambda: not _answers(url), 30, "the app's port to stop answering")
    wait_for(lambda: _group_members(pgid) == [], 30, f"process group {pgid} to be gone")


def test_a_starting_runner_kills_the_app_groups_its_predecessor_left(
    local_resources: LocalResources, tmp_path: Path, start_runner: Callable[..., Any]
) -> None:
    stubborn_code = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
        "time.sleep(300)\n"
    )
    stubborn = subprocess.Popen([sys.executable, "-c", stubborn_code], start_new_session=True)
    other = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        wait_for(lambda: len(_group_members(stubborn.pid)) == 2, 10, "the stubborn app's child")
        start = process_start_time(stubborn.pid)
        other_start = process_start_time(other.pid)
        assert start is not None and other_start is not None
        # As a killed runner leaves it: its app's group, and an entry whose pid was reused
        # since (the same pid, another start time) - that process is not ours.
        (tmp_path / "runner-l.db.apps.json").write_text(
            json.dumps(
                {
                    "groups": [
                        {"pgid": stubborn.pid, "start": start},
                        {"pgid": other.pid, "start": other_start - 1},
                    ]
                }
            )
        )
        os.kill(stubborn.pid, signal.SIGTERM)  # ignored: a signal alone does not stop it
        runner = start_runner("runner-l")
        wait_for(lambda: stubborn.poll() is not None, 60, "the left app group to be killed")
        assert stubborn.returncode == -signal.SIGKILL
        wait_for(lambda: _group_members(stubborn.pid) == [], 10, "the app's child to be gone")
        assert other.poll() is None  # the reused pid's process lives on
        log_path = tmp_path / "runner-l.log"
        wait_for(lambda: "runner starting" in log_path.read_text(), 60, "the runner's loop")
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(30) == 0
        log = log_path.read_text()
        assert f"stopped 1 app process group(s) a previous runner left: [{stubborn.pid}]" in log
        assert json.loads((tmp_path / "runner-l.db.apps.json").read_text()) == {"groups": []}
    finally:
        for proc in (stubborn, other):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
