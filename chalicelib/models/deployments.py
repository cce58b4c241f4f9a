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

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PLAN_SUMMARY_SCHEMA_VERSION: Literal[1] = 1

DeploymentStatus = Literal[
    "queued", "planning", "planned", "applying", "applied", "failed", "cancelled"
]
DeploymentAction = Literal["deploy", "destroy"]
TERMINAL_DEPLOYMENT_STATUSES = frozenset({"applied", "failed", "cancelled"})
# States in which Terraform may be running (or about to) for the deployment.
ACTIVE_DEPLOYMENT_STATUSES = frozenset({"planning", "applying"})

_TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"planning", "failed", "cancelled"}),
    "planning": frozenset({"planned", "applying", "applied", "failed", "cancelled"}),
    "planned": frozenset({"applying", "failed", "cancelled"}),
    "applying": frozenset({"applied", "failed", "cancelled"}),
    "applied": frozenset(),
    "failed": frozenset(),
    "cancelled": frozenset(),
}


class InvalidTransitionError(ValueError):
    """A state change the deployment lifecycle does not allow."""


def can_transition(current: str, new: str) -> bool:
    return new in _TRANSITIONS.get(current, frozenset())


def check_transition(current: str, new: str) -> None:
    if not can_transition(current, new):
        raise InvalidTransitionError(f"a deployment cannot go from {current!r} to {new!r}")


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

    deployment_id: str = Field(pattern=_ID)
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

    @field_validator("terraform_root")
    @classmethod
    def _inside_the_bundle(cls, value: str | None) -> str | None:
        if value is not None and any(part in (".", "..") for part in value.split("/")):
            raise ValueError("must be a folder inside the bundle (no '.' or '..')")
        return value


def plan_object_key(project_id: str, deployment_id: str, job_id: str) -> str:
    """Where a plan job keeps its saved plan until approval (it holds secrets: SSE, short-lived)."""
    return f"plans/{project_id}/{deployment_id}/{job_id}.tfplan"
