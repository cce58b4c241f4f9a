"""The ``plan``, ``destroy`` and ``apply`` jobs: Terraform for a deployment, on the runner.

Each job:

1. takes a Terraform slot (``runner.semaphore``); with none free it is deferred
   (``JobDeferredError``) with its place in line (``queue_position``) on the job;
2. downloads the bundle from ``bundles/<project_id>/<bundle_id>/`` into a private
   workspace (``runner.terraform``) with the deployment's S3 backend;
3. runs Terraform, shipping every masked line to the job log as it is printed;
4. ``plan``/``destroy``: init, plan, show -> ``PlanSummary``; the saved plan and the
   dependency lock file go to ``plans/...`` (SSE) for the approval; the job ends
   ``planned`` (``succeeded`` when there is nothing to change, or after applying at
   once with ``auto_approve``);
   ``apply``: init with the saved lock file, apply exactly the saved plan, outputs;
5. removes the workspace and frees the slot, whatever happened.

Stopping: a user's cancel (or a lost job lease) interrupts Terraform through its
own interrupt handling and the job ends ``cancelled`` (or is handed back). A warm
stop of the runner interrupts a plan (it is handed back and planned again) but
lets an apply finish, because an interrupted apply leaves half-made infrastructure.

The deployment's state (``chalicelib.deploy_state``) comes from the job's status and
two attributes this module writes: ``phase`` (``planning``, ``planned``, ``applying``,
``applied``; written when it changes, and again with the outcome) and ``error_code``
(``plan_stale``: the saved plan no longer matches the state).
"""

from __future__ import annotations

import contextvars
import json
import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from chalicelib import keys
from chalicelib.models.app_config import AppConfigScopeError, parameter_prefix
from chalicelib.models.deployments import TerraformJobPayload, plan_object_key
from chalicelib.store.jobs import DynamoJobStore, JobStore
from runner.errors import (
    JobCancelledError,
    JobDeferredError,
    JobInterruptedError,
    PermanentJobError,
    TransientJobError,
)
from runner.job_session import JobScope, JobSession, JobSessionError, JobSessionIssuer, session_name
from runner.jobs.context import JobContext, JobResult
from runner.logging import get_logger
from runner.plan_summary import PlanSummaryError, summarize_plan
from runner.semaphore import SlotLease, SlotLostError, TerraformSemaphore
from runner.terraform import (
    LIMIT_CODES,
    LOCK_FILE,
    PLAN_FILE,
    BundleError,
    CancelToken,
    RunContext,
    StateBackend,
    TerraformCancelledError,
    TerraformCommandError,
    TerraformRunner,
    TerraformSettings,
    TerraformWorkspace,
    deployment_variables,
    lock_key,
    read_state_lock,
    state_key,
)
from runner.terraform_policy import BundlePolicy, PolicyCheckError, check_bundle

log = get_logger("runner.jobs.terraform")

MAX_BUNDLE_FILES = 2000
MAX_BUNDLE_BYTES = 50 * 1024 * 1024
DEFER_DELAY_S = 10  # how soon a job waiting for a slot asks again (well under the waiter TTL)
LOG_FLUSH_S = 2.0  # ship buffered log lines at least this often while Terraform runs
WAITER_TTL_S = 60

_cached: dict[str, Any] = {}
_cache_lock = threading.Lock()


@dataclass
class TerraformServices:
    runner: TerraformRunner
    semaphore: TerraformSemaphore
    defer_delay_s: int = DEFER_DELAY_S
    # Issues each job's scoped AWS session (runner.job_session); None: Terraform gets no
    # AWS credentials (only in the test stage: the setting is required elsewhere).
    sessions: JobSessionIssuer | None = None


def services_for(ctx: JobContext) -> TerraformServices:
    """The runner and semaphore: from ``ctx.services`` (tests) or built once per process."""
    given = ctx.services.get("terraform")
    if isinstance(given, TerraformServices):
        return given
    with _cache_lock:
        runner = _cached.get("runner")
        if runner is None:
            settings = TerraformSettings.from_environ(os.environ)
            if not os.environ.get("AUTOSTACK_TERRAFORM_DIR"):  # beside the runner's work
                settings = replace(settings, work_root=ctx.settings.work_dir / "terraform")
            runner = _cached["runner"] = TerraformRunner(settings)
            role = settings.session_role_arn
            _cached["sessions"] = (
                JobSessionIssuer.for_runner(role, ctx.settings.region, ctx.settings.endpoint_url)
                if role
                else None
            )
    semaphore = TerraformSemaphore(
        ctx.clients.dynamodb,
        ctx.settings.table,
        ctx.settings.runner_id,
        slots=runner.settings.max_concurrent,
        lease_s=ctx.settings.lease_s,
        waiter_ttl_s=WAITER_TTL_S,
        clock=ctx.clock,
    )
    return TerraformServices(
        runner=runner,
        semaphore=semaphore,
        defer_delay_s=runner.settings.slot_retry_s,
        sessions=_cached.get("sessions"),
    )


