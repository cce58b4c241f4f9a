"""Regenerate the ``show -json`` fixtures of the plan-summary tests with real Terraform.

    .venv/bin/python tests/unit/terraform/plans/generate.py

Local state, Terraform's built-in resources only. Each step writes a config,
plans (and applies when the next step builds on it) and saves ``<name>.json``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

# runner comes from the installed repository (`pip install -e .`, done by `make venv`).
from runner.masking import SecretMasker
from runner.terraform import RunContext, TerraformRunner, TerraformSettings

HERE = Path(__file__).parent

V1 = """
resource "terraform_data" "settings" { input = "one" }
resource "terraform_data" "server" { triggers_replace = ["t1"] }
resource "terraform_data" "worker" {
  count = 2
  input = count.index
}
resource "terraform_data" "legacy" { input = "kept running" }
resource "terraform_data" "old_name" { input = "moving" }
module "web" { source = "./web" }
output "url" { value = terraform_data.settings.output }
output "token" {
  value     = "s3cret-token-value"
  sensitive = true
}
"""

V2 = """
resource "terraform_data" "settings" { input = "two" }
resource "terraform_data" "server" { triggers_replace = ["t2"] }
resource "terraform_data" "worker" {
  count = 1
  input = count.index
}
removed {
  from = terraform_data.legacy
  lifecycle { destroy = false }
}
moved {
  from = terraform_data.old_name
  to   = terraform_data.new_name
}
resource "terraform_data" "new_name" { input = "moving" }
resource "terraform_data" "cache" {
  input = "new"
  lifecycle { create_before_destroy = true }
}
module "web" { source = "./web" }
output "url" { value = terraform_data.settings.output }
output "token" {
  value     = "s3cret-token-value"
  sensitive = true
}
"""

WEB = 'resource "terraform_data" "site" { input = "site" }\n'


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runner = TerraformRunner(
            TerraformSettings(work_root=root / "tf"), environ={"PATH": os.environ["PATH"]}
        )
        work = root / "ws"
        (work / "web").mkdir(parents=True)
        (work / "web" / "main.tf").write_text(WEB)
        run = RunContext(on_line=print, masker=SecretMasker())

        def tf(*args: str, capture: bool = False) -> str:
            result = runner.run(work, list(args), run, capture_stdout=capture)
            if result.exit_code not in (0, 2):
                raise SystemExit(f"terraform {args} failed: {result.error_message()}")
            return result.stdout

        def save(name: str) -> None:
            shown = json.loads(tf("show", "-json", "tfplan", capture=True))
            (HERE / f"{name}.json").write_text(json.dumps(shown, indent=1, sort_keys=True) + "\n")

        (work / "main.tf").write_text(V1)
        tf("init", "-input=false", "-no-color")
        tf("plan", "-input=false", "-no-color", "-out=tfplan")
        save("create")
        tf("apply", "-input=false", "-no-color", "tfplan")
        tf("plan", "-input=false", "-no-color", "-out=tfplan")
        save("no_changes")
        tf("taint", "-no-color", "module.web.terraform_data.site")
        (work / "main.tf").write_text(V2)
        tf("plan", "-input=false", "-no-color", "-out=tfplan")
        save("changes")
        tf("apply", "-input=false", "-no-color", "tfplan")
        tf("plan", "-input=false", "-no-color", "-destroy", "-out=tfplan")
        save("destroy")


if __name__ == "__main__":
    main()
