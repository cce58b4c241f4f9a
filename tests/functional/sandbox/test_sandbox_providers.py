"""Providers come only from AutoStack's read-only mirror: a sandboxed init links the real
AWS provider from it (never a copy, never a cache a job could write), and a bundle's own
lock file naming other versions or hashes is refused before init."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.masking import SecretMasker
from runner.terraform import DEFAULT_PLUGIN_MIRROR, RunContext, TerraformRunner, TerraformSettings
from runner.terraform_policy import LOCK_FILE, BundlePolicy, check_bundle, package_hash

AWS_PACKAGE = DEFAULT_PLUGIN_MIRROR / "registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64"
REQUIRES_AWS = (
    'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n'
)


def _require_mirror() -> None:
    if not AWS_PACKAGE.is_dir():
        pytest.fail(
            f"the provider mirror is missing ({AWS_PACKAGE}): this machine kind ships it; "
            "the provider tests cannot run without it",
            pytrace=False,
        )


def _lock(version: str, *hashes: str) -> str:
    listed = ", ".join(f'"{h}"' for h in hashes)
    return (
        f'provider "registry.terraform.io/hashicorp/aws" {{\n  version = "{version}"\n'
        f"  hashes = [{listed}]\n}}\n"
    )


def test_init_links_the_aws_provider_from_the_read_only_mirror(tmp_path: Path) -> None:
    _require_mirror()
    settings = TerraformSettings(work_root=tmp_path / "tf", plugin_mirror_dir=DEFAULT_PLUGIN_MIRROR)
    runner = TerraformRunner(settings, environ={"PATH": "/usr/bin:/bin", "AUTOSTACK_STAGE": "test"})
    assert runner.sandbox.enabled
    folder = settings.workspaces_dir / "aws"
    folder.mkdir(parents=True)
    (folder / "main.tf").write_text(REQUIRES_AWS)
    lines: list[str] = []
    result = runner.run(
        folder, ["init", "-input=false", "-no-color"], RunContext(lines.append, SecretMasker())
    )
    assert result.exit_code == 0, lines
    installed = folder / ".terraform/providers/registry.terraform.io/hashicorp/aws/5.100.0"
    assert (installed / "linux_amd64").is_symlink()  # linked, not 675 MB copied
    assert (installed / "linux_amd64").resolve() == AWS_PACKAGE
    # The provider process starts inside the sandbox (as 65534, its plugin socket in the
    # sandbox's own /tmp) and serves its schema.
    (folder / "bucket.tf").write_text(
        'provider "aws" {\n  region = "us-east-1"\n}\n'
        'resource "aws_s3_bucket" "b" {\n  bucket = "sandboxed"\n}\n'
    )
    validated = runner.run(
        folder, ["validate", "-no-color"], RunContext(lines.append, SecretMasker())
    )
    assert validated.exit_code == 0, lines[-20:]
    # The lock file Terraform wrote names the mirror's own hash: the same as ours.
    assert package_hash(AWS_PACKAGE) in (folder / LOCK_FILE).read_text()
    # And a bundle shipping exactly that lock file passes the policy.
    policy = BundlePolicy(plugin_mirror=DEFAULT_PLUGIN_MIRROR)
    bundle = tmp_path / "same"
    bundle.mkdir()
    (bundle / "main.tf").write_text(REQUIRES_AWS)
    (bundle / LOCK_FILE).write_text((folder / LOCK_FILE).read_text())
    assert check_bundle(bundle, policy) == []


def test_a_lock_file_naming_other_hashes_or_versions_is_refused(tmp_path: Path) -> None:
    _require_mirror()
    policy = BundlePolicy(plugin_mirror=DEFAULT_PLUGIN_MIRROR)
    cases = {
        "other-hash": (
            _lock("5.100.0", "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            "the lock file names other hashes than AutoStack's provider mirror",
        ),
        "other-version": (
            _lock("5.50.0", package_hash(AWS_PACKAGE)),
            "hashicorp/aws 5.50.0 is not in AutoStack's provider mirror",
        ),
        "other-provider": (
            'provider "registry.terraform.io/someone/evil" {\n  version = "1.0.0"\n'
            '  hashes = ["h1:x"]\n}\n',
            "provider registry.terraform.io/someone/evil is not allowed",
        ),
    }
    for name, (lock, message) in cases.items():
        bundle = tmp_path / name
        bundle.mkdir()
        (bundle / "main.tf").write_text(REQUIRES_AWS)
        (bundle / LOCK_FILE).write_text(lock)
        (violation,) = check_bundle(bundle, policy)
        assert violation.file == LOCK_FILE and violation.line == 1, violation
        assert message in violation.message, (name, violation)
