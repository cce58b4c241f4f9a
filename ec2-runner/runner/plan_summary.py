"""A plan summary a person can read, from Terraform's ``show -json`` of a saved plan.

Pure logic: no Terraform, no AWS. Only addresses, types, names and actions are
used, never attribute values, so the summary is safe to show and store even
though the plan JSON holds sensitive values.

Counting follows Terraform's own ``Plan: X to add, Y to change, Z to destroy``:
a replacement counts as one add and one destroy; data source reads and no-ops
are not changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.models.deployments import (
    OutputChangeSummary,
    PlanSummary,
    ResourceAction,
    ResourceChangeSummary,
)


class PlanSummaryError(ValueError):
    """The plan JSON is not what ``terraform show -json`` produces (names the field)."""


_ACTIONS: dict[tuple[str, ...], ResourceAction] = {
    ("no-op",): "no-op",
    ("create",): "create",
    ("read",): "read",
    ("update",): "update",
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
    ("delete",): "delete",
    ("forget",): "forget",
    ("create", "forget"): "replace",  # re-created while the old object is only forgotten
}

_REASONS = {
    "replace_because_tainted": "it is tainted (an earlier apply did not finish creating it)",
    "replace_because_cannot_update": "some of its settings cannot be changed in place",
    "replace_by_request": "a replacement was requested",
    "replace_by_triggers": "one of its replacement triggers changed",
    "delete_because_no_resource_config": "it is no longer in the configuration",
    "delete_because_no_module": "its module is no longer in the configuration",
    "delete_because_wrong_repetition": "it is no longer repeated the same way (count/for_each)",
    "delete_because_count_index": "its count index is now out of range",
    "delete_because_each_key": "its for_each key is gone",
    "delete_because_no_move_target": "the target of its moved block does not exist",
    "read_because_config_unknown": "its configuration depends on values known only after apply",
    "read_because_dependency_pending": "it depends on changes not applied yet",
}

_VERBS: dict[str, str] = {
    "create": "will be created",
    "update": "will be updated in place",
    "delete": "will be destroyed",
    "forget": "will be removed from Terraform's state but left running",
    "read": "will be read",
    "no-op": "will not change",
}


def summarize_plan(plan: Mapping[str, Any], is_destroy: bool = False) -> PlanSummary:
    """Build the summary of a ``terraform show -json <planfile>`` document."""
    if not isinstance(plan, Mapping):
        raise PlanSummaryError("plan: expected a JSON object")
    raw_changes = plan.get("resource_changes") or []
    if not isinstance(raw_changes, list):
        raise PlanSummaryError("resource_changes: expected a list")

    resources: list[ResourceChangeSummary] = []
    counts = dict.fromkeys(("create", "update", "replace", "delete", "forget", "no-op"), 0)
    for index, raw in enumerate(raw_changes):
        resource = _resource_change(raw, f"resource_changes[{index}]")
        if resource is None:  # a data source read: not a change to infrastructure
            continue
        counts[resource.action] += 1
        moved = resource.previous_address is not None
        if resource.action != "no-op" or moved:  # a move alone is worth saying too
            resources.append(resource)

    add = counts["create"] + counts["replace"]
    destroy = counts["delete"] + counts["replace"]
    warnings = [
        f"{r.address} will be REPLACED: the current object is destroyed"
        + (f" because {r.reason}" if r.reason else "")
        for r in resources
        if r.action == "replace"
    ] + [
        f"{r.address} will be DESTROYED" + (f" because {r.reason}" if r.reason else "")
        for r in resources
        if r.action == "delete"
    ]
    return PlanSummary(
        add=add,
        change=counts["update"],
        destroy=destroy,
        replace=counts["replace"],
        forget=counts["forget"],
        unchanged=counts["no-op"],
        is_destroy=is_destroy,
        headline=_headline(add, counts["update"], destroy, counts["replace"], counts["forget"]),
        resources=resources,
        warnings=warnings,
        outputs=_output_changes(plan.get("output_changes") or {}),
        terraform_version=_optional_str(plan.get("terraform_version")),
    )


def _resource_change(raw: Any, where: str) -> ResourceChangeSummary | None:
    if not isinstance(raw, Mapping):
        raise PlanSummaryError(f"{where}: expected an object")
    address = _required_str(raw, "address", where)
    change = raw.get("change")
    if not isinstance(change, Mapping) or not isinstance(change.get("actions"), list):
        raise PlanSummaryError(f"{where}.change.actions: expected a list of actions")
    actions = tuple(str(action) for action in change["actions"])
    action = _ACTIONS.get(actions)
    if action is None:
        raise PlanSummaryError(f"{where}: unknown actions {list(actions)!r} for {address}")
    if raw.get("mode", "managed") == "data":
        return None
    rtype = _required_str(raw, "type", where)
    name = _required_str(raw, "name", where)
    module = _optional_str(raw.get("module_address"))
    reason_code = _optional_str(raw.get("action_reason"))
    reason = _REASONS.get(reason_code or "")
    if action == "replace" and reason_code == "replace_because_cannot_update":
        paths = _replace_paths(change.get("replace_paths"))
        if paths:
            reason = f"these settings cannot be changed in place: {', '.join(paths)}"
    previous = _optional_str(raw.get("previous_address"))
    return ResourceChangeSummary(
        address=address,
        previous_address=previous if previous != address else None,
        type=rtype,
        name=name,
        module=module,
        action=action,
        description=_describe(raw, rtype, name, module, action, actions, reason),
        reason=reason,
    )


def _describe(
    raw: Mapping[str, Any],
    rtype: str,
    name: str,
    module: str | None,
    action: str,
    actions: Sequence[str],
    reason: str | None,
) -> str:
    index = raw.get("index")
    label = f'{rtype} "{name}"' + (f"[{json.dumps(index)}]" if index is not None else "")
    if module:
        label += f" in {module}"
    if raw.get("deposed"):
        label = f"an old (deposed) object of {label}"
    if action == "replace":
        order = (
            "a new one is created before the old one is destroyed"
            if actions[0] == "create"
            else "the old one is destroyed before the new one is created"
        )
        text = f"{label} will be replaced ({order})"
    else:
        text = f"{label} {_VERBS[action]}"
    previous = _optional_str(raw.get("previous_address"))
    if previous and previous != raw.get("address"):
        text += f", after moving from {previous}" if action != "no-op" else ""
        if action == "no-op":
            text = f"{label} has moved from {previous} (no other change)"
    change = raw.get("change") or {}
    if isinstance(change, Mapping) and change.get("importing"):
        text += ", imported from an existing object"
    if reason:
        text += f", because {reason}"
    return text


def _output_changes(raw: Any) -> list[OutputChangeSummary]:
    if not isinstance(raw, Mapping):
        raise PlanSummaryError("output_changes: expected an object")
    outputs = []
    for name in sorted(raw):
        change = raw[name]
        if not isinstance(change, Mapping) or not isinstance(change.get("actions"), list):
            raise PlanSummaryError(f"output_changes.{name}.actions: expected a list")
        action = _ACTIONS.get(tuple(str(a) for a in change["actions"]))
        if action is None:
            raise PlanSummaryError(f"output_changes.{name}: unknown actions {change['actions']!r}")
        sensitive = bool(change.get("before_sensitive") or change.get("after_sensitive"))
        outputs.append(OutputChangeSummary(name=str(name), action=action, sensitive=sensitive))
    return outputs


def _headline(add: int, change: int, destroy: int, replace: int, forget: int) -> str:
    if not (add or change or destroy or forget):
        return "No changes: the infrastructure matches the configuration."
    text = f"Plan: {add} to add, {change} to change, {destroy} to destroy"
    extras = []
    if replace:
        extras.append(f"{replace} replaced")
    if forget:
        extras.append(f"{forget} to forget")
    return text + (f" ({', '.join(extras)})." if extras else ".")


def _replace_paths(raw: Any) -> list[str]:
    if not isinstance(raw, list):
        return []
    paths = []
    for path in raw:
        if isinstance(path, list) and path:
            paths.append(".".join(str(step) for step in path))
    return sorted(set(paths))


def _required_str(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise PlanSummaryError(f"{where}.{key}: expected a non-empty string")
    return value


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
