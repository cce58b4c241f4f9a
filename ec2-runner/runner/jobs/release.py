"""The ``release`` job, and the release an apply job runs after applying a generated bundle.

A release ships the bundle's primary app plan from the source upload the bundle was
generated from: the source is downloaded, hashed (the image tag) and extracted, a
release record is written (``chalicelib.store.releases``), then ``runner.shipping``
runs build -> release command -> roll out -> verify, writing each phase and its timing
on the job item. Bundles without an app plan (uploaded Terraform) do not ship, nor does
a runner without an executor (``AUTOSTACK_RELEASE_EXECUTOR``, default ``none``).

``local`` is one executor for the runner's life; ``aws`` builds one per release from the
bundle's target, the stack's outputs (kept on the release record for redeploys) and the
job's scoped session (``runner.shipping.aws_access``). A job found mid-release when it
starts (its runner died) fails at once, naming the phase: nothing is switched further.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib import keys
from chalicelib.models.plan import AppPlan
from chalicelib.store.bundles import BundleStore, DynamoBundleStore
from chalicelib.store.jobs import DynamoJobStore, JobStore
from chalicelib.store.releases import DynamoReleaseStore, ReleaseStore
from runner.errors import JobCancelledError, PermanentJobError
from runner.jobs.context import JobContext, JobResult
from runner.shipping import app_config
from runner.shipping.aws_target import TARGETS as AWS_TARGETS
from runner.shipping.build import content_hash, image_tag
from runner.shipping.executor import PHASES, ReleaseExecutor, ReleaseSpec
from runner.shipping.pipeline import ShipCancelledError, ShipFailedError, ship
from runner.shipping.settings import ShippingSettings
from runner.shipping.verify import HealthCheck

log = logging.getLogger(__name__)

_UPLOAD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\.(zip|tar\.gz|tgz)$")
_ID = r"^[A-Za-z0-9_-]{1,64}$"
_BUILD_FILES = frozenset({"Dockerfile", ".dockerignore", "Dockerfile.dockerignore"})
# The outputs an AWS executor reads (runner.shipping.aws_target), kept on the release record.
_TARGET_OUTPUTS = (
    "app_url", "build_project", "build_source_bucket", "ecr_repository_url", "log_group",
    "ecs_cluster", "ecs_service", "release_task", "instance_id", "function_name",
    "release_function_name", "site_bucket", "cloudfront_distribution_id",
)  # fmt: skip


class ReleasePayload(BaseModel):
    """``JobMessage.payload`` of a ``release`` job (a redeploy or rollback of the app)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    stack: str = Field(pattern=_ID)
    bundle_id: str = Field(pattern=_ID)
    deployment_id: str | None = Field(default=None, pattern=_ID)
    upload_id: str | None = Field(default=None, pattern=_ID)  # None: the bundle's own source
    created_by: str | None = Field(default=None, max_length=128)
    rollback_of: str | None = Field(default=None, pattern=_ID)  # the release put back
    # How the aws executor reaches the user's account (an apply job's payload has them).
    role_arn: str | None = Field(
        default=None, pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"
    )
    external_id: str | None = Field(
        default=None, min_length=2, max_length=1224, pattern=r"^[A-Za-z0-9+=,.@:/_-]+$"
    )
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$")


@dataclass
class ShippingServices:
    executor: ReleaseExecutor | None
    check: HealthCheck
    releases: ReleaseStore
    bundles: BundleStore
    jobs: JobStore
    extra: dict[str, Any] = field(default_factory=dict)
    # Builds the executor of each release (the aws executors); None: ``executor`` always.
    make_executor: Callable[[Any], ReleaseExecutor] | None = None


_cached: dict[str, Any] = {}
_cache_lock = threading.Lock()


