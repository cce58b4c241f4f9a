"""The plan summary, on real ``terraform show -json`` output (see plans/generate.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from runner.plan_summary import PlanSummaryError, summarize_plan

PLANS = Path(__file__).parent / "plans"


def load(name: str) -> dict[str, Any]:
    return json.loads((PLANS / f"{name}.json").read_text())


def by_address(summary: Any) -> dict[str, Any]:
    return {resource.address: resource for resource in summary.resources}


def test_a_first_plan_lists_every_resource_to_create() -> None:
    summary = summarize_plan(load("create"))
    assert (summary.add, summary.change, summary.destroy, summary.replace) == (7, 0, 0, 0)
    assert summary.headline == "Plan: 7 to add, 0 to change, 0 to destroy."
    assert summary.has_changes
    assert summary.warnings == []
    resources = by_address(summary)
    assert set(resources) == {
        "terraform_data.legacy",
        "terraform_data.old_name",
        "terraform_data.server",
        "terraform_data.settings",
        "terraform_data.worker[0]",
        "terraform_data.worker[1]",
        "module.web.terraform_data.site",
    }
    site = resources["module.web.terraform_data.site"]
    assert (site.type, site.name, site.module, site.action) == (
        "terraform_data",
        "site",
        "module.web",
        "create",
    )
    assert site.description == 'terraform_data "site" in module.web will be created'
    assert resources["terraform_data.worker[1]"].description == (
        'terraform_data "worker"[1] will be created'
    )
    assert summary.terraform_version and summary.terraform_version.startswith("1.")


def test_matching_infrastructure_has_no_changes() -> None:
    summary = summarize_plan(load("no_changes"))
    assert not summary.has_changes
    assert summary.resources == []
    assert summary.unchanged == 7
    assert summary.headline == "No changes: the infrastructure matches the configuration."


def test_replacements_deletions_moves_and_forgets_are_called_out() -> None:
    summary = summarize_plan(load("changes"))
    # Terraform's own counting: a replacement is one add and one destroy.
    assert (summary.add, summary.change, summary.destroy) == (3, 1, 3)
    assert (summary.replace, summary.forget) == (2, 1)
    assert summary.headline == (
        "Plan: 3 to add, 1 to change, 3 to destroy (2 replaced, 1 to forget)."
    )
    actions = {address: r.action for address, r in by_address(summary).items()}
    assert actions == {
        "terraform_data.cache": "create",
        "terraform_data.legacy": "forget",
        "terraform_data.new_name": "no-op",
        "terraform_data.server": "replace",
        "terraform_data.settings": "update",
        "terraform_data.worker[1]": "delete",
        "module.web.terraform_data.site": "replace",
    }
    resources = by_address(summary)
    assert "tainted" in (resources["module.web.terraform_data.site"].reason or "")
    assert "triggers_replace" in (resources["terraform_data.server"].reason or "")
    assert "count index" in (resources["terraform_data.worker[1]"].reason or "")
    assert resources["terraform_data.new_name"].previous_address == "terraform_data.old_name"
    assert (
        "has moved from terraform_data.old_name" in resources["terraform_data.new_name"].description
    )
    assert "left running" in resources["terraform_data.legacy"].description
    assert summary.warnings == [
        "terraform_data.server will be REPLACED: the current object is destroyed because "
        "these settings cannot be changed in place: triggers_replace",
        "module.web.terraform_data.site will be REPLACED: the current object is destroyed "
        "because it is tainted (an earlier apply did not finish creating it)",
        "terraform_data.worker[1] will be DESTROYED because its count index is now out of range",
    ]
    outputs = {o.name: (o.action, o.sensitive) for o in summary.outputs}
    assert outputs == {"token": ("no-op", True), "url": ("update", False)}


def test_a_destroy_plan_destroys_everything_and_says_so() -> None:
    summary = summarize_plan(load("destroy"), is_destroy=True)
    assert summary.is_destroy
    assert (summary.add, summary.change, summary.destroy) == (0, 0, 6)
    assert {r.action for r in summary.resources} == {"delete"}
    assert len(summary.warnings) == 6
    assert all(w.endswith("will be DESTROYED") for w in summary.warnings)


@pytest.mark.parametrize("name", ["create", "no_changes", "changes", "destroy"])
def test_the_summary_never_carries_attribute_values(name: str) -> None:
    plan = load(name)
    assert "s3cret-token-value" in json.dumps(plan)  # the plan JSON does hold the secret
    summary = summarize_plan(plan)
    dumped = summary.model_dump_json()
    assert "s3cret-token-value" not in dumped
    assert '"two"' not in dumped and "kept running" not in dumped


def test_data_source_reads_are_not_changes() -> None:
    plan = load("no_changes")
    read = copy.deepcopy(plan["resource_changes"][0])
    read.update(mode="data", address="data.terraform_remote_state.net", name="net")
    read["type"] = "terraform_remote_state"
    read["change"]["actions"] = ["read"]
    plan["resource_changes"].append(read)
    summary = summarize_plan(plan)
    assert not summary.has_changes
    assert all(not r.address.startswith("data.") for r in summary.resources)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.update(resource_changes={"a": 1}), "resource_changes"),
        (lambda p: p["resource_changes"][0].pop("address"), "address"),
        (lambda p: p["resource_changes"][0]["change"].update(actions="create"), "actions"),
        (lambda p: p["resource_changes"][0]["change"].update(actions=["explode"]), "unknown"),
        (lambda p: p["resource_changes"][0].update(type=""), "type"),
        (lambda p: p.update(output_changes=[1]), "output_changes"),
    ],
)
def test_malformed_plans_are_refused_naming_the_field(mutate: Any, field: str) -> None:
    plan = load("create")
    mutate(plan)
    with pytest.raises(PlanSummaryError, match=field):
        summarize_plan(plan)
