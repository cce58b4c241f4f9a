"""Hostile names and values from user code end up only as data in every generated file."""

from __future__ import annotations

import json
import re
import shlex

import hcl2
import pytest
import yaml
from hcl2.utils import SerializationOptions

from tests.golden.helpers import bundle_for, decode_hcl_string
from tests.golden.stack_profiles import HOSTILE, hostile, hostile_stateless, hostile_static

TARGETS = ("ec2", "ecs-fargate")
NO_COMMENTS = SerializationOptions(with_comments=False)
DOCKERFILE_INSTRUCTIONS = {
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
}


@pytest.fixture(scope="module", params=TARGETS)
def files(request: pytest.FixtureRequest) -> dict[str, str]:
    return bundle_for(hostile(), request.param).files


def _unwrap(value):
    """python-hcl2 keeps strings quoted; decode every string literal to its value."""
    if isinstance(value, str) and value.startswith('"') and value.endswith('"'):
        return decode_hcl_string(value)
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, dict):
        return {_unwrap(k): _unwrap(v) for k, v in value.items()}
    return value


def test_every_terraform_file_parses_and_keeps_its_blocks(files: dict[str, str]) -> None:
    for path, text in files.items():
        if path.endswith(".tf"):
            doc = hcl2.loads(text, serialization_options=NO_COMMENTS)
            assert set(doc) <= {
                "terraform",
                "provider",
                "variable",
                "locals",
                "resource",
                "data",
                "output",
            }
            for block in doc.get("resource", []) + doc.get("data", []):
                for rtype, named in block.items():
                    assert rtype.strip('"').startswith("aws_"), rtype
                    for name in named:
                        assert re.fullmatch(r"[a-z][a-z0-9_]*", name.strip('"')), name


def test_hostile_env_default_is_one_map_value(files: dict[str, str]) -> None:
    doc = hcl2.loads(files["infra/variables.tf"], serialization_options=NO_COMMENTS)
    variables = {k.strip('"'): v for block in doc["variable"] for k, v in block.items()}
    default = _unwrap(variables["app_environment"]["default"])
    assert default["PLAIN"] == HOSTILE
    bad_names = [k for k in default if k.startswith("BAD")]
    assert len(bad_names) == 1 and re.fullmatch(r"[A-Za-z0-9_]+", bad_names[0])
    assert set(default) == {"PLAIN", bad_names[0]}


def test_hostile_secret_name_is_a_sanitized_set_member(files: dict[str, str]) -> None:
    text = files["infra/environment.tf"]
    sets = re.findall(r"(?:provided|optional)_secret_names\s*= toset\(\[(.*)\]\)", text)
    names = [decode_hcl_string(n.strip()) for found in sets for n in found.split(",") if n]
    (name,) = names
    assert name.startswith("SEC") and re.fullmatch(r"[A-Za-z0-9_]+", name)


def test_hostile_worker_command_is_data(files: dict[str, str]) -> None:
    if "infra/ec2.tf" in files:
        text = files["infra/ec2.tf"]
        (line,) = [ln for ln in text.splitlines() if "command = " in ln and "run-worker" in ln]
        literal = re.search(r'command = ("(?:[^"\\]|\\.)*")', line).group(1)
    else:
        text = files["infra/ecs.tf"]
        (line,) = [ln for ln in text.splitlines() if "run-worker" in ln]
        literal = re.search(r'"-c", ("(?:[^"\\]|\\.)*")\]', line).group(1)
        # With a database the command first composes DATABASE_URL, then execs the worker.
        script = decode_hcl_string(literal)
        prelude, _, tail = script.partition(" && exec ")
        assert prelude.startswith('export DATABASE_URL="postgresql://')
        assert shlex.split(tail) == ["/bin/sh", "-c", f"run-worker {HOSTILE}"]
        return
    assert decode_hcl_string(literal) == f"run-worker {HOSTILE}"
    hcl2.loads(text)


