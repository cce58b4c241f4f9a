"""AutoStack's API: a Chalice app. Routes live in blueprints under chalicelib/routes/.

Importing this module must stay cheap (cold start): settings, boto3 clients and
the signing key are loaded on the first request (chalicelib.context).
"""

import os

from chalice import Chalice, Rate

from chalicelib.routes import analyses, auth, meta, projects, uploads
from chalicelib.routes import config as config_routes
from chalicelib.routes import deployments as deployments_routes
from chalicelib.routes import releases as releases_routes
from chalicelib.routes import templates as templates_routes
from chalicelib.routes.middleware import http_middleware
from chalicelib.settings import load_settings

app = Chalice(app_name="autostack")
app.register_middleware(http_middleware, "http")

if "AWS_LAMBDA_FUNCTION_NAME" in os.environ:
    # In Lambda a missing or malformed setting fails the init phase, naming the variable
    # (reading them is cheap; clients and the key still load on first use).
    load_settings()

app.register_blueprint(meta.bp)
app.register_blueprint(auth.bp)
app.register_blueprint(projects.bp)
app.register_blueprint(uploads.bp)
app.register_blueprint(analyses.bp)
app.register_blueprint(templates_routes.bp)
app.register_blueprint(deployments_routes.bp)
app.register_blueprint(releases_routes.bp)
app.register_blueprint(config_routes.bp)
# Other areas register their blueprints here (uploads, analyses, templates, deployments).


@app.schedule(Rate(1, unit=Rate.DAYS))
def daily_backup(event):  # type: ignore[no-untyped-def]
    """Export the table to S3 and queue a runner.db snapshot (issue 4)."""
    from chalicelib.context import get_context
    from chalicelib.observability import logger
    from chalicelib.services.backup_export import run_daily_backup

    request_id = getattr(getattr(event, "context", None), "aws_request_id", None)
    result = run_daily_backup(get_context(), request_id=request_id)
    logger.info(
        "daily backup",
        extra={
            "export_key": result.export.key,
            "items": result.export.items,
            "snapshot_job_id": result.snapshot_job_id,
        },
    )
    return {"export_key": result.export.key, "snapshot_job_id": result.snapshot_job_id}
