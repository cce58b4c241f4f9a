"""What the AWS executors share: the deployed stack's facts, its clients, bounded waits.

``AwsTarget`` is read from the bundle's Terraform outputs (``build_project``,
``build_source_bucket``, ``ecr_repository_url``, ``ecs_cluster``, ``instance_id``,
``function_name``, ``site_bucket``...): the executors never guess a resource name.
``AwsClients`` are boto3 clients of the user's account, built by the caller from the job's
scoped session (``runner.shipping.aws_access``); nothing here makes a client of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from runner.shipping.app_config import AppEnvironment
from runner.shipping.executor import PhaseFailedError

T = TypeVar("T")

TARGETS = ("ecs-fargate", "ec2", "lambda", "static")
CONFIG_NAMES_VAR = "AUTOSTACK_CONFIG_NAMES"
"""Names (never values) of the user's config in a task definition or function environment,
so that the next release can take out the ones since unset (users cannot set ``AUTOSTACK_*``)."""
_REPOSITORY_HOST = re.compile(
    r"^(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z]{2}(-[a-z]+)+-[0-9])\.amazonaws\.com(\.cn)?/"
)


class AwsTargetError(ValueError):
    """The stack's outputs lack what the executor needs (the message names the output)."""


@dataclass(frozen=True)
class AwsClients:
    """boto3 clients of the user's account (any object with the same methods in unit tests)."""

    s3: Any
    codebuild: Any
    ecr: Any
    logs: Any
    ecs: Any = None
    ssm: Any = None
    lambda_: Any = None
    cloudfront: Any = None


def _value(outputs: Mapping[str, Any], name: str) -> Any:
    raw = outputs.get(name)
    if isinstance(raw, dict) and "value" in raw:  # terraform output -json shape
        return raw["value"]
    return raw


@dataclass(frozen=True)
class AwsTarget:
    """The deployed stack, as its Terraform outputs describe it."""

    kind: str
    app_url: str
    build_project: str
    build_source_bucket: str
    repository_url: str
    log_group: str = ""
    ecs_cluster: str = ""
    ecs_service: str = ""
    release_task: Mapping[str, Any] | None = None
    instance_id: str = ""
    function_name: str = ""
    release_function_name: str = ""
    site_bucket: str = ""
    distribution_id: str = ""

    @property
    def repository_name(self) -> str:
        return self.repository_url.split("/", 1)[1] if "/" in self.repository_url else ""

    def image_uri(self, tag: str) -> str:
        return f"{self.repository_url}:{tag}"

    def config_parameter_arn(self, prefix: str, name: str) -> str:
        """The ARN of the config parameter ``prefix/name`` in the stack's account and region
        (read from the repository URL, which names both)."""
        match = _REPOSITORY_HOST.match(self.repository_url)
        if match is None:
            raise AwsTargetError(
                f"outputs.ecr_repository_url: {self.repository_url!r} names no account and region"
            )
        region = match.group("region")
        partition = (
            "aws-cn" if region.startswith("cn-")
            else "aws-us-gov" if region.startswith("us-gov-")
            else "aws"
        )  # fmt: skip
        return f"arn:{partition}:ssm:{region}:{match.group('account')}:parameter{prefix}/{name}"

    @classmethod
    def from_outputs(cls, kind: str, outputs: Mapping[str, Any]) -> AwsTarget:
        if kind not in TARGETS:
            raise AwsTargetError(f"target: {kind!r} has no AWS executor (one of {TARGETS})")

        def need(name: str) -> str:
            value = _value(outputs, name)
            if not isinstance(value, str) or not value:
                raise AwsTargetError(
                    f"outputs.{name}: missing; the stack was applied from a bundle without "
                    "the build (generate the bundle again and apply it)"
                )
            return value

        def maybe(name: str) -> str:
            value = _value(outputs, name)
            return value if isinstance(value, str) else ""

        release_task = _value(outputs, "release_task")
        target = cls(
            kind=kind,
            app_url=need("app_url"),
            build_project=need("build_project"),
            build_source_bucket=need("build_source_bucket"),
            repository_url=need("ecr_repository_url") if kind != "static" else "",
            log_group=maybe("log_group"),
            ecs_cluster=need("ecs_cluster") if kind == "ecs-fargate" else "",
            ecs_service=need("ecs_service") if kind == "ecs-fargate" else "",
            release_task=release_task if isinstance(release_task, dict) else None,
            instance_id=need("instance_id") if kind == "ec2" else "",
            function_name=need("function_name") if kind == "lambda" else "",
            release_function_name=maybe("release_function_name"),
            site_bucket=need("site_bucket") if kind == "static" else "",
            distribution_id=need("cloudfront_distribution_id") if kind == "static" else "",
        )
        return target

    def as_outputs(self) -> dict[str, Any]:
        """The facts again, in the outputs' own shape (kept on the release record so that a
        redeploy without an apply finds them)."""
        names = {
            "app_url": self.app_url,
            "build_project": self.build_project,
            "build_source_bucket": self.build_source_bucket,
            "ecr_repository_url": self.repository_url,
            "log_group": self.log_group,
            "ecs_cluster": self.ecs_cluster,
            "ecs_service": self.ecs_service,
            "release_task": dict(self.release_task) if self.release_task else None,
            "instance_id": self.instance_id,
            "function_name": self.function_name,
            "release_function_name": self.release_function_name,
            "site_bucket": self.site_bucket,
            "cloudfront_distribution_id": self.distribution_id,
        }
        return {k: {"value": v} for k, v in names.items() if v}


@dataclass(frozen=True)
class Waiter:
    """Polls with a passed-in clock and sleep, for at most ``timeout_s``.

    ``sleep`` should return early on a cancel (the runner passes ``ctx.stop.wait``)."""

    clock: Callable[[], float]
    sleep: Callable[[float], object]
    timeout_s: float = 1800.0
    interval_s: float = 5.0

    def until(
        self,
        phase: str,
        what: str,
        poll: Callable[[], T | None],
        timeout_s: float | None = None,
    ) -> T:
        """The first non-None answer of ``poll``; PhaseFailedError(phase) on timeout."""
        limit = self.timeout_s if timeout_s is None else timeout_s
        deadline = self.clock() + limit
        while True:
            answer = poll()
            if answer is not None:
                return answer
            if self.clock() >= deadline:
                raise PhaseFailedError(phase, f"{what} did not finish within {limit:g} s")
            self.sleep(self.interval_s)


def config_names(environment: Mapping[str, str]) -> set[str]:
    """The config names an earlier release put into ``environment`` (its marker)."""
    return {n for n in environment.get(CONFIG_NAMES_VAR, "").split(",") if n}


def marker_of(config: AppEnvironment) -> dict[str, str]:
    """The marker variable for ``config`` (empty without config)."""
    names = sorted({*config.values, *config.secrets})
    return {CONFIG_NAMES_VAR: ",".join(names)} if names else {}
