"""The deployments API's refusals (409 each, with a stable code)."""

from __future__ import annotations

from chalicelib.errors import ConflictError


class DeploymentInProgressError(ConflictError):
    code = "deployment_in_progress"


class PlanStaleError(ConflictError):
    code = "plan_stale"


class PlanSupersededError(ConflictError):
    code = "plan_superseded"


class NotPlannedError(ConflictError):
    code = "not_planned"


class AlreadyApprovedError(ConflictError):
    code = "already_approved"


class DeploymentFinishedError(ConflictError):
    code = "deployment_finished"


class BundleNotReadyError(ConflictError):
    code = "bundle_not_ready"
