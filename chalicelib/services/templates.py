"""Template bundles: generate from a finished analysis, store in S3, read back, download.

Generation is synchronous and fast (see ``chalicelib.generate``). Storage:

- ``bundles/<project_id>/<bundle_id>/<path>``: every file, as the runner's
  plan/apply jobs download them (its Terraform root is ``infra/``);
- ``bundles/<project_id>/<bundle_id>.json``: the record plus every file's text (GET);
- ``bundles/<project_id>/<bundle_id>.zip``: the archive behind the presigned download.

The DynamoDB item (pk ``PROJECT#<project_id>``, sk ``BUNDLE#<bundle_id>``) is
written last, so a bundle that can be found always has its files.
"""

from __future__ import annotations

import io
import json
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import ValidationError

from chalicelib import observability
from chalicelib.context import AppContext
from chalicelib.errors import AutoStackError, ConflictError, NotFoundError
from chalicelib.models.templates import (
    BundleDownload,
    BundleOut,
    BundleRecord,
    BundleSummary,
    TemplateRequest,
)
from chalicelib.services import jobs
from chalicelib.services.users import iso, new_id
from chalicelib.store.dynamodb import from_item, query_items, to_item

DOWNLOAD_EXPIRY_S = 15 * 60
UPLOAD_THREADS = 8  # the files are small: S3 round trips dominate, so send them in parallel
_ZIP_DATE = (2026, 1, 1, 0, 0, 0)  # fixed, so the same bundle always zips to the same bytes


class AnalysisNotReadyError(ConflictError):
    """The analysis has not succeeded (yet): there is no profile to generate from."""

    code = "analysis_not_ready"


class TemplateGenerationError(AutoStackError):
    """The profile cannot become this bundle (no deployable app, target does not fit)."""

    status = 422
    code = "generation_refused"


def bundle_prefix(project_id: str, bundle_id: str) -> str:
    """Where the bundle's files live (what the runner downloads)."""
    return f"bundles/{project_id}/{bundle_id}/"


def document_key(project_id: str, bundle_id: str) -> str:
    return f"bundles/{project_id}/{bundle_id}.json"


def archive_key(project_id: str, bundle_id: str) -> str:
    return f"bundles/{project_id}/{bundle_id}.zip"


def _content_type(path: str) -> str:
    if path.endswith((".yml", ".yaml")):
        return "application/yaml"
    if path.endswith(".md"):
        return "text/markdown; charset=utf-8"
    return "text/plain; charset=utf-8"


def _keys(project_id: str, bundle_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"PROJECT#{project_id}"}, "sk": {"S": f"BUNDLE#{bundle_id}"}}