def shipping_for(ctx: JobContext) -> ShippingServices | None:
    """The runner's shipping services: ``ctx.services["shipping"]`` (tests) or built once
    per process from the environment; None when the runner has no executor."""
    given = ctx.services.get("shipping")
    if isinstance(given, ShippingServices):
        return given
    if "shipping" in ctx.services:  # explicitly None: no shipping in this test
        return None
    with _cache_lock:
        if "settings" not in _cached:
            _cached["settings"] = ShippingSettings.from_environ(os.environ)
        settings: ShippingSettings = _cached["settings"]
        if settings.executor == "none":
            return None
        executor = _cached.get("executor")
        if executor is None and settings.executor == "local":
            executor = _cached["executor"] = _local_executor(os.environ, ctx.settings.runner_db)
    dynamodb, table = ctx.clients.dynamodb, ctx.settings.table
    return ShippingServices(
        executor=executor,
        make_executor=_aws_factory(ctx, settings) if settings.executor == "aws" else None,
        check=HealthCheck(
            probe=_http_probe(),
            clock=ctx.clock,
            sleep=ctx.sleep,
            timeout_s=settings.health_timeout_s,
        ),
        releases=DynamoReleaseStore(dynamodb, table),
        bundles=DynamoBundleStore(dynamodb, table),
        jobs=DynamoJobStore(dynamodb, table),
    )


def _local_executor(environ: Any, runner_db: Path) -> ReleaseExecutor:
    import time

    from runner.local_runtime import LocalRuntime
    from runner.shipping.local import (
        AppProcesses,
        LocalApps,
        LocalExecutor,
        SpawnThread,
        guarded_runner,
        local_services,
    )

    # Apps die with the runner process, and a runner's successor reaps what is left
    # (runner.shipping.local: SpawnThread, guarded_runner, AppProcesses, reap_left_apps).
    spawner = SpawnThread(guarded_runner(), AppProcesses.beside(runner_db))
    runtime = LocalRuntime(runner=spawner, clock=time.monotonic)
    return LocalExecutor(runtime=runtime, apps=LocalApps(), services=local_services(environ))


def _aws_factory(ctx: JobContext, settings: ShippingSettings) -> Any:
    """One per process (its boto3 session's loaded models serve every release)."""
    from runner.jobs.terraform_jobs import services_for
    from runner.shipping.aws_access import AwsExecutorFactory, DeployRoleClients

    with _cache_lock:
        if "aws_factory" in _cached:
            return _cached["aws_factory"]
    clients = DeployRoleClients(
        issuer=services_for(ctx).sessions,  # the Terraform jobs' issuer: one per process
        bucket=ctx.settings.bucket,
        stage=os.environ.get("AUTOSTACK_STAGE", ""),
        endpoint_url=ctx.settings.endpoint_url,
    )
    factory = AwsExecutorFactory(clients_for=clients, settings=settings)
    with _cache_lock:
        return _cached.setdefault("aws_factory", factory)


def _http_probe() -> Any:
    from runner.local_runtime import http_probe

    return http_probe


# --------------------------------------------------------------------------- handlers


def handle(ctx: JobContext) -> JobResult:
    """A ``release`` job: ship the bundle's app again (new source or the same)."""
    try:
        payload = ReleasePayload.model_validate(ctx.message.payload)
    except ValueError as exc:
        raise PermanentJobError(f"invalid release payload: {exc}", "bad_payload") from None
    services = shipping_for(ctx)
    if services is None:
        raise PermanentJobError(
            "this runner has no release executor (AUTOSTACK_RELEASE_EXECUTOR is none)",
            "no_executor",
        )
    fail_interrupted_release(ctx, services)
    result = _release(ctx, services, payload, outputs={})
    if result is None:
        raise PermanentJobError(
            f"bundle {payload.bundle_id} is not a generated bundle with an app plan",
            "nothing_to_ship",
        )
    return result


def ship_after_apply(
    ctx: JobContext,
    *,
    stack: str,
    bundle_id: str,
    deployment_id: str | None,
    outputs: dict[str, Any],
) -> JobResult | None:
    """After a successful apply: ship the app of a generated bundle (None: nothing to ship,
    the deployment ends ``applied`` as before)."""
    services = shipping_for(ctx)
    if services is None:
        return None
    given = ctx.message.payload
    payload = ReleasePayload(
        stack=stack, bundle_id=bundle_id, deployment_id=deployment_id,
        role_arn=given.get("role_arn"), external_id=given.get("external_id"),
        region=given.get("region"),
    )  # fmt: skip
    return _release(ctx, services, payload, outputs=outputs)