# --------------------------------------------------------------------------- handlers


def handle_plan(ctx: JobContext) -> JobResult:
    return _plan_job(ctx, destroy=False)


def handle_destroy(ctx: JobContext) -> JobResult:
    return _plan_job(ctx, destroy=True)


def handle_apply(ctx: JobContext) -> JobResult:
    from runner.jobs.release import fail_interrupted_release

    fail_interrupted_release(ctx)  # a runner that died mid-release: fail clearly, switch nothing
    payload = _payload(ctx)
    if not payload.plan_key:
        raise PermanentJobError("an apply job needs the plan_key of a saved plan", "bad_payload")
    expected_prefix = keys.plans_prefix(ctx.message.project_id, payload.stack)
    if not payload.plan_key.startswith(expected_prefix) or ".." in payload.plan_key:
        raise PermanentJobError("plan_key is not a plan of this deployment", "bad_payload")
    with _TerraformJob(ctx, payload) as job:
        job.fetch_plan(payload.plan_key)
        job.init()
        set_phase(ctx, "applying")
        ctx.progress(40, "applying the saved plan")
        outputs = job.apply()
        _delete_quietly(ctx, payload.plan_key)
        _delete_quietly(ctx, payload.plan_key + ".lock.hcl")
        ctx.progress(100, "applied")
        result = JobResult(
            status="succeeded",
            result={"outputs": outputs, "applied": True},
            attributes={"phase": "applied"},
        )
    if payload.destroy or job.resources == []:
        # The stack is gone (an approved destroy plan; or an apply that emptied it): its
        # app stops serving and nothing ships.
        from runner.shipping.retire import retire_stack

        retire_stack(ctx, payload.stack)
        return job.with_timings(result)
    # A generated bundle's app ships now (runner.jobs.release), outside the Terraform slot.
    from runner.jobs.release import ship_after_apply

    try:
        shipped = ship_after_apply(
            ctx, stack=payload.stack, bundle_id=payload.bundle_id,
            deployment_id=payload.deployment_id, outputs=outputs,
        )  # fmt: skip
    except PermanentJobError:
        if job.resources is not None:  # the infrastructure stays applied: say what it holds
            set_phase(ctx, resources=job.resources)
        raise
    return job.with_timings(shipped or result)


def _plan_job(ctx: JobContext, destroy: bool) -> JobResult:
    payload = _payload(ctx)
    with _TerraformJob(ctx, payload) as job:
        result = _plan_steps(ctx, job, payload, destroy)
    return job.with_timings(result)


def _plan_steps(
    ctx: JobContext, job: _TerraformJob, payload: TerraformJobPayload, destroy: bool
) -> JobResult:
    job.init()
    set_phase(ctx, "planning")
    ctx.progress(25, "planning the destruction" if destroy else "planning")
    has_changes = job.plan(destroy)
    summary = job.summary(destroy)
    ctx.progress(50, summary.headline)
    summary_dict = summary.model_dump(mode="json")
    if not has_changes:
        return JobResult(
            status="succeeded",
            summary=summary_dict,
            result={"changes": False},
            attributes={"phase": "applied"},
        )
    if payload.auto_approve:
        set_phase(ctx, "applying")
        ctx.progress(60, "applying (auto-approve)")
        outputs = job.apply()
        if destroy:
            from runner.shipping.retire import retire_stack

            retire_stack(ctx, payload.stack)
        ctx.progress(100, "applied")
        return JobResult(
            status="succeeded",
            summary=summary_dict,
            result={"changes": True, "applied": True, "outputs": outputs},
            attributes={"phase": "applied"},
        )
    plan_key = job.store_plan()
    ctx.progress(100, "planned: waiting for approval")
    return JobResult(
        status="planned",
        summary=summary_dict,
        result={"changes": True, "plan_key": plan_key, "plan_created_at": ctx.clock()},
        attributes={"phase": "planned"},
    )


