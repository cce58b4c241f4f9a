"""App config routes: the app's environment variables and secrets, in the user's SSM."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.routes.endpoint import ApiRequest, endpoint

if TYPE_CHECKING:  # models and services are imported on first use (cold start)
    from chalicelib.models.app_config import ConfigChangeOut, ConfigList

bp = Blueprint(__name__)
TAGS = ("config",)
_ERRORS = (404, 409, 422)


@endpoint(
    bp,
    "/projects/{project_id}/config",
    "GET",
    summary="The app's config on its live stack: values, secrets (names only), generated"
    " secrets (names only)",
    response="chalicelib.models.app_config:ConfigList",
    rate_bucket="status",
    tags=TAGS,
    errors=(404, 409),
)
def get_config(req: ApiRequest, project_id: str) -> ConfigList:
    from chalicelib.services import app_config, projects

    project = projects.get_owned(req.ctx, req.user_id, project_id)
    return app_config.list_config(req.ctx, project)


@endpoint(
    bp,
    "/projects/{project_id}/config",
    "PUT",
    summary="Set values and secrets (SSM String / SecureString in your account); restarts the"
    " app unless ?restart=false",
    body="chalicelib.models.app_config:ConfigPut",
    query="chalicelib.models.app_config:ConfigQuery",
    response="chalicelib.models.app_config:ConfigChangeOut",
    status=202,
    tags=TAGS,
    errors=_ERRORS,
)
def put_config(req: ApiRequest, project_id: str) -> ConfigChangeOut:
    from chalicelib.services import app_config, projects

    project = projects.get_owned(req.ctx, req.user_id, project_id)
    return app_config.put_config(
        req.ctx,
        project,
        req.body,
        restart=req.query.restart,
        user_id=req.user_id,
        request_id=req.request_id,
    )


@endpoint(
    bp,
    "/projects/{project_id}/config/{config_name}",
    "DELETE",
    summary="Remove a value or secret; restarts the app unless ?restart=false",
    query="chalicelib.models.app_config:ConfigQuery",
    response="chalicelib.models.app_config:ConfigChangeOut",
    status=202,
    tags=TAGS,
    errors=_ERRORS,
)
def delete_config(req: ApiRequest, project_id: str, config_name: str) -> ConfigChangeOut:
    from chalicelib.services import app_config, projects

    project = projects.get_owned(req.ctx, req.user_id, project_id)
    return app_config.delete_config(
        req.ctx,
        project,
        config_name,
        restart=req.query.restart,
        user_id=req.user_id,
        request_id=req.request_id,
    )