def fail_interrupted_release(ctx: JobContext, services: ShippingServices | None = None) -> None:
    """A job that starts in a release phase was cut off there (its runner died): fail it,
    and its release, naming the phase; nothing is left half-switched. Before the roll-out
    (``building``, ``releasing``) nothing serves the new version yet; in ``verifying`` the
    roll-out may have happened, so the previous release's image is put back (the AWS
    executors' ``put_back``) before the job fails."""
    phase = ctx.job.phase
    if phase not in PHASES:
        return
    if services is None:
        services = shipping_for(ctx)
    store = (
        services.releases
        if services is not None
        else DynamoReleaseStore(ctx.clients.dynamodb, ctx.settings.table)
    )
    message = f"the runner stopped during {phase}; the previous release is still serving"
    for release in store.list_project(ctx.message.project_id):
        if release.get("job_id") != ctx.message.job_id or release.get("status") in (
            "live", "failed", "cancelled", "superseded", "rolled_back", "retired",
        ):  # fmt: skip
            continue
        if phase == "verifying" and services is not None:
            message += _put_previous_back(ctx, services, release)
        if phase == "building" and release.get("build_id") and services is not None:
            _stop_left_build(ctx, services, release)
        store.set_status(
            ctx.message.project_id, release["release_id"], "failed",
            failed_phase=phase, error=message, finished_at_epoch=ctx.clock(),
        )  # fmt: skip
    ctx.log.write(message)
    raise PermanentJobError(message, f"{phase}_interrupted")


def _remember_build(
    ctx: JobContext, services: ShippingServices, release_id: str, build_id: str
) -> None:
    """Keep the build id on the release record (the build goes on if this write fails)."""
    try:
        services.releases.set_status(
            ctx.message.project_id, release_id, "building", build_id=build_id
        )
    except Exception:
        log.warning("could not keep the build id %s on the release", build_id, exc_info=True)


def _stop_left_build(ctx: JobContext, services: ShippingServices, release: dict[str, Any]) -> None:
    """Stop the CodeBuild build the killed runner started (through the job's scoped
    session, as every call to the user's account); say so in the job log."""
    from runner.shipping.aws_build import stop_build

    build_id = str(release["build_id"])
    try:
        payload = ReleasePayload.model_validate(ctx.message.payload)
        document = {"record": {"target": release.get("target")}}
        executor = _executor_of(
            ctx, services, payload, document, dict(release.get("target_outputs") or {})
        )
        clients = getattr(executor, "clients", None)
        if clients is None:
            return  # not an AWS executor: no build in the user's account
        ctx.log.write(stop_build(clients.codebuild, build_id))
    except Exception as exc:  # the job fails either way; say what may still run
        log.warning("could not stop the build left running", exc_info=True)
        ctx.log.write(f"could not stop CodeBuild {build_id} (stop it in the console): {exc}")


def _put_previous_back(ctx: JobContext, services: ShippingServices, release: dict[str, Any]) -> str:
    """Serve the stack's previous release again; a note for the job's error."""
    project_id, stack = ctx.message.project_id, str(release.get("stack") or "")
    previous = _serving(services.releases, project_id, stack)
    if previous is None:
        return " (there was no previous release)"
    try:
        payload = ReleasePayload.model_validate(ctx.message.payload)
        document = {"record": {"target": release.get("target")}}
        executor = _executor_of(
            ctx, services, payload, document, dict(release.get("target_outputs") or {})
        )
        put_back = getattr(executor, "put_back", None)
        if put_back is None:
            return ""  # the local executor: the new version died with the runner
        ctx.log.write(f"putting {previous['image_tag']} (release {previous['release_id']}) back")
        put_back(str(previous["image_tag"]), ctx.log.write)
    except Exception as exc:  # the job fails either way; say what is serving
        log.warning("could not put the previous release back", exc_info=True)
        return f" (but putting it back failed: {exc}; roll back to it)"
    return f" (put back: {previous['image_tag']})"


def live_image_tag(ctx: JobContext, stack: str) -> str | None:
    """The image tag an AWS executor made the stack serve (None: none, or a local release).

    Terraform jobs pass it as ``image_tag``: the executors move the service / function /
    instance to a new image outside Terraform, and a later plan with the default tag
    would move it back."""
    try:
        store = DynamoReleaseStore(ctx.clients.dynamodb, ctx.settings.table)
        for release in store.list_project(ctx.message.project_id, stack):
            if release.get("status") == "live":
                executor = str(release.get("executor") or "")
                return str(release["image_tag"]) if executor.startswith("aws-") else None
    except Exception:  # the plan goes on with the bundle's default; say why in the logs
        log.warning("could not read the stack's live release", exc_info=True)
    return None


