"""ECS Fargate: the release as a one-off task, the roll-out as a service update.

- build: ``aws_build.CodeBuildImages`` (CodeBuild in the user's account).
- release: a new revision of the bundle's release task definition with the new image,
  ``RunTask`` (its command given explicitly as an override), waited for ``STOPPED``; a
  non-zero exit code fails ``releasing`` with the task's last log lines. The service was
  not touched: the previous version keeps serving.
- roll out: a new revision of the service's task definition with the new image,
  ``UpdateService``, waited for the new deployment to be ``COMPLETED`` (ECS's circuit
  breaker rolls a failed one back by itself). ``discard`` puts the previous task
  definition back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runner.shipping.aws_build import CodeBuildImages, LogStream
from runner.shipping.aws_target import AwsClients, AwsTarget, Waiter
from runner.shipping.executor import Candidate, LogLine, PhaseFailedError, ReleaseSpec

# What RegisterTaskDefinition accepts back from DescribeTaskDefinition.
_REGISTER_KEYS = (
    "family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions",
    "volumes", "placementConstraints", "requiresCompatibilities", "cpu", "memory",
    "runtimePlatform", "ephemeralStorage", "pidMode", "ipcMode", "proxyConfiguration",
)  # fmt: skip


@dataclass
class EcsRollout:
    image: str
    previous_task_definition: str = ""
    new_task_definition: str = ""
    notes: list[str] = field(default_factory=list)


def register_with_image(ecs: Any, task_definition: str, repository_url: str, image: str) -> str:
    """A new revision of ``task_definition`` whose containers from the stack's repository
    run ``image``; its ARN."""
    current = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    args = {k: current[k] for k in _REGISTER_KEYS if current.get(k)}
    containers = []
    for container in current["containerDefinitions"]:
        ours = str(container.get("image", "")).split(":", 1)[0] == repository_url
        containers.append({**container, "image": image} if ours else container)
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
        return Candidate(spec.release_id, self.target.app_url, handle=EcsRollout(image))

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
            ecs, str(task["task_definition"]), self.target.repository_url, rollout.image
        )
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
        tail = "\n".join(self._task_log(container, task_arn))
        if codes and all(code == 0 for code in codes):
            log(f"the release task exited 0{': ' + tail[-500:] if tail else ''}")
            return
        reason = done.get("stoppedReason") or "no reason given"
        raise PhaseFailedError(
            "releasing",
            f"the release task {task_arn} ended with exit code {codes[0] if codes else None} "
            f"({reason}); the previous version keeps serving",
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
        """Serve ``image_tag`` again (a release cut off after its roll-out)."""
        self._switch(EcsRollout(self.target.image_uri(image_tag)), log)

    def _switch(self, rollout: EcsRollout, log: LogLine) -> None:
        ecs = self.clients.ecs
        cluster, service = self.target.ecs_cluster, self.target.ecs_service
        current = self._service()
        rollout.previous_task_definition = str(current["taskDefinition"])
        rollout.new_task_definition = register_with_image(
            ecs, rollout.previous_task_definition, self.target.repository_url, rollout.image
        )
        ecs.update_service(
            cluster=cluster, service=service, taskDefinition=rollout.new_task_definition
        )
        log(f"service {service}: {rollout.previous_task_definition} -> "
            f"{rollout.new_task_definition}")  # fmt: skip

        def steady() -> bool | None:
            described = self._service()
            primary = [
                d for d in described.get("deployments") or [] if d.get("status") == "PRIMARY"
            ]
            if not primary:
                return None
            state = primary[0].get("rolloutState")
            if state == "FAILED" or primary[0].get("taskDefinition") not in (
                rollout.new_task_definition, None,
            ):  # fmt: skip
                raise PhaseFailedError(
                    "verifying",
                    f"ECS did not roll out {rollout.new_task_definition}: "
                    f"{primary[0].get('rolloutStateReason') or state}",
                )
            return True if state == "COMPLETED" else None

        self.waiter.until("verifying", f"the roll-out of service {service}", steady)
        log(f"service {service} is steady on the new task definition")

    def _service(self) -> dict[str, Any]:
        answer = self.clients.ecs.describe_services(
            cluster=self.target.ecs_cluster, services=[self.target.ecs_service]
        )
        services = answer.get("services") or []
        if not services:
            raise PhaseFailedError(
                "verifying", f"the ECS service {self.target.ecs_service} is gone"
            )
        return dict(services[0])

    def keep(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None:
        log("the new task definition serves; the previous one stays registered for rollbacks")

    def discard(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None:
        rollout = candidate.handle
        if not isinstance(rollout, EcsRollout) or not rollout.previous_task_definition:
            return  # the service was never touched
        self.clients.ecs.update_service(
            cluster=self.target.ecs_cluster,
            service=self.target.ecs_service,
            taskDefinition=rollout.previous_task_definition,
        )
        log(f"service {self.target.ecs_service} is back on {rollout.previous_task_definition}")
