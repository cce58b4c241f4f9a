"""What a user needs to create the role AutoStack deploys with: ExternalId, trust policy, a hint.

The runner assumes the user's role with the project's ExternalId (the confused-deputy
guard); the trust policy names the runner's role (``AUTOSTACK_RUNNER_ROLE_ARN``, the
infrastructure's ``runner_role_arn`` output) and, when set, the API's role
(``AUTOSTACK_API_ROLE_ARN``: the config routes write into the user's SSM), each only with
the project's ExternalId.
"""

from __future__ import annotations

import re
from typing import Any

from chalicelib.context import AppContext
from chalicelib.errors import ServiceUnavailableError
from chalicelib.keys import bundle_files_prefix
from chalicelib.models.deployments_api import DeployRoleOut
from chalicelib.store.records import ProjectRecord


class NotConfiguredError(ServiceUnavailableError):
    code = "not_configured"


# What the generated Terraform manages, per service (a starting point: trim it to the
# bundle's resources, or use it as a permissions boundary).
PERMISSIONS_HINT_ACTIONS = (
    "acm:*",
    "apigateway:*",
    "cloudfront:*",
    "codebuild:*",
    "ec2:*",
    "ecr:*",
    "ecs:*",
    "elasticache:*",
    "elasticloadbalancing:*",
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:CreateInstanceProfile",
    "iam:DeleteInstanceProfile",
    "iam:DeleteRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:Get*",
    "iam:List*",
    "iam:PassRole",
    "iam:PutRolePolicy",
    "iam:AddRoleToInstanceProfile",
    "iam:RemoveRoleFromInstanceProfile",
    "iam:TagRole",
    "lambda:*",
    "logs:*",
    "rds:*",
    "route53:*",
    "s3:*",
    "ssm:*",
    "sts:GetCallerIdentity",
)


# Terraform AWS resource/data type prefix -> the IAM service it calls (longest first wins).
SERVICE_OF_TYPE = (
    ("aws_apigatewayv2_", "apigateway"),
    ("aws_api_gateway_", "apigateway"),
    ("aws_cloudwatch_log_", "logs"),
    ("aws_cloudwatch_", "cloudwatch"),
    ("aws_cloudfront_", "cloudfront"),
    ("aws_codebuild_", "codebuild"),
    ("aws_elasticache_", "elasticache"),
    ("aws_lambda_", "lambda"),
    ("aws_route53_", "route53"),
    ("aws_s3_", "s3"),
    ("aws_ssm_", "ssm"),
    ("aws_acm_", "acm"),
    ("aws_ecr_", "ecr"),
    ("aws_ecs_", "ecs"),
    ("aws_db_", "rds"),
    ("aws_rds_", "rds"),
    ("aws_lb", "elasticloadbalancing"),
    ("aws_alb", "elasticloadbalancing"),
    ("aws_iam_", "iam"),
    ("aws_sqs_", "sqs"),
    ("aws_sns_", "sns"),
    ("aws_dynamodb_", "dynamodb"),
    ("aws_kms_", "kms"),
    ("aws_secretsmanager_", "secretsmanager"),
    ("aws_instance", "ec2"),
    ("aws_eip", "ec2"),
    ("aws_security_group", "ec2"),
    ("aws_vpc", "ec2"),
    ("aws_subnet", "ec2"),
    ("aws_ami", "ec2"),
    ("aws_key_pair", "ec2"),
    ("aws_launch_template", "ec2"),
    ("aws_ebs_", "ec2"),
    ("aws_internet_gateway", "ec2"),
    ("aws_route_table", "ec2"),
    ("aws_availability_zones", "ec2"),
    ("aws_caller_identity", "sts"),
)
# Data sources computed by the provider itself: no API call, no permission.
NO_PERMISSION_TYPES = frozenset({"aws_iam_policy_document", "aws_partition", "aws_region"})
_AWS_BLOCK = re.compile(r'^\s*(?:resource|data)\s+"(aws_[a-z0-9_]+)"', re.M)
MAX_TF_FILES = 200