# --------------------------------------------------------------------------- one release


class _JobRecorder:
    """Writes the deployment phase and the release timings on the job item."""

    def __init__(self, ctx: JobContext, jobs: JobStore) -> None:
        self.ctx = ctx
        self.jobs = jobs

    def note(self, **values: Any) -> None:
        message = self.ctx.message
        try:
            self.jobs.note_terraform(
                message.project_id, message.job_id, self.ctx.settings.runner_id,
                self.ctx.clock(), **values,
            )  # fmt: skip
        except Exception:  # the outcome writes the final phase again; a lost lease is seen
            log.warning("could not write the release phase", exc_info=True)

    def enter(self, phase: str) -> None:
        self.note(phase=phase)

    def timings(self, entries: list[dict[str, Any]]) -> None:
        self.note(phase_timings=[dict(e) for e in entries])


def _release(
    ctx: JobContext, services: ShippingServices, payload: ReleasePayload, outputs: dict[str, Any]
) -> JobResult | None:
    project_id = ctx.message.project_id
    bundle = services.bundles.get(project_id, payload.bundle_id)
    if not bundle:
        return None  # an uploaded Terraform bundle: infrastructure only
    document = _bundle_document(ctx, project_id, payload.bundle_id)
    plan = _primary_plan(document)
    if plan is None:
        return None
    target = str((document.get("record") or {}).get("target") or "")
    if services.make_executor is not None and target not in AWS_TARGETS:
        ctx.log.write(f"the aws executor does not ship a {target or 'bundle without a'} target")
        return None  # a target no AWS executor ships: infrastructure only
    upload_id, upload_key = _source_of(ctx, services, bundle, payload.upload_id)
    try:  # before the release record: an unreadable config leaves no release behind
        config = app_config.environment_for(ctx, payload.stack)
    except app_config.AppConfigReadError as exc:
        raise PermanentJobError(str(exc), "config_unreadable") from None
    previous = _serving(services.releases, project_id, payload.stack)
    target_outputs = {k: outputs[k] for k in _TARGET_OUTPUTS if k in outputs} or dict(
        (previous or {}).get("target_outputs") or {}
    )
    executor = _executor_of(ctx, services, payload, document, target_outputs)
    recorder = _JobRecorder(ctx, services.jobs)
    recorder.note(result={"outputs": outputs, "applied": True} if outputs else None)
    now = ctx.clock()
    release_id = f"{int(now * 1000):013d}-{secrets.token_hex(4)}"
    root = ctx.settings.work_dir / "releases" / project_id / payload.stack / release_id
    archive = root / ("source." + upload_key.split(".", 1)[1])
    _download(ctx, upload_key, archive)
    tag = image_tag(content_hash(archive))
    source = root / "source"
    _extract(archive, source)
    record = {
        "stack": payload.stack,
        "bundle_id": payload.bundle_id,
        "deployment_id": payload.deployment_id,
        "job_id": ctx.message.job_id,
        "source_upload_id": upload_id,
        "image_tag": tag,
        "app": plan.name,
        "executor": executor.name,
        "target_outputs": target_outputs if services.make_executor is not None else None,
        "target": (document.get("record") or {}).get("target"),
        "status": "building",
        "created_at_epoch": now,
        "created_by": payload.created_by or bundle.get("created_by") or "unknown",
        "rollback_of": payload.rollback_of,
    }
    services.releases.put(
        project_id, release_id, {k: v for k, v in record.items() if v is not None}
    )
    ctx.log.write(f"release {release_id}: {plan.name} from upload {upload_id} as {tag}")
    spec = ReleaseSpec(
        project_id=project_id,
        stack=payload.stack,
        release_id=release_id,
        image_tag=tag,
        plan=plan,
        source_dir=source,
        work_dir=root / "app",
        config=config,
        build_files=_build_files(document),
        previous_image_tag=str(previous["image_tag"]) if previous else None,
        cancelled=lambda: ctx.stop.reason == "cancel",
        build_started=lambda build_id: _remember_build(ctx, services, release_id, build_id),
    )
    ctx.log.write(config.describe())

    def cancelled() -> bool:
        return ctx.stop.reason == "cancel"

    try:
        shipped = ship(
            spec, executor, services.check, recorder, ctx.log.write, ctx.clock, cancelled
        )
    except ShipCancelledError as exc:
        services.releases.set_status(
            project_id, release_id, "cancelled", finished_at_epoch=ctx.clock(),
            phase_timings=exc.timings,
        )  # fmt: skip
        raise JobCancelledError(f"cancelled on request before {exc.phase}") from None
    except ShipFailedError as exc:
        services.releases.set_status(
            project_id, release_id, "failed", failed_phase=exc.phase,
            error=exc.message[:2000], finished_at_epoch=ctx.clock(), phase_timings=exc.timings,
        )  # fmt: skip
        recorder.note(phase=exc.phase, error_code=f"{exc.phase}_failed")
        raise PermanentJobError(f"{exc.phase} failed: {exc}", f"{exc.phase}_failed") from None
    for older in services.releases.list_project(project_id, payload.stack):
        if older["release_id"] != release_id and older.get("status") == "live":
            # The release a rollback replaced is ``rolled_back``; any other, ``superseded``.
            replaced = "rolled_back" if payload.rollback_of else "superseded"
            services.releases.set_status(project_id, older["release_id"], replaced)
    services.releases.set_status(
        project_id, release_id, "live", url=shipped.url, finished_at_epoch=ctx.clock(),
        phase_timings=shipped.timings,
    )  # fmt: skip
    ctx.progress(100, f"live at {shipped.url}")
    final_outputs = {**outputs, "app_url": {"value": shipped.url, "sensitive": False}}
    return JobResult(
        status="succeeded",
        result={"outputs": final_outputs, "applied": True, "release_id": release_id},
        attributes={"phase": "live", "phase_timings": shipped.timings},
    )


