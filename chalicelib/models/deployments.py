"""Deployments: their states and the plan summary a person reads before approving.

A shared contract: the runner's Terraform jobs produce the ``PlanSummary`` (from
``terraform show -json``) and move a deployment through its states; the API
stores and shows them. Bump ``PLAN_SUMMARY_SCHEMA_VERSION`` on any change an
older reader could misread.

States::

    queued -> planning -> planned -> applying -> applied
       |         |           |           |
       +---------+-----------+-----------+--> failed | cancelled

``auto_approve`` goes from ``planning`` straight to ``applying``. A plan with
nothing to change ends ``applied`` right after ``planning`` (there is nothing to
approve). A destroy passes through the same states with ``action = "destroy"``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PLAN_SUMMARY_SCHEMA_VERSION: Literal[1] = 1

DeploymentStatus = Literal[
    "queued",
    "planning",
    "planned",
    "applying",
    "applied",
    "building",
    "releasing",
    "verifying",
    "live",
    "failed",
    "cancelled",
]
DeploymentAction = Literal["deploy", "destroy"]
TERMINAL_DEPLOYMENT_STATUSES = frozenset({"applied", "live", "failed", "cancelled"})
# States in which Terraform (or the release after it) may be running for the deployment.
ACTIVE_DEPLOYMENT_STATUSES = frozenset(
    {"planning", "applying", "building", "releasing", "verifying"}
)

# What Terraform will do to one resource, in our words. "replace" covers both of
# Terraform's orders (delete-then-create and create-then-delete).
ResourceAction = Literal["create", "update", "replace", "delete", "forget", "read", "no-op"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class ResourceChangeSummary(_Model):
    """One resource of the plan, in plain words (never its attribute values)."""

    address: str  # e.g. module.web.aws_instance.app[0]
    type: str  # e.g. aws_instance
    name: str  # e.g. app
    module: str | None = None  # e.g. module.web
    action: ResourceAction
    description: str  # e.g. "aws_instance \"app\" will be replaced (its AMI changed)"
    reason: str | None = None  # Terraform's action_reason in words, when it gives one
    previous_address: str | None = None  # set when a moved block renames it


class OutputChangeSummary(_Model):
    name: str
    action: ResourceAction
    sensitive: bool = False


class PlanSummary(_Model):
    """The counts Terraform itself prints (a replacement counts as one add and one destroy),
    plus the replacements on their own, and every resource that changes, in plain words."""

    schema_version: Literal[1] = PLAN_SUMMARY_SCHEMA_VERSION
    add: int = Field(ge=0)
    change: int = Field(ge=0)
    destroy: int = Field(ge=0)
    replace: int = Field(ge=0)
    forget: int = Field(default=0, ge=0)  # removed from state, left running
    unchanged: int = Field(default=0, ge=0)
    is_destroy: bool = False  # a plan made with -destroy
    headline: str  # "Plan: 2 to add, 0 to change, 1 to destroy (1 replaced)."
    resources: list[ResourceChangeSummary] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)  # destroyed / replaced called out
    outputs: list[OutputChangeSummary] = Field(default_factory=list)
    terraform_version: str | None = None

    @property
    def has_changes(self) -> bool:
        return bool(self.add or self.change or self.destroy or self.forget) or any(
            output.action != "no-op" for output in self.outputs
        )


class DeploymentOutput(_Model):
    """A Terraform output shown on an applied deployment; a sensitive one has no value."""

    name: str
    value: object | None = None
    sensitive: bool = False


_ID = r"^[A-Za-z0-9_-]{1,64}$"


class TerraformJobPayload(_Model):
    """``JobMessage.payload`` of the ``plan``, ``apply`` and ``destroy`` jobs.

    ``plan`` plans a deployment (and applies it at once with ``auto_approve``);
    ``destroy`` does the same with a destroy plan; ``apply`` applies the saved
    plan a ``plan``/``destroy`` job left at ``plan_key``. The bundle's files are
    read from ``bundles/<project_id>/<bundle_id>/``; its root module is the
    ``terraform_root`` folder (``None``: ``infra/`` if it holds ``*.tf`` files,
    else the bundle's top folder).
    """

    # The stack (its Terraform state). Messages queued before ``stack`` existed name it in
    # ``deployment_id``; ``stack`` takes that value then (see ``_stack_from_old_field``).
    stack: str = Field(pattern=_ID)
    deployment_id: str | None = Field(default=None, pattern=_ID)
    bundle_id: str = Field(pattern=_ID)
    role_arn: str = Field(
        pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"
    )
    external_id: str = Field(min_length=2, max_length=1224, pattern=r"^[A-Za-z0-9+=,.@:/_-]+$")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
    auto_approve: bool = False
    terraform_root: str | None = Field(
        default=None, max_length=200, pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$"
    )
    plan_key: str | None = Field(default=None, max_length=512)  # for ``apply``
    # For ``apply``: the saved plan destroys the stack (its app is retired, nothing ships).
    destroy: bool = False

    @model_validator(mode="before")
    @classmethod
    def _stack_from_old_field(cls, data: Any) -> Any:
        if isinstance(data, dict) and "stack" not in data and "deployment_id" in data:
            return {**data, "stack": data["deployment_id"]}
        return data

    @field_validator("terraform_root")
    @classmethod
    def _inside_the_bundle(cls, value: str | None) -> str | None:
        if value is not None and any(part in (".", "..") for part in value.split("/")):
            raise ValueError("must be a folder inside the bundle (no '.' or '..')")
        return value


def plan_object_key(project_id: str, stack: str, job_id: str) -> str:
    """Where a plan job keeps its saved plan until approval (it holds secrets: SSE, short-lived)."""
    from chalicelib.keys import plan_key

    return plan_key(project_id, stack, job_id)
