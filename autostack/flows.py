"""The steps commands are made of: project, upload, analysis, templates, deployment, follow.

Every wait is a long poll (``?wait=``) counted in the API's cheap ``status`` bucket; a
deployment is followed through its log (which returns as soon as lines come or the
deployment settles) and its state is read again only when the log says it changed, so
phases the server adds later (build, release, verify) simply appear as they come.
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from autostack.errors import CliError, NotFoundError, RefusedError, UsageError
from autostack.output import Output
from autostack.packing import PROJECT_FILE, Packed, human_bytes, pack
from autostack.session import Session

JOB_DONE = ("succeeded", "failed", "cancelled")
WAIT_S = 20
LOG_WAIT_S = 20
# A long apply prints every few seconds: batch it, so it fits the status bucket.
MIN_POLL_INTERVAL_S = 2.0
_NAME_CHARS = re.compile(r"[^A-Za-z0-9 _.-]+")


class FollowInterruptedError(Exception):
    """Ctrl-C while following: the work goes on on the server."""

    def __init__(self, deployment_id: str | None) -> None:
        super().__init__("interrupted")
        self.deployment_id = deployment_id


@dataclass
class ProjectFile:
    """``.autostack.json`` in the app's folder: which project (and choices) it deploys to."""

    folder: Path
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> ProjectFile:
        path = folder / PROJECT_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path} is not valid JSON: {exc}", hint="fix or delete it") from None
        return cls(folder=folder, data=data if isinstance(data, dict) else {})

    def save(self) -> None:
        path = self.folder / PROJECT_FILE
        path.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n")

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def require_project(self) -> str:
        project_id = self.data.get("project_id")
        if not project_id:
            raise NotFoundError(
                f"no AutoStack project for {self.folder} (no {PROJECT_FILE})",
                hint="run `autostack launch` in that folder first, or pass --dir",
            )
        return str(project_id)


def project_name(folder: Path) -> str:
    name = _NAME_CHARS.sub("-", folder.resolve().name).strip(" ._-")[:64]
    return name or "app"


def ensure_project(session: Session, out: Output, settings: ProjectFile) -> dict[str, Any]:
    """The folder's project: the remembered one, else one with the folder's name, else new."""
    project_id = settings.get("project_id")
    if project_id:
        try:
            return dict(session.call("GET", f"/projects/{project_id}"))
        except CliError as exc:
            if getattr(exc, "status", None) != 404:
                raise
            out.say(f"project {project_id} is gone; creating a new one")
    name = settings.get("name") or project_name(settings.folder)
    listed = session.call("GET", "/projects")["projects"]
    project = next((p for p in listed if p["name"] == name), None)
    if project is None:
        project = session.call("POST", "/projects", {"name": name})
        out.say(f"created project {name} ({project['id']})")
    else:
        out.say(f"using project {name} ({project['id']})")
    settings.data.update({"project_id": project["id"], "name": name, "api": session.api_url})
    settings.save()
    return dict(project)


def pack_folder(out: Output, folder: Path) -> Packed:
    packed = pack(folder)
    out.say(
        f"packed {len(packed.files)} files ({human_bytes(packed.total_bytes)},"
        f" {human_bytes(len(packed.data))} zipped); left out {packed.ignored} by ignore rules"
        + (f", {len(packed.skipped_links)} symlinks" if packed.skipped_links else "")
    )
    return packed


def upload(session: Session, project_id: str, packed: Packed) -> dict[str, Any]:
    created = session.call("POST", f"/projects/{project_id}/uploads", {"format": "zip"})
    session.post_file(created["upload"], "app.zip", packed.data)
    return dict(created)


def analyze(session: Session, out: Output, project_id: str, upload_id: str) -> dict[str, Any]:
    job = session.call("POST", f"/projects/{project_id}/analyses", {"upload_id": upload_id})
    path = f"/projects/{project_id}/analyses/{job['id']}"
    with out.progress("analyzing") as update:
        while job["status"] not in JOB_DONE:
            update(job.get("progress") or 0, job.get("progress_message") or job["status"])
            job = session.call("GET", path, params={"wait": WAIT_S}, timeout_s=WAIT_S + 15)
        update(100 if job["status"] == "succeeded" else job.get("progress") or 0, job["status"])
    if job["status"] != "succeeded":
        error = job.get("error") or {}
        raise CliError(
            f"the analysis {job['status']}: {error.get('message', 'no reason given')}",
            hint="fix the archive and run the command again",
            details={"analysis": job},
        )
    return dict(job)


def generate(
    session: Session, project_id: str, analysis_id: str, target: str | None, region: str
) -> dict[str, Any]:
    body: dict[str, Any] = {"analysis_id": analysis_id, "region": region}
    if target:
        body["target"] = target
    return dict(session.call("POST", f"/projects/{project_id}/templates", body))


def upload_bundle(session: Session, out: Output, project_id: str, folder: Path) -> str:
    """Your own Terraform (``--bundle DIR``): zipped, uploaded, checked by the API."""
    packed = pack(folder)
    created = session.call("POST", f"/projects/{project_id}/bundles", {"format": "zip"})
    session.post_file(created["upload"], "bundle.zip", packed.data)
    done = session.call("POST", f"/projects/{project_id}/bundles/{created['id']}/complete")
    if done["status"] != "ready":
        error = done.get("error") or {}
        raise RefusedError(f"the bundle was refused: {error.get('message', done['status'])}")
    out.say(f"uploaded your Terraform from {folder} ({len(packed.files)} files)")
    return str(created["id"])


def follow(
    session: Session,
    out: Output,
    project_id: str,
    deployment_id: str,
    *,
    stop_when_planned: bool,
    after: int = 0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[dict[str, Any], int]:
    """Stream the log and the phases until the deployment settles (or waits for approval,
    with ``stop_when_planned``); the final deployment and how much of the log was read.
    Ctrl-C: FollowInterruptedError."""
    base = f"/projects/{project_id}/deployments/{deployment_id}"
    last_status: str | None = None
    deployment: dict[str, Any] = {}
    try:
        while True:
            started = clock()
            logs = session.call(
                "GET",
                f"{base}/logs",
                params={"after": after, "wait": LOG_WAIT_S},
                timeout_s=LOG_WAIT_S + 15,
            )
            out.log_text(logs["text"])
            after = logs["next"]
            settled = logs["complete"] and (stop_when_planned or logs["status"] != "planned")
            if logs["status"] != last_status or settled:
                deployment = session.call("GET", base)
                if deployment["status"] != last_status:
                    last_status = deployment["status"]
                    detail = deployment.get("progress_message") or ""
                    out.say(f"==> {last_status}{f': {detail}' if detail else ''}", style="cyan")
                if settled and deployment["status"] == logs["status"]:
                    return deployment, after
            # Busy logs come back at once: do not ask more than once a second.
            sleep(max(0.0, MIN_POLL_INTERVAL_S - (clock() - started)))
    except KeyboardInterrupt:
        raise FollowInterruptedError(deployment_id) from None


def safe_extract(data: bytes, destination: Path) -> list[str]:
    """Write a downloaded bundle zip to ``destination`` (no absolute paths, no ``..``)."""
    written = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for entry in archive.infolist():
            if entry.is_dir():
                continue
            name = PurePosixPath(entry.filename)
            if name.is_absolute() or ".." in name.parts or not name.parts:
                raise CliError(f"the bundle holds an unsafe path: {entry.filename!r}")
            target = destination.joinpath(*name.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(entry))
            written.append(name.as_posix())
    return written


# -- a redeploy of new source onto a live stack (build + release only) -----------------------

RELEASE_DONE = ("live", "failed", "cancelled", "superseded", "rolled_back", "retired")
RELEASE_POLL_S = 3.0
RELEASE_TIMEOUT_S = 3600.0
# What a release uses of a bundle besides its source: the infrastructure (the stack's
# Terraform), the build files and the app plans. A difference in any -> plan and apply.
_BUILD_FILES = frozenset({"Dockerfile", ".dockerignore", "Dockerfile.dockerignore"})


def live_release(session: Session, project_id: str, stack: str) -> dict[str, Any] | None:
    """The stack's live release, if any."""
    listed = session.call("GET", f"/projects/{project_id}/releases")["releases"]
    return next((r for r in listed if r["stack"] == stack and r["status"] == "live"), None)


def release_inputs(bundle: dict[str, Any]) -> dict[str, Any]:
    """What of a bundle (``GET .../templates/{id}``) a deploy depends on beyond the source:
    its target and region, its app plans, its ``infra/`` files and its build files."""
    contents = bundle.get("contents") or {}
    files = {
        path: text
        for path, text in sorted(contents.items())
        if path.startswith("infra/") or PurePosixPath(path).name in _BUILD_FILES
    }
    return {
        "target": bundle.get("target"),
        "region": bundle.get("region"),
        "plans": bundle.get("plans") or [],
        "files": files,
    }


def changed_inputs(new: dict[str, Any], live: dict[str, Any]) -> list[str]:
    """What differs between two bundles' release inputs (empty: the same infrastructure)."""
    a, b = release_inputs(new), release_inputs(live)
    changed = [key for key in ("target", "region", "plans") if a[key] != b[key]]
    names = sorted(set(a["files"]) | set(b["files"]))
    changed += [name for name in names if a["files"].get(name) != b["files"].get(name)]
    return changed


def infrastructure_changes(
    session: Session, project_id: str, new_bundle_id: str, live_bundle_id: str
) -> list[str]:
    """What a deploy of ``new_bundle_id`` would change beyond the source (empty: nothing,
    a release of the new source is enough)."""
    if new_bundle_id == live_bundle_id:
        return []
    new = session.call("GET", f"/projects/{project_id}/templates/{new_bundle_id}")
    live = session.call("GET", f"/projects/{project_id}/templates/{live_bundle_id}")
    return changed_inputs(dict(new), dict(live))


def follow_release(
    session: Session,
    out: Output,
    project_id: str,
    job_id: str,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    timeout_s: float = RELEASE_TIMEOUT_S,
) -> dict[str, Any]:
    """Poll the releases until the one of ``job_id`` is done; that release.
    Ctrl-C: FollowInterruptedError (the release goes on)."""
    deadline = clock() + timeout_s
    said: str | None = None
    try:
        while True:
            listed = session.call("GET", f"/projects/{project_id}/releases")["releases"]
            ours = next((r for r in listed if r.get("job_id") == job_id), None)
            status = ours["status"] if ours else "queued"
            if status != said:
                out.say(f"==> {status}", style="cyan")
                said = status
            if ours is not None and status in RELEASE_DONE:
                return dict(ours)
            if clock() >= deadline:
                raise CliError(
                    f"release job {job_id} did not finish within {timeout_s:.0f} s",
                    hint="`autostack releases` shows where it is",
                )
            sleep(RELEASE_POLL_S)
    except KeyboardInterrupt:
        raise FollowInterruptedError(None) from None
