"""A CodeBuild build must never outlive the runner that started it unnoticed: its id is
handed out as soon as StartBuild answers (the release record keeps it), and a restarted
runner stops it. Fake clients here; the emulator tier: test_release_killed_while_building.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chalicelib.models.plan import AppPlan
from runner.shipping.aws_build import CodeBuildImages, stop_build
from runner.shipping.aws_target import AwsClients, AwsTarget, Waiter
from runner.shipping.executor import ReleaseSpec


class ClientError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}}


class CodeBuild:
    """StartBuild, BatchGetBuilds (a build that succeeds on its second poll), StopBuild."""

    def __init__(self, order: list[str], stop_answer: Any = None) -> None:
        self.order = order
        self.stop_answer = stop_answer
        self.polls = 0
        self.stopped: list[str] = []

    def start_build(self, **_: Any) -> dict[str, Any]:
        self.order.append("StartBuild")
        return {"build": {"id": "shop-web-build:7"}}

    def batch_get_builds(self, ids: list[str]) -> dict[str, Any]:
        self.order.append("BatchGetBuilds")
        self.polls += 1
        status = "SUCCEEDED" if self.polls > 1 else "IN_PROGRESS"
        return {"builds": [{"id": ids[0], "buildStatus": status, "phases": []}]}

    def stop_build(self, id: str) -> dict[str, Any]:  # boto3 names it id
        self.stopped.append(id)
        if isinstance(self.stop_answer, Exception):
            raise self.stop_answer
        return {"build": {"id": id, "buildStatus": "STOPPED"}}


class Quiet:
    """ECR without the image, S3 that takes the source, logs with nothing yet."""

    def describe_images(self, **_: Any) -> dict[str, Any]:
        raise ClientError("ImageNotFoundException")

    def put_object(self, **_: Any) -> dict[str, Any]:
        return {}


def _spec(tmp_path: Path, build_started: Callable[[str], None]) -> ReleaseSpec:
    source = tmp_path / "source"
    source.mkdir()
    (source / "app.py").write_text("print('hi')\n")
    plan = AppPlan.model_validate(
        {
            "name": "shop-web",
            "path": ".",
            "toolchain": {"language": "python", "version": "3.13", "image": "python:3.13"},
            "package_manager": "pip",
            "start": "gunicorn app:app",
            "port": 8000,
        }
    )
    return ReleaseSpec(
        project_id="p1", stack="prod", release_id="r2", image_tag="src-0123456789abcdef",
        plan=plan, source_dir=source, work_dir=tmp_path / "work",
        build_started=build_started,
    )  # fmt: skip


def test_the_build_id_is_handed_out_before_the_first_poll(tmp_path: Path) -> None:
    order: list[str] = []
    started: list[str] = []
    codebuild = CodeBuild(order)
    clients = AwsClients(s3=Quiet(), codebuild=codebuild, ecr=Quiet(), logs=None)
    target = AwsTarget(
        kind="ecs-fargate", app_url="http://shop.example", build_project="shop-web-build",
        build_source_bucket="shop-web-build-1", repository_url="1.dkr.ecr/shop-web",
    )  # fmt: skip
    now = [0.0]
    waiter = Waiter(clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))

    def spy(build_id: str) -> None:
        started.append(build_id)
        order.append("kept")

    CodeBuildImages(clients, target, waiter).ensure(_spec(tmp_path, spy), lambda line: None)
    assert started == ["shop-web-build:7"]
    # Kept before anything else can fail or be killed: right after StartBuild answered.
    assert order[:3] == ["StartBuild", "kept", "BatchGetBuilds"]
    assert codebuild.stopped == []


def test_stopping_a_left_build_says_so() -> None:
    codebuild = CodeBuild([])
    said = stop_build(codebuild, "shop-web-build:7")
    assert codebuild.stopped == ["shop-web-build:7"]
    assert said == (
        "stopped CodeBuild shop-web-build:7 (left running by the stopped runner): STOPPED"
    )


@pytest.mark.parametrize("code", ["InvalidInputException", "ResourceNotFoundException"])
def test_a_build_that_already_ended_is_not_an_error(code: str) -> None:
    codebuild = CodeBuild([], stop_answer=ClientError(code))
    assert stop_build(codebuild, "b:1") == "CodeBuild b:1 had already ended"


def test_another_stop_failure_is_raised() -> None:
    codebuild = CodeBuild([], stop_answer=ClientError("AccessDeniedException"))
    with pytest.raises(ClientError):
        stop_build(codebuild, "b:1")
