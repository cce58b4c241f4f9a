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
from runner.shipping.app_config import AppEnvironment
from runner.shipping.aws_build import CodeBuildImages, source_zip
from runner.shipping.aws_ec2 import Ec2Executor
from runner.shipping.aws_ecs import ContainerConfig, EcsExecutor, EcsRollout
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


SECRET = "sk_live_0123456789abcdef"
CONFIG = AppEnvironment(values={"LOG_LEVEL": "debug"}, secrets={"STRIPE_KEY": SECRET})
ACCOUNT = "eu-west-1:123456789012"
PREFIX_ARN = f"arn:aws:ssm:{ACCOUNT}:parameter/autostack/p1/prod"
BUNDLE_SECRET = {
    "name": "SECRET_KEY_BASE",
    "valueFrom": f"arn:aws:ssm:{ACCOUNT}:parameter/shop-web/SECRET_KEY_BASE",
}


class FakeEcs:
    """ECS's task definitions and services as the executor sees them (stateful)."""

    def __init__(self, exit_code: int = 0) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.exit_code = exit_code
        self.definitions: dict[str, dict[str, Any]] = {}
        self.services: dict[str, str] = {}
        self.rollout_state = "COMPLETED"
        self.task_polls = 0

    def add(self, family: str, image: str, **container: Any) -> str:
        arn = f"arn:aws:ecs:eu-west-1:123456789012:task-definition/{family}:1"
        self.definitions[arn] = {
            "family": family,
            "cpu": "256",
            "memory": "512",
            "networkMode": "awsvpc",
            "containerDefinitions": [{"name": family, "image": image, **container}],
        }
        return arn

    def named(self, method: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.calls if name == method]

    def describe_task_definition(self, taskDefinition: str) -> dict[str, Any]:
        return {"taskDefinition": {**self.definitions[taskDefinition],
                                   "taskDefinitionArn": taskDefinition}}  # fmt: skip

    def register_task_definition(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("register_task_definition", kwargs))
        family = kwargs["family"]
        revision = 1 + sum(1 for a in self.definitions if f"/{family}:" in a)
        arn = f"arn:aws:ecs:eu-west-1:123456789012:task-definition/{family}:{revision}"
        self.definitions[arn] = kwargs
        return {"taskDefinition": {"taskDefinitionArn": arn}}

    def list_services(self, cluster: str, **kwargs: Any) -> dict[str, Any]:
        names = sorted(self.services)
        arns = [f"arn:aws:ecs:eu-west-1:123456789012:service/{cluster}/{n}" for n in names]
        if "nextToken" in kwargs:  # two pages: the executor must follow nextToken
            return {"serviceArns": arns[1:]}
        return (
            {"serviceArns": arns[:1], "nextToken": "page-2"}
            if len(arns) > 1
            else {"serviceArns": arns}
        )

    def describe_services(self, cluster: str, services: list[str]) -> dict[str, Any]:
        return {
            "services": [
                {
                    "serviceName": name,
                    "status": "ACTIVE",
                    "taskDefinition": self.services[name],
                    "deployments": [
                        {
                            "status": "PRIMARY",
                            "taskDefinition": self.services[name],
                            "rolloutState": self.rollout_state,
                            "rolloutStateReason": "tasks failed to start",
                        }
                    ],
                }
                for name in services
                if name in self.services
            ]
        }

    def update_service(self, cluster: str, service: str, taskDefinition: str) -> dict[str, Any]:
        self.calls.append(
            ("update_service", {"service": service, "taskDefinition": taskDefinition})
        )
        self.services[service] = taskDefinition
        return {}

    def run_task(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("run_task", kwargs))
        return {"tasks": [{"taskArn": "arn:task/shop-web/abc"}], "failures": []}

    def describe_tasks(self, cluster: str, tasks: list[str]) -> dict[str, Any]:
        self.task_polls += 1
        if self.task_polls < 2:
            return {"tasks": [{"lastStatus": "RUNNING"}]}
        return {
            "tasks": [
                {
                    "lastStatus": "STOPPED",
                    "stoppedReason": "Essential container exited",
                    "containers": [{"exitCode": self.exit_code}],
                }
            ]
        }


