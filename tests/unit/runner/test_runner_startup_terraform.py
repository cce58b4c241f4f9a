"""``python -m runner run`` checks the Terraform settings at start, not at the first job."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.__main__ import main


@pytest.fixture
def runner_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Valid runner settings (nothing is contacted: start-up fails before any client)."""
    for name in list(os.environ):
        if name.startswith("AUTOSTACK_TERRAFORM_"):
            monkeypatch.delenv(name)
    db = tmp_path / "runner.db"
    for name, value in {
        "AUTOSTACK_STAGE": "test",
        "AUTOSTACK_TABLE": "t",
        "AUTOSTACK_BUCKET": "b",
        "AUTOSTACK_QUEUE_URL": "http://127.0.0.1:9/q",
        "AUTOSTACK_DLQ_URL": "http://127.0.0.1:9/dlq",
        "AUTOSTACK_RUNNER_DB": str(db),
        "AUTOSTACK_RUNNER_WORK_DIR": str(tmp_path / "work"),
    }.items():
        monkeypatch.setenv(name, value)
    return db


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUTOSTACK_TERRAFORM_TIMEOUT_S", "soon"),
        ("AUTOSTACK_TERRAFORM_LOCK_TIMEOUT_S", "-1"),
        ("AUTOSTACK_TERRAFORM_ALLOW_PROVISIONERS", "maybe"),
        ("AUTOSTACK_TERRAFORM_BIN", "/nonexistent/terraform"),
    ],
)
def test_run_refuses_to_start_with_a_bad_terraform_setting(
    runner_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        main(["run", "--burst"])
    assert exited.value.code == 2
    assert name in capsys.readouterr().err
    # It stopped before taking runner.db (or its lock).
    assert not runner_env.exists()
    assert not runner_env.with_name("runner.db.lock").exists()
