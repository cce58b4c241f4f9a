"""Golden files: a change to a template shows up as a readable diff.

Regenerate after an intended change with:
    AUTOSTACK_UPDATE_GOLDEN=1 .venv/bin/python -m pytest \
        tests/functional/generate/test_gen_golden.py
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.golden.helpers import bundle_for, write_bundle
from tests.golden.stack_profiles import PROFILES

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "bundles"
CASES = [
    ("flask_postgres", None),  # recommended: ec2
    ("fastapi_stateless", None),  # recommended: lambda
    ("static_site", None),  # recommended: static
    ("rails_worker", "ecs-fargate"),
    ("laravel_mysql", None),  # PHP on FrankenPHP with a queue worker
    ("monorepo", "ecs-fargate"),  # one service per app behind one load balancer
    ("monorepo", "ec2"),  # every app's container on one instance, Caddy routing by path
]
UPDATE = os.environ.get("AUTOSTACK_UPDATE_GOLDEN") == "1"


def _expected_files(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize(("stack", "target"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_bundle_matches_golden_files(stack: str, target: str | None) -> None:
    bundle = bundle_for(PROFILES[stack](), target)
    actual = dict(bundle.files)
    summary = {
        "target": bundle.target,
        "recommendation": bundle.recommendation.model_dump(mode="json"),
        "monthly_usd": {
            e.target: [e.monthly_usd, e.monthly_free_tier_usd] for e in bundle.cost.targets
        },
        "warnings": bundle.warnings,
    }
    actual["_summary.json"] = json.dumps(summary, indent=2, sort_keys=True) + "\n"
    # the app plans the files render from (what the API answers as ``plans``)
    plans = [plan.model_dump(mode="json") for plan in bundle.plans]
    actual["_plans.json"] = json.dumps(plans, indent=2) + "\n"
    folder = GOLDEN / f"{stack}-{bundle.target}"
    if UPDATE:
        shutil.rmtree(folder, ignore_errors=True)
        write_bundle(folder, actual)
    expected = _expected_files(folder)
    assert expected, f"no golden files in {folder}; run with AUTOSTACK_UPDATE_GOLDEN=1"
    diffs = []
    for path in sorted(set(expected) | set(actual)):
        old, new = expected.get(path, ""), actual.get(path, "")
        if old != new:
            diffs.extend(
                difflib.unified_diff(
                    old.splitlines(keepends=True),
                    new.splitlines(keepends=True),
                    fromfile=f"golden/{path}",
                    tofile=f"generated/{path}",
                )
            )
    assert not diffs, (
        "generated bundle differs from golden files "
        "(AUTOSTACK_UPDATE_GOLDEN=1 to accept):\n" + "".join(diffs)[:8000]
    )