def _shop_ecs(exit_code: int = 0) -> FakeEcs:
    """The bundle's services: the web app and a worker on the app's image, a monorepo
    companion on its own image; the release task definition."""
    ecs = FakeEcs(exit_code)
    bundle_env = [{"name": "PORT", "value": "8000"}, {"name": "LOG_LEVEL", "value": "info"}]
    bundle_secrets = [BUNDLE_SECRET]
    for family in ("app", "worker-jobs"):
        ecs.services[family] = ecs.add(
            family, f"{REPO}:old", environment=bundle_env, secrets=bundle_secrets
        )
    ecs.services["admin"] = ecs.add(
        "admin", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-admin:old"
    )
    ecs.add("shop-web-release", f"{REPO}:old", command=["/bin/sh", "-c", "rails db:migrate"],
            environment=bundle_env)  # fmt: skip
    return ecs


def _ecs_target() -> AwsTarget:
    return _target(
        release_task={
            "task_definition": f"arn:aws:ecs:{ACCOUNT}:task-definition/shop-web-release:1",
            "subnets": ["s-1"],
            "security_group": "sg-1",
        }
    )


def _container(ecs: FakeEcs, arn: str) -> dict[str, Any]:
    return dict(ecs.definitions[arn]["containerDefinitions"][0])


def test_ecs_release_task_gets_the_config_with_secrets_by_arn_and_no_secret_value(
    tmp_path: Path,
) -> None:
    ecs = _shop_ecs(exit_code=3)
    executor = EcsExecutor(_clients(ecs=ecs), _ecs_target(), _waiter(Clock()))
    spec = _spec(tmp_path, _plan(release=["rails db:migrate"]), config=CONFIG)
    config = ContainerConfig.of(CONFIG, lambda name: f"{PREFIX_ARN}/{name}")
    candidate = Candidate("r2", handle=EcsRollout(f"{REPO}:src-0123456789abcdef", config))
    with pytest.raises(PhaseFailedError) as failed:
        executor.run_release(spec, candidate, print)
    assert failed.value.phase == "releasing" and "exit code 3" in failed.value.message
    (registered,) = ecs.named("register_task_definition")
    container = registered["containerDefinitions"][0]
    assert container["image"] == f"{REPO}:src-0123456789abcdef"
    assert container["environment"] == [
        {"name": "PORT", "value": "8000"},
        {"name": "AUTOSTACK_CONFIG_NAMES", "value": "LOG_LEVEL,STRIPE_KEY"},
        {"name": "LOG_LEVEL", "value": "debug"},  # the user's value over the bundle's
    ]
    assert container["secrets"] == [{"name": "STRIPE_KEY", "valueFrom": f"{PREFIX_ARN}/STRIPE_KEY"}]
    assert SECRET not in repr(ecs.calls)  # no call of ours carries the value
    (run,) = ecs.named("run_task")
    assert run["overrides"]["containerOverrides"] == [
        {"name": "shop-web-release", "command": ["/bin/sh", "-c", "rails db:migrate"]}
    ]
    assert ecs.named("update_service") == []  # the previous version keeps serving
    executor.discard(spec, candidate, print)
    assert ecs.named("update_service") == []  # nothing to put back


def test_the_build_makes_the_config_with_the_stacks_parameter_arns(tmp_path: Path) -> None:
    clients = _clients(
        ecs=_shop_ecs(),
        ecr=Recorder(describe_images={"imageDetails": [{"imageTags": ["x"]}]}),  # no build
    )
    spec = _spec(tmp_path, config=CONFIG)
    candidate = EcsExecutor(clients, _ecs_target(), _waiter(Clock())).build(spec, print)
    assert candidate.handle.config == ContainerConfig(
        values={"LOG_LEVEL": "debug"},
        secret_arns={"STRIPE_KEY": f"arn:aws:ssm:{ACCOUNT}:parameter/autostack/p1/prod/STRIPE_KEY"},
        path_arn=f"arn:aws:ssm:{ACCOUNT}:parameter/autostack/p1/prod",
    )


def test_ecs_rolls_every_service_on_the_apps_image_and_discard_puts_all_back(
    tmp_path: Path,
) -> None:
    ecs = _shop_ecs()
    before = dict(ecs.services)
    executor = EcsExecutor(_clients(ecs=ecs), _ecs_target(), _waiter(Clock()))
    spec = _spec(tmp_path, config=CONFIG)
    config = ContainerConfig.of(CONFIG, lambda n: f"{PREFIX_ARN}/{n}")
    candidate = Candidate("r2", handle=EcsRollout(f"{REPO}:src-0123456789abcdef", config))
    lines: list[str] = []
    assert executor.roll_out(spec, candidate, lines.append) == "http://shop.example"
    updated = [u["service"] for u in ecs.named("update_service")]
    assert updated == ["app", "worker-jobs"]  # the web service first; not the companion
    assert ecs.services["admin"] == before["admin"]
    for service in ("app", "worker-jobs"):
        container = _container(ecs, ecs.services[service])
        assert container["image"] == f"{REPO}:src-0123456789abcdef"
        assert {"name": "STRIPE_KEY", "valueFrom": f"{PREFIX_ARN}/STRIPE_KEY"} in container[
            "secrets"
        ]
        assert BUNDLE_SECRET in container["secrets"]
    assert SECRET not in repr(ecs.calls) and SECRET not in "\n".join(lines)
    executor.discard(spec, candidate, print)
    assert ecs.services == before


