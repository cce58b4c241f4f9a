"""The local stage's provider override: which blocks it writes, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.local_endpoints import (
    OVERRIDE_FILE,
    PROVIDER_FILE,
    SERVICES,
    LocalEndpoints,
    LocalEndpointsError,
    aws_provider_configs,
    local_endpoints_from_environ,
)
from runner.terraform import BundleError, StateBackend, TerraformWorkspace

URL = "http://127.0.0.1:5000"
PROVIDERS = """
provider "aws" {
  region = var.region # a comment with { braces
  assume_role {
    role_arn = var.role_arn
  }
}

provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
  default_tags {
    tags = { alias = "not-this-one" }
  }
}
"""


def _bundle(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "bundle"
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def _workspace(tmp_path: Path, files: dict[str, str]) -> TerraformWorkspace:
    return TerraformWorkspace.create(
        tmp_path / "ws",
        "dep1",
        _bundle(tmp_path, files),
        StateBackend(bucket="b", key="tfstate/p/d.tfstate", region="us-east-1"),
        LocalEndpoints(URL),
    )


def test_every_aws_configuration_is_overridden_and_the_bundle_is_left_alone(
    tmp_path: Path,
) -> None:
    ws = _workspace(
        tmp_path, {"providers.tf": PROVIDERS, "main.tf": 'resource "aws_s3_bucket" "b" {}'}
    )
    text = (ws.path / OVERRIDE_FILE).read_text()
    assert text.count('provider "aws" {') == 2
    assert 'alias = "us_east_1"' in text and "not-this-one" not in text
    for service in SERVICES:
        assert f'{service} = "{URL}"' in " ".join(text.split())
    for name in (
        "s3_use_path_style",
        "skip_credentials_validation",
        "skip_requesting_account_id",
        "skip_metadata_api_check",
        "skip_region_validation",
    ):
        assert f"{name} = true" in " ".join(text.split())
    assert "assume_role" not in text  # the bundle's own role goes to the emulator's STS
    assert not (ws.path / PROVIDER_FILE).exists()
    assert not (tmp_path / "bundle" / OVERRIDE_FILE).exists()


def test_a_bundle_without_a_provider_block_gets_a_plain_one(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, {"main.tf": 'resource "aws_sqs_queue" "q" {}\n'})
    assert not (ws.path / OVERRIDE_FILE).exists()
    assert 'provider "aws" {' in (ws.path / PROVIDER_FILE).read_text()


def test_a_bundle_that_does_not_use_aws_gets_nothing(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, {"main.tf": 'resource "terraform_data" "x" {}\n'})
    assert sorted(p.name for p in ws.path.iterdir() if "autostack_local" in p.name) == []


def test_json_configurations_count_too(tmp_path: Path) -> None:
    root = _bundle(
        tmp_path,
        {"main.tf.json": '{"provider": {"aws": [{"region": "x"}, {"alias": "eu"}]}}'},
    )
    assert aws_provider_configs(root) == ({None, "eu"}, True)


@pytest.mark.parametrize("name", ["override.tf", "zz_override.tf", "a_override.tf.json"])
def test_a_bundle_with_its_own_override_file_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(BundleError, match="override files are not allowed"):
        _workspace(
            tmp_path, {"providers.tf": PROVIDERS, name: "{}" if name.endswith("json") else ""}
        )
    assert list((tmp_path / "ws").iterdir()) == []  # nothing half-written


@pytest.mark.parametrize("name", [OVERRIDE_FILE, PROVIDER_FILE])
def test_the_reserved_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(BundleError, match="reserved for the local stage"):
        _workspace(tmp_path, {"providers.tf": PROVIDERS, name: ""})


def test_the_setting_exists_only_in_the_local_stage() -> None:
    assert (
        local_endpoints_from_environ({"AUTOSTACK_STAGE": "prod", "AWS_ENDPOINT_URL": URL}) is None
    )
    assert (
        local_endpoints_from_environ({"AUTOSTACK_STAGE": "test", "AWS_ENDPOINT_URL": URL}) is None
    )
    local = local_endpoints_from_environ(
        {"AUTOSTACK_STAGE": "local", "AWS_ENDPOINT_URL": URL + "/"}
    )
    assert local == LocalEndpoints(URL)
    with pytest.raises(LocalEndpointsError, match="AWS_ENDPOINT_URL"):
        local_endpoints_from_environ({"AUTOSTACK_STAGE": "local"})
    for bad in ("ftp://x", 'http://x"; }', "http://x/?a=1"):
        with pytest.raises(LocalEndpointsError, match="AWS_ENDPOINT_URL"):
            LocalEndpoints(bad)
