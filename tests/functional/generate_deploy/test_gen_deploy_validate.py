"""``terraform validate`` of every generated bundle against the real hashicorp/aws schema.

Every fixture stack x every target that fits it (plus the custom-domain variants) is
called as a module of one root, so one ``init`` (the provider linked from the mirror,
no plugin cache) and one ``validate`` check them all. Terraform starts one provider
process per ``provider "aws"`` block, and 64 of the 65 ``providers.tf`` are the same
text: each distinct text is kept once (the others use the root's provider), which
cuts the CPU time from ~53 s to ~13 s. A module control with an argument the mirrored
5.x provider lacks (``region`` on a resource, new in 6.0) must be the only error: the
check has teeth, and the bundles use nothing that needs 6.x.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from runner.terraform import RunContext, TerraformRunner, TerraformSettings
from tests.functional.generate_deploy.conftest import provider_mirror
from tests.functional.generate_deploy.deploy_tier import Lines
from tests.golden.helpers import all_bundles, domain_bundles, write_bundle

pytestmark = pytest.mark.slow

CONTROL = "control_v6_only"
CONTROL_TF = """
resource "aws_ssm_parameter" "v6_only" {
  name   = "/control/v6-only"
  type   = "String"
  value  = "x"
  region = "us-west-2"
}
"""


def _module_name(stack: str, target: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", f"{stack}__{target}")


def _root_module(tree: Path, bundles: dict[tuple[str, str], object]) -> None:
    calls = []
    for stack, target in bundles:
        calls.append(
            f'module "{_module_name(stack, target)}" {{\n'
            f'  source      = "./{stack}/{target}/infra"\n'
            '  role_arn    = "arn:aws:iam::123456789012:role/deploy"\n'
            '  external_id = "validate"\n'
            "}\n"
        )
    calls.append(f'module "{CONTROL}" {{\n  source = "./{CONTROL}"\n}}\n')
    (tree / "main.tf").write_text("\n".join(calls), encoding="utf-8")
    (tree / CONTROL).mkdir()
    (tree / CONTROL / "main.tf").write_text(
        'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws" }\n  }\n}\n'
        + CONTROL_TF,
        encoding="utf-8",
    )


def _dedupe_provider_blocks(tree: Path) -> list[Path]:
    seen: dict[str, Path] = {}
    for path in sorted(tree.glob("*/*/infra/providers.tf")):
        text = path.read_text(encoding="utf-8")
        if text in seen:
            path.unlink()
        else:
            seen[text] = path
    return list(seen.values())


def test_every_generated_bundle_validates_with_the_real_aws_provider(tmp_path: Path) -> None:
    mirror, reason = provider_mirror()
    assert mirror is not None, reason  # the conftest skips this tier without it
    bundles = {**all_bundles(), **domain_bundles()}
    assert {target for _, target in bundles} == {"static", "lambda", "ec2", "ecs-fargate"}
    tree = tmp_path / "tree"
    for (stack, target), bundle in bundles.items():
        write_bundle(tree / stack / target, bundle.files)
    _root_module(tree, bundles)
    kept = _dedupe_provider_blocks(tree)
    assert len(kept) >= 2  # the plain provider and the static+domain one (us-east-1 alias)

    runner = TerraformRunner(
        TerraformSettings(work_root=tmp_path / "tf", plugin_mirror_dir=mirror),
        environ={"PATH": "/usr/bin:/bin"},
    )
    lines = Lines()
    run = RunContext(on_line=lines, masker=runner.masker())
    init = runner.run(tree, ["init", "-backend=false", "-input=false", "-no-color"], run)
    assert init.exit_code == 0, f"{init.error_message()}\n{lines.text()[-3000:]}"
    assert "Installed hashicorp/aws v5.100" in lines.text() or "Using hashicorp/aws" in lines.text()
    # Linked from the read-only mirror, not copied: the workspace stays small.
    (linked,) = (tree / ".terraform/providers/registry.terraform.io/hashicorp/aws").glob("*/*")
    assert linked.is_symlink() and linked.resolve().is_relative_to(mirror.resolve()), linked

    result = runner.run(tree, ["validate", "-json", "-no-color"], run, capture_stdout=True)
    report = json.loads(result.stdout)
    errors = [d for d in report["diagnostics"] if d["severity"] == "error"]
    warnings = [d for d in report["diagnostics"] if d["severity"] == "warning"]

    def where(diag: dict) -> str:
        return diag.get("range", {}).get("filename", "?")

    bundle_errors = [
        (where(d), d["summary"], d.get("detail", "")[:1500])
        for d in errors
        if not where(d).startswith(f"{CONTROL}/")
    ]
    assert bundle_errors == [], json.dumps(bundle_errors, indent=1)[:6000]
    # The control: exactly its 6.x-only argument is refused by the 5.x schema.
    assert [(where(d), d["summary"]) for d in errors] == [
        (f"{CONTROL}/main.tf", "Unsupported argument")
    ]
    # Every bundle was loaded and validated as a module of the root.
    installed = json.loads((tree / ".terraform/modules/modules.json").read_text())["Modules"]
    assert {m["Key"] for m in installed} - {""} == {
        *(_module_name(stack, target) for stack, target in bundles),
        CONTROL,
    }
    assert not [d for d in warnings if where(d).startswith(tuple(s for s, _ in bundles))], warnings
