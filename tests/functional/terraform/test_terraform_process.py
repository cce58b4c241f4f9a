"""How one command's process is driven: timeout, the grace period after SIGINT, streaming."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runner.masking import SecretMasker
from runner.terraform import (
    TIMEOUT_REASON,
    BinaryExecutable,
    RunContext,
    TerraformCancelledError,
    TerraformRunner,
    TerraformSettings,
    _checked,
)


def fake_terraform(tmp_path: Path, body: str) -> BinaryExecutable:
    script = tmp_path / "terraform"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return BinaryExecutable(str(script))


def test_a_command_that_ignores_sigint_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    # Ignores the interrupt, like a Terraform stuck in a provider call.
    executable = fake_terraform(tmp_path, "trap '' INT\necho started\nsleep 30\n")
    settings = TerraformSettings(work_root=tmp_path / "tf", interrupt_grace_s=0.5)
    runner = TerraformRunner(settings, executable=executable, environ={"PATH": "/usr/bin:/bin"})
    lines: list[str] = []
    run = RunContext(on_line=lines.append, masker=SecretMasker())

    def cancel_on_start(line: str) -> None:
        lines.append(line)
        run.token.cancel("user")

    run.on_line = cancel_on_start
    started = time.monotonic()
    result = runner.run(tmp_path, ["apply"], run)
    assert time.monotonic() - started < 10
    assert result.interrupted and result.killed
    assert lines == ["started"]
    with pytest.raises(TerraformCancelledError) as info:
        _checked(result)
    assert info.value.killed


def test_a_command_running_past_its_timeout_is_interrupted(tmp_path: Path) -> None:
    executable = fake_terraform(tmp_path, "echo one\nexec sleep 30\n")
    settings = TerraformSettings(work_root=tmp_path / "tf", command_timeout_s=0.5)
    runner = TerraformRunner(settings, executable=executable, environ={"PATH": "/usr/bin:/bin"})
    run = RunContext(on_line=lambda line: None, masker=SecretMasker())
    started = time.monotonic()
    result = runner.run(tmp_path, ["plan"], run)
    assert time.monotonic() - started < 10
    assert result.interrupted and not result.killed  # it stops on SIGINT
    assert result.interrupt_reason == TIMEOUT_REASON


def test_a_child_left_holding_the_output_does_not_hold_up_the_runner(tmp_path: Path) -> None:
    executable = fake_terraform(tmp_path, "sleep 30 &\necho done\nexit 0\n")
    runner = TerraformRunner(
        TerraformSettings(work_root=tmp_path / "tf"),
        executable=executable,
        environ={"PATH": "/usr/bin:/bin"},
    )
    lines: list[str] = []
    started = time.monotonic()
    result = runner.run(
        tmp_path, ["apply"], RunContext(on_line=lines.append, masker=SecretMasker())
    )
    assert time.monotonic() - started < 10
    assert result.exit_code == 0 and lines == ["done"]


class _StaticSession:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def environment(self) -> dict[str, str]:
        return self.env


def test_stderr_is_streamed_masked_and_kept_for_the_error(tmp_path: Path) -> None:
    executable = fake_terraform(
        tmp_path, 'echo "out $SECRET_TOKEN"\necho "Error: bad $SECRET_TOKEN" >&2\nexit 1\n'
    )
    runner = TerraformRunner(
        TerraformSettings(work_root=tmp_path / "tf"),
        executable=executable,
        environ={"PATH": "/usr/bin:/bin", "SECRET_TOKEN": "not-for-terraform"},
    )
    lines: list[str] = []
    run = RunContext(on_line=lines.append, masker=runner.masker(["tok-123456"]), variables={})
    # SECRET_TOKEN is not passed to Terraform at all: only the explicit environment is.
    result = runner.run(tmp_path, ["plan"], run)
    assert result.exit_code == 1
    assert sorted(lines) == ["Error: bad ", "out "]
    runner_with_token = TerraformRunner(
        TerraformSettings(work_root=tmp_path / "tf2"),
        executable=fake_terraform(tmp_path, 'echo "Error: $AWS_SESSION_TOKEN" >&2\nexit 1\n'),
        environ={"PATH": "/usr/bin:/bin"},
    )
    lines.clear()
    # The job session's credentials reach Terraform, and are masked in what it prints.
    session = _StaticSession({"AWS_SESSION_TOKEN": "tok-123456"})
    run = RunContext(on_line=lines.append, masker=runner_with_token.masker(), credentials=session)
    result = runner_with_token.run(tmp_path, ["plan"], run)
    assert lines == ["Error: ****"]
    assert result.error_message() == "Error: ****"


def test_a_failing_log_sink_does_not_stop_terraform(tmp_path: Path) -> None:
    executable = fake_terraform(tmp_path, "echo one\necho two\necho three\n")
    runner = TerraformRunner(
        TerraformSettings(work_root=tmp_path / "tf"),
        executable=executable,
        environ={"PATH": "/usr/bin:/bin"},
    )
    taken: list[str] = []

    def flaky_sink(line: str) -> None:
        if line == "two":
            raise ConnectionError("S3 is unreachable")
        taken.append(line)

    result = runner.run(tmp_path, ["apply"], RunContext(on_line=flaky_sink, masker=SecretMasker()))
    assert result.exit_code == 0
    assert taken == ["one", "three"] and result.lost_lines == 1
