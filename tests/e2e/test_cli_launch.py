"""`autostack` as a user runs it: the real console script as a process, against the real
local stack (emulator, `chalice local`, the runner) at the default rate limits.

Non-interactive: signup with the password on stdin, `launch --yes --json --target lambda`
of a fixture app: the GENERATED bundle, planned and applied by the runner with the real AWS
provider against the emulator (``runner.local_endpoints``), to ``applied`` with its URL, the
other commands, then `destroy` back to an empty state; the requests of launch + destroy
counted per rate-limit bucket from the table. Interactive: the same journey through a
pseudo-terminal (pexpect) answering prompts, with your own Terraform (``--bundle DIR``, an
uploaded ``terraform_data`` bundle: quick, and the path stays covered).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pexpect
import pytest

from devtools.local_stack import LocalStack
from tests.support.emulator import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PASSWORD = "correct horse battery"
ROLE_ARN = "arn:aws:iam::123456789012:role/autostack-deploy"
AUTOSTACK = str(Path(sys.executable).parent / "autostack")
DEFAULT_LIMITS = {"default": 50, "read": 300, "status": 600}
MIRROR = Path("/opt/tf-plugins")

APP = {
    "app.py": (
        "import os\nfrom flask import Flask\n\napp = Flask(__name__)\n\n"
        "@app.get('/health')\ndef health():\n    return 'ok'\n\n"
        "if __name__ == '__main__':\n"
        "    app.run(port=int(os.environ.get('PORT', 8000)))\n"
    ),
    "requirements.txt": "flask==3.0.3\npsycopg2-binary==2.9.9\n",
    ".gitignore": "*.log\n",
    "debug.log": "left out by .gitignore\n",
    "node_modules/left-out/index.js": "module.exports = 1\n",
}
# Stateless (no database): the lambda bundle is then the fewest resources to apply; the
# local stage's release then serves it with the plan's gunicorn on 127.0.0.1.
STATELESS_APP = {**APP, "requirements.txt": "flask==3.0.3\ngunicorn==27.0.1\n"}
SECRET = "sk_live_cli_0123456789abcdef"
BUNDLE = {
    "main.tf": (
        'variable "role_arn" {\n  type = string\n}\n\n'
        'resource "terraform_data" "app" {\n  input = "app for ${var.role_arn}"\n}\n\n'
        'output "app_url" {\n  value = "https://example.test/${terraform_data.app.id}"\n}\n'
    )
}


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    assert MIRROR.is_dir(), f"the hashicorp/aws provider mirror {MIRROR} is needed"
    state = tmp_path_factory.mktemp("cli-stack")
    local = LocalStack(
        emulator_port=free_port(),
        api_port=free_port(),
        extra_env={
            "AUTOSTACK_SCRYPT_N": "4096",
            "AUTOSTACK_RUNNER_DB": str(state / "runner.db"),
            "AUTOSTACK_RUNNER_WORK_DIR": str(state / "work"),
            "AUTOSTACK_RUNNER_WAIT_S": "1",
            "AUTOSTACK_LONG_POLL_S": "2",  # long polls read every 2 s, not 0.5: less CPU
            "AUTOSTACK_TF_PLUGIN_DIR": str(MIRROR),
            "AUTOSTACK_RELEASE_EXECUTOR": "local",  # as `make run`: the app goes live
        },  # rate limits: the defaults
        quiet=True,
    )
    local.start()
    yield local
    local.stop()


class User:
    """One person with their own config dir, driving the console script."""

    def __init__(self, stack: LocalStack, home: Path, email: str) -> None:
        self.stack = stack
        self.email = email
        self.config = home / "config"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AUTOSTACK_")},
            "AUTOSTACK_CONFIG_DIR": str(self.config),
            "AUTOSTACK_API": stack.api_url,
            "NO_COLOR": "1",
        }

    def run(
        self, *args: str, stdin: str = "", cwd: Path | None = None, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [AUTOSTACK, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=cwd,
            timeout=timeout,
        )

    def json(self, *args: str, expect: int = 0, **kwargs: Any) -> Any:
        done = self.run(*args, "--json", **kwargs)
        assert done.returncode == expect, (args, done.returncode, done.stdout, done.stderr)
        return json.loads(done.stdout)  # stdout is exactly one JSON document

    def rate_counts(self, user_id: str) -> Counter[str]:
        """This user's requests per rate-limit bucket, from the table (all windows)."""
        ddb = boto3.client(
            "dynamodb",
            endpoint_url=self.stack.emulator_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        counts: Counter[str] = Counter()
        assert self.stack.resources is not None
        pages = ddb.get_paginator("scan").paginate(TableName=self.stack.resources.table)
        for page in pages:
            for item in page["Items"]:
                pk = item["pk"]["S"]
                if pk.startswith(f"RATE#{user_id}#"):
                    counts[pk.split("#")[2]] += int(item["count"]["N"])
        return counts


def test_launch_status_logs_templates_destroy_non_interactive_within_the_rate_limits(
    stack: LocalStack, tmp_path: Path
) -> None:
    user = User(stack, tmp_path, "cli@example.com")
    app = _write(tmp_path / "shop", STATELESS_APP)

    signed = user.json("signup", "--email", user.email, stdin=PASSWORD + "\n")
    assert signed["signed_in"] is True and signed["user"]["email"] == user.email
    profile = user.config / "profile.json"
    assert stat.S_IMODE(profile.stat().st_mode) == 0o600
    assert PASSWORD not in profile.read_text()
    user_id = user.json("whoami")["user"]["id"]
    before_launch = user.rate_counts(user_id)

    started = time.monotonic()
    launched = user.json(
        "launch", str(app), "--target", "lambda", "--role-arn", ROLE_ARN, "--yes", timeout=1200
    )
    launch_s = time.monotonic() - started
    after_launch = user.rate_counts(user_id)

    assert launched["status"] == "live", launched
    assert launched["target"] == "lambda" and "uploaded_bundle_id" not in launched
    # The local stage's release: the app itself on loopback (the API Gateway's URL in AWS).
    assert launched["url"].startswith("http://127.0.0.1:"), launched["url"]
    with urllib.request.urlopen(launched["url"] + "/health", timeout=10) as answer:  # noqa: S310
        assert answer.read() == b"ok"
    outputs = {o["name"]: o["value"] for o in launched["deployment"]["outputs"]}
    assert outputs["app_url"] == launched["url"]
    assert "aws_lambda_function.app" in launched["deployment"]["resources_in_state"]
    assert launched["stack"]["language"] == "python"
    assert launched["stack"]["framework"].startswith("flask")
    assert launched["stack"]["port"] == "8000"
    assert {row["target"] for row in launched["targets"]} == {
        "static",
        "lambda",
        "ec2",
        "ecs-fargate",
    }
    assert sum(row["recommended"] for row in launched["targets"]) == 1
    remembered = json.loads((app / ".autostack.json").read_text())
    assert remembered["project_id"] == launched["project"]["id"]
    assert remembered["name"] == "shop"

    status = user.json("status", "--dir", str(app))
    assert status["deployment"]["status"] == "live" and status["url"] == launched["url"]
    assert user.json("open", "--dir", str(app))["url"] == launched["url"]
    logs = user.json("logs", cwd=app)
    assert "Apply complete!" in logs["text"]
    written = user.json("templates", "--out", str(tmp_path / "bundle"), cwd=app)
    assert written["files"] and (tmp_path / "bundle" / written["files"][0]).is_file()
    human = user.run("status", cwd=app)
    assert human.returncode == 0 and "\x1b[" not in human.stdout  # a pipe: no colour
    assert launched["url"] in human.stdout

    _releases_and_config(user, app, launched["url"])

    before_destroy = user.rate_counts(user_id)
    destroyed = user.json("destroy", "--yes", cwd=app, timeout=1200)
    after_destroy = user.rate_counts(user_id)
    assert destroyed["deployment"]["action"] == "destroy"
    assert destroyed["deployment"]["status"] == "applied"
    assert destroyed["deployment"]["resources_in_state"] == []

    launch_counts = after_launch - before_launch
    destroy_counts = after_destroy - before_destroy
    total = launch_counts + destroy_counts
    print(  # the figures of the report (pytest -s)
        json.dumps(
            {
                "launch_s": round(launch_s, 1),
                "launch_requests": dict(launch_counts),
                "destroy_requests": dict(destroy_counts),
                "client_counted": launched["requests"],
                "plan": (launched["deployment"].get("plan") or {}).get("headline"),
                "resources": launched["deployment"]["resources_in_state"],
                "url": launched["url"],
            }
        )
    )
    # Comfortably within the default limits: at most a third of any bucket.
    for bucket, used in total.items():
        assert used <= DEFAULT_LIMITS[bucket] // 3, (bucket, dict(total))
    assert launch_counts["default"] <= 12, dict(launch_counts)


def _releases_and_config(user: User, app: Path, url: str) -> None:
    """`releases`, `rollback --previous` (refused: one release), `config set/list/unset`."""
    (release,) = user.json("releases", cwd=app)["releases"]
    assert (release["status"], release["url"]) == ("live", url)
    assert release["image_tag"].startswith("src-")
    human = user.run("releases", cwd=app)
    assert human.returncode == 0 and release["id"] in human.stdout and "live" in human.stdout
    refused = user.json("rollback", "--previous", cwd=app, expect=3)
    assert "nothing to roll back to" in refused["error"]["message"]

    # --no-restart: the restart is the release path above (covered by the functional tests).
    values = user.json("config", "set", "LOG_LEVEL=debug", "--no-restart", cwd=app)
    assert (values["changed"], values["restarting"]) == (["LOG_LEVEL"], False)
    secret = user.json(
        "config", "set", "--secret", "API_KEY", "--no-restart", cwd=app, stdin=SECRET + "\n"
    )
    assert secret["changed"] == ["API_KEY"] and SECRET not in json.dumps(secret)
    listed = user.json("config", cwd=app)
    entries = {e["name"]: e for e in listed["entries"]}
    assert entries["LOG_LEVEL"]["value"] == "debug"
    assert (entries["API_KEY"]["kind"], entries["API_KEY"]["value"]) == ("secret", None)
    human = user.run("config", "list", cwd=app)
    assert human.returncode == 0 and "API_KEY" in human.stdout and "****" in human.stdout
    assert SECRET not in human.stdout + human.stderr
    bad = user.json("config", "set", "lower=x", "--no-restart", cwd=app, expect=2)
    assert "values.lower" in bad["error"]["message"]
    user.json("config", "unset", "LOG_LEVEL", "--no-restart", cwd=app)
    assert [e["name"] for e in user.json("config", cwd=app)["entries"]] == ["API_KEY"]


def test_concurrent_processes_with_an_expired_token_share_one_refresh(
    stack: LocalStack, tmp_path: Path
) -> None:
    user = User(stack, tmp_path, "expired@example.com")
    user.json("signup", "--email", user.email, stdin=PASSWORD + "\n")
    profile_path = user.config / "profile.json"
    profile = json.loads(profile_path.read_text())
    profile["access_expires_at"] = 0  # as if 15 minutes had passed
    profile_path.write_text(json.dumps(profile))
    first_refresh = profile["refresh_token"]

    processes = [
        subprocess.Popen(
            [AUTOSTACK, "whoami", "--json"], env=user.env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60)[0] for p in processes]

    assert [p.returncode for p in processes] == [0] * 4
    assert {json.loads(o)["user"]["email"] for o in outputs} == {user.email}
    saved = json.loads(profile_path.read_text())
    assert saved["refresh_token"] != first_refresh and saved["access_expires_at"] > time.time()
    # The login is alive: the saved refresh token still works (nothing was revoked).
    assert user.json("whoami")["user"]["email"] == user.email
    user.json("logout")
    ended = user.json("whoami", expect=4)
    assert "autostack login" in ended["error"]["hint"]


def test_a_folder_over_10_mb_is_refused_before_anything_is_sent(
    stack: LocalStack, tmp_path: Path
) -> None:
    user = User(stack, tmp_path, "big@example.com")
    user.json("signup", "--email", user.email, stdin=PASSWORD + "\n")
    app = _write(tmp_path / "big", {"app.py": "print(1)\n"})
    (app / "assets").mkdir()
    (app / "assets" / "video.bin").write_bytes(os.urandom(11 * 1024 * 1024))

    unconfirmed = user.run("launch", str(app))  # a pipe cannot answer the prompt
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr

    refused = user.json("launch", str(app), "--yes", expect=3)

    assert "assets/" in refused["error"]["message"]
    assert "assets/video.bin" in refused["error"]["message"]
    assert user.json("projects")["projects"] == []  # nothing was created
    assert not (app / ".autostack.json").exists()


def test_an_interactive_launch_and_destroy_through_a_terminal(
    stack: LocalStack, tmp_path: Path
) -> None:
    user = User(stack, tmp_path, "tty@example.com")
    app = _write(tmp_path / "tty-shop", APP)
    bundle = _write(tmp_path / "infra", BUNDLE)
    env = {**user.env}
    env.pop("NO_COLOR")

    def spawn(*args: str) -> pexpect.spawn:
        return pexpect.spawn(
            AUTOSTACK, list(args), env=env, encoding="utf-8", timeout=120, dimensions=(40, 160)
        )

    signup = spawn("signup")
    signup.expect("Email: ")
    signup.sendline(user.email)
    signup.expect("Password: ")
    signup.sendline(PASSWORD)
    signup.expect("Repeat for confirmation: ")
    signup.sendline(PASSWORD)
    signup.expect("signed in as tty@example.com")
    signup.expect(pexpect.EOF)
    signup.close()
    assert signup.exitstatus == 0

    launch = spawn("launch", str(app), "--bundle", str(bundle))
    launch.expect("Your stack:")
    launch.expect(r"Target \(static, lambda, ec2, ecs-fargate\) \[[a-z0-9-]+\]: ")
    launch.sendline("")  # the recommended one
    launch.expect("Role ARN: ")
    launch.sendline(ROLE_ARN)
    launch.expect("The plan:")
    launch.expect("will be created")
    launch.expect(r"Apply this plan\? \[Y/n\]: ")
    launch.sendline("y")
    launch.expect("==> applied")
    launch.expect(r"applied: (https://example\.test/[0-9a-f-]+)")
    url = launch.match.group(1)
    launch.expect(pexpect.EOF)
    launch.close()
    assert launch.exitstatus == 0

    destroy = spawn("destroy", "--dir", str(app))
    destroy.expect(r"Destroy all of this\? \[Y/n\]: ")
    destroy.sendline("n")  # declined: nothing changes, exit 3
    destroy.expect(pexpect.EOF)
    destroy.close()
    assert destroy.exitstatus == 3
    assert user.json("open", "--dir", str(app))["url"] == url

    destroy = spawn("destroy", "--dir", str(app))
    destroy.expect(r"Destroy all of this\? \[Y/n\]: ")
    destroy.sendline("y")
    destroy.expect("destroyed: applied")
    destroy.expect(pexpect.EOF)
    destroy.close()
    assert destroy.exitstatus == 0
