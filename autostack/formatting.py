"""What the user reads: the stack, the targets, the plan and a deployment, in plain words.

Pure functions over the API's answers (tested in tests/unit/cli); ``autostack.output``
renders them (a rich table on a terminal, plain text otherwise).
"""

from __future__ import annotations

import time
from typing import Any


def _join(items: list[str], empty: str = "none") -> str:
    return ", ".join(items) if items else empty


def stack_lines(job: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) lines for an analysis: language, each app, services, secrets."""
    profile = job.get("profile") or {}
    summary = job.get("summary") or {}
    lines: list[tuple[str, str]] = []
    languages = profile.get("languages") or {}
    primary = languages.get("primary") or summary.get("primary_language") or "unknown"
    lines.append(("language", str(primary)))
    for app in profile.get("apps") or []:
        prefix = f"app {app.get('path', '.')}: " if len(profile.get("apps") or []) > 1 else ""
        framework = app.get("framework") or {}
        name = framework.get("name")
        fw = f"{name} {framework.get('version') or ''}".strip() if name else "none detected"
        lines.append((f"{prefix}framework", fw))
        port = (app.get("port") or {}).get("value")
        lines.append((f"{prefix}port", str(port) if port else "not found"))
        lines.append((f"{prefix}start", app.get("start_command") or "not found"))
    services = [s.get("kind", "?") for s in profile.get("services") or []]
    possible = [s.get("kind", "?") for s in profile.get("possible_services") or []]
    text = _join(services)
    if possible:
        text += f" (possible: {_join(possible)})"
    lines.append(("services", text))
    secrets = profile.get("secrets") or []
    if secrets:
        where = [f"{s.get('file', '?')}:{s.get('line', '?')}" for s in secrets[:5]]
        more = f" and {len(secrets) - 5} more" if len(secrets) > 5 else ""
        lines.append(("secrets", f"{len(secrets)} found in {_join(where)}{more} - rotate them"))
    else:
        lines.append(("secrets", "none found"))
    return lines


def money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def target_rows(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target with its monthly cost; the recommended one marked with its reasons."""
    recommendation = bundle.get("recommendation") or {}
    recommended = recommendation.get("target")
    rows = []
    for estimate in (bundle.get("cost") or {}).get("targets") or []:
        target = estimate["target"]
        rows.append(
            {
                "target": target,
                "fits": bool(estimate.get("fits")),
                "monthly_usd": estimate.get("monthly_usd"),
                "monthly_free_tier_usd": estimate.get("monthly_free_tier_usd"),
                "recommended": target == recommended,
                "why": " ".join(recommendation.get("reasons") or [])
                if target == recommended
                else "; ".join(estimate.get("why_not") or []),
            }
        )
    return rows


PLAN_RESOURCE_LINES = 15  # a generated bundle plans 10-40 resources: the rest as a count
_ACTION_ORDER = ("delete", "replace", "update", "create")  # what can lose data first


def plan_lines(plan: dict[str, Any] | None, limit: int = PLAN_RESOURCE_LINES) -> list[str]:
    """The plan in plain words: the headline, then what happens to each resource (deletions
    and replacements first; past ``limit`` resources, how many more)."""
    if not plan:
        return ["no plan yet"]
    lines = [str(plan.get("headline") or "")]
    resources = list(plan.get("resources") or [])
    order = {action: i for i, action in enumerate(_ACTION_ORDER)}
    resources.sort(key=lambda r: order.get(str(r.get("action")), len(order)))
    for resource in resources[:limit]:
        lines.append(f"- {resource.get('description') or resource.get('address')}")
    if len(resources) > limit:
        lines.append(f"- and {len(resources) - limit} more (`autostack logs` shows the whole plan)")
    for warning in plan.get("warnings") or []:
        lines.append(f"! {warning}")
    return [line for line in lines if line]


def app_url(deployment: dict[str, Any]) -> str | None:
    """The app's URL: the ``app_url`` output, else the first output that looks like one."""
    outputs = deployment.get("outputs") or []
    for output in outputs:
        if output.get("name") == "app_url" and isinstance(output.get("value"), str):
            return str(output["value"])
    for output in outputs:
        value = output.get("value")
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return value
    return None


def deployment_line(deployment: dict[str, Any]) -> str:
    """One line: id, action, status (with the place in line or progress), when."""
    status = deployment.get("status", "?")
    extra = ""
    if status == "queued" and deployment.get("queue_position"):
        extra = f" (#{deployment['queue_position']} in line)"
    elif deployment.get("progress_message"):
        extra = f" ({deployment['progress_message']})"
    error = deployment.get("error") or {}
    if error:
        extra += f": {error.get('message')}"
    return (
        f"{deployment.get('id')}  {deployment.get('action', 'deploy')}  {status}{extra}"
        f"  {deployment.get('created_at', '')}"
    )


def epoch_time(epoch: float | None) -> str:
    """A release's or config entry's time, UTC, to the second."""
    if not epoch:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(epoch)))


def config_value(entry: dict[str, Any]) -> str:
    """What a config list shows as the value: secrets never have one."""
    if entry.get("kind") == "secret":
        return "****"
    if entry.get("kind") == "generated":
        return "(generated)"
    return str(entry.get("value") or "")
