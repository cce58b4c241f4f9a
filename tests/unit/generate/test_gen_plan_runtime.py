"""How the plan's app runs: it listens on the plan's port ($PORT), a build that imports the
settings has a build-only key, debug flags stay unset, Node verifies RDS with its CA."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib.generate.dockerfiles import bind_to_port
from chalicelib.generate.plan import BUILD_ONLY_KEY, RDS_CA_BUNDLE
from tests.golden.plan_profiles import bundle_of, env_var, plan_of, profile


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("gunicorn site.wsgi:application --bind 0.0.0.0:8000",
         "gunicorn site.wsgi:application --bind 0.0.0.0:$PORT"),
        ("gunicorn -b :8000 app:app", "gunicorn -b :$PORT app:app"),
        ("gunicorn app:app --bind=127.0.0.1:8000", "gunicorn app:app --bind=0.0.0.0:$PORT"),
        ("uvicorn app.main:app --host 0.0.0.0 --port 8000",
         "uvicorn app.main:app --host 0.0.0.0 --port $PORT"),
        ("uvicorn app.main:app", "uvicorn app.main:app --port $PORT --host 0.0.0.0"),
        ("python manage.py runserver 0.0.0.0:8000", "python manage.py runserver 0.0.0.0:$PORT"),
        ("bundle exec rails server -b 0.0.0.0 -p 3000",
         "bundle exec rails server -b 0.0.0.0 -p $PORT"),
        ("next start -p 3000", "next start -p $PORT"),
        ("streamlit run a.py --server.port 8501", "streamlit run a.py --server.port $PORT"),
        # not a known server's flags: the app's own arguments are kept
        ("node server.js -p 3000", "node server.js -p 3000"),
        ("npm start", "npm start"),
    ],
)  # fmt: skip
def test_start_commands_listen_on_the_plans_port(start: str, expected: str) -> None:
    assert bind_to_port(start) == expected


@pytest.mark.parametrize(
    ("framework", "start"),
    [
        ("django", "gunicorn site.wsgi:application --bind 0.0.0.0:8000"),
        ("fastapi", "uvicorn app.main:app --host 0.0.0.0 --port 8000"),
        ("flask", "gunicorn app:app --bind 0.0.0.0:5000"),
    ],
)
def test_plan_dockerfile_and_port_agree(framework: str, start: str) -> None:
    prof = profile("python", framework=framework, start_command=start)
    plan = plan_of(prof)
    assert "$PORT" in plan.start and not re.search(r"[:\s]\d{4}\b", plan.start), plan.start
    dockerfile = bundle_of(prof, "ecs-fargate").files["Dockerfile"]
    assert f"PORT={plan.port}" in dockerfile
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    assert json.loads(cmd[4:]) == ["/bin/sh", "-c", plan.start]


def test_collectstatic_gets_a_build_only_key_never_the_runtime() -> None:
    prof = profile(
        "python",
        framework="django",
        build_command="python manage.py collectstatic --noinput",
        env=[env_var("SECRET_KEY", secret=True, required=True)],
    )
    plan = plan_of(prof)
    assert plan.build == [f"SECRET_KEY={BUILD_ONLY_KEY} python manage.py collectstatic --noinput"]
    assert [(s.name, s.kind) for s in plan.secrets] == [("SECRET_KEY", "generated")]
    files = bundle_of(prof, "ecs-fargate").files
    env_lines = [line for line in files["Dockerfile"].splitlines() if line.startswith("ENV ")]
    assert not any(BUILD_ONLY_KEY in line for line in env_lines)
    assert BUILD_ONLY_KEY not in "".join(v for k, v in files.items() if k.endswith(".tf"))


def test_a_debug_flag_read_with_an_empty_fallback_is_optional() -> None:
    prof = profile(
        "python", framework="django", env=[env_var("DJANGO_DEBUG", default="", required=True)]
    )
    (entry,) = plan_of(prof).env
    assert (entry.name, entry.kind, entry.value) == ("DJANGO_DEBUG", "optional", None)


def test_node_with_postgres_trusts_the_rds_authority() -> None:
    prof = profile("node", framework="express", services=("postgres",), start_command="npm start")
    plan = plan_of(prof)
    assert plan.ca_bundles == [RDS_CA_BUNDLE]
    assert "sslmode=require" in plan.services[0].env["DATABASE_URL"]  # verified, not no-verify
    dockerfile = bundle_of(prof, "ecs-fargate").files["Dockerfile"]
    runtime = dockerfile.split("\nFROM ")[-1]
    assert f"ADD --chmod=644 {RDS_CA_BUNDLE.url} {RDS_CA_BUNDLE.path}" in runtime
    assert f"ENV NODE_EXTRA_CA_CERTS={RDS_CA_BUNDLE.path}" in runtime


def test_python_and_database_less_node_apps_carry_no_bundle() -> None:
    assert plan_of(profile("node", framework="express")).ca_bundles == []
    assert plan_of(profile("python", framework="django", services=("postgres",))).ca_bundles == []


def test_a_blank_compiled_start_runs_the_built_binary() -> None:
    plan = plan_of(profile("rust", start_command="\u2028"))
    assert plan.start == "exec ./bin/server"