def test_a_name_unset_since_the_last_release_leaves_the_task_definition(tmp_path: Path) -> None:
    ecs = _shop_ecs()
    executor = EcsExecutor(_clients(ecs=ecs), _ecs_target(), _waiter(Clock()))
    first = ContainerConfig.of(CONFIG, lambda n: f"{PREFIX_ARN}/{n}")
    executor.roll_out(
        _spec(tmp_path), Candidate("r1", handle=EcsRollout(f"{REPO}:a", first)), print
    )
    only_value = AppEnvironment(values={"FEATURE_X": "on"})
    second = ContainerConfig.of(only_value, lambda n: f"{PREFIX_ARN}/{n}")
    executor.roll_out(
        _spec(tmp_path), Candidate("r2", handle=EcsRollout(f"{REPO}:b", second)), print
    )
    container = _container(ecs, ecs.services["app"])
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env == {"PORT": "8000", "FEATURE_X": "on", "AUTOSTACK_CONFIG_NAMES": "FEATURE_X"}
    assert [s["name"] for s in container["secrets"]] == ["SECRET_KEY_BASE"]
    # A put-back (a release cut off) keeps the config the service runs with.
    executor.put_back("a", print)
    container = _container(ecs, ecs.services["app"])
    assert container["image"] == f"{REPO}:a"
    assert {e["name"]: e["value"] for e in container["environment"]} == env


def test_a_terraform_revision_naming_config_by_arn_gets_the_current_config(
    tmp_path: Path,
) -> None:
    # After an apply, Terraform's revision names every config parameter by ARN (values
    # too); one unset since then must not stay (ECS would fail to start the task).
    ecs = _shop_ecs()
    terraform_secrets = [
        BUNDLE_SECRET,
        {"name": "LOG_LEVEL", "valueFrom": f"{PREFIX_ARN}/LOG_LEVEL"},
        {"name": "OLD_FLAG", "valueFrom": f"{PREFIX_ARN}/OLD_FLAG"},
    ]
    ecs.services["app"] = ecs.add(
        "app", f"{REPO}:old", environment=[{"name": "PORT", "value": "8000"}],
        secrets=terraform_secrets,
    )  # fmt: skip
    executor = EcsExecutor(_clients(ecs=ecs), _ecs_target(), _waiter(Clock()))
    config = ContainerConfig.of(CONFIG, lambda name: f"{PREFIX_ARN}/{name}")
    candidate = Candidate("r2", handle=EcsRollout(f"{REPO}:b", config))
    executor.roll_out(_spec(tmp_path), candidate, print)
    container = _container(ecs, ecs.services["app"])
    assert container["secrets"] == [
        BUNDLE_SECRET,
        {"name": "STRIPE_KEY", "valueFrom": f"{PREFIX_ARN}/STRIPE_KEY"},
    ]
    assert {"name": "LOG_LEVEL", "value": "debug"} in container["environment"]


def test_an_ecs_roll_out_ecs_rolled_back_fails_verifying(tmp_path: Path) -> None:
    ecs = _shop_ecs()
    ecs.rollout_state = "FAILED"
    executor = EcsExecutor(_clients(ecs=ecs), _ecs_target(), _waiter(Clock()))
    candidate = Candidate("r2", handle=EcsRollout(f"{REPO}:t"))
    with pytest.raises(PhaseFailedError, match="tasks failed to start") as failed:
        executor.roll_out(_spec(tmp_path), candidate, print)
    assert failed.value.phase == "verifying"


# --------------------------------------------------------------------------- EC2


