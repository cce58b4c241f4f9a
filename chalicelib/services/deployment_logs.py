"""Reading a deployment's Terraform log from S3, incrementally, by byte offset.

The runner ships each job's log in parts (``runner.jobs.context.JobLogSink``):
``logs/<project_id>/<job_id>/attempt-<n>/part-<m>.log``, written once, each ending
with a newline. A deployment's log is the parts of its plan job, then of its apply
job, in (attempt, part) order; an offset into that concatenation stays valid as
parts are added at its end, so ``after=next`` never skips or repeats a line.
"""

from __future__ import annotations

import re
from typing import Any

from chalicelib.keys import job_logs_prefix

LOG_CHUNK_BYTES = 256 * 1024  # per answer; always whole lines


def part_order(rest: str) -> tuple[int, int] | None:
    """``attempt-<n>/part-<m>.log`` -> (n, m); None for anything else."""
    try:
        attempt, part = rest.split("/")
        if not (
            attempt.startswith("attempt-") and part.startswith("part-") and part.endswith(".log")
        ):
            return None
        return int(attempt[len("attempt-") :]), int(part[len("part-") : -len(".log")])
    except ValueError:
        return None


def list_parts(
    s3: Any, bucket: str, project_id: str, job_ids: list[str | None]
) -> list[tuple[str, int]]:
    """``(key, size)`` of every part of the jobs' logs, in reading order."""
    parts: list[tuple[str, int]] = []
    for job_id in job_ids:
        if not job_id:
            continue
        prefix = job_logs_prefix(project_id, job_id)
        found: list[tuple[tuple[int, int], str, int]] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                order = part_order(obj["Key"][len(prefix) :])
                if order is not None:
                    found.append((order, obj["Key"], int(obj["Size"])))
        parts.extend((key, size) for _, key, size in sorted(found))
    return parts


def read_from(s3: Any, bucket: str, parts: list[tuple[str, int]], after: int) -> tuple[str, int]:
    """Whole lines from byte ``after`` on, at most ``LOG_CHUNK_BYTES``; and the next offset."""
    chunks: list[bytes] = []
    offset = taken = 0
    for key, size in parts:
        start = offset
        offset += size
        if offset <= after or size == 0:
            continue
        if taken >= LOG_CHUNK_BYTES:
            break
        first = max(0, after - start)
        last = min(size - 1, first + (LOG_CHUNK_BYTES - taken) - 1)
        body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={first}-{last}")["Body"].read()
        chunks.append(body)
        taken += len(body)
    data = b"".join(chunks)
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        data = data[:cut] if cut else data  # one line longer than a chunk: sent in pieces
    return data.decode("utf-8", "replace"), after + len(data)


# The runner masks every line it ships (runner/masking.py, with the values it knows);
# this second pass catches credential shapes again before a log leaves the API.
_MASKS = (
    (
        re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z0-9]{16}\b"),
        "****",
    ),
    (re.compile(r"(?i)(aws_secret_access_key|aws_session_token)(\s*[=:]\s*)\S+"), r"\1\2****"),
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?-----END [A-Z0-9 ]*PRIVATE KEY-----", re.S
        ),
        "****",
    ),
)


def mask(text: str) -> str:
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text
