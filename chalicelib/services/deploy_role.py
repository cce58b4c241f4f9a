"""What a user needs to create the role AutoStack deploys with: ExternalId, trust policy, a hint.

The runner assumes the user's role with the project's ExternalId (the confused-deputy
guard); the trust policy names the runner's role (``AUTOSTACK_RUNNER_ROLE_ARN``, the
infrastructure's ``runner_role_arn`` output) as the only principal.
"""

from __future__ import annotations

from chalicelib.context import AppContext
from chalicelib.errors import ServiceUnavailableError
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


def deploy_role(ctx: AppContext, project: ProjectRecord) -> DeployRoleOut:
    runner_role = ctx.settings.runner_role_arn
    if not runner_role:
        raise NotConfiguredError(
            "AUTOSTACK_RUNNER_ROLE_ARN is not set: the API does not know the runner's role",
            details={"setting": "AUTOSTACK_RUNNER_ROLE_ARN"},
        )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AutoStackRunner",
                "Effect": "Allow",
                "Principal": {"AWS": runner_role},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": project.external_id}},
            }
        ],
    }
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
        trust_policy=trust,
        permissions_hint=hint,
        instructions=[
            "Create an IAM role in your account with the trust policy above (it lets only"
            " AutoStack's runner assume it, and only with this project's ExternalId).",
            "Attach the permissions the stack needs: the hint covers every generated target;"
            " narrow it to the services of your bundle.",
            "Deploy with POST /projects/{id}/deployments and the role's ARN; AutoStack never"
            " stores access keys.",
        ],
    )
