"""The EC2 instance's deploy script, run as a real process against fake aws and docker CLIs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.generate.render import TEMPLATES_DIR

SCRIPT = TEMPLATES_DIR / "terraform" / "app_deploy.py"
REPO = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop"

FAKE_AWS = """#!{python}
import json, os, sys
args = sys.argv[1:]
if "get-login-password" in args:
    print("ecr-password")
elif "get-parameter" in args:
    name = args[args.index("--name") + 1]
    if name == "/shop/autostack/runtime-config":
        print(open(os.environ["FAKE_CONFIG"]).read())
    else:
        print("value-of-" + name)
elif "get-secret-value" in args:
    print(json.dumps({{"password": "p@ss/word"}}))
else:
    sys.exit("unexpected aws call: " + " ".join(args))
"""
FAKE_DOCKER = """#!{python}
import json, os, sys
call = {{"args": sys.argv[1:], "db_url": os.environ.get("DATABASE_URL")}}
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps(call) + "\\n")
"""


def _config(**extra: object) -> dict:
    return {
        "region": "us-east-1",
        "repository_url": REPO,
        "log_group": "/autostack/shop",
        "port": 3000,
        "environment": {"DB_USER": "app", "DB_HOST": "db", "DB_PORT": "5432", "DB_NAME": "app"},
        "secrets": {"JWT_SECRET": "/shop/JWT_SECRET"},
        "db_secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:db",
        "db_engine": "postgres",
        "workers": [{"name": "mailer", "command": "node mailer.js"}],
        **extra,
    }


def _deploy(tmp_path: Path, config: dict) -> tuple[list[dict], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("aws", FAKE_AWS), ("docker", FAKE_DOCKER)):
        path = bin_dir / name
        path.write_text(text.format(python=sys.executable))
        path.chmod(0o755)
    (tmp_path / "deploy.conf").write_text(
        "CONFIG_PARAMETER=/shop/autostack/runtime-config\nAWS_REGION=us-east-1\n"
    )
    (tmp_path / "config.json").write_text(json.dumps(config))
    state = tmp_path / "state"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "AUTOSTACK_DEPLOY_CONF": str(tmp_path / "deploy.conf"),
        "AUTOSTACK_STATE_DIR": str(state),
        "FAKE_CONFIG": str(tmp_path / "config.json"),
        "FAKE_DOCKER_LOG": str(tmp_path / "docker.log"),
    }
    subprocess.run([sys.executable, str(SCRIPT), "abc123"], env=env, check=True, timeout=60)
    calls = [json.loads(line) for line in (tmp_path / "docker.log").read_text().splitlines()]
    return calls, state


def _runs(calls: list[dict]) -> dict[str, list[str]]:
    """docker run argv by container name."""
    runs = {}
    for call in calls:
        args = call["args"]
        if args[:2] == ["run", "-d"]:
            runs[args[args.index("--name") + 1]] = args
    return runs


def test_single_app_publishes_port_80_itself(tmp_path: Path) -> None:
    calls, state = _deploy(tmp_path, _config())
    runs = _runs(calls)
    assert set(runs) == {"app", "worker-mailer"}
    assert "80:3000" in runs["app"] and f"{REPO}:abc123" in runs["app"]
    assert runs["worker-mailer"][-3:] == ["/bin/sh", "-c", "node mailer.js"]
    # the database URL is composed with the password percent-encoded, and passed by environment
    run_calls = [c for c in calls if c["args"][:2] == ["run", "-d"]]
    assert run_calls[0]["db_url"] == "postgresql://app:p%40ss%2Fword@db:5432/app"
    assert not any("p@ss/word" in arg for c in calls for arg in c["args"])
    assert not (state / "Caddyfile").exists()


def test_companions_run_from_their_own_images_behind_caddy(tmp_path: Path) -> None:
    companions = [
        {"name": "api", "repository_url": REPO + "/api", "port": 8000, "routed": True},
        {"name": "jobs", "repository_url": REPO + "/jobs", "port": 8000, "routed": False},
    ]
    workers = [
        {"name": "mailer", "command": "node mailer.js"},
        {"name": "celery", "command": "celery worker", "app": "api"},
    ]
    calls, state = _deploy(tmp_path, _config(companions=companions, workers=workers))
    pulls = [c["args"][1] for c in calls if c["args"][0] == "pull"]
    assert pulls == [f"{REPO}:abc123", f"{REPO}/api:abc123", f"{REPO}/jobs:abc123"]
    runs = _runs(calls)
    assert set(runs) == {"app", "worker-mailer", "worker-celery", "api", "jobs", "proxy"}
    assert "-p" not in runs["app"]  # Caddy owns port 80 now
    assert f"{REPO}:abc123" in runs["worker-mailer"]
    assert f"{REPO}/api:abc123" in runs["worker-celery"]  # the API's worker, the API's image
    assert f"{REPO}/api:abc123" in runs["api"] and "-p" not in runs["api"]
    assert runs["proxy"][runs["proxy"].index("-p") + 1] == "80:80"
    assert "443:443" not in runs["proxy"]  # no domain, no HTTPS
    caddyfile = (state / "Caddyfile").read_text()
    assert caddyfile.startswith(":80 {\n")
    assert "\t@api path /api /api/*\n\thandle @api {\n\t\treverse_proxy api:8000\n\t}" in caddyfile
    assert "jobs" not in caddyfile  # a worker has no route
    assert caddyfile.endswith("\thandle {\n\t\treverse_proxy app:3000\n\t}\n}\n")


@pytest.mark.parametrize("companions", [[], [{"name": "api", "repository_url": REPO + "/api",
                                               "port": 8000, "routed": True}]])  # fmt: skip
def test_domain_gets_https_through_the_same_caddyfile(tmp_path: Path, companions) -> None:
    calls, state = _deploy(tmp_path, _config(domain="shop.example.com", companions=companions))
    proxy = _runs(calls)["proxy"]
    assert "443:443" in proxy and "80:80" in proxy
    caddyfile = (state / "Caddyfile").read_text()
    assert caddyfile.startswith("shop.example.com {\n")
    assert ("reverse_proxy api:8000" in caddyfile) == bool(companions)


def test_release_runs_once_before_any_container_is_replaced(tmp_path: Path) -> None:
    config = _config(
        release=["python manage.py migrate --noinput"],
        password_env=["DB_PASSWORD"],
        database_urls={
            "DATABASE_URL": "postgresql://{user}:{password}@{host}:{port}/{db}?sslmode=require"
        },
        optional_secrets={"SENTRY_DSN": "/shop/SENTRY_DSN"},
    )
    calls, _ = _deploy(tmp_path, config)
    verbs = [c["args"][:2] for c in calls]
    release = next(i for i, c in enumerate(calls) if c["args"][:2] == ["run", "--rm"])
    first_swap = next(i for i, c in enumerate(calls) if c["args"][:2] == ["rm", "-f"])
    assert release < first_swap, verbs
    assert calls[release]["args"][-3:] == ["/bin/sh", "-c", "python manage.py migrate --noinput"]
    assert calls[release]["db_url"] == (
        "postgresql://app:p%40ss%2Fword@db:5432/app?sslmode=require"
    )
    assert "unless-stopped" not in calls[release]["args"]  # a one-off, removed when done
    assert "SENTRY_DSN" in calls[release]["args"]  # an optional secret that is set is passed
