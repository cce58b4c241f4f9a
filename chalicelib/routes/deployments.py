"""Deployment routes: the deploy role, plan/approve/apply/destroy/cancel, logs, uploaded bundles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.routes.endpoint import ApiRequest, endpoint

if TYPE_CHECKING:
    from chalicelib.models.deployments_api import (
        DeploymentList,
        DeploymentOut,
        DeployRoleOut,
        LogOut,
        UploadedBundleList,
        UploadedBundleOut,
    )


bp = Blueprint(__name__)
TAGS = ("deployments",)
BASE = "/projects/{project_id}/deployments"


@endpoint(
    bp,
    "/projects/{project_id}/deploy-role",
    "GET",
    summary="The project's ExternalId, a ready-to-paste trust policy for your deploy role and"
    " the permissions it needs (?bundle_id= narrows them to that bundle's resources)",
    query="chalicelib.models.deployments_api:DeployRoleQuery",
    response="chalicelib.models.deployments_api:DeployRoleOut",
    tags=TAGS,
    errors=(404, 503),
)
def get_deploy_role(req: ApiRequest, project_id: str) -> DeployRoleOut:
    from chalicelib.services import deploy_role, projects

    project = projects.get_owned(req.ctx, req.user_id, project_id)
    return deploy_role.deploy_role(req.ctx, project, req.query.bundle_id)


@endpoint(
    bp,
    BASE,
    "POST",
    summary="Deploy a bundle into your account (202: queued; planned -> approve -> applied)",
    body="chalicelib.models.deployments_api:DeploymentCreate",
    response="chalicelib.models.deployments_api:DeploymentOut",
    status=202,
    tags=TAGS,
    errors=(404, 409, 422, 503),
)
def create_deployment(req: ApiRequest, project_id: str) -> DeploymentOut:
    from chalicelib.services import deployments, projects

    project = projects.get_owned(req.ctx, req.user_id, project_id)
    return deployments.service(req.ctx).create(project, req.body, req.request_id)


@endpoint(
    bp,
    BASE,
    "GET",
    summary="The project's deployments (history), newest first",
    response="chalicelib.models.deployments_api:DeploymentList",
    rate_bucket="status",
    tags=TAGS,
    errors=(404,),
)
def list_deployments(req: ApiRequest, project_id: str) -> DeploymentList:
    from chalicelib.models.deployments_api import DeploymentList
    from chalicelib.services import deployments, projects

    projects.get_owned(req.ctx, req.user_id, project_id)
    return DeploymentList(deployments=deployments.service(req.ctx).list_for_project(project_id))


@endpoint(
    bp,
    BASE + "/{deployment_id}",
    "GET",
    summary="A deployment: state, place in line, plan summary with the cost estimate, outputs"
    " (?wait=N long-polls up to N s for a change; counted in the cheap status bucket)",
    query="chalicelib.models.api:WaitQuery",
    response="chalicelib.models.deployments_api:DeploymentOut",
    rate_bucket="status",
    tags=TAGS,
    errors=(404,),
)
def get_deployment(req: ApiRequest, project_id: str, deployment_id: str) -> DeploymentOut:
    from chalicelib.services import deployments, projects

    projects.get_owned(req.ctx, req.user_id, project_id)
    return deployments.service(req.ctx).get(project_id, deployment_id, wait_s=req.query.wait)


@endpoint(
    bp,
    BASE + "/{deployment_id}/approve",
    "POST",
    summary="Apply exactly the saved plan (409 when stale, superseded or already approved)",
    response="chalicelib.models.deployments_api:DeploymentOut",
    status=202,
    tags=TAGS,
    errors=(404, 409, 503),
)
def approve_deployment(req: ApiRequest, project_id: str, deployment_id: str) -> DeploymentOut:
    from chalicelib.services import deployments, projects

    project = projects.get_owned(req.ctx, req.user_id, project_id)
    return deployments.service(req.ctx).approve(project, deployment_id, req.request_id)


@endpoint(
    bp,
    BASE + "/{deployment_id}/cancel",
    "POST",
    summary="Cancel: a queued or planned deployment is dropped; a running one gets Terraform's"
    " interrupt and ends cancelled once Terraform has stopped cleanly",
    response="chalicelib.models.deployments_api:DeploymentOut",
    status=202,
    tags=TAGS,
    errors=(404, 409),
)
def cancel_deployment(req: ApiRequest, project_id: str, deployment_id: str) -> DeploymentOut:
    from chalicelib.services import deployments, projects

    projects.get_owned(req.ctx, req.user_id, project_id)
    return deployments.service(req.ctx).cancel(project_id, deployment_id)


@endpoint(
    bp,
    BASE + "/{deployment_id}/destroy",
    "POST",
    summary="Plan (then, once approved, apply) the destruction of the deployment's stack"
    ' (body optional: `{"auto_approve": true}` applies without approval)',
    body="chalicelib.models.deployments_api:DestroyCreate",
    response="chalicelib.models.deployments_api:DeploymentOut",
    status=202,
    tags=TAGS,
    errors=(404, 409, 503),
)
def destroy_deployment(req: ApiRequest, project_id: str, deployment_id: str) -> DeploymentOut:
    from chalicelib.services import deployments, projects

    project = projects.get_owned(req.ctx, req.user_id, project_id)
    return deployments.service(req.ctx).destroy(
        project, deployment_id, req.body.auto_approve, req.request_id
    )


@endpoint(
    bp,
    BASE + "/{deployment_id}/logs",
    "GET",
    summary="The deployment's Terraform log from byte offset `after` (masked); ask again with"
    " `after=next` (?wait=N long-polls for new lines)",
    query="chalicelib.models.deployments_api:LogQuery",
    response="chalicelib.models.deployments_api:LogOut",
    rate_bucket="status",
    tags=TAGS,
    errors=(404,),
)
def get_deployment_logs(req: ApiRequest, project_id: str, deployment_id: str) -> LogOut:
    from chalicelib.services import deployments, projects

    projects.get_owned(req.ctx, req.user_id, project_id)
    return deployments.service(req.ctx).logs(
        project_id, deployment_id, req.query.after, wait_s=req.query.wait
    )


@endpoint(
    bp,
    "/projects/{project_id}/bundles",
    "POST",
    summary="Upload your own Terraform: a presigned POST for a zip (15 min, 1 byte..10 MB);"
    " then POST .../bundles/{bundle_id}/complete",
    body="chalicelib.models.deployments_api:BundleUploadCreate",
    response="chalicelib.models.deployments_api:UploadedBundleOut",
    status=201,
    tags=TAGS,
    errors=(404,),
)
def create_bundle_upload(req: ApiRequest, project_id: str) -> UploadedBundleOut:
    from chalicelib.services import bundles_upload, projects

    projects.get_owned(req.ctx, req.user_id, project_id)
    record, presigned = bundles_upload.create(req.ctx, project_id, req.body.terraform_root)
    return record.out(presigned)


@endpoint(
    bp,
    "/projects/{project_id}/bundles",
    "GET",
    summary="The project's uploaded Terraform bundles, newest first",
    response="chalicelib.models.deployments_api:UploadedBundleList",
    rate_bucket="status",
    tags=TAGS,
    errors=(404,),
)
def list_bundle_uploads(req: ApiRequest, project_id: str) -> UploadedBundleList:
    from chalicelib.models.deployments_api import UploadedBundleList
    from chalicelib.services import bundles_upload, projects

    projects.get_owned(req.ctx, req.user_id, project_id)
    records = bundles_upload.list_for_project(req.ctx, project_id)
    return UploadedBundleList(bundles=[r.out() for r in records])


@endpoint(
    bp,
    "/projects/{project_id}/bundles/{bundle_id}",
    "GET",
    summary="An uploaded bundle's status and files",
    response="chalicelib.models.deployments_api:UploadedBundleOut",
    rate_bucket="status",
    tags=TAGS,
    errors=(404,),
)
def get_bundle_upload(req: ApiRequest, project_id: str, bundle_id: str) -> UploadedBundleOut:
    from chalicelib.services import bundles_upload, projects

    projects.get_owned(req.ctx, req.user_id, project_id)
    return bundles_upload.get_record(req.ctx, project_id, bundle_id).out()


@endpoint(
    bp,
    "/projects/{project_id}/bundles/{bundle_id}/complete",
    "POST",
    summary="Check and unpack the uploaded zip (size, paths, links, file count, ratio);"
    " Terraform validates it on the runner when it is deployed",
    response="chalicelib.models.deployments_api:UploadedBundleOut",
    tags=TAGS,
    errors=(404, 409, 422),
)
def complete_bundle_upload(req: ApiRequest, project_id: str, bundle_id: str) -> UploadedBundleOut:
    from chalicelib.services import bundles_upload, projects

    projects.get_owned(req.ctx, req.user_id, project_id)
    return bundles_upload.complete(req.ctx, project_id, bundle_id).out()
