"""ECS Fargate: the release as a one-off task, the roll-out as a service update.

- build: ``aws_build.CodeBuildImages`` (CodeBuild in the user's account).
- config: every revision registered here carries the user's config the way ECS expects
  it: plain values in the container's ``environment``, secrets in its ``secrets`` as the
  ARN of their SSM parameter under ``/autostack/<project>/<stack>/`` (``valueFrom``),
  which ECS resolves with the task execution role when the task starts. No secret value
  is in a task definition, a call of ours or a log line.
- release: a new revision of the bundle's release task definition with the new image,
  ``RunTask`` (its command given explicitly as an override), waited for ``STOPPED``; a
  non-zero exit code fails ``releasing`` with the task's last log lines. The services are
  not touched: the previous version keeps serving.
- roll out: every service of the bundle's cluster whose task runs the app's image (the
  web service and the app's workers; a monorepo companion runs its own image, which this
  build does not make) gets a new revision with the new image, ``UpdateService``, and is
  waited for until its new deployment is ``COMPLETED`` (ECS's circuit breaker rolls a
  failed one back by itself). ``discard`` puts every service back on its previous task
  definition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.models.app_config import parameter_prefix
from runner.shipping.app_config import AppEnvironment
from runner.shipping.aws_build import CodeBuildImages, LogStream
from runner.shipping.aws_target import (
    CONFIG_NAMES_VAR,
    AwsClients,
    AwsTarget,
    AwsTargetError,
    Waiter,
    config_names,
    marker_of,
)
from runner.shipping.executor import Candidate, LogLine, PhaseFailedError, ReleaseSpec

# What RegisterTaskDefinition accepts back from DescribeTaskDefinition.
_REGISTER_KEYS = (
    "family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions",
    "volumes", "placementConstraints", "requiresCompatibilities", "cpu", "memory",
    "runtimePlatform", "ephemeralStorage", "pidMode", "ipcMode", "proxyConfiguration",
)  # fmt: skip
_DESCRIBE_BATCH = 10  # DescribeServices' limit


@dataclass(frozen=True)
class ContainerConfig:
    """The user's config as one container receives it: values, and secrets by ARN."""

    values: dict[str, str] = field(default_factory=dict)
    secret_arns: dict[str, str] = field(default_factory=dict)
    path_arn: str = ""
    """The ARN of the config path: any ``valueFrom`` under it is the config's (Terraform's
    revisions name every config parameter that way)."""

    @classmethod
    def of(cls, config: AppEnvironment, secret_arn: Callable[[str], str]) -> ContainerConfig:
        return cls(
            values=dict(config.values),
            secret_arns={name: secret_arn(name) for name in config.secrets},
            path_arn=secret_arn("").rstrip("/"),
        )

    def apply(self, container: dict[str, Any]) -> dict[str, Any]:
        """``container`` with this config in place of the config an earlier release put in
        (names since unset go; the bundle's own variables of the same name give way)."""
        environment = {
            str(e["name"]): str(e.get("value", "")) for e in container.get("environment") or []
        }
        mine = config_names(environment) | set(self.values) | set(self.secret_arns)
        kept_env = [
            e for e in container.get("environment") or []
            if e["name"] not in mine and e["name"] != CONFIG_NAMES_VAR
        ]  # fmt: skip
        under_path = self.path_arn + "/" if self.path_arn else None
        kept_secrets = [
            s for s in container.get("secrets") or []
            if s["name"] not in mine
            and not (under_path and str(s.get("valueFrom", "")).startswith(under_path))
        ]  # fmt: skip
        marker = marker_of(AppEnvironment(self.values, dict.fromkeys(self.secret_arns, "")))
        added_env = [
            {"name": name, "value": value}
            for name, value in sorted({**self.values, **marker}.items())
        ]
        added_secrets = [
            {"name": name, "valueFrom": arn} for name, arn in sorted(self.secret_arns.items())
        ]
        updated = {**container, "environment": kept_env + added_env}
        if kept_secrets or added_secrets:
            updated["secrets"] = kept_secrets + added_secrets
        else:
            updated.pop("secrets", None)
        return updated


