"""Ids and the timestamps the API shows (one place, so every item spells them alike)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_id() -> str:
    """A random, URL-safe id (128 bits): users, projects, uploads, bundles, deployments, jobs."""
    return secrets.token_urlsafe(16)


new_job_id = new_id


def iso(epoch: float) -> str:
    """Whole seconds, UTC (``2026-01-31T12:00:00Z``): the API's own items and answers."""
    return (
        datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )
