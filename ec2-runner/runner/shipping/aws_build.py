"""The build in the user's account: CodeBuild builds the image, the runner only follows it.

1. ``DescribeImages``: the tag (the source's content hash) is already in ECR -> a redeploy
   of the same source, nothing to build.
2. The source (the extracted upload plus the bundle's generated Dockerfile) is zipped
   (regular files only, never a link) and put at ``sources/<tag>.zip`` of the bundle's
   build-source bucket.
3. ``StartBuild`` with that source and ``IMAGE_TAG=<tag>``; ``BatchGetBuilds`` is polled
   (phases go to the deployment log, and the build's CloudWatch log stream with them)
   until the build ends. A failure raises ``PhaseFailedError("building")`` with the
   build's last log lines; a cancel stops the build (``StopBuild``).

The build id is handed to ``spec.build_started`` as soon as StartBuild answers (the
release record keeps it): a runner killed while the build runs leaves it running, and the
restarted runner stops it (``stop_build``).
"""

from __future__ import annotations

import collections
import io
import os
import stat
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.shipping.aws_target import AwsClients, AwsTarget, Waiter
from runner.shipping.executor import LogLine, PhaseCancelledError, PhaseFailedError, ReleaseSpec

MAX_SOURCE_BYTES = 200 * 1024 * 1024
MAX_SOURCE_FILES = 50_000
TAIL_LINES = 40
_DONE = {"SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "STOPPED"}
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the same source zips to the same bytes


def source_zip(source_dir: Path, overlay: Mapping[str, str | bytes]) -> bytes:
    """The build's source: every regular file under ``source_dir`` (links are left out:
    an upload is an attacker's) and the bundle's own files on top (its Dockerfile)."""
    buffer = io.BytesIO()
    total = 0
    count = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in os.walk(source_dir, followlinks=False):
            dirs.sort()
            for name in sorted(files):
                path = Path(root) / name
                info = path.lstat()
                if not stat.S_ISREG(info.st_mode):
                    continue
                rel = path.relative_to(source_dir).as_posix()
                if rel in overlay:
                    continue
                count += 1
                total += info.st_size
                if count > MAX_SOURCE_FILES or total > MAX_SOURCE_BYTES:
                    raise PhaseFailedError(
                        "building",
                        f"the source is over {MAX_SOURCE_FILES} files or {MAX_SOURCE_BYTES} bytes",
                    )
                entry = zipfile.ZipInfo(rel, _FIXED_TIME)
                entry.external_attr = (0o755 if info.st_mode & 0o111 else 0o644) << 16
                entry.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(entry, path.read_bytes())
        for rel, content in sorted(overlay.items()):
            entry = zipfile.ZipInfo(rel, _FIXED_TIME)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, content)
    return buffer.getvalue()