def set_phase(ctx: JobContext, phase: str | None = None, **more: Any) -> None:
    """Write the deployment phase (``error_code``, ``resources``) on the job item now.

    Never raises: a lost lease is the heartbeat's to see, and the outcome writes the
    final phase again."""
    given = ctx.services.get("jobs")
    store: JobStore = (
        given
        if isinstance(given, JobStore)
        else DynamoJobStore(ctx.clients.dynamodb, ctx.settings.table)
    )
    try:
        store.note_terraform(
            ctx.message.project_id,
            ctx.message.job_id,
            ctx.settings.runner_id,
            ctx.clock(),
            phase=phase,
            **more,
        )
    except Exception:
        log.warning("could not write the job's phase", extra={"phase": phase}, exc_info=True)


def _variables(ctx: JobContext, payload: TerraformJobPayload) -> dict[str, str]:
    from runner.jobs.release import live_image_tag

    variables = deployment_variables(payload.role_arn, payload.external_id, payload.region)
    # Where the app's config lives (chalicelib.models.app_config): the bundle's roles may
    # read exactly that path (ignored by bundles that do not declare it).
    try:
        variables["app_config_path"] = parameter_prefix(ctx.message.project_id, payload.stack)
    except AppConfigScopeError:
        pass  # not a path segment: the app has no config to read
    tag = live_image_tag(ctx, payload.stack)  # what the AWS executor made the stack serve
    return {**variables, "image_tag": tag} if tag else variables


def _payload(ctx: JobContext) -> TerraformJobPayload:
    try:
        return TerraformJobPayload.model_validate(ctx.message.payload)
    except ValueError as exc:
        raise PermanentJobError(
            f"invalid {ctx.message.kind} payload: {exc}", "bad_payload"
        ) from None


# --------------------------------------------------------------------------- one job


