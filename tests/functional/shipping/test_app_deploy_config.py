"""The EC2 instance's ``app-deploy`` reads the app's config from SSM by path, itself.

The script runs as a real process; its ``aws`` is a stand-in CLI that makes the same SSM
calls with boto3 against the emulator (the instance has the real AWS CLI), ``docker`` a
recorder of what it was asked to run and with which environment. The config lives in the
emulator's SSM under ``/autostack/<project>/<stack>``: a String, a SecureString, a
parameter written by hand with a name that is not a config name, a reserved name. The
containers get the first two (the user's value over the bundle's), never the others, and
the values travel in the docker client's environment, never on a command line.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.generate.render import TEMPLATES_DIR
from chalicelib.models.app_config import RESERVED_NAMES, RESERVED_PREFIXES, parameter_prefix
from devtools.local_resources import REGION
from tests.functional.shipping.aws_user_stack import client

pytestmark = pytest.mark.slow

SCRIPT = TEMPLATES_DIR / "terraform" / "app_deploy.py"
REPO = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop"
SECRET = "sk_live_instance_61d0c3b2"
PATH = parameter_prefix("proj9", "prod")

# The AWS CLI's calls app-deploy makes, through boto3 (same API, same answer shape).
AWS_CLI = """#!{python}
import json, os, sys
import boto3
args = sys.argv[1:]
ssm = boto3.client("ssm", endpoint_url=os.environ["EMULATOR"], region_name="{region}",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
if "get-login-password" in args:
    print("ecr-password")
elif "get-parameters-by-path" in args:
    assert "--with-decryption" in args and "--no-recursive" in args, args
    pages = ssm.get_paginator("get_parameters_by_path").paginate(
        Path=args[args.index("--path") + 1], Recursive=False, WithDecryption=True)
    print(json.dumps({{"Parameters": [p for page in pages for p in page["Parameters"]]}},
                     default=str))
elif "get-parameter" in args:
    name = args[args.index("--name") + 1]
    if name == "/shop/autostack/runtime-config":
        print(open(os.environ["FAKE_CONFIG"]).read())
    else:
        print(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
else:
    sys.exit("unexpected aws call: " + " ".join(args))
"""
DOCKER = """#!{python}
import json, os, sys
args = sys.argv[1:]
names = [args[i + 1] for i, a in enumerate(args) if a == "-e"]
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps({{"args": args, "env": {{n: os.environ.get(n) for n in names}}}}) + "\\n")
"""


@pytest.fixture
def config_in_ssm(emulator_url: str) -> dict[str, str]:
    ssm = client(emulator_url, "ssm")
    entries = {
        "LOG_LEVEL": ("debug", "String"),
        "STRIPE_KEY": (SECRET, "SecureString"),
        "lower_case": ("by hand", "String"),
        "PORT": ("1", "String"),
    }
    for name, (value, kind) in entries.items():
        ssm.put_parameter(Name=f"{PATH}/{name}", Value=value, Type=kind, Overwrite=True)
    ssm.put_parameter(Name="/shop/JWT_SECRET", Value="jwt-bundle", Type="SecureString",
                      Overwrite=True)  # fmt: skip
    return {name: value for name, (value, _) in entries.items()}


def _deploy(tmp_path: Path, emulator_url: str, runtime_config: dict) -> list[dict]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("aws", AWS_CLI), ("docker", DOCKER)):
        path = bin_dir / name
        path.write_text(text.format(python=sys.executable, region=REGION))
        path.chmod(0o755)
    (tmp_path / "deploy.conf").write_text(
        "CONFIG_PARAMETER=/shop/autostack/runtime-config\nAWS_REGION=us-east-1\n"
    )
    (tmp_path / "config.json").write_text(json.dumps(runtime_config))
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "AUTOSTACK_DEPLOY_CONF": str(tmp_path / "deploy.conf"),
        "AUTOSTACK_STATE_DIR": str(tmp_path / "state"),
        "FAKE_CONFIG": str(tmp_path / "config.json"),
        "FAKE_DOCKER_LOG": str(tmp_path / "docker.log"),
        "EMULATOR": emulator_url,
    }
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "abc123"], env=env, timeout=120, capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout + done.stderr  # what SSM ships to the deployment log
    return [json.loads(line) for line in (tmp_path / "docker.log").read_text().splitlines()]


def test_app_deploy_gives_the_containers_the_config_read_by_path(
    tmp_path: Path, emulator_url: str, config_in_ssm: dict[str, str]
) -> None:
    runtime_config = {
        "region": "us-east-1",
        "repository_url": REPO,
        "log_group": "/autostack/shop",
        "port": 3000,
        "environment": {"LOG_LEVEL": "info", "PORT": "3000"},
        "config_path": PATH,
        "secrets": {"JWT_SECRET": "/shop/JWT_SECRET", "STRIPE_KEY": f"{PATH}/STRIPE_KEY"},
        "release": ["rake db:migrate"],
        "workers": [{"name": "mailer", "command": "node mailer.js"}],
    }
    calls = _deploy(tmp_path, emulator_url, runtime_config)
    runs = [c for c in calls if c["args"][:1] == ["run"]]
    assert {c["args"][c["args"].index("--name") + 1] for c in runs} == {
        "release", "app", "worker-mailer",
    }  # fmt: skip
    for run in runs:
        assert run["env"]["LOG_LEVEL"] == "debug"  # the user's value over the bundle's
        assert run["env"]["STRIPE_KEY"] == SECRET
        assert run["env"]["JWT_SECRET"] == "jwt-bundle"
        assert run["env"]["PORT"] == "3000"  # reserved: the bundle's, not the parameter's
        assert "lower_case" not in run["env"]
        assert not any(SECRET in arg for arg in run["args"])  # never on a command line


def test_without_a_config_path_the_script_reads_no_path(tmp_path: Path, emulator_url: str) -> None:
    runtime_config = {
        "region": "us-east-1", "repository_url": REPO, "log_group": "/autostack/shop",
        "port": 3000, "environment": {"LOG_LEVEL": "info"}, "config_path": "",
        "secrets": {}, "workers": [],
    }  # fmt: skip
    calls = _deploy(tmp_path, emulator_url, runtime_config)
    (app,) = [c for c in calls if c["args"][:1] == ["run"]]
    assert app["env"] == {"LOG_LEVEL": "info"}


def test_the_scripts_reserved_names_are_the_apis() -> None:
    literals = {
        target.id: ast.literal_eval(node.value)
        for node in ast.parse(SCRIPT.read_text()).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id.startswith("RESERVED_")
    }
    assert literals == {
        "RESERVED_NAMES": set(RESERVED_NAMES),
        "RESERVED_PREFIXES": RESERVED_PREFIXES,
    }