@dataclass
class EcsRollout:
    image: str
    config: ContainerConfig | None = None
    """None: keep the config the current revisions carry (a put-back)."""
    previous: dict[str, str] = field(default_factory=dict)
    """Service name -> the task definition it ran before the roll-out."""
    new: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _ours(container: dict[str, Any], repository_url: str) -> bool:
    return str(container.get("image", "")).split(":", 1)[0] == repository_url


def register_with_image(
    ecs: Any,
    task_definition: str,
    repository_url: str,
    image: str,
    config: ContainerConfig | None = None,
) -> str:
    """A new revision of ``task_definition`` whose containers from the stack's repository
    run ``image`` (with ``config``, when given); its ARN."""
    current = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    args = {k: current[k] for k in _REGISTER_KEYS if current.get(k)}
    containers = []
    for container in current["containerDefinitions"]:
        if _ours(container, repository_url):
            container = {**container, "image": image}
            if config is not None:
                container = config.apply(container)
        containers.append(container)
    args["containerDefinitions"] = containers
    return str(ecs.register_task_definition(**args)["taskDefinition"]["taskDefinitionArn"])


@dataclass
class EcsExecutor:
    clients: AwsClients
    target: AwsTarget
    waiter: Waiter
    name: str = "aws-ecs"

    def build(self, spec: ReleaseSpec, log: LogLine) -> Candidate:
        image = CodeBuildImages(self.clients, self.target, self.waiter).ensure(spec, log)
        prefix = parameter_prefix(spec.project_id, spec.stack)
        try:
            config = ContainerConfig.of(
                spec.config, lambda name: self.target.config_parameter_arn(prefix, name)
            )
        except AwsTargetError as exc:
            raise PhaseFailedError("building", str(exc)) from None
        return Candidate(spec.release_id, self.target.app_url, handle=EcsRollout(image, config))

    def run_release(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None:
        task = self.target.release_task
        if not task or not task.get("task_definition"):
            raise PhaseFailedError(
                "releasing",
                "outputs.release_task: missing, but the plan has a release command",
            )
        ecs = self.clients.ecs
        rollout: EcsRollout = candidate.handle
        definition = register_with_image(
            ecs, str(task["task_definition"]), self.target.repository_url, rollout.image,
            rollout.config,
        )  # fmt: skip
        described = ecs.describe_task_definition(taskDefinition=definition)["taskDefinition"]
        container = described["containerDefinitions"][0]
        answer = ecs.run_task(
            cluster=self.target.ecs_cluster,
            taskDefinition=definition,
            launchType="FARGATE",
            count=1,
            startedBy="autostack-release",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": list(task.get("subnets") or []),
                    "securityGroups": [str(task.get("security_group"))],
                    "assignPublicIp": "ENABLED",
                }
            },
            overrides={
                "containerOverrides": [
                    {"name": container["name"], "command": list(container.get("command") or [])}
                ]
            },
        )
        if answer.get("failures") or not answer.get("tasks"):
            raise PhaseFailedError(
                "releasing", f"ECS RunTask of the release failed: {answer.get('failures')}"
            )
        task_arn = answer["tasks"][0]["taskArn"]
        log(f"release task {task_arn} started ({definition})")

        def stopped() -> dict[str, Any] | None:
            tasks = ecs.describe_tasks(cluster=self.target.ecs_cluster, tasks=[task_arn])["tasks"]
            return tasks[0] if tasks and tasks[0].get("lastStatus") == "STOPPED" else None

        done = self.waiter.until("releasing", f"the release task {task_arn}", stopped)
        codes = [c.get("exitCode") for c in done.get("containers") or []]
        # The app's own output may print its environment: mask the secrets' values.
        tail = spec.config.masked("\n".join(self._task_log(container, task_arn)))
        if codes and all(code == 0 for code in codes):
            log(f"the release task exited 0{': ' + tail[-500:] if tail else ''}")
            return
        reason = done.get("stoppedReason") or "no reason given"
        raise PhaseFailedError(
            "releasing",
            f"the release task {task_arn} ended with exit code {codes[0] if codes else None} "
            f"({spec.config.masked(str(reason))}); the previous version keeps serving",
            log_tail=tail,
        )

    def _task_log(self, container: dict[str, Any], task_arn: str) -> list[str]:
        options = (container.get("logConfiguration") or {}).get("options") or {}
        group, prefix = options.get("awslogs-group"), options.get("awslogs-stream-prefix")
        if not group or not prefix:
            return []
        stream = f"{prefix}/{container['name']}/{task_arn.rsplit('/', 1)[-1]}"
        return LogStream(self.clients.logs).read({"groupName": group, "streamName": stream})

    def roll_out(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> str:
        self._switch(candidate.handle, log)
        return self.target.app_url

    def put_back(self, image_tag: str, log: LogLine) -> None:
        """Serve ``image_tag`` again (a release cut off after its roll-out); the services
        keep the config their current revisions carry."""
        self._switch(EcsRollout(self.target.image_uri(image_tag)), log)

    def app_services(self) -> dict[str, str]:
        """Service name -> task definition, for every service of the cluster whose task
        runs the app's image (the bundle's web service first)."""
        ecs, cluster = self.clients.ecs, self.target.ecs_cluster
        arns: list[str] = []
        token: str | None = None
        while True:
            page = ecs.list_services(cluster=cluster, **({"nextToken": token} if token else {}))
            arns += [str(a) for a in page.get("serviceArns") or []]
            token = page.get("nextToken")
            if not token:
                break
        names = sorted({a.rsplit("/", 1)[-1] for a in arns} | {self.target.ecs_service})
        names.sort(key=lambda n: n != self.target.ecs_service)
        found: dict[str, str] = {}
        for start in range(0, len(names), _DESCRIBE_BATCH):
            batch = names[start : start + _DESCRIBE_BATCH]
            described = ecs.describe_services(cluster=cluster, services=batch)
            for service in described.get("services") or []:
                if service.get("status", "ACTIVE") != "ACTIVE":
                    continue
                definition = str(service["taskDefinition"])
                containers = ecs.describe_task_definition(taskDefinition=definition)[
                    "taskDefinition"
                ]["containerDefinitions"]
                if any(_ours(c, self.target.repository_url) for c in containers):
                    found[str(service["serviceName"])] = definition
        if self.target.ecs_service not in found:
            raise PhaseFailedError(
                "verifying",
                f"the ECS service {self.target.ecs_service} is gone or runs another image",
            )
        return {name: found[name] for name in names if name in found}

    def _switch(self, rollout: EcsRollout, log: LogLine) -> None:
        ecs = self.clients.ecs
        cluster = self.target.ecs_cluster
        for service, definition in self.app_services().items():
            new = register_with_image(
                ecs, definition, self.target.repository_url, rollout.image, rollout.config
            )
            rollout.previous[service] = definition
            ecs.update_service(cluster=cluster, service=service, taskDefinition=new)
            rollout.new[service] = new
            log(f"service {service}: {definition} -> {new}")
        for service, new in rollout.new.items():
            self._wait_steady(service, new)
            log(f"service {service} is steady on the new task definition")

    def _wait_steady(self, service: str, new: str) -> None:
        def steady() -> bool | None:
            described = self._service(service)
            primary = [
                d for d in described.get("deployments") or [] if d.get("status") == "PRIMARY"
            ]
            if not primary:
                return None
            state = primary[0].get("rolloutState")
            if state == "FAILED" or primary[0].get("taskDefinition") not in (new, None):
                raise PhaseFailedError(
                    "verifying",
                    f"ECS did not roll out {new} on {service}: "
                    f"{primary[0].get('rolloutStateReason') or state}",
                )
            return True if state == "COMPLETED" else None

        self.waiter.until("verifying", f"the roll-out of service {service}", steady)

    def _service(self, service: str) -> dict[str, Any]:
        answer = self.clients.ecs.describe_services(
            cluster=self.target.ecs_cluster, services=[service]
        )
        services = answer.get("services") or []
        if not services:
            raise PhaseFailedError("verifying", f"the ECS service {service} is gone")
        return dict(services[0])

    def keep(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None:
        log("the new task definitions serve; the previous ones stay registered for rollbacks")

    def discard(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None:
        rollout = candidate.handle
        if not isinstance(rollout, EcsRollout) or not rollout.previous:
            return  # no service was touched
        for service, definition in rollout.previous.items():
            if service not in rollout.new:
                continue  # registered but never switched
            self.clients.ecs.update_service(
                cluster=self.target.ecs_cluster, service=service, taskDefinition=definition
            )
            log(f"service {service} is back on {definition}")