def zip_files(files: dict[str, str]) -> bytes:
    """The bundle as a zip: sorted paths, fixed dates, rw-r--r-- (scripts rwxr-xr-x)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            info = zipfile.ZipInfo(path, date_time=_ZIP_DATE)
            mode = 0o755 if path.endswith(".sh") else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[path])
    return buffer.getvalue()


def _load_profile(ctx: AppContext, project_id: str, analysis_id: str) -> Any:
    from chalicelib.models.profile import StackProfile

    record = jobs.get_job(ctx, project_id, analysis_id, kind="analyze")  # 404 when unknown
    if record.status != "succeeded":
        raise AnalysisNotReadyError(
            f"the analysis is {record.status}; templates need a succeeded analysis",
            details={"analysis_id": analysis_id, "status": record.status},
        )
    report = jobs.read_report(ctx, record)
    if report is None:
        raise AnalysisNotReadyError(
            "the analysis has no report", details={"analysis_id": analysis_id}
        )
    try:
        return StackProfile.model_validate(report)
    except ValidationError as exc:
        observability.logger.error(
            "analysis report does not match StackProfile", extra={"errors": exc.error_count()}
        )
        raise AnalysisNotReadyError(
            "the analysis report cannot be read as a stack profile",
            details={"analysis_id": analysis_id},
        ) from None


def create(
    ctx: AppContext,
    project_id: str,
    request: TemplateRequest,
    request_id: str | None = None,
    project_name: str | None = None,
) -> BundleRecord:
    """Generate the bundle for ``request`` from its analysis and store it (project checked)."""
    from chalicelib.generate import (
        NoDeployableAppError,
        TargetNotSuitableError,
        ToolchainVersionError,
        generate_bundle,
    )

    profile = _load_profile(ctx, project_id, request.analysis_id)
    try:
        bundle = generate_bundle(profile, request, project=project_name)
    except (NoDeployableAppError, TargetNotSuitableError, ToolchainVersionError) as exc:
        raise TemplateGenerationError(
            str(exc), details={"analysis_id": request.analysis_id, "target": request.target}
        ) from None
    bundle_id = new_id()
    record = BundleRecord(
        id=bundle_id,
        project_id=project_id,
        analysis_id=request.analysis_id,
        target=bundle.target,
        region=bundle.region,
        options=request.options,
        files=sorted(bundle.files),
        plans=bundle.plans,
        recommendation=bundle.recommendation,
        cost=bundle.cost,
        warnings=bundle.warnings,
        created_at=iso(ctx.clock()),
    )
    prefix = bundle_prefix(project_id, bundle_id)
    document = {"record": record.model_dump(mode="json"), "files": bundle.files}
    archive = zip_files(bundle.files)
    s3, bucket = ctx.aws.s3, ctx.settings.bucket
    uploads = [
        (prefix + path, text.encode(), _content_type(path)) for path, text in bundle.files.items()
    ]
    uploads.append((document_key(project_id, bundle_id), json.dumps(document).encode(),
                    "application/json"))  # fmt: skip
    uploads.append((archive_key(project_id, bundle_id), archive, "application/zip"))

    def put(upload: tuple[str, bytes, str]) -> None:
        key, body, content_type = upload
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)

    keys = [key for key, _, _ in uploads]
    try:
        with ThreadPoolExecutor(max_workers=UPLOAD_THREADS) as pool:
            list(pool.map(put, uploads))  # list(): re-raises the first failure
    except Exception:
        # Leaving the pool waited for every upload, so nothing lands after this cleanup.
        _delete_objects(ctx, keys, bundle_id)
        raise
    try:
        _put_item(ctx, project_id, request, bundle, record, archive, request_id)
    except Exception:
        # A retried write whose first attempt landed fails its condition: the bundle is stored.
        stored = _item_exists(ctx, project_id, bundle_id)
        if stored is False:
            _delete_objects(ctx, keys, bundle_id)
        if not stored:
            raise
    observability.logger.info(
        "template bundle generated",
        extra={
            "project_id": project_id,
            "bundle_id": bundle_id,
            "target": bundle.target,
            "files": len(bundle.files),
            "zip_bytes": len(archive),
        },
    )
    return record


def _item_exists(ctx: AppContext, project_id: str, bundle_id: str) -> bool | None:
    """Whether the bundle's item exists; None when that cannot be told (then files are kept)."""
    try:
        found = ctx.aws.dynamodb.get_item(
            TableName=ctx.settings.table, Key=_keys(project_id, bundle_id), ConsistentRead=True
        ).get("Item")
    except Exception:
        observability.logger.error(
            "template bundle state unknown; its objects are kept", extra={"bundle_id": bundle_id}
        )
        return None
    return bool(found)


def _delete_objects(ctx: AppContext, keys: list[str], bundle_id: str) -> None:
    """Remove a failed bundle's objects; never hides the failure that led here."""
    s3, bucket = ctx.aws.s3, ctx.settings.bucket
    failed: list[str] = []
    for start in range(0, len(keys), 1000):  # delete_objects takes at most 1000 keys
        batch = keys[start : start + 1000]
        try:
            response = s3.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
            )
            failed += [error["Key"] for error in response.get("Errors", [])]
        except Exception:  # best effort: the caller re-raises the original error
            failed += batch
    if failed:
        observability.logger.error(
            "template bundle objects left behind",
            extra={"bundle_id": bundle_id, "orphans": len(failed), "first": failed[0]},
        )
    else:
        observability.logger.warning(
            "template bundle not stored; its objects were deleted",
            extra={"bundle_id": bundle_id, "objects": len(keys)},
        )