def test_dockerfile_holds_hostile_commands_only_inside_json(files: dict[str, str]) -> None:
    (path,) = [p for p in files if p.endswith("Dockerfile")]
    assert path == "Dockerfile"  # the hostile app folder ("../../etc") was refused
    lines = files[path].splitlines()
    for line in lines:
        if line and not line.startswith("#"):
            assert line.split()[0] in DOCKERFILE_INSTRUCTIONS, line
    cmd = next(ln for ln in lines if ln.startswith("CMD "))
    assert json.loads(cmd[4:]) == ["/bin/sh", "-c", f"gunicorn app:app {HOSTILE}"]
    run = next(ln for ln in lines if ln.startswith("RUN [") and "make" in ln)
    # one RUN for the step sequence (hadolint DL3059): the hostile step is inside its JSON
    argv = json.loads(run[4:])
    assert argv[:2] == ["/bin/sh", "-c"] and f"make {HOSTILE}" in argv[2]
    health = next(ln for ln in lines if ln.startswith("HEALTHCHECK"))
    assert "jndi" not in health  # the hostile health path was replaced by "/"


def test_compose_values_survive_interpolation(files: dict[str, str]) -> None:
    compose = yaml.safe_load(files["docker-compose.yml"])
    app = compose["services"]["app"]
    assert app["environment"]["PLAIN"].replace("$$", "$") == HOSTILE
    (worker,) = [v for k, v in compose["services"].items() if k.startswith("worker-")]
    assert [c.replace("$$", "$") for c in worker["command"]] == [
        "/bin/sh",
        "-c",
        f"run-worker {HOSTILE}",
    ]
    assert app["build"]["context"] == "."
    assert set(compose) == {"name", "services", "volumes"}


def test_workflow_test_command_is_not_an_expression(files: dict[str, str]) -> None:
    workflow = yaml.safe_load(files[".github/workflows/deploy.yml"])
    (step,) = [s for s in workflow["jobs"]["test"]["steps"] if s.get("name") == "Test"]
    assert step["run"].replace("${{ '${{' }}", "${{") == f"pytest {HOSTILE}"
    assert "${{ secrets" not in step["run"]
    assert set(workflow["jobs"]) == {"test", "build", "plan", "deploy"}


def test_readme_and_names_never_carry_raw_newlines_into_code(files: dict[str, str]) -> None:
    for path, text in files.items():
        if path.endswith((".tf", ".yml", "Dockerfile")):
            assert "\r" not in text, path
            assert "rm -rf /)`id`\n" not in text, path


def test_lambda_bundle_keeps_hostile_values_as_data() -> None:
    files = bundle_for(hostile_stateless(), "lambda").files
    doc = hcl2.loads(files["infra/lambda.tf"], serialization_options=NO_COMMENTS)
    resources = {rtype for block in doc["resource"] for rtype in block}
    assert '"aws_lambda_function"' in resources or "aws_lambda_function" in resources
    variables = hcl2.loads(files["infra/variables.tf"], serialization_options=NO_COMMENTS)
    merged = {k.strip('"'): v for block in variables["variable"] for k, v in block.items()}
    assert _unwrap(merged["app_environment"]["default"])["PLAIN"] == HOSTILE
    assert "aws-lambda-adapter" in files["Dockerfile"]


def test_static_bundle_keeps_hostile_paths_out() -> None:
    bundle = bundle_for(hostile_static())
    assert bundle.target == "static"
    assert "Dockerfile" in bundle.files  # the hostile folder fell back to the root
    workflow = yaml.safe_load(bundle.files[".github/workflows/deploy.yml"])
    steps = workflow["jobs"]["deploy"]["steps"]
    (build,) = [s for s in steps if s.get("name") == "Build the site"]
    assert build["run"].startswith(
        'docker build --target build --build-arg SITE_URL="$(terraform -chdir=infra output '
        '-raw app_url)/" -t site-build . && '
    )
    assert "/app/dist/." in build["run"]  # the hostile output folder fell back to dist
    (upload,) = [s for s in steps if s.get("name", "").startswith("Upload")]
    assert upload["run"].startswith("aws s3 sync _site_build ")
    run = next(
        ln
        for ln in bundle.files["Dockerfile"].splitlines()
        if ln.startswith("RUN [") and "npm run build" in ln
    )
    argv = json.loads(run[4:])
    assert argv[:2] == ["/bin/sh", "-c"] and f"npm run build {HOSTILE}" in argv[2]
