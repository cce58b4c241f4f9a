"""Request and response bodies of the deployments API (issue 6).

The runner's side of the contract (states, ``PlanSummary``, ``TerraformJobPayload``)
is ``chalicelib.models.deployments``; these are what the HTTP API reads and answers.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from chalicelib.models.api import QueryModel, RequestModel, ResponseModel
from chalicelib.models.jobs import JobError
from chalicelib.models.uploads import PresignedPost

# arn:<partition>:iam::<12 digits>:role/<optional path/>name (IAM's own character set).
ROLE_ARN = re.compile(
    r"^arn:aws(-us-gov|-cn)?:iam::[0-9]{12}:role/(?:[A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]{1,64}$"
)
# The AWS region names in use (and the shape of new ones): <area>[-gov]-<direction>-<n>.
REGION = re.compile(
    r"^(us|eu|ap|sa|ca|me|af|il|mx)(-gov)?-"
    r"(north|south|east|west|central|northeast|northwest|southeast|southwest)-[1-9]$"
)
STACK = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_ID = r"^[A-Za-z0-9_-]{1,64}$"


class DeploymentCreate(RequestModel):
    """``POST /projects/{id}/deployments``."""

    bundle_id: str = Field(
        pattern=_ID, description="A generated template bundle or an uploaded one"
    )
    role_arn: str = Field(
        max_length=2048,
        description="The role AutoStack's runner assumes in your account (see GET .../deploy-role)",
        examples=["arn:aws:iam::123456789012:role/autostack-deploy"],
    )
    region: str = Field(max_length=32, examples=["us-east-1"])
    auto_approve: bool = False
    stack: str = Field(
        default="main",
        max_length=32,
        description="The Terraform state this deployment changes: every deployment of the"
        " same stack updates the same infrastructure",
    )

    @field_validator("role_arn")
    @classmethod
    def _role_arn(cls, value: str) -> str:
        if not ROLE_ARN.fullmatch(value) or "//" in value:
            raise ValueError("must be an IAM role ARN: arn:aws:iam::<12-digit account>:role/<name>")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not REGION.fullmatch(value):
            raise ValueError("must be an AWS region name such as us-east-1")
        return value

    @field_validator("stack")
    @classmethod
    def _stack(cls, value: str) -> str:
        if not STACK.fullmatch(value):
            raise ValueError("1-32 lower-case letters, digits and '-', starting with one")
        return value


class DestroyCreate(RequestModel):
    """``POST .../deployments/{id}/destroy`` (the body is optional)."""

    auto_approve: bool = False


class DeployRoleQuery(QueryModel):
    bundle_id: str | None = Field(
        default=None, pattern=_ID, description="Narrow the permissions hint to this bundle's"
    )


class LogQuery(QueryModel):
    after: int = Field(
        default=0,
        ge=0,
        le=2**40,
        description="Byte offset already read (``next`` of the last answer)",
    )
    wait: int = Field(default=0, ge=0, le=20, description="Long-poll up to N s for new lines")


class DeployRoleOut(ResponseModel):
    """What a user needs to create the role AutoStack deploys with."""

    project_id: str
    external_id: str
    runner_role_arn: str
    trust_policy: dict[str, Any]
    permissions_hint: dict[str, Any]
    instructions: list[str]


class CostBeside(ResponseModel):
    """The bundle's monthly estimate, shown beside the plan."""

    target: str | None = None
    monthly_usd: float | None = None
    currency: str = "USD"
    note: str | None = None


class JobRef(ResponseModel):
    id: str
    kind: str
    status: str
    attempts: int = 0


class OutputOut(ResponseModel):
    name: str
    value: Any = None
    sensitive: bool = False


class PhaseTiming(ResponseModel):
    """One release phase of a shipped deployment (building, releasing, verifying)."""

    phase: str
    status: Literal["succeeded", "failed"]
    started_at_epoch: float | None = None
    duration_s: float | None = None


class DeploymentOut(ResponseModel):
    id: str
    project_id: str
    stack: str
    action: Literal["deploy", "destroy"]
    status: str
    bundle_id: str
    bundle_source: Literal["generated", "uploaded"]
    role_arn: str
    region: str
    auto_approve: bool
    created_at: str
    approved_at: str | None = None
    finished_at: str | None = None
    progress: int = 0
    progress_message: str | None = None
    queue_position: int | None = None  # 1 = next to start (while queued)
    queue_waiting: int | None = None
    cancel_requested: bool = False
    plan: dict[str, Any] | None = None  # PlanSummary once planned
    plan_expires_at: str | None = None
    cost: CostBeside | None = None
    outputs: list[OutputOut] | None = None  # applied: the app's URL first
    resources_in_state: list[str] | None = None  # what exists now (finished deployments)
    superseded_by: str | None = None
    error: JobError | None = None
    failed_phase: str | None = None  # failed in a release phase: which one
    phases: list[PhaseTiming] | None = None  # shipped deployments: each release phase's timing
    current_release: str | None = None  # live: the release serving now (a later one after a
    # redeploy or rollback of the stack; ``app_url`` is then that release's URL)
    jobs: list[JobRef] = Field(default_factory=list)


class DeploymentList(ResponseModel):
    deployments: list[DeploymentOut]


class LogOut(ResponseModel):
    """Lines from byte ``after`` on; ask again with ``after=next``.

    ``complete``: the deployment is settled and everything was read."""

    after: int
    next: int
    text: str
    complete: bool
    status: str


class BundleUploadCreate(RequestModel):
    format: Literal["zip"] = "zip"
    terraform_root: str | None = Field(
        default=None,
        max_length=200,
        pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
        description="Folder of the root module (default: infra/ when it holds *.tf, else the top)",
    )

    @field_validator("terraform_root")
    @classmethod
    def _inside(cls, value: str | None) -> str | None:
        if value is not None and any(part in (".", "..") for part in value.split("/")):
            raise ValueError("must be a folder inside the bundle (no '.' or '..')")
        return value


class UploadedBundleOut(ResponseModel):
    id: str
    project_id: str
    status: Literal["pending", "ready", "rejected"]
    created_at: str
    size: int | None = None
    files: list[str] | None = None
    terraform_root: str | None = None
    error: JobError | None = None
    upload: PresignedPost | None = None  # only in the answer that creates it


class UploadedBundleList(ResponseModel):
    bundles: list[UploadedBundleOut]