@dataclass
class CodeBuildImages:
    """Makes sure ``spec.image_tag`` exists in the stack's ECR repository."""

    clients: AwsClients
    target: AwsTarget
    waiter: Waiter

    def image_exists(self, tag: str) -> bool:
        try:
            answer = self.clients.ecr.describe_images(
                repositoryName=self.target.repository_name, imageIds=[{"imageTag": tag}]
            )
        except Exception as exc:
            if error_code(exc) == "ImageNotFoundException":
                return False
            raise PhaseFailedError("building", f"ECR DescribeImages failed: {exc}") from None
        return bool(answer.get("imageDetails"))

    def ensure(self, spec: ReleaseSpec, log: LogLine) -> str:
        """The image URI of the spec's tag, built by CodeBuild unless ECR has it."""
        uri = self.target.image_uri(spec.image_tag)
        if self.image_exists(spec.image_tag):
            log(f"{uri} is already in ECR (the same source): no build")
            return uri
        self.build_source(spec, log)
        return uri

    def build_source(self, spec: ReleaseSpec, log: LogLine) -> None:
        """Upload the source, start the build with ``IMAGE_TAG`` and follow it to its end
        (the static executor's build: the buildspec syncs the site instead of pushing)."""
        key = f"sources/{spec.image_tag}.zip"
        body = source_zip(spec.source_dir, spec.build_files)
        self.clients.s3.put_object(
            Bucket=self.target.build_source_bucket, Key=key, Body=body,
            ServerSideEncryption="AES256",
        )  # fmt: skip
        log(
            f"uploaded the source ({len(body)} bytes) to s3://{self.target.build_source_bucket}/{key}"
        )
        build = self.clients.codebuild.start_build(
            projectName=self.target.build_project,
            sourceTypeOverride="S3",
            sourceLocationOverride=f"{self.target.build_source_bucket}/{key}",
            environmentVariablesOverride=[
                {"name": "IMAGE_TAG", "value": spec.image_tag, "type": "PLAINTEXT"}
            ],
        )["build"]
        build_id = build["id"]
        spec.build_started(build_id)
        log(f"CodeBuild {build_id} started")
        self._follow(build_id, log, spec.cancelled)

    def _follow(self, build_id: str, log: LogLine, cancelled: Callable[[], bool]) -> None:
        tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        stream = LogStream(self.clients.logs)
        seen_phase = {"name": ""}

        def poll() -> dict[str, Any] | None:
            if cancelled():
                self.clients.codebuild.stop_build(id=build_id)
                log(f"cancelled: CodeBuild {build_id} stopped")
                raise PhaseCancelledError("building")
            builds = self.clients.codebuild.batch_get_builds(ids=[build_id]).get("builds") or []
            if not builds:
                raise PhaseFailedError("building", f"CodeBuild {build_id} is gone")
            build: dict[str, Any] = builds[0]
            phase = str(build.get("currentPhase") or "")
            if phase and phase != seen_phase["name"]:
                log(f"build phase: {phase}")
                seen_phase["name"] = phase
            for line in stream.read(build.get("logs") or {}):
                tail.append(line)
                log(f"  {line}")
            return build if build.get("buildStatus") in _DONE else None

        try:
            build = self.waiter.until("building", f"CodeBuild {build_id}", poll)
        except PhaseFailedError as exc:
            if "did not finish" in exc.message:
                self.clients.codebuild.stop_build(id=build_id)
            raise PhaseFailedError("building", exc.message, log_tail="\n".join(tail)) from None
        for line in stream.read(build.get("logs") or {}):  # what came after the last poll
            tail.append(line)
            log(f"  {line}")
        status = build.get("buildStatus")
        if status == "SUCCEEDED":
            log(f"CodeBuild {build_id} succeeded")
            return
        failed = [
            p for p in build.get("phases") or [] if p.get("phaseStatus") not in (None, "SUCCEEDED")
        ]
        where = failed[0].get("phaseType", "?") if failed else build.get("currentPhase", "?")
        reasons = [c.get("message", "") for p in failed for c in p.get("contexts") or []]
        reason = "; ".join(r for r in reasons if r)
        raise PhaseFailedError(
            "building",
            f"the build {build_id} ended {status} in its {where} phase"
            + (f": {reason}" if reason else ""),
            log_tail="\n".join(tail),
        )


def stop_build(codebuild: Any, build_id: str) -> str:
    """Stop a build a killed runner left behind; what happened, in words for the job log.

    A build that already ended cannot be stopped (CodeBuild answers InvalidInputException
    or ResourceNotFoundException): nothing to do, and not an error."""
    try:
        answer = codebuild.stop_build(id=build_id)
    except Exception as exc:
        if error_code(exc) in ("InvalidInputException", "ResourceNotFoundException"):
            return f"CodeBuild {build_id} had already ended"
        raise
    status = str((answer.get("build") or {}).get("buildStatus") or "STOPPED")
    return f"stopped CodeBuild {build_id} (left running by the stopped runner): {status}"


class LogStream:
    """Reads a CodeBuild log stream from where it left off (none yet: nothing)."""

    def __init__(self, logs: Any) -> None:
        self._logs = logs
        self._token: str | None = None

    def read(self, where: Mapping[str, Any]) -> list[str]:
        group, stream = where.get("groupName"), where.get("streamName")
        if not group or not stream or group == "null":
            return []
        lines: list[str] = []
        for _ in range(20):  # bounded: at most 20 pages a poll
            args: dict[str, Any] = {
                "logGroupName": group, "logStreamName": stream, "startFromHead": True,
            }  # fmt: skip
            if self._token:
                args["nextToken"] = self._token
            try:
                page = self._logs.get_log_events(**args)
            except Exception as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    return lines  # the stream starts with the build's first line
                raise
            lines += [e.get("message", "").rstrip("\n") for e in page.get("events") or []]
            token = page.get("nextForwardToken")
            if not token or token == self._token:
                break
            self._token = token
        return lines


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""