def test_ec2_swaps_through_ssm_and_a_failed_release_names_releasing(tmp_path: Path) -> None:
    failed_output = {
        "Status": "Failed",
        "StandardOutputContent": f"migrating with STRIPE_KEY={SECRET}",
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
    spec = _spec(
        tmp_path, _plan(release=["flask db upgrade"]), previous_image_tag="src-aaaa", config=CONFIG
    )
    candidate = Candidate("r2", handle={"image": f"{REPO}:src-0123456789abcdef"})
    lines: list[str] = []
    with pytest.raises(PhaseFailedError) as failed:
        executor.roll_out(spec, candidate, lines.append)
    assert failed.value.phase == "releasing"
    sent = ssm.named("send_command")[0]
    assert sent["Parameters"] == {"commands": ["/usr/local/bin/app-deploy src-0123456789abcdef"]}
    assert sent["InstanceIds"] == ["i-0abc"]
    # The command carries the tag only: the instance reads the config itself.
    assert SECRET not in repr(ssm.calls) and "debug" not in repr(ssm.calls)
    assert SECRET not in "\n".join(lines) + failed.value.log_tail
    assert "STRIPE_KEY=****" in "\n".join(lines)
    executor.discard(spec, candidate, print)
    assert ssm.named("send_command")[-1]["Parameters"] == {
        "commands": ["/usr/local/bin/app-deploy src-aaaa"]
    }


# --------------------------------------------------------------------------- Lambda


class FakeLambda(Recorder):
    """A function's $LATEST, its versions and the alias (stateful)."""

    def __init__(self, environment: dict[str, str], alias: str | None = "4") -> None:
        super().__init__()
        self.latest: dict[str, Any] = {"image": f"{REPO}:src-old", "env": dict(environment)}
        self.versions: dict[str, dict[str, Any]] = {"4": {**self.latest, "description": "src-old"}}
        self.alias = alias
        self.polls = 0

    def __getattr__(self, method: str) -> Any:
        handler = getattr(type(self), "_" + method, None)
        if handler is None:
            return super().__getattr__(method)

        def call(**kwargs: Any) -> Any:
            self.calls.append((method, kwargs))
            return handler(self, **kwargs)

        return call

    def _get_function(self, FunctionName: str) -> dict[str, Any]:
        return {"Code": {"ImageUri": self.latest["image"]}}

    def _get_function_configuration(self, FunctionName: str) -> dict[str, Any]:
        self.polls += 1
        status = "InProgress" if self.polls % 3 == 0 else "Successful"
        return {"LastUpdateStatus": status, "Environment": {"Variables": dict(self.latest["env"])}}

    def _update_function_code(self, FunctionName: str, ImageUri: str) -> dict[str, Any]:
        self.latest["image"] = ImageUri
        return {}

    def _update_function_configuration(
        self, FunctionName: str, Environment: dict[str, Any]
    ) -> dict[str, Any]:
        self.latest["env"] = dict(Environment["Variables"])
        return {}

    def _publish_version(self, FunctionName: str, Description: str) -> dict[str, Any]:
        number = str(max(int(v) for v in self.versions) + 1)
        self.versions[number] = {
            **self.latest,
            "env": dict(self.latest["env"]),
            "description": Description,
        }
        return {"Version": number}

    def _get_alias(self, FunctionName: str, Name: str) -> dict[str, Any]:
        if self.alias is None:
            raise ClientError("ResourceNotFoundException")
        return {"FunctionVersion": self.alias}

    def _update_alias(self, FunctionName: str, Name: str, FunctionVersion: str) -> dict[str, Any]:
        self.alias = FunctionVersion
        return {}

    def _create_alias(self, FunctionName: str, Name: str, FunctionVersion: str) -> dict[str, Any]:
        self.alias = FunctionVersion
        return {}

    def _delete_function(self, FunctionName: str, Qualifier: str) -> dict[str, Any]:
        del self.versions[Qualifier]
        return {}

    def _list_versions_by_function(self, FunctionName: str, **kwargs: Any) -> dict[str, Any]:
        return {"Versions": [{"Version": "$LATEST"}] + [
            {"Version": n, "Description": v["description"]} for n, v in self.versions.items()
        ]}  # fmt: skip


TERRAFORM_ENV = {"PORT": "8000", "LOG_LEVEL": "info", "AWS_LWA_PORT": "8000"}


def test_lambda_publishes_a_version_with_the_config_behind_the_alias_and_discard_restores(
    tmp_path: Path,
) -> None:
    lam = FakeLambda(TERRAFORM_ENV)
    executor = LambdaExecutor(_clients(lambda_=lam), _target("lambda"), _waiter(Clock()))
    spec = _spec(tmp_path, config=CONFIG)
    candidate = Candidate("r2", handle=LambdaRollout(f"{REPO}:src-0123456789abcdef", CONFIG))
    executor.roll_out(spec, candidate, print)
    assert lam.alias == "5"
    served = lam.versions["5"]
    assert served["image"] == f"{REPO}:src-0123456789abcdef"
    assert served["env"] == {
        **TERRAFORM_ENV,
        "LOG_LEVEL": "debug",
        "STRIPE_KEY": SECRET,
        "AUTOSTACK_CONFIG_NAMES": "LOG_LEVEL,STRIPE_KEY",
    }
    # $LATEST is left as Terraform wrote it: the next apply sees no drift.
    assert lam.latest["env"] == TERRAFORM_ENV
    executor.discard(spec, candidate, print)
    assert lam.alias == "4" and "5" not in lam.versions  # the newest version serves again
    assert lam.latest["image"] == f"{REPO}:src-old"


def test_lambda_put_back_points_the_alias_at_the_tags_own_version(tmp_path: Path) -> None:
    lam = FakeLambda(TERRAFORM_ENV)
    executor = LambdaExecutor(_clients(lambda_=lam), _target("lambda"), _waiter(Clock()))
    executor.roll_out(
        _spec(tmp_path, config=CONFIG),
        Candidate("r2", handle=LambdaRollout(f"{REPO}:src-new", CONFIG)),
        print,
    )
    executor.put_back("src-old", print)
    assert lam.alias == "4" and lam.named("publish_version") == [
        {"FunctionName": "shop-web", "Description": "src-0123456789abcdef"}
    ]


def test_a_config_too_big_for_lambda_fails_before_the_build(tmp_path: Path) -> None:
    lam = FakeLambda(TERRAFORM_ENV)
    clients = _clients(lambda_=lam)
    big = AppEnvironment(values={f"V{i}": "x" * 1000 for i in range(5)})
    with pytest.raises(PhaseFailedError, match="Lambda allows 4096 bytes") as failed:
        LambdaExecutor(clients, _target("lambda"), _waiter(Clock())).build(
            _spec(tmp_path, config=big), print
        )
    assert failed.value.phase == "building"
    assert clients.codebuild.calls == [] and clients.s3.calls == []


def test_a_failed_lambda_release_fails_releasing_with_its_masked_log(tmp_path: Path) -> None:
    lam = FakeLambda(TERRAFORM_ENV)
    lam.answers["invoke"] = {
        "FunctionError": "Unhandled",
        "LogResult": base64.b64encode(f"key {SECRET}\nmigration 0002 failed\n".encode()).decode(),
    }
    target = _target("lambda", release_function_name="shop-web-release")
    executor = LambdaExecutor(_clients(lambda_=lam), target, _waiter(Clock()))
    candidate = Candidate("r2", handle=LambdaRollout(f"{REPO}:t", CONFIG))
    spec = _spec(tmp_path, _plan(release=["migrate"]), config=CONFIG)
    with pytest.raises(PhaseFailedError) as failed:
        executor.run_release(spec, candidate, print)
    assert failed.value.phase == "releasing"
    assert "migration 0002 failed" in failed.value.last_lines()
    assert SECRET not in failed.value.log_tail and "key ****" in failed.value.log_tail
    assert lam.named("update_function_code")[0]["FunctionName"] == "shop-web-release"
    (configured,) = lam.named("update_function_configuration")
    assert configured["FunctionName"] == "shop-web-release"
    assert configured["Environment"]["Variables"]["STRIPE_KEY"] == SECRET


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


def test_the_ecs_bundle_leaves_out_the_apis_reserved_names() -> None:
    import re

    from chalicelib.generate import generate_bundle
    from chalicelib.models.app_config import RESERVED_NAMES, RESERVED_PREFIXES
    from chalicelib.models.templates import TemplateRequest
    from tests.golden.stack_profiles import PROFILES

    bundle = generate_bundle(
        PROFILES["rails_worker"](), TemplateRequest(analysis_id="a", target="ecs-fargate")
    )
    ecs = bundle.files["infra/ecs.tf"]
    listed = re.search(r"reserved_config_names = \[(.*)\]", ecs)
    assert listed is not None
    assert set(re.findall(r'"([^"]+)"', listed.group(1))) == set(RESERVED_NAMES)
    prefixes = re.search(r'regex\("\^\(([A-Z|]+)\)_"', ecs)
    assert prefixes is not None
    assert {p + "_" for p in prefixes.group(1).split("|")} == set(RESERVED_PREFIXES)
