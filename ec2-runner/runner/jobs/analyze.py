"""The ``analyze`` job: fetch the uploaded archive, analyze it, store the report.

Payload: ``{"upload_id": ..., "key": "uploads/<project_id>/<upload_id>.<zip|tar.gz>"}``.
The report (the full ``StackProfile``) goes to ``reports/<project_id>/<job_id>.json``;
a small summary goes on the job item.
"""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, ValidationError

from chalicelib import keys
from chalicelib.models.jobs import AnalysisSummary, AppSummary
from chalicelib.models.profile import StackProfile
from runner.errors import PermanentJobError, TransientJobError
from runner.jobs.context import JobContext, JobResult

_UPLOAD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\.(zip|tar\.gz|tgz)$")


class AnalyzePayload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    upload_id: str
    key: str


def report_key(project_id: str, job_id: str) -> str:
    return keys.report_key(project_id, job_id)


def summarize(profile: StackProfile) -> AnalysisSummary:
    return AnalysisSummary(
        primary_language=profile.languages.primary,
        apps=[
            AppSummary(
                path=app.path,
                name=app.name,
                language=app.language,
                framework=app.framework.name if app.framework else None,
                port=app.port.value if app.port else None,
            )
            for app in profile.apps
        ],
        services=sorted({service.kind for service in profile.services}),
    )


def _engine(
    ctx: JobContext, work_root: Path
) -> tuple[Callable[[Path], StackProfile], tuple[type[BaseException], ...]]:
    """The analysis engine (injected in some tests; imported on first use otherwise)."""
    analyzer = ctx.services.get("analyzer")
    refused = ctx.services.get("refused_errors")
    if analyzer is None or refused is None:
        from runner.analysis import ArchiveRefusedError, analyze_archive

        # Extraction happens in the job's own work folder, removed with it.
        analyzer = analyzer or functools.partial(analyze_archive, work_root=work_root)
        refused = refused or (ArchiveRefusedError,)
    return analyzer, tuple(refused)


def _checked_key(ctx: JobContext, payload: AnalyzePayload) -> str:
    prefix = keys.uploads_prefix(ctx.message.project_id)
    name = payload.key[len(prefix) :] if payload.key.startswith(prefix) else ""
    if not _UPLOAD_NAME.match(name):
        # A message must never make the runner read another project's objects.
        raise PermanentJobError(
            f"payload.key must be an archive under {prefix}, not {payload.key!r}",
            code="invalid_payload",
        )
    return payload.key


def _head(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    try:
        return s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code"))
        if code in ("404", "NoSuchKey", "NotFound"):
            raise PermanentJobError(
                f"the uploaded archive {key} does not exist (was the upload completed?)",
                code="upload_missing",
            ) from None
        raise


def handle(ctx: JobContext) -> JobResult:
    try:
        payload = AnalyzePayload.model_validate(ctx.message.payload)
    except ValidationError as exc:
        raise PermanentJobError(f"invalid analyze payload: {exc}", code="invalid_payload") from None
    key = _checked_key(ctx, payload)
    s3, bucket = ctx.clients.s3, ctx.settings.bucket
    limit = ctx.settings.max_upload_bytes
    head = _head(s3, bucket, key)
    size = int(head.get("ContentLength", 0))
    if size > limit:
        raise PermanentJobError(
            f"the archive is {size} bytes, over the {limit}-byte upload limit",
            code="archive_too_large",
        )
    ctx.progress(10, "downloading the archive")
    ctx.settings.work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ctx.settings.work_dir, prefix="analyze-") as tmp:
        analyzer, refused = _engine(ctx, Path(tmp))
        path = Path(tmp) / key.rsplit("/", 1)[1]
        # Read the very object we measured (IfMatch) and never more than the limit.
        try:
            body = s3.get_object(Bucket=bucket, Key=key, IfMatch=head["ETag"])["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                raise TransientJobError("the archive changed while being read") from None
            raise
        written = 0
        with path.open("wb") as out:
            for chunk in body.iter_chunks(1 << 20):
                written += len(chunk)
                if written > limit:
                    raise PermanentJobError(
                        f"the archive grew over the {limit}-byte upload limit while downloading",
                        code="archive_too_large",
                    )
                out.write(chunk)
        ctx.log.write(f"downloaded {key} ({written} bytes)")
        ctx.stop.raise_if_cancelled()
        ctx.progress(30, "analyzing")
        try:
            profile = analyzer(path)
        except refused as exc:
            text = str(exc)
            reason = text if text.startswith("archive refused") else f"archive refused: {text}"
            raise PermanentJobError(reason, code="archive_refused") from None
    ctx.stop.raise_if_cancelled()
    ctx.progress(90, "writing the report")
    report = report_key(ctx.message.project_id, ctx.message.job_id)
    s3.put_object(
        Bucket=bucket,
        Key=report,
        Body=profile.model_dump_json().encode(),
        ContentType="application/json",
    )
    summary = summarize(profile)
    ctx.log.write(
        f"analysis done: primary language {summary.primary_language}, {len(summary.apps)} app(s)"
    )
    return JobResult(
        result={"report_key": report, "upload_id": payload.upload_id},
        summary=summary.model_dump(),
    )