def _bundle_document(ctx: JobContext, project_id: str, bundle_id: str) -> dict[str, Any]:
    import json

    key = keys.bundle_document_key(project_id, bundle_id)
    body = ctx.clients.s3.get_object(Bucket=ctx.settings.bucket, Key=key)["Body"].read()
    document = json.loads(body)
    return document if isinstance(document, dict) else {}


def _build_files(document: dict[str, Any]) -> dict[str, str]:
    """The bundle's generated Dockerfiles and ignore files, by their path in the source."""
    files = document.get("files") or {}
    chosen: dict[str, str] = {}
    for path, content in files.items() if isinstance(files, dict) else ():
        pure = PurePosixPath(str(path))
        if (
            pure.name in _BUILD_FILES and isinstance(content, str)
            and not pure.is_absolute() and ".." not in pure.parts and pure.parts[0] != "infra"
        ):  # fmt: skip
            chosen[pure.as_posix()] = content
    return chosen


def _serving(releases: ReleaseStore, project_id: str, stack: str) -> dict[str, Any] | None:
    """The stack's live release (the one a new release replaces), if any."""
    for release in releases.list_project(project_id, stack):
        if release.get("status") == "live":
            return release
    return None


def _executor_of(
    ctx: JobContext,
    services: ShippingServices,
    payload: ReleasePayload,
    document: dict[str, Any],
    outputs: dict[str, Any],
) -> ReleaseExecutor:
    if services.make_executor is None:
        if services.executor is None:
            raise PermanentJobError("this runner has no release executor", "no_executor")
        return services.executor
    from runner.job_session import JobSessionError
    from runner.shipping.aws_access import DeployAccess, ExecutorRequest
    from runner.shipping.aws_target import AwsTargetError

    access = None
    given = payload
    if not (given.role_arn and given.external_id and given.region):
        # A release job from the API (a rollback) names no role: the stack's live release
        # was shipped by a deployment's apply job, whose payload does.
        given = _access_of_live_release(ctx, services, payload.stack) or payload
    if given.role_arn and given.external_id and given.region:
        access = DeployAccess(given.role_arn, given.external_id, given.region)
    request = ExecutorRequest(
        project_id=ctx.message.project_id,
        stack=payload.stack,
        job_id=ctx.message.job_id,
        target=str((document.get("record") or {}).get("target") or ""),
        outputs=outputs,
        access=access,
        clock=ctx.clock,
        sleep=lambda seconds: _wait(ctx, seconds),
    )
    try:
        return services.make_executor(request)
    except (AwsTargetError, JobSessionError) as exc:
        raise PermanentJobError(f"cannot ship: {exc}", "no_executor") from None


