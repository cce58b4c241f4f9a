"""The AWS executors' decisions, with fake clients passed in (the emulator tier drives the
same code against moto: tests/functional/shipping/test_aws_release_emulator.py)."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from chalicelib.models.plan import AppPlan
from runner.shipping.aws_build import CodeBuildImages, source_zip
from runner.shipping.aws_ec2 import Ec2Executor
from runner.shipping.aws_ecs import EcsExecutor, EcsRollout
from runner.shipping.aws_lambda import LambdaExecutor, LambdaRollout
from runner.shipping.aws_target import AwsClients, AwsTarget, AwsTargetError, Waiter
from runner.shipping.executor import (
    Candidate,
    PhaseCancelledError,
    PhaseFailedError,
    ReleaseSpec,
)
from runner.shipping.settings import ShippingSettings, ShippingSettingsError

REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web"


class ClientError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Recorder:
    """Records every call; answers from ``answers[method]`` (a value or a list to pop)."""

    def __init__(self, **answers: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers = answers

    def __getattr__(self, method: str) -> Any:
        if method.startswith("__"):
            raise AttributeError(method)

        def call(**kwargs: Any) -> Any:
            self.calls.append((method, kwargs))
            answer = self.answers.get(method, {})
            if isinstance(answer, list):
                answer = answer.pop(0) if len(answer) > 1 else answer[0]
            if isinstance(answer, Exception):
                raise answer
            return answer(**kwargs) if callable(answer) else answer

        return call

    def named(self, method: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.calls if name == method]


def _plan(**extra: Any) -> AppPlan:
    raw: dict[str, Any] = {
        "name": "shop-web",
        "path": ".",
        "toolchain": {"language": "python", "version": "3.13", "image": "python:3.13"},
        "package_manager": "pip",
        "start": "gunicorn app:app",
        "port": 8000,
    }
    return AppPlan.model_validate({**raw, **extra})


def _spec(tmp_path: Path, plan: AppPlan | None = None, **extra: Any) -> ReleaseSpec:
    source = tmp_path / "source"
    source.mkdir(exist_ok=True)
    (source / "app.py").write_text("print('hi')\n")
    values: dict[str, Any] = {
        "project_id": "p1",
        "stack": "prod",
        "release_id": "r2",
        "image_tag": "src-0123456789abcdef",
        "plan": plan or _plan(),
        "source_dir": source,
        "work_dir": tmp_path / "work",
        "build_files": {"Dockerfile": "FROM python:3.12-slim\n"},
    }
    return ReleaseSpec(**{**values, **extra})


def _target(kind: str = "ecs-fargate", **extra: Any) -> AwsTarget:
    values: dict[str, Any] = {
        "kind": kind,
        "app_url": "http://shop.example",
        "build_project": "shop-web-build",
        "build_source_bucket": "shop-web-build-1",
        "repository_url": REPO,
        "ecs_cluster": "shop-web",
        "ecs_service": "app",
        "instance_id": "i-0abc",
        "function_name": "shop-web",
        "log_group": "/autostack/shop-web",
        "release_task": {
            "task_definition": "arn:td/shop-web-release:1",
            "subnets": ["s-1"],
            "security_group": "sg-1",
        },
    }
    return AwsTarget(**{**values, **extra})


def _builds(*statuses: str, logs: bool = True) -> list[dict[str, Any]]:
    out = []
    for status in statuses:
        build: dict[str, Any] = {
            "id": "shop-web-build:1",
            "buildStatus": status,
            "currentPhase": "BUILD" if status == "IN_PROGRESS" else "COMPLETED",
            "phases": [
                {
                    "phaseType": "BUILD",
                    "phaseStatus": "FAILED" if status == "FAILED" else "SUCCEEDED",
                    "contexts": [{"message": "COMMAND_EXECUTION_ERROR"}],
                }
            ],
        }
        if logs:
            build["logs"] = {"groupName": "/aws/codebuild/shop-web", "streamName": "1"}
        out.append({"builds": [build]})
    return out


def _clients(**services: Recorder) -> AwsClients:
    base = {
        "s3": Recorder(),
        "codebuild": Recorder(start_build={"build": {"id": "shop-web-build:1"}}),
        "ecr": Recorder(describe_images=ClientError("ImageNotFoundException")),
        "logs": Recorder(get_log_events={"events": [], "nextForwardToken": "t0"}),
        "ecs": Recorder(),
        "ssm": Recorder(),
        "lambda_": Recorder(),
    }
    return AwsClients(**{**base, **services})


def _waiter(clock: Clock, timeout_s: float = 600) -> Waiter:
    return Waiter(clock=clock, sleep=clock.sleep, timeout_s=timeout_s, interval_s=5)


# --------------------------------------------------------------------------- build


def test_a_source_already_in_ecr_is_not_built_again(tmp_path: Path) -> None:
    clients = _clients(ecr=Recorder(describe_images={"imageDetails": [{"imageTags": ["x"]}]}))
    lines: list[str] = []
    uri = CodeBuildImages(clients, _target(), _waiter(Clock())).ensure(
        _spec(tmp_path), lines.append
    )
    assert uri == f"{REPO}:src-0123456789abcdef"
    assert clients.codebuild.calls == [] and clients.s3.calls == []
    assert "already in ECR" in lines[0]


def test_the_build_uploads_the_source_with_the_dockerfile_and_follows_codebuild(
    tmp_path: Path,
) -> None:
    events = [
        {"events": [{"message": "Step 1/4 : FROM python\n"}], "nextForwardToken": "t1"},
        {"events": [], "nextForwardToken": "t1"},
    ]
    clients = _clients(
        codebuild=Recorder(
            start_build={"build": {"id": "shop-web-build:1"}},
            batch_get_builds=_builds("IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"),
        ),
        logs=Recorder(get_log_events=events),
    )
    clock, lines = Clock(), []
    CodeBuildImages(clients, _target(), _waiter(clock)).ensure(_spec(tmp_path), lines.append)
    (put,) = clients.s3.named("put_object")
    assert (put["Bucket"], put["Key"]) == ("shop-web-build-1", "sources/src-0123456789abcdef.zip")
    names = zipfile.ZipFile(io.BytesIO(put["Body"])).namelist()
    assert sorted(names) == ["Dockerfile", "app.py"]
    (start,) = clients.codebuild.named("start_build")
    assert start["projectName"] == "shop-web-build"
    assert start["sourceLocationOverride"] == "shop-web-build-1/sources/src-0123456789abcdef.zip"
    assert start["environmentVariablesOverride"] == [
        {"name": "IMAGE_TAG", "value": "src-0123456789abcdef", "type": "PLAINTEXT"}
    ]
    assert clock.sleeps == [5, 5]  # polled until SUCCEEDED, with the passed-in sleep
    assert "  Step 1/4 : FROM python" in lines and "build phase: BUILD" in lines


def test_a_failed_build_fails_building_with_its_last_lines(tmp_path: Path) -> None:
    events = [
        {
            "events": [{"message": f"line {i}"} for i in range(60)]
            + [{"message": "ERROR: pip install failed"}],
            "nextForwardToken": "t1",
        }
    ]
    clients = _clients(
        codebuild=Recorder(
            start_build={"build": {"id": "b:1"}}, batch_get_builds=_builds("FAILED")
        ),
        logs=Recorder(get_log_events=events),
    )
    with pytest.raises(PhaseFailedError) as failed:
        CodeBuildImages(clients, _target(), _waiter(Clock())).ensure(_spec(tmp_path), print)
    assert failed.value.phase == "building"
    assert "ended FAILED in its BUILD phase: COMMAND_EXECUTION_ERROR" in failed.value.message
    tail = failed.value.last_lines()
    assert tail.endswith("ERROR: pip install failed") and "line 0\n" not in tail


def test_a_cancel_during_the_build_stops_it(tmp_path: Path) -> None:
    clients = _clients(
        codebuild=Recorder(
            start_build={"build": {"id": "b:1"}}, batch_get_builds=_builds("IN_PROGRESS")
        )
    )
    polls = {"n": 0}

    def cancelled() -> bool:
        polls["n"] += 1
        return polls["n"] > 2

    with pytest.raises(PhaseCancelledError):
        CodeBuildImages(clients, _target(), _waiter(Clock())).ensure(
            _spec(tmp_path, cancelled=cancelled), print
        )
    assert clients.codebuild.named("stop_build") == [{"id": "b:1"}]


def test_a_build_over_its_time_is_stopped_and_fails(tmp_path: Path) -> None:
    clients = _clients(
        codebuild=Recorder(
            start_build={"build": {"id": "b:1"}}, batch_get_builds=_builds("IN_PROGRESS")
        )
    )
    clock = Clock()
    with pytest.raises(PhaseFailedError, match="did not finish within 60 s"):
        CodeBuildImages(clients, _target(), _waiter(clock, timeout_s=60)).ensure(
            _spec(tmp_path), print
        )
    assert clients.codebuild.named("stop_build") == [{"id": "b:1"}]
    assert clock.now - 1000 <= 65


def test_the_source_zip_leaves_links_out_and_is_the_same_for_the_same_source(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "secret").symlink_to("/etc/passwd")
    (tmp_path / "Dockerfile").write_text("FROM the-users-own")
    first = source_zip(tmp_path, {"Dockerfile": "FROM generated"})
    assert first == source_zip(tmp_path, {"Dockerfile": "FROM generated"})
    archive = zipfile.ZipFile(io.BytesIO(first))
    assert sorted(archive.namelist()) == ["Dockerfile", "a.txt"]
    assert archive.read("Dockerfile") == b"FROM generated"


# --------------------------------------------------------------------------- ECS


def _task_definition(family: str, command: list[str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": family, "image": f"{REPO}:old", "essential": True}
    if command:
        container["command"] = command
    return {
        "taskDefinition": {
            "family": family,
            "cpu": "256",
            "memory": "512",
            "networkMode": "awsvpc",
            "containerDefinitions": [container],
        }
    }


def _ecs(exit_code: int | None) -> Recorder:
    registered: dict[str, Any] = {}

    def register(**kwargs: Any) -> dict[str, Any]:
        arn = f"arn:td/{kwargs['family']}:{len(registered) + 2}"
        registered[arn] = kwargs
        return {"taskDefinition": {"taskDefinitionArn": arn}}

    def describe(taskDefinition: str) -> dict[str, Any]:
        if taskDefinition in registered:
            return {"taskDefinition": registered[taskDefinition]}
        family = "release" if "release" in taskDefinition else "app"
        return _task_definition(
            family, ["/bin/sh", "-c", "flask db upgrade"] if family == "release" else None
        )

    stopped = {
        "lastStatus": "STOPPED",
        "stoppedReason": "Essential container exited",
        "containers": [{"exitCode": exit_code}],
    }
    return Recorder(
        register_task_definition=register,
        describe_task_definition=describe,
        run_task={"tasks": [{"taskArn": "arn:task/shop-web/abc"}], "failures": []},
        describe_tasks=[{"tasks": [{"lastStatus": "RUNNING"}]}, {"tasks": [stopped]}],
        describe_services={
            "services": [
                {
                    "taskDefinition": "arn:td/app:1",
                    "deployments": [{"status": "PRIMARY", "rolloutState": "COMPLETED"}],
                }
            ]
        },
    )


def test_ecs_release_runs_the_new_image_once_and_a_failure_leaves_the_service_alone(
    tmp_path: Path,
) -> None:
    ecs = _ecs(exit_code=3)
    executor = EcsExecutor(_clients(ecs=ecs), _target(), _waiter(Clock()))
    spec = _spec(tmp_path, _plan(release=["flask db upgrade"]))
    candidate = Candidate("r2", handle=EcsRollout(f"{REPO}:src-0123456789abcdef"))
    with pytest.raises(PhaseFailedError) as failed:
        executor.run_release(spec, candidate, print)
    assert failed.value.phase == "releasing" and "exit code 3" in failed.value.message
    (registered,) = ecs.named("register_task_definition")
    assert registered["containerDefinitions"][0]["image"] == f"{REPO}:src-0123456789abcdef"
    (run,) = ecs.named("run_task")
    assert run["overrides"]["containerOverrides"] == [
        {"name": "release", "command": ["/bin/sh", "-c", "flask db upgrade"]}
    ]
    assert run["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == ["s-1"]
    assert ecs.named("update_service") == []  # the previous version keeps serving
    executor.discard(spec, candidate, print)
    assert ecs.named("update_service") == []  # nothing to put back


def test_ecs_roll_out_updates_the_service_and_discard_puts_the_previous_back(
    tmp_path: Path,
) -> None:
    ecs = _ecs(exit_code=0)
    executor = EcsExecutor(_clients(ecs=ecs), _target(), _waiter(Clock()))
    spec = _spec(tmp_path)
    candidate = Candidate("r2", handle=EcsRollout(f"{REPO}:src-0123456789abcdef"))
    assert executor.roll_out(spec, candidate, print) == "http://shop.example"
    (update,) = ecs.named("update_service")
    assert update == {"cluster": "shop-web", "service": "app", "taskDefinition": "arn:td/app:2"}
    executor.discard(spec, candidate, print)
    assert ecs.named("update_service")[-1]["taskDefinition"] == "arn:td/app:1"


def test_an_ecs_roll_out_ecs_rolled_back_fails_verifying(tmp_path: Path) -> None:
    ecs = _ecs(exit_code=0)
    ecs.answers["describe_services"] = [
        {"services": [{"taskDefinition": "arn:td/app:1", "deployments": []}]},
        {
            "services": [
                {
                    "deployments": [
                        {
                            "status": "PRIMARY",
                            "rolloutState": "FAILED",
                            "rolloutStateReason": "tasks failed to start",
                        }
                    ]
                }
            ]
        },
    ]
    executor = EcsExecutor(_clients(ecs=ecs), _target(), _waiter(Clock()))
    candidate = Candidate("r2", handle=EcsRollout(f"{REPO}:t"))
    with pytest.raises(PhaseFailedError, match="tasks failed to start") as failed:
        executor.roll_out(_spec(tmp_path), candidate, print)
    assert failed.value.phase == "verifying"


# --------------------------------------------------------------------------- EC2


def test_ec2_swaps_through_ssm_and_a_failed_release_names_releasing(tmp_path: Path) -> None:
    failed_output = {
        "Status": "Failed",
        "StandardErrorContent": "CalledProcessError: Command '['docker', 'run', '--rm', "
        "'--name', 'release', ...]' returned non-zero exit status 1.",
    }
    ssm = Recorder(
        send_command={"Command": {"CommandId": "c-1"}},
        get_command_invocation=[
            ClientError("InvocationDoesNotExist"),  # not registered yet: asked again
            {"Status": "InProgress"},
            failed_output,
            {"Status": "Success"},
        ],
    )
    executor = Ec2Executor(_clients(ssm=ssm), _target("ec2"), _waiter(Clock()))
    spec = _spec(tmp_path, _plan(release=["flask db upgrade"]), previous_image_tag="src-aaaa")
    candidate = Candidate("r2", handle={"image": f"{REPO}:src-0123456789abcdef"})
    with pytest.raises(PhaseFailedError) as failed:
        executor.roll_out(spec, candidate, print)
    assert failed.value.phase == "releasing"
    sent = ssm.named("send_command")[0]
    assert sent["Parameters"] == {"commands": ["/usr/local/bin/app-deploy src-0123456789abcdef"]}
    assert sent["InstanceIds"] == ["i-0abc"]
    executor.discard(spec, candidate, print)
    assert ssm.named("send_command")[-1]["Parameters"] == {
        "commands": ["/usr/local/bin/app-deploy src-aaaa"]
    }


# --------------------------------------------------------------------------- Lambda


def test_lambda_rolls_out_a_version_behind_the_alias_and_discard_restores_both(
    tmp_path: Path,
) -> None:
    lam = Recorder(
        get_function={"Code": {"ImageUri": f"{REPO}:src-old"}},
        get_alias={"FunctionVersion": "4"},
        get_function_configuration=[
            {"LastUpdateStatus": "InProgress"},
            {"LastUpdateStatus": "Successful"},
        ],
        publish_version={"Version": "5"},
    )
    executor = LambdaExecutor(_clients(lambda_=lam), _target("lambda"), _waiter(Clock()))
    spec = _spec(tmp_path)
    candidate = Candidate("r2", handle=LambdaRollout(f"{REPO}:src-0123456789abcdef"))
    executor.roll_out(spec, candidate, print)
    assert lam.named("update_function_code") == [
        {"FunctionName": "shop-web", "ImageUri": f"{REPO}:src-0123456789abcdef"}
    ]
    assert lam.named("update_alias") == [
        {"FunctionName": "shop-web", "Name": "live", "FunctionVersion": "5"}
    ]
    executor.discard(spec, candidate, print)
    assert lam.named("update_function_code")[-1]["ImageUri"] == f"{REPO}:src-old"
    assert lam.named("update_alias")[-1]["FunctionVersion"] == "4"


def test_a_failed_lambda_release_fails_releasing_with_its_log() -> None:

    from runner.shipping.aws_lambda import LambdaRollout

    lam = Recorder(
        get_function_configuration={"LastUpdateStatus": "Successful"},
        invoke={
            "FunctionError": "Unhandled",
            "LogResult": base64.b64encode(b"migration 0002 failed\n").decode(),
        },
    )
    target = _target("lambda", release_function_name="shop-web-release")
    executor = LambdaExecutor(_clients(lambda_=lam), target, _waiter(Clock()))
    candidate = Candidate("r2", handle=LambdaRollout(f"{REPO}:t"))
    with pytest.raises(PhaseFailedError) as failed:
        executor.run_release(_fake_spec(), candidate, print)
    assert failed.value.phase == "releasing"
    assert "migration 0002 failed" in failed.value.last_lines()
    assert lam.named("update_function_code")[0]["FunctionName"] == "shop-web-release"


def _fake_spec() -> ReleaseSpec:
    return ReleaseSpec("p1", "prod", "r2", "t", _plan(release=["migrate"]), Path("/x"), Path("/y"))


# --------------------------------------------------------------------------- facts, settings


def test_outputs_without_the_build_name_the_missing_output() -> None:
    outputs = {"app_url": {"value": "http://x"}, "ecr_repository_url": {"value": REPO}}
    with pytest.raises(AwsTargetError, match=r"outputs\.build_project"):
        AwsTarget.from_outputs("ecs-fargate", outputs)
    with pytest.raises(AwsTargetError, match="'kubernetes' has no AWS executor"):
        AwsTarget.from_outputs("kubernetes", outputs)
    full = {**outputs, "build_project": "b", "build_source_bucket": "s", "instance_id": "i-1"}
    target = AwsTarget.from_outputs("ec2", full)
    assert (target.repository_name, target.instance_id) == ("shop-web", "i-1")
    assert AwsTarget.from_outputs("ec2", target.as_outputs()) == target


def test_the_aws_executor_setting_and_its_waits() -> None:
    settings = ShippingSettings.from_environ(
        {"AUTOSTACK_RELEASE_EXECUTOR": "aws", "AUTOSTACK_RELEASE_WAIT_TIMEOUT_S": "900"}
    )
    assert (settings.executor, settings.wait_timeout_s, settings.poll_interval_s) == ("aws", 900, 5)
    with pytest.raises(ShippingSettingsError, match="AUTOSTACK_RELEASE_POLL_S"):
        ShippingSettings.from_environ({"AUTOSTACK_RELEASE_POLL_S": "0"})


def test_the_generated_buildspec_is_yaml_with_the_plans_docker_build() -> None:
    from chalicelib.generate import generate_bundle
    from chalicelib.models.templates import TemplateRequest
    from tests.golden.stack_profiles import PROFILES

    bundle = generate_bundle(
        PROFILES["monorepo"](), TemplateRequest(analysis_id="a", target="ecs-fargate")
    )
    spec = yaml.safe_load(bundle.files["infra/buildspec.yml"])
    build = spec["phases"]["build"]["commands"]
    assert build[0].startswith(
        'docker build --platform linux/amd64 -t "$REPOSITORY_URL:$IMAGE_TAG" '
    )
    assert build[1] == 'docker push "$REPOSITORY_URL:$IMAGE_TAG"'
    assert 'resource "aws_codebuild_project" "app"' in bundle.files["infra/codebuild.tf"]


def test_an_arm_instance_gets_an_arm_build() -> None:
    from chalicelib.generate import generate_bundle
    from chalicelib.models.templates import TemplateOptions, TemplateRequest
    from tests.golden.stack_profiles import PROFILES

    request = TemplateRequest(
        analysis_id="a", target="ec2", options=TemplateOptions(instance_type="t4g.small")
    )
    bundle = generate_bundle(PROFILES["flask_postgres"](), request)
    codebuild = bundle.files["infra/codebuild.tf"]
    assert '"ARM_CONTAINER"' in codebuild and "aarch64" in codebuild
    assert "--platform linux/arm64" in bundle.files["infra/buildspec.yml"]
