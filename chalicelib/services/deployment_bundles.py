"""Which bundle a deployment deploys: a generated one (``BUNDLE#``) or a ready uploaded one
(``TFBUNDLE#``), and the cost shown beside it."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.context import AppContext
from chalicelib.models.deployments_api import CostBeside
from chalicelib.services.deployment_errors import BundleNotReadyError


@dataclass(frozen=True)
class BundleRef:
    bundle_id: str
    source: str  # generated | uploaded
    terraform_root: str | None
    target: str | None
    monthly_usd: float | None

    def cost(self) -> CostBeside:
        if self.monthly_usd is None:
            return CostBeside(note="no estimate: the bundle was uploaded, not generated")
        return CostBeside(target=self.target, monthly_usd=self.monthly_usd)


def find_bundle(ctx: AppContext, project_id: str, bundle_id: str) -> BundleRef:
    """The bundle; 404 when unknown, 409 when an uploaded one is not ready."""
    values = ctx.stores.bundles.get(project_id, bundle_id)
    if values:
        monthly = values.get("monthly_usd")
        return BundleRef(
            bundle_id=bundle_id,
            source="generated",
            terraform_root=None,
            target=values.get("target"),
            monthly_usd=float(monthly) if monthly is not None else None,
        )
    from chalicelib.services import bundles_upload

    uploaded = bundles_upload.get_record(ctx, project_id, bundle_id)  # 404 when unknown
    if uploaded.status != "ready":
        raise BundleNotReadyError(
            f"the uploaded bundle is {uploaded.status}: complete it first"
            if uploaded.status == "pending"
            else f"the uploaded bundle was rejected: {(uploaded.error or {}).get('message')}",
            details={"bundle_id": bundle_id, "status": uploaded.status},
        )
    return BundleRef(
        bundle_id=bundle_id,
        source="uploaded",
        terraform_root=uploaded.terraform_root,
        target=None,
        monthly_usd=None,
    )