def _access_of_live_release(
    ctx: JobContext, services: ShippingServices, stack: str
) -> ReleasePayload | None:
    project_id = ctx.message.project_id
    for release in services.releases.list_project(project_id, stack):
        if release.get("status") != "live" or not release.get("job_id"):
            continue
        job = services.jobs.get(project_id, str(release["job_id"]))
        if job is None:
            return None
        try:
            return ReleasePayload.model_validate(job.payload)
        except ValueError:
            return None
    return None


def _wait(ctx: JobContext, seconds: float) -> None:
    """Sleep between polls; a stop (a cancel) ends the first wait at once, then it sleeps."""
    if ctx.stop.is_set():
        ctx.sleep(seconds)
    else:
        ctx.stop.wait(seconds)


def _primary_plan(document: dict[str, Any]) -> AppPlan | None:
    """The bundle's first plan that serves traffic (plans are stored primary first)."""
    plans = (document.get("record") or {}).get("plans") or []
    for raw in plans:
        plan = AppPlan.model_validate(raw)
        if plan.kind != "worker":
            return plan
    return None


def _source_of(
    ctx: JobContext, services: ShippingServices, bundle: dict[str, Any], upload_id: str | None
) -> tuple[str, str]:
    """The source to ship: the upload the bundle was generated from (its analysis job's
    upload), or another ready upload of the project (a redeploy of new source)."""
    project_id = ctx.message.project_id
    if upload_id is not None:
        asked = _other_upload(ctx, project_id, upload_id)
        if asked is not None:
            return asked
    analysis_id = str(bundle.get("analysis_id") or "")
    job = services.jobs.get(project_id, analysis_id) if analysis_id else None
    if job is None:
        raise PermanentJobError(
            f"the bundle's analysis {analysis_id!r} is gone: its source cannot be found",
            "source_missing",
        )
    key = str(job.payload.get("key") or "")
    found_id = str(job.payload.get("upload_id") or "")
    if upload_id is not None and upload_id != found_id:
        raise PermanentJobError(
            f"upload {upload_id} is not the source of bundle {bundle.get('bundle_id')}",
            "bad_payload",
        )
    prefix = keys.uploads_prefix(project_id)
    if not key.startswith(prefix) or not _UPLOAD_NAME.match(key[len(prefix) :]):
        # Never read another project's objects, whatever an item says.
        raise PermanentJobError(f"the source key {key!r} is not an upload of this project",
                                "source_missing")  # fmt: skip
    return found_id, key


def _other_upload(ctx: JobContext, project_id: str, upload_id: str) -> tuple[str, str] | None:
    """A ready upload of this project (the API verified it before queueing the release);
    None when the item says nothing (the bundle's own source is then the only one)."""
    from chalicelib.store.uploads import DynamoUploadStore

    item = DynamoUploadStore(ctx.clients.dynamodb, ctx.settings.table).get_live(
        project_id, upload_id, ctx.clock()
    )
    if item is None:
        return None
    if item.get("status") != "ready":
        raise PermanentJobError(
            f"upload {upload_id} is {item.get('status')}, not ready: nothing to ship",
            "source_missing",
        )
    key = str(item.get("key") or "")
    prefix = keys.uploads_prefix(project_id)
    if not key.startswith(prefix) or not _UPLOAD_NAME.match(key[len(prefix) :]):
        raise PermanentJobError(f"the source key {key!r} is not an upload of this project",
                                "source_missing")  # fmt: skip
    return upload_id, key


def _download(ctx: JobContext, key: str, dest: Path) -> None:
    limit = ctx.settings.max_upload_bytes
    dest.parent.mkdir(parents=True, exist_ok=True)
    body = ctx.clients.s3.get_object(Bucket=ctx.settings.bucket, Key=key)["Body"]
    written = 0
    with dest.open("wb") as out:
        for chunk in body.iter_chunks(1 << 20):
            written += len(chunk)
            if written > limit:
                raise PermanentJobError(
                    f"the source archive is over the {limit}-byte upload limit",
                    "archive_too_large",
                )
            out.write(chunk)


def _extract(archive: Path, dest: Path) -> None:
    from runner.analysis.archive import extract_archive
    from runner.analysis.errors import ArchiveRefusedError

    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    try:
        extract_archive(archive, dest)
    except ArchiveRefusedError as exc:
        raise PermanentJobError(f"archive refused: {exc}", "archive_refused") from None