def aws_types_in(texts: list[str]) -> set[str]:
    """The ``aws_*`` resource and data source types a bundle's Terraform uses."""
    return {match for text in texts for match in _AWS_BLOCK.findall(text)}


def hint_for_types(types: set[str]) -> dict[str, Any]:
    """A policy allowing the services of ``types`` (IAM only what roles and profiles need)."""
    services: set[str] = set()
    unmapped: list[str] = []
    for type_name in sorted(types - NO_PERMISSION_TYPES):
        service = next(
            (svc for prefix, svc in SERVICE_OF_TYPE if type_name.startswith(prefix)), None
        )
        if service is None:
            unmapped.append(type_name)
        else:
            services.add(service)
    actions = {"sts:GetCallerIdentity"}
    for service in services:
        if service == "iam":
            actions.update(a for a in PERMISSIONS_HINT_ACTIONS if a.startswith("iam:"))
        elif service != "sts":
            actions.add(f"{service}:*")
    hint: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AutoStackBundle",
                "Effect": "Allow",
                "Action": sorted(actions),
                "Resource": "*",
            }
        ],
    }
    if unmapped:
        hint["Unmapped"] = unmapped  # not a policy field: add what these need by hand
    return hint


def bundle_terraform_texts(ctx: AppContext, project_id: str, bundle_id: str) -> list[str]:
    """The ``.tf`` files of a stored bundle (generated or uploaded)."""
    s3, bucket = ctx.aws.s3, ctx.settings.bucket
    prefix = bundle_files_prefix(project_id, bundle_id)
    keys = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
        if obj["Key"].endswith(".tf")
    ][:MAX_TF_FILES]
    return [
        s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", "replace")
        for key in keys
    ]


def deploy_role(
    ctx: AppContext, project: ProjectRecord, bundle_id: str | None = None
) -> DeployRoleOut:
    """ExternalId, trust policy and a permissions hint (from the bundle's resources if given)."""
    runner_role = ctx.settings.runner_role_arn
    if not runner_role:
        raise NotConfiguredError(
            "AUTOSTACK_RUNNER_ROLE_ARN is not set: the API does not know the runner's role",
            details={"setting": "AUTOSTACK_RUNNER_ROLE_ARN"},
        )
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AutoStackRunner",
            "Effect": "Allow",
            "Principal": {"AWS": runner_role},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": project.external_id}},
        }
    ]
    if ctx.settings.api_role_arn:  # the config routes write the app's settings to SSM
        statements.append(
            {
                "Sid": "AutoStackApiConfig",
                "Effect": "Allow",
                "Principal": {"AWS": ctx.settings.api_role_arn},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": project.external_id}},
            }
        )
    if bundle_id is not None:
        from chalicelib.services.deployments import find_bundle

        find_bundle(ctx, project.project_id, bundle_id)  # 404 when not this project's
        hint = hint_for_types(
            aws_types_in(bundle_terraform_texts(ctx, project.project_id, bundle_id))
        )
    else:  # every generated target's services
        hint = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AutoStackGeneratedStacks",
                    "Effect": "Allow",
                    "Action": list(PERMISSIONS_HINT_ACTIONS),
                    "Resource": "*",
                }
            ],
        }
    return DeployRoleOut(
        project_id=project.project_id,
        external_id=project.external_id,
        runner_role_arn=runner_role,
        trust_policy={"Version": "2012-10-17", "Statement": statements},
        permissions_hint=hint,
        instructions=[
            "Create an IAM role in your account with the trust policy above (it lets only"
            " AutoStack's runner assume it, and only with this project's ExternalId).",
            "Attach the permissions the stack needs: the hint lists the services of the"
            " bundle (?bundle_id=...) or of every generated target; narrow it further to"
            " your resources' ARNs if you like.",
            "Deploy with POST /projects/{id}/deployments and the role's ARN; AutoStack never"
            " stores access keys.",
        ],
    )
