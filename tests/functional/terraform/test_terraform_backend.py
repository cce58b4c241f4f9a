"""The state backend is always AutoStack's: generated partial blocks work, bundle overrides fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.local_resources import LocalResources
from runner.terraform import BundleError
from tests.functional.terraform.bundles import OWN_S3_SETTINGS, PARTIAL_S3_BACKEND, write_bundle
from tests.functional.terraform.harness import make_harness


def test_a_generated_partial_backend_block_gets_our_bucket_and_key(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    harness = make_harness(local_resources, tmp_path)
    source = write_bundle(tmp_path / "bundle", PARTIAL_S3_BACKEND)
    ws = harness.runner.workspace("gen1", source, harness.backend("gen1", project_id="p9"))
    run = harness.context()
    harness.runner.init(ws, run)
    harness.runner.plan(ws, run)
    harness.runner.apply(ws, run)
    assert harness.object_keys() == ["tfstate/p9/gen1.tfstate"]
    assert [r["name"] for r in harness.state("tfstate/p9/gen1.tfstate")["resources"]] == ["app"]


def test_backend_settings_of_the_bundle_itself_are_refused_after_init(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    harness = make_harness(local_resources, tmp_path)
    source = write_bundle(tmp_path / "bundle", OWN_S3_SETTINGS)
    ws = harness.runner.workspace("own1", source, harness.backend("own1"))
    with pytest.raises(BundleError, match="'acl'"):
        harness.runner.init(ws, harness.context())
    assert harness.object_keys() == []
