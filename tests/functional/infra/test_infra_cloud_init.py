"""The runner's cloud-init document: it renders (in Python and with Terraform's own
templatefile(), identically), parses as YAML, gives the runner a complete environment
and installs and enables the right systemd unit."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.settings import RunnerSettings
from tests.unit.infra.infra_support import (
    TEMPLATE_PATH,
    UNIT_PATH,
    TemplateRenderError,
    load_hcl,
    render_template,
    template_placeholders,
    terraform_apply_outputs,
)

RUNNER_ENV = {
    "AUTOSTACK_STAGE": "prod",
    "AUTOSTACK_TABLE": "autostack",
    "AUTOSTACK_BUCKET": "autostack-123456789012-us-east-1",
    "AUTOSTACK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/autostack-jobs",
    "AUTOSTACK_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/autostack-jobs-dlq",
    "AUTOSTACK_JWT_KEY_PARAM": "/autostack/jwt-signing-key",
    "AUTOSTACK_RUNNER_VISIBILITY_S": "120",
    "AUTOSTACK_MAX_RECEIVE_COUNT": "3",
    "AUTOSTACK_RUNNER_DB": "/var/lib/autostack/runner.db",
    "AUTOSTACK_RUNNER_WORK_DIR": "/var/lib/autostack/work",
    "AUTOSTACK_TERRAFORM_SESSION_ROLE_ARN": "arn:aws:iam::123456789012:role/autostack-runner",
    "AUTOSTACK_RELEASE_EXECUTOR": "aws",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}
RELEASE_URL = "https://github.com/example/autostack/archive/refs/tags/v0.1.0.tar.gz"
RELEASE_SHA = "a" * 64
CWAGENT = {
    "agent": {"metrics_collection_interval": 60, "run_as_user": "cwagent"},
    "metrics": {
        "namespace": "CWAgent",
        "append_dimensions": {"InstanceId": "${aws:InstanceId}"},
        "metrics_collected": {
            "disk": {"measurement": ["used_percent"], "resources": ["/"], "drop_device": True},
            "mem": {"measurement": ["mem_used_percent"]},
        },
    },
}


def _template_vars() -> dict[str, Any]:
    """The same values runner.tf passes (with a representative runner_env)."""
    return {
        "runner_env_file": "".join(f"{k}={RUNNER_ENV[k]}\n" for k in sorted(RUNNER_ENV)),
        "release_url": RELEASE_URL,
        "release_sha256": RELEASE_SHA,
        "swap_bytes": 2048 * 1024 * 1024,
        "cwagent_config": json.dumps(CWAGENT, separators=(",", ":")),
        "unit_name": "autostack-runner.service",
        "runner_user": "autostack",
        "python_executable": "python3.11",
    }


@pytest.fixture(scope="module")
def rendered() -> str:
    return render_template(TEMPLATE_PATH.read_text(), _template_vars())


@pytest.fixture(scope="module")
def document(rendered: str) -> dict[str, Any]:
    return yaml.safe_load(rendered)


def _files(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["path"]: entry for entry in document["write_files"]}


def test_template_uses_exactly_the_values_runner_tf_passes() -> None:
    passed = load_hcl()["locals"]["cloud_init_vars"]
    assert template_placeholders(TEMPLATE_PATH.read_text()) == set(passed)
    assert set(_template_vars()) == set(passed)
    assert passed["unit_name"] == UNIT_PATH.name
    # runner.tf builds runner.env from the runner_env map: same keys as this test's.
    assert set(load_hcl()["locals"]["runner_env"]) == set(RUNNER_ENV)


def test_terraform_renders_the_template_exactly_like_the_python_renderer(
    tmp_path: Path, rendered: str
) -> None:
    variables = _template_vars()
    # Terraform gets the same values; "$${" is HCL's escape for a literal "${".
    hcl_vars = ",\n".join(
        f"    {name} = {json.dumps(value).replace('${', '$${')}"
        for name, value in sorted(variables.items())
    )
    module = (
        'output "user_data" {\n'
        f"  value = templatefile({json.dumps(str(TEMPLATE_PATH))}, {{\n{hcl_vars}\n  }})\n"
        "}\n"
    )
    code, outputs, messages = terraform_apply_outputs(tmp_path / "render", {"main.tf": module})
    assert code == 0, messages
    assert outputs["user_data"] == rendered


def test_document_is_cloud_config_and_fits_in_user_data(rendered: str) -> None:
    assert rendered.startswith("#cloud-config\n")
    assert len(rendered.encode()) < 16 * 1024  # EC2's user-data limit


def test_runner_env_is_complete_for_the_runner_settings(document: dict[str, Any]) -> None:
    entry = _files(document)["/etc/autostack/runner.env"]
    assert entry["permissions"] == "0640"
    env = dict(line.split("=", 1) for line in entry["content"].splitlines() if line)
    assert env == RUNNER_ENV
    settings = RunnerSettings.from_env(env)  # raises naming any missing variable
    assert settings.stage == "prod"
    assert settings.visibility_timeout_s == 120
    assert str(settings.runner_db) == "/var/lib/autostack/runner.db"


def test_swap_and_packages(document: dict[str, Any]) -> None:
    assert document["swap"]["filename"] == "/var/swapfile"
    assert document["swap"]["size"] == 2048 * 1024 * 1024
    assert {"python3.11", "python3.11-pip", "amazon-cloudwatch-agent"} <= set(document["packages"])
    sysctl = _files(document)["/etc/sysctl.d/90-autostack.conf"]["content"]
    assert "vm.swappiness = 10" in sysctl


def test_install_script_installs_and_enables_the_runner_unit(document: dict[str, Any]) -> None:
    files = _files(document)
    conf = files["/etc/autostack/install.conf"]["content"]
    assert 'AUTOSTACK_UNIT="autostack-runner.service"' in conf
    assert 'AUTOSTACK_USER="autostack"' in conf
    script = files["/usr/local/sbin/autostack-install"]["content"]
    assert files["/usr/local/sbin/autostack-install"]["permissions"] == "0755"
    # The unit ships with the release (ec2-runner/systemd/) and is installed from it.
    assert UNIT_PATH.relative_to(UNIT_PATH.parents[2]).as_posix() == (
        "ec2-runner/systemd/autostack-runner.service"
    )
    assert 'ec2-runner/systemd/$AUTOSTACK_UNIT" "/etc/systemd/system/$AUTOSTACK_UNIT"' in script
    assert 'systemctl enable "$AUTOSTACK_UNIT"' in script
    assert 'systemctl restart "$AUTOSTACK_UNIT"' in script
    assert "sha256sum --check" in script
    # https:// with curl, or s3://.../releases/ with the instance's role (private repos).
    assert "https://*) curl --fail" in script and "s3://*) aws s3 cp" in script
    assert '-r "$release/src/ec2-runner/requirements.txt"' in script
    # The paths the unit uses are the links the script switches.
    assert "mv -Tf /opt/autostack/.app.new /opt/autostack/app" in script
    assert "mv -Tf /opt/autostack/.venv.new /opt/autostack/venv" in script
    runcmd = [" ".join(map(str, command)) for command in document["runcmd"]]
    assert f"/usr/local/sbin/autostack-install --restore {RELEASE_URL} {RELEASE_SHA}" in runcmd


def test_restore_script_runs_the_runners_restore_as_the_service_would(
    document: dict[str, Any],
) -> None:
    script = _files(document)["/usr/local/sbin/autostack-restore"]["content"]
    assert "/opt/autostack/venv/bin/python -m runner restore" in script
    assert "-p EnvironmentFile=/etc/autostack/runner.env" in script
    assert "-p StateDirectory=autostack" in script
    assert 'systemctl stop "$AUTOSTACK_UNIT"' in script


@pytest.mark.parametrize(
    "path", ["/usr/local/sbin/autostack-install", "/usr/local/sbin/autostack-restore"]
)
def test_shell_scripts_parse(document: dict[str, Any], path: str, tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text(_files(document)[path]["content"])
    result = subprocess.run(
        ["bash", "-n", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert _files(document)[path]["content"].startswith("#!/bin/bash\nset -euo pipefail") or (
        "set -euo pipefail" in _files(document)[path]["content"]
    )


def test_cloudwatch_agent_config_is_written_and_started(document: dict[str, Any]) -> None:
    path = "/opt/aws/amazon-cloudwatch-agent/etc/autostack.json"
    config = json.loads(_files(document)[path]["content"])
    assert config == CWAGENT
    runcmd = [" ".join(map(str, command)) for command in document["runcmd"]]
    assert any("amazon-cloudwatch-agent-ctl" in c and f"file:{path}" in c for c in runcmd)


def test_hostile_release_url_cannot_break_out_of_the_document() -> None:
    variables = {**_template_vars(), "release_url": 'https://x/"]\n  - [rm, -rf, /]\n#'}
    document = yaml.safe_load(render_template(TEMPLATE_PATH.read_text(), variables))
    runcmd = document["runcmd"]
    assert all("rm" not in command for command in runcmd[:-1])
    assert runcmd[-1][2] == variables["release_url"]  # one argument, verbatim


def test_renderer_refuses_what_it_does_not_implement() -> None:
    with pytest.raises(TemplateRenderError, match="directives"):
        render_template("%{ if x }y%{ endif }", {"x": True})
    with pytest.raises(TemplateRenderError, match="unsupported"):
        render_template("${upper(x)}", {"x": "a"})
    with pytest.raises(TemplateRenderError, match="does not contain"):
        render_template("${missing}", {})
    assert render_template("$${HOME} %%{x} ${a}", {"a": 1}) == "${HOME} %{x} 1"
    assert re.fullmatch(
        r'"\\u003ca\\u0026b\\u003e"', render_template("${jsonencode(v)}", {"v": "<a&b>"})
    )


def _locals_block(text: str) -> str:
    """The `locals { ... }` block of runner.tf, found by brace counting."""
    start = text.index("locals {")
    depth = 0
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0 and text[index] == "}":
            return text[start : index + 1]
    raise AssertionError("unbalanced locals block in runner.tf")


def test_runner_tf_locals_render_a_valid_document_with_terraform(tmp_path: Path) -> None:
    """runner.tf's own expressions (the env file, the agent config, the escapes), evaluated
    by Terraform with the resources' attributes stubbed, render a complete document."""
    runner_tf = (TEMPLATE_PATH.parents[1] / "runner.tf").read_text()
    stubbed = re.sub(
        r"\baws_[a-z0-9_]+\.[a-z0-9_]+\.(name|id|url|arn)\b",
        lambda m: json.dumps(f"stub-{m.group(0).replace('.', '-')}"),
        _locals_block(runner_tf),
    )
    module = {
        "variables.tf": (TEMPLATE_PATH.parents[1] / "variables.tf").read_text(),
        "locals.tf": stubbed,
        "render.tf": (
            'output "user_data" {\n'
            f"  value = templatefile({json.dumps(str(TEMPLATE_PATH))}, local.cloud_init_vars)\n"
            "}\n"
        ),
    }
    variables = {
        "alarm_email": "ops@example.com",
        "runner_release_url": RELEASE_URL,
        "runner_release_sha256": RELEASE_SHA,
    }
    code, outputs, messages = terraform_apply_outputs(tmp_path / "locals", module, variables)
    assert code == 0, messages
    user_data = outputs["user_data"]
    assert len(user_data.encode()) < 16 * 1024
    document = yaml.safe_load(user_data)
    files = _files(document)
    env = dict(
        line.split("=", 1) for line in files["/etc/autostack/runner.env"]["content"].splitlines()
    )
    assert env["AUTOSTACK_TABLE"] == "stub-aws_dynamodb_table-main-name"
    assert env["AUTOSTACK_QUEUE_URL"] == "stub-aws_sqs_queue-jobs-url"
    assert env["AUTOSTACK_RUNNER_VISIBILITY_S"] == "120"
    assert RunnerSettings.from_env(env).dlq_url == "stub-aws_sqs_queue-jobs_dlq-url"
    agent = json.loads(files["/opt/aws/amazon-cloudwatch-agent/etc/autostack.json"]["content"])
    assert agent["metrics"]["append_dimensions"] == {"InstanceId": "${aws:InstanceId}"}
    assert agent["metrics"]["metrics_collected"]["disk"]["resources"] == ["/"]
    assert document["swap"]["size"] == 2048 * 1024 * 1024
    runcmd = [" ".join(map(str, command)) for command in document["runcmd"]]
    assert f"/usr/local/sbin/autostack-install --restore {RELEASE_URL} {RELEASE_SHA}" in runcmd
