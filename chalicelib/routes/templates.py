"""Template routes: generate a bundle from an analysis, read it, list them, download the zip."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.routes.endpoint import ApiRequest, endpoint

if TYPE_CHECKING:
    from chalicelib.models.templates import (
        BundleDownload,
        BundleList,
        BundleOut,
        BundleRecord,
    )


bp = Blueprint(__name__)
TAGS = ("templates",)


@endpoint(
    bp,
    "/projects/{project_id}/templates",
    "POST",
    summary="Generate Terraform, Dockerfile, compose file and CI workflow from a succeeded"
    " analysis, with the recommended target and a monthly cost estimate for every target",
    body="chalicelib.models.templates:TemplateRequest",
    response="chalicelib.models.templates:BundleRecord",
    status=201,
    tags=TAGS,
    errors=(404, 409, 422),
)
def create_templates(req: ApiRequest, project_id: str) -> BundleRecord:
    from chalicelib.services import projects, templates

    project = projects.get_owned(req.ctx, req.user_id, project_id)
    return templates.create(req.ctx, project_id, req.body, req.request_id, project.name)


@endpoint(
    bp,
    "/projects/{project_id}/templates",
    "GET",
    summary="The project's template bundles, newest first",
    response="chalicelib.models.templates:BundleList",
    rate_bucket="status",
    tags=TAGS,
    errors=(404,),
)
def list_templates(req: ApiRequest, project_id: str) -> BundleList:
    from chalicelib.models.templates import BundleList
    from chalicelib.services import projects, templates

    projects.get_owned(req.ctx, req.user_id, project_id)
    return BundleList(bundles=templates.list_for_project(req.ctx, project_id))


@endpoint(
    bp,
    "/projects/{project_id}/templates/{bundle_id}",
    "GET",
    summary="A template bundle: metadata, recommendation, cost estimate and every file's text",
    response="chalicelib.models.templates:BundleOut",
    rate_bucket="status",
    tags=TAGS,
    errors=(404,),
)
def get_templates(req: ApiRequest, project_id: str, bundle_id: str) -> BundleOut:
    from chalicelib.services import projects, templates

    projects.get_owned(req.ctx, req.user_id, project_id)
    return templates.get(req.ctx, project_id, bundle_id)


@endpoint(
    bp,
    "/projects/{project_id}/templates/{bundle_id}/download",
    "GET",
    summary="A presigned GET (15 min) of the bundle as a zip",
    response="chalicelib.models.templates:BundleDownload",
    rate_bucket="status",
    tags=TAGS,
    errors=(404,),
)
def download_templates(req: ApiRequest, project_id: str, bundle_id: str) -> BundleDownload:
    from chalicelib.services import projects, templates

    projects.get_owned(req.ctx, req.user_id, project_id)
    return templates.download(req.ctx, project_id, bundle_id)
