"""The build phase: the image tag from the source, and the executor's build."""

from __future__ import annotations

import hashlib
from pathlib import Path

from runner.shipping.executor import Candidate, LogLine, ReleaseExecutor, ReleaseSpec

TAG_HEX = 16


def content_hash(archive: Path) -> str:
    """SHA-256 of the source archive's bytes (hex)."""
    digest = hashlib.sha256()
    with archive.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def image_tag(source_hash: str) -> str:
    """The tag of the image built from a source: the same source always gets the same tag."""
    if len(source_hash) < TAG_HEX or any(c not in "0123456789abcdef" for c in source_hash):
        raise ValueError("source_hash: expected a lowercase hex digest")
    return f"src-{source_hash[:TAG_HEX]}"


def run(executor: ReleaseExecutor, spec: ReleaseSpec, log: LogLine) -> Candidate:
    log(f"building {spec.plan.name} ({spec.plan.framework or spec.plan.toolchain.language})"
        f" as {spec.image_tag} with the {executor.name} executor")  # fmt: skip
    candidate = executor.build(spec, log)
    for step, seconds in candidate.timings.items():
        log(f"  {step}: {seconds:.2f} s")
    return candidate