def _put_item(
    ctx: AppContext,
    project_id: str,
    request: TemplateRequest,
    bundle: Any,
    record: BundleRecord,
    archive: bytes,
    request_id: str | None,
) -> None:
    bundle_id = record.id
    prefix = bundle_prefix(project_id, bundle_id)
    chosen = next(e for e in bundle.cost.targets if e.target == bundle.target)
    item = {
        "pk": f"PROJECT#{project_id}",
        "sk": f"BUNDLE#{bundle_id}",
        "bundle_id": bundle_id,
        "project_id": project_id,
        "analysis_id": request.analysis_id,
        "target": bundle.target,
        "region": bundle.region,
        "created_at": record.created_at,
        "created_at_epoch": ctx.now(),
        "monthly_usd": str(chosen.monthly_usd),
        "zip_size": len(archive),
        "key_prefix": prefix,
        "document_key": document_key(project_id, bundle_id),
        "archive_key": archive_key(project_id, bundle_id),
    }
    if request_id:
        item["request_id"] = request_id
    ctx.aws.dynamodb.put_item(
        TableName=ctx.settings.table,
        Item=to_item(item),
        ConditionExpression="attribute_not_exists(pk)",
    )


def _item(ctx: AppContext, project_id: str, bundle_id: str) -> dict[str, Any]:
    if not bundle_id or len(bundle_id) > 64:
        raise NotFoundError("bundle not found", details={"bundle_id": bundle_id[:64]})
    item = ctx.aws.dynamodb.get_item(
        TableName=ctx.settings.table, Key=_keys(project_id, bundle_id), ConsistentRead=True
    ).get("Item")
    if not item:
        raise NotFoundError("bundle not found", details={"bundle_id": bundle_id})
    return from_item(item)


def get(ctx: AppContext, project_id: str, bundle_id: str) -> BundleOut:
    """The bundle's metadata and file contents (404 when unknown in this project)."""
    values = _item(ctx, project_id, bundle_id)
    body = ctx.aws.s3.get_object(Bucket=ctx.settings.bucket, Key=values["document_key"])[
        "Body"
    ].read()
    document = json.loads(body)
    return BundleOut.model_validate({**document["record"], "contents": document["files"]})


def list_for_project(ctx: AppContext, project_id: str) -> list[BundleSummary]:
    """The project's bundles, newest first."""
    items = query_items(
        ctx.aws.dynamodb, ctx.settings.table, f"PROJECT#{project_id}", sk_prefix="BUNDLE#"
    )
    items.sort(key=lambda v: (v.get("created_at_epoch", 0), v["bundle_id"]), reverse=True)
    return [
        BundleSummary(
            id=v["bundle_id"],
            analysis_id=v["analysis_id"],
            target=v["target"],
            region=v["region"],
            created_at=v["created_at"],
            monthly_usd=float(v["monthly_usd"]),
        )
        for v in items
    ]


def download(ctx: AppContext, project_id: str, bundle_id: str) -> BundleDownload:
    """A presigned GET of the bundle's zip, valid for 15 minutes."""
    values = _item(ctx, project_id, bundle_id)
    key = values["archive_key"]
    url = ctx.aws.s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": ctx.settings.bucket,
            "Key": key,
            "ResponseContentDisposition": f'attachment; filename="autostack-{bundle_id}.zip"',
        },
        ExpiresIn=DOWNLOAD_EXPIRY_S,
    )
    return BundleDownload(
        url=url,
        expires_at=iso(ctx.clock() + DOWNLOAD_EXPIRY_S),
        key=key,
        size=int(values["zip_size"]),
    )