class _TerraformJob:
    """Slot, workspace, stop watcher and error mapping around one job's Terraform commands."""

    def __init__(self, ctx: JobContext, payload: TerraformJobPayload) -> None:
        self.ctx = ctx
        self.payload = payload
        self.services = services_for(ctx)
        self.token = CancelToken()
        self.applying = False
        self.lease: SlotLease | None = None
        self.ws: TerraformWorkspace | None = None
        self._watcher: _Watcher | None = None
        self.slot_acquired_at: float | None = None
        self.resources: list[str] | None = None
        self.slot_released_at: float | None = None
        runner = self.services.runner
        self.run = RunContext(
            on_line=ctx.log.write,
            masker=runner.masker([payload.external_id]),
            variables=_variables(ctx, payload),
            token=self.token,
            credentials=_job_session(ctx, payload, self.services.sessions),
        )

    def __enter__(self) -> _TerraformJob:
        self.ctx.stop.raise_if_cancelled()
        key = state_key(self.ctx.message.project_id, self.payload.stack)
        self.lease = _acquire(self.ctx, self.services, key)
        self.slot_acquired_at = self.ctx.clock()
        try:
            self._watcher = _Watcher(self)
            self._watcher.start()
            self.ctx.progress(5, "preparing the workspace")
            self.ws = self._workspace()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        try:
            if self._watcher is not None:
                self._watcher.stop()
            if self.ws is not None:
                self.ws.remove()
                # What the stack holds now, for the API (never read from the state there).
                self.resources = self._read_resources()
                if exc is not None and self.resources is not None:
                    set_phase(self.ctx, resources=self.resources)
        finally:
            if self.lease is not None:
                self.services.semaphore.release(self.lease)
                self.lease = None
                self.slot_released_at = self.ctx.clock()
        if exc is not None:
            self._translate(exc)

    def with_timings(self, result: JobResult) -> JobResult:
        """Record on the job when it held its Terraform slot (epoch seconds), and what the
        stack's state held at the end."""
        result.attributes.update(
            terraform_started_at=self.slot_acquired_at, terraform_ended_at=self.slot_released_at
        )
        if self.resources is not None:
            result.attributes["resources"] = self.resources
        return result

    def _translate(self, exc: BaseException) -> None:
        """Terraform's outcomes -> the worker's outcomes (raised from the with block)."""
        if isinstance(exc, TerraformCancelledError):
            if exc.reason in LIMIT_CODES:  # a sandbox limit: time, output, workspace size
                raise PermanentJobError(str(exc), LIMIT_CODES[exc.reason]) from exc
            reason = self.ctx.stop.reason
            if reason == "cancel":
                raise JobCancelledError(f"cancelled: {exc}") from exc
            raise JobInterruptedError(f"interrupted ({reason or exc.reason}): {exc}") from exc
        if isinstance(exc, TerraformCommandError):
            if "Error acquiring the state lock" in exc.message:
                # A live run holds the state: retry later (bounded by the receive count).
                raise TransientJobError(
                    f"the state is locked by another run: {exc.message}"[:4000], "state_locked"
                ) from exc
            if "Saved plan is stale" in exc.message:
                # Terraform's own words: the state changed since the plan. Told to the API as
                # an explicit code (``deploy_state`` words a retried apply's stale plan).
                set_phase(self.ctx, "applying", error_code="plan_stale")
            raise PermanentJobError(
                f"terraform {exc.command} failed: {exc.message}"[:4000], "terraform_failed"
            ) from exc
        if isinstance(exc, BundleError | PlanSummaryError):
            raise PermanentJobError(str(exc), "invalid_bundle") from exc
        if isinstance(exc, JobSessionError):  # STS did not answer: try again later
            raise TransientJobError(str(exc), "session_unavailable") from exc

    # -- steps -----------------------------------------------------------------------

    def _workspace(self) -> TerraformWorkspace:
        ctx, payload = self.ctx, self.payload
        project_id = ctx.message.project_id
        download = ctx.settings.work_dir / "bundles" / f"{ctx.message.job_id}-{ctx.attempt}"
        try:
            download_bundle(
                ctx.clients.s3, ctx.settings.bucket, project_id, payload.bundle_id, download
            )
            root = _terraform_root(download, payload.terraform_root)
            backend = StateBackend(
                bucket=ctx.settings.bucket,
                key=state_key(project_id, payload.stack),
                region=ctx.settings.region,
                endpoint_url=ctx.settings.endpoint_url,
            )
            self._check_policy(root)
            return self.services.runner.workspace(payload.stack, root, backend)
        except BundleError as exc:
            raise PermanentJobError(str(exc), "invalid_bundle") from None
        finally:
            _remove_tree(download)

    def _check_policy(self, root: Path) -> None:
        """Refuse what must not run on the runner (``runner.terraform_policy``)."""
        settings = self.services.runner.settings
        try:
            policy = BundlePolicy(
                allow_provisioners=settings.allow_provisioners,
                plugin_mirror=settings.plugin_mirror_dir,
            )
            violations = check_bundle(root, policy)
        except PolicyCheckError as exc:
            self.ctx.log.write(f"refused: {exc}")
            raise BundleError(str(exc)) from None
        for violation in violations:
            self.ctx.log.write(f"refused: {violation}")
        if violations:
            listed = "; ".join(str(v) for v in violations[:10])
            raise BundleError(f"the bundle does things AutoStack does not run: {listed}")

    def init(self) -> None:
        assert self.ws is not None
        self.ctx.progress(10, "terraform init")
        self.services.runner.init(self.ws, self.run)
        self._recover_stale_lock()

    def _recover_stale_lock(self) -> None:
        """Release the state lock of a Terraform that died with its runner.

        Every Terraform run of ours holds a semaphore slot naming its state key, so
        a lock with no other live slot on that key belongs to a dead run. A lock
        a live job holds is left alone (Terraform waits for it, then the job retries).
        """
        assert self.ws is not None
        ctx, key = self.ctx, self.ws.backend.key
        info = read_state_lock(ctx.clients.s3, ctx.settings.bucket, key)
        if info is None:
            return
        live = [
            h for h in self.services.semaphore.holders_of(key) if h.job_id != ctx.message.job_id
        ]
        if live:
            ctx.log.write(f"the state is locked by running job {live[0].job_id}: waiting for it")
            return
        lock_id = str(info.get("ID") or "")
        ctx.log.write(
            f"releasing a stale state lock {lock_id or '(unreadable)'}: "
            f"{info.get('Operation', '?')} by {info.get('Who', '?')} since "
            f"{info.get('Created', '?')}, and no AutoStack job is running on this state"
        )
        if lock_id:
            self.services.runner.force_unlock(self.ws, self.run, lock_id)
        else:
            ctx.clients.s3.delete_object(Bucket=ctx.settings.bucket, Key=lock_key(key))

    def plan(self, destroy: bool) -> bool:
        assert self.ws is not None
        return self.services.runner.plan(self.ws, self.run, destroy=destroy).has_changes

    def summary(self, destroy: bool) -> Any:
        assert self.ws is not None
        return summarize_plan(self.services.runner.show_plan(self.ws, self.run), is_destroy=destroy)

    def apply(self) -> dict[str, Any]:
        assert self.ws is not None
        self.applying = True  # from here on a warm stop lets the job finish (outputs too)
        self.services.runner.apply(self.ws, self.run)
        outputs = self.services.runner.outputs(self.ws, self.run)
        return {
            name: {"value": out.value, "sensitive": out.sensitive}
            | ({"omitted": out.omitted} if out.omitted else {})
            for name, out in outputs.items()
        }

    def _read_resources(self) -> list[str] | None:
        """Addresses of the resources the stack's state holds now (we still hold the slot, so
        no run of ours changes it); None when the state cannot be read."""
        ctx = self.ctx
        key = state_key(ctx.message.project_id, self.payload.stack)
        s3 = ctx.clients.s3
        try:
            body = s3.get_object(Bucket=ctx.settings.bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            return []
        except Exception:
            log.warning("could not read the stack's state", exc_info=True)
            return None
        try:
            return state_addresses(json.loads(body))
        except ValueError:
            return None

    def store_plan(self) -> str:
        """Save the plan and its dependency lock file for the approval (server-side encrypted)."""
        assert self.ws is not None
        ctx = self.ctx
        key = plan_object_key(ctx.message.project_id, self.payload.stack, ctx.message.job_id)
        _put(ctx, key, (self.ws.path / PLAN_FILE).read_bytes())
        lock = self.ws.path / LOCK_FILE
        if lock.is_file():
            _put(ctx, key + ".lock.hcl", lock.read_bytes())
        return key

    def fetch_plan(self, key: str) -> None:
        assert self.ws is not None
        s3, bucket = self.ctx.clients.s3, self.ctx.settings.bucket
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            raise PermanentJobError(
                "the saved plan is gone (already applied or expired): plan again", "plan_missing"
            ) from None
        (self.ws.path / PLAN_FILE).write_bytes(body)
        try:
            lock = s3.get_object(Bucket=bucket, Key=key + ".lock.hcl")["Body"].read()
            (self.ws.path / LOCK_FILE).write_bytes(lock)
        except s3.exceptions.NoSuchKey:
            pass  # a bundle without providers has no lock file


class _Watcher:
    """Turns the job's stop signal into a Terraform interrupt, and renews the slot's lease."""

    def __init__(self, job: _TerraformJob, poll_s: float = 0.2) -> None:
        self._job = job
        self._poll_s = poll_s
        self._done = threading.Event()
        context = contextvars.copy_context()  # keeps the job's ids on log records
        self._thread = threading.Thread(
            target=context.run, args=(self._loop,), name="terraform-watch", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        job = self._job
        settings = job.ctx.settings
        renew_every = max(1.0, min(settings.heartbeat_interval_s, settings.lease_s / 3))
        next_renewal = time.monotonic() + renew_every
        next_flush = time.monotonic() + LOG_FLUSH_S
        while not self._done.wait(self._poll_s):
            if time.monotonic() >= next_flush:
                # The sink ships on a write once its oldest line is 10 s old; a quiet
                # Terraform (a long resource) would leave lines unshipped until the next one.
                next_flush = time.monotonic() + LOG_FLUSH_S
                try:
                    job.ctx.log.flush()
                except Exception:  # the next flush (or the job's end) retries
                    log.warning("shipping the job log failed", exc_info=True)
            reason = job.ctx.stop.reason if job.ctx.stop.is_set() else None
            # A warm stop lets an apply run to its end; anything else interrupts now.
            if reason and not (reason == "shutdown" and job.applying):
                job.token.cancel(reason)
            if time.monotonic() >= next_renewal and job.lease is not None:
                next_renewal = time.monotonic() + renew_every
                try:
                    job.lease = job.services.semaphore.renew(job.lease)
                except SlotLostError:
                    # Our lease ran out while we were stalled; keep going rather than
                    # interrupt Terraform halfway, and say so in the log.
                    job.ctx.log.write("warning: the Terraform slot lease was lost")
                except Exception:  # a missed renewal is retried at the next beat
                    log.warning("renewing the Terraform slot failed", exc_info=True)


def _job_session(
    ctx: JobContext, payload: TerraformJobPayload, issuer: JobSessionIssuer | None
) -> JobSession | None:
    """The job's scoped AWS session (``runner.job_session``): Terraform's only credentials."""
    if issuer is None:
        return None
    try:
        scope = JobScope(
            bucket=ctx.settings.bucket,
            state_key=state_key(ctx.message.project_id, payload.stack),
            deploy_role_arn=payload.role_arn,
            external_id=payload.external_id,
        )
        if scope.deploy_role_arn == issuer.role_arn:
            raise JobSessionError("role_arn: the deploy role cannot be AutoStack's own role")
    except (JobSessionError, ValueError) as exc:
        raise PermanentJobError(str(exc), "bad_payload") from None
    return JobSession(issuer, scope, session_name(ctx.message.job_id))


def _acquire(ctx: JobContext, services: TerraformServices, resource: str) -> SlotLease:
    outcome = services.semaphore.try_acquire(ctx.message.job_id, resource=resource)
    if outcome.lease is not None:
        return outcome.lease
    place = outcome.place
    position = place.position if place else None
    ctx.log.write(f"waiting for a Terraform slot: place {position} in line")
    raise JobDeferredError(
        f"waiting for a Terraform slot (place {position} in line)",
        delay_s=services.defer_delay_s,
        attributes={
            "queue_position": position,
            "queue_waiting": place.waiting if place else None,
        },
    )


# --------------------------------------------------------------------------- bundle files


def state_addresses(state: dict[str, Any]) -> list[str]:
    """The managed resources' addresses in a Terraform state (``module.m.type.name[key]``)."""
    addresses = []
    for res in state.get("resources", []):
        if res.get("mode") != "managed":
            continue
        base = f"{res.get('type')}.{res.get('name')}"
        if res.get("module"):
            base = f"{res['module']}.{base}"
        for inst in res.get("instances", []):
            key = inst.get("index_key")
            suffix = "" if key is None else (f"[{key}]" if isinstance(key, int) else f'["{key}"]')
            addresses.append(base + suffix)
    return sorted(addresses)


def download_bundle(s3: Any, bucket: str, project_id: str, bundle_id: str, dest: Path) -> Path:
    """Copy ``bundles/<project_id>/<bundle_id>/**`` into ``dest`` (refusing unsafe names)."""
    prefix = keys.bundle_files_prefix(project_id, bundle_id)
    paginator = s3.get_paginator("list_objects_v2")
    objects = [
        obj
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
        for obj in page.get("Contents", [])
    ]
    if not objects:
        raise BundleError(f"bundle {bundle_id} has no files")
    if len(objects) > MAX_BUNDLE_FILES:
        raise BundleError(f"bundle {bundle_id} has more than {MAX_BUNDLE_FILES} files")
    if sum(int(obj.get("Size", 0)) for obj in objects) > MAX_BUNDLE_BYTES:
        raise BundleError(f"bundle {bundle_id} is larger than {MAX_BUNDLE_BYTES} bytes")
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    for obj in objects:
        rel = _safe_relative(obj["Key"][len(prefix) :])
        if rel is None:
            continue  # a "folder" marker
        target = dest.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        target.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
    return dest


def _safe_relative(name: str) -> PurePosixPath | None:
    if name == "" or name.endswith("/"):
        return None
    path = PurePosixPath(name)
    if (
        path.is_absolute()
        or "\\" in name
        or any(part in ("", ".", "..") for part in name.split("/"))
    ):
        raise BundleError(f"{name!r}: unsafe file name in the bundle")
    return path


def _terraform_root(bundle: Path, configured: str | None) -> Path:
    if configured:
        root = bundle / configured
        if not root.is_dir():
            raise BundleError(f"terraform_root {configured!r} is not a folder of the bundle")
        return root
    infra = bundle / "infra"
    if infra.is_dir() and any(infra.glob("*.tf")):
        return infra
    return bundle


def _put(ctx: JobContext, key: str, body: bytes) -> None:
    ctx.clients.s3.put_object(
        Bucket=ctx.settings.bucket, Key=key, Body=body, ServerSideEncryption="AES256"
    )


def _delete_quietly(ctx: JobContext, key: str) -> None:
    try:
        ctx.clients.s3.delete_object(Bucket=ctx.settings.bucket, Key=key)
    except Exception:  # noqa: S110 - a leftover plan expires by the bucket's lifecycle rule
        pass


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
