"""The app's config and secrets at release time, read from the user's SSM Parameter Store.

The API writes them under ``/autostack/<project>/<stack>/`` (``chalicelib.models
.app_config``). Here the runner assumes the stack's deploy role with the project's
ExternalId and a **read-only** inline session policy naming only that prefix, reads the
parameters (SecureStrings decrypted through SSM) and hands the release an
``AppEnvironment``: plain values and secrets apart, so that the executor can give the
secrets to the app and mask them in every log line. Nothing read here is written to the
table, the job item or the log.

The deploy role: the job's own payload when it is an apply job (``role_arn``,
``external_id``, ``region``); else (a ``release`` job) the payload of the plan job of
the stack's current deployment. A stack without a deployment has no config.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.models.app_config import (
    MAX_ENTRIES,
    AppConfigScopeError,
    mask,
    name_problem,
    parameter_prefix,
    session_policy,
)

SESSION_S = 900


class AppConfigReadError(Exception):
    """The config could not be read (the message names the role, prefix and AWS error)."""


@dataclass(frozen=True)
class AppEnvironment:
    """The user's config for one release: plain values and secrets."""

    values: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)

    def masked(self, text: str) -> str:
        """``text`` with the secrets' values replaced by ``****``."""
        return mask(text, set(self.secrets.values()))

    def describe(self) -> str:
        """Names only, for the release log."""
        if not self.values and not self.secrets:
            return "no app config"
        parts = [f"{n}=..." for n in sorted(self.values)]
        parts += [f"{n} (secret)" for n in sorted(self.secrets)]
        return "app config: " + ", ".join(parts)


@dataclass(frozen=True)
class ConfigScope:
    project_id: str
    stack: str
    role_arn: str
    external_id: str
    region: str

    @property
    def prefix(self) -> str:
        return parameter_prefix(self.project_id, self.stack)


# (scope) -> an SSM client of a session limited to the scope's prefix (read-only).
SsmFactory = Callable[[ConfigScope], Any]


def assumed_ssm(sts: Any, endpoint_url: str | None) -> SsmFactory:
    """SSM clients of a deploy-role session with the read-only prefix policy."""

    def factory(scope: ConfigScope) -> Any:
        import boto3
        from botocore.config import Config

        policy = session_policy(scope.role_arn, scope.region, scope.prefix, write=False)
        try:
            answer = sts.assume_role(
                RoleArn=scope.role_arn,
                RoleSessionName=f"autostack-config-{scope.project_id}"[:64],
                ExternalId=scope.external_id,
                Policy=json.dumps(policy, separators=(",", ":")),
                DurationSeconds=SESSION_S,
            )
        except Exception as exc:  # botocore's errors: name what failed
            raise AppConfigReadError(
                f"could not assume the deploy role {scope.role_arn} to read the app config: {exc}"
            ) from None
        creds = answer["Credentials"]
        return boto3.session.Session().client(
            "ssm",
            region_name=scope.region,
            endpoint_url=endpoint_url,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            config=Config(connect_timeout=10, read_timeout=30, retries={"max_attempts": 4}),
        )

    return factory


def read_environment(ssm: Any, prefix: str) -> AppEnvironment:
    """The parameters directly under ``prefix`` (names that are not config names, such as
    one written by hand, are left out)."""
    values: dict[str, str] = {}
    secrets: dict[str, str] = {}
    token: str | None = None
    seen = 0
    while True:
        kwargs: dict[str, Any] = {
            "Path": prefix,
            "Recursive": False,
            "WithDecryption": True,
            "MaxResults": 10,
        }
        if token:
            kwargs["NextToken"] = token
        page = ssm.get_parameters_by_path(**kwargs)
        for parameter in page.get("Parameters") or []:
            seen += 1
            name = str(parameter.get("Name", "")).rsplit("/", 1)[-1]
            if name_problem(name):
                continue
            target = secrets if parameter.get("Type") == "SecureString" else values
            target[name] = str(parameter.get("Value", ""))
        token = page.get("NextToken")
        if not token or seen >= MAX_ENTRIES * 4:
            return AppEnvironment(values=values, secrets=secrets)


def scope_of(
    project_id: str,
    stack: str,
    message_payload: Mapping[str, Any],
    deployment_payload: Callable[[], Mapping[str, Any] | None],
    default_region: str,
) -> ConfigScope | None:
    """The deploy role of the release: the job's payload, else the stack's deployment's."""
    source: Mapping[str, Any] | None = message_payload
    if not (message_payload.get("role_arn") and message_payload.get("external_id")):
        source = deployment_payload()
    if not source or not source.get("role_arn") or not source.get("external_id"):
        return None
    return ConfigScope(
        project_id=project_id,
        stack=stack,
        role_arn=str(source["role_arn"]),
        external_id=str(source["external_id"]),
        region=str(source.get("region") or default_region),
    )


def environment_for(ctx: Any, stack: str) -> AppEnvironment:
    """The release's config (``ctx`` is the job's ``JobContext``); raises
    ``AppConfigReadError``. Tests pass the runner's STS client as
    ``ctx.services["app_config_sts"]`` (or a whole ``SsmFactory`` as ``"app_config_ssm"``)."""
    project_id = ctx.message.project_id

    def deployment_payload() -> Mapping[str, Any] | None:
        # Plain reads of the stack's items (the runner writes no deployment item).
        from chalicelib import keys
        from chalicelib.store.codec import from_item, key

        dynamodb, table, pk = ctx.clients.dynamodb, ctx.settings.table, keys.project_pk(project_id)

        def read(sk: str) -> dict[str, Any]:
            got = dynamodb.get_item(TableName=table, Key=key(pk, sk), ConsistentRead=True)
            return from_item(got["Item"]) if "Item" in got else {}

        current = read(keys.stack_sk(stack)).get("current_deployment_id")
        plan_job_id = read(keys.deploy_sk(str(current))).get("plan_job_id") if current else None
        payload = read(keys.job_sk(str(plan_job_id))).get("payload") if plan_job_id else None
        return dict(payload) if isinstance(payload, dict) else None

    scope = scope_of(
        project_id, stack, ctx.message.payload, deployment_payload, ctx.settings.region
    )
    if scope is None:
        return AppEnvironment()
    factory: SsmFactory | None = ctx.services.get("app_config_ssm")
    if factory is None:
        sts = ctx.services.get("app_config_sts") or _runner_sts(ctx.settings)
        factory = assumed_ssm(sts, ctx.settings.endpoint_url)
    try:
        prefix = scope.prefix
        return read_environment(factory(scope), prefix)
    except AppConfigReadError:
        raise
    except AppConfigScopeError as exc:
        raise AppConfigReadError(f"the app config cannot be read: {exc}") from None
    except Exception as exc:  # botocore's errors
        raise AppConfigReadError(
            f"could not read the app config under {scope.prefix} with {scope.role_arn}: {exc}"
        ) from None


def _runner_sts(settings: Any) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session(region_name=settings.region).client(
        "sts",
        endpoint_url=settings.endpoint_url,
        config=Config(connect_timeout=10, read_timeout=30, retries={"max_attempts": 4}),
    )
