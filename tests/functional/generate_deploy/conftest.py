"""The generated-deploy tier: generated bundles with the real hashicorp/aws provider.

It needs the provider's read-only filesystem mirror (``AUTOSTACK_TF_PLUGIN_DIR``,
default ``/opt/tf-plugins``); providers are never downloaded. On a machine without
it this tier is reported as NOT RUN, never as passed: each of its tests is skipped
with a reason starting ``NOT RUN`` (``-ra``, the project's default, prints it in
the short summary, also under xdist) and a plain run adds a line to the terminal
summary. Tests marked ``runs_without_mirror`` (the check of this very rule) run
anyway.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TIER_DIR = Path(__file__).resolve().parent
DEFAULT_MIRROR = Path("/opt/tf-plugins")
PROVIDER_DIR = Path("registry.terraform.io/hashicorp/aws")
NOT_RUN_PREFIX = "NOT RUN"
_not_run: dict[str, str] = {}


def provider_mirror() -> tuple[Path | None, str]:
    """The mirror holding hashicorp/aws for this platform, or None and why not."""
    raw = os.environ.get("AUTOSTACK_TF_PLUGIN_DIR") or ""
    mirror = Path(raw) if raw else DEFAULT_MIRROR
    platform = "linux_amd64" if os.uname().machine in ("x86_64", "amd64") else "linux_arm64"
    binaries = list((mirror / PROVIDER_DIR).glob(f"*/{platform}/terraform-provider-aws_*"))
    if binaries:
        return mirror, ""
    where = f"AUTOSTACK_TF_PLUGIN_DIR={raw}" if raw else f"the default {DEFAULT_MIRROR}"
    return None, (
        f"{NOT_RUN_PREFIX}: no hashicorp/aws provider ({platform}) in the provider mirror at "
        f"{where}; the generated-deploy tier (real AWS provider) did not run"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mirror, reason = provider_mirror()
    if mirror is not None:
        return
    for item in items:
        if TIER_DIR in Path(str(item.path)).parents and not item.get_closest_marker(
            "runs_without_mirror"
        ):
            item.add_marker(pytest.mark.skip(reason=reason))
            _not_run[item.nodeid] = reason


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "runs_without_mirror: runs even when the AWS provider mirror is absent"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _not_run:
        reason = next(iter(_not_run.values()))
        terminalreporter.section("generated-deploy tier", sep="=", red=True, bold=True)
        terminalreporter.line(f"{reason} ({len(_not_run)} tests)", red=True, bold=True)
