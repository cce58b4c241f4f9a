"""Class 3: the release step (migrations) is detected and runs once per deploy before traffic."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.golden.plan_profiles import bundle_of, plan_of, profile


@pytest.mark.parametrize(
    ("ecosystem", "fields", "release"),
    [
        ("python", {"framework": "django"}, ["python manage.py migrate --noinput"]),
        ("ruby", {"framework": "rails"}, ["bundle exec rails db:prepare"]),
        ("php", {"framework": "laravel"}, ["php artisan migrate --force"]),
        ("node", {"dependencies": ["@prisma/client", "express"]}, ["npx prisma migrate deploy"]),
        ("python", {"framework": "fastapi", "dependencies": ["alembic", "fastapi"]},
         ["alembic upgrade head"]),
        ("python", {"framework": "fastapi", "dependencies": ["alembic"],
                    "release_command": "sh scripts/prestart.sh"}, ["sh scripts/prestart.sh"]),
        ("python", {"framework": "flask", "dependencies": ["Flask-Migrate"]},
         ["flask db upgrade"]),
        ("node", {"dependencies": ["knex", "pg"]}, ["npx knex migrate:latest"]),
        ("node", {"dependencies": ["sequelize", "sequelize-cli"]},
         ["npx sequelize-cli db:migrate"]),
        ("node", {"package_manager": "pnpm", "dependencies": ["typeorm"],
                  "release_command": "npm run migration:run"}, ["pnpm run migration:run"]),
        ("rust", {"framework": "axum", "dependencies": ["sqlx"], "runtime_dirs": ["migrations"]},
         ["./bin/sqlx migrate run"]),
        ("python", {"framework": "flask"}, []),
    ],
)  # fmt: skip
def test_the_release_step_is_detected(ecosystem, fields, release) -> None:
    assert plan_of(profile(ecosystem, **fields)).release == release


def test_spring_flyway_migrates_before_the_health_check_passes() -> None:
    plan = plan_of(profile("jvm", framework="spring-boot", dependencies=["flyway-core"]))
    assert plan.release == []
    assert any("Flyway/Liquibase migrate when the app starts" in n for n in plan.notes)


def test_ec2_runs_the_release_before_the_container_swap() -> None:
    bundle = bundle_of(profile("python", framework="django", services=("postgres",)), "ec2")
    ec2 = bundle.files["infra/ec2.tf"]
    assert 'release          = ["python manage.py migrate --noinput"]' in ec2
    script = bundle.files["infra/user_data.sh.tftpl"]
    assert script.index('cfg.get("release", [])') < script.index('"docker", "rm", "-f", name')


def test_ecs_runs_a_one_off_release_task_before_the_service_update() -> None:
    bundle = bundle_of(profile("python", framework="django", services=("postgres",)),
                       "ecs-fargate")  # fmt: skip
    ecs = bundle.files["infra/ecs.tf"]
    assert 'resource "aws_ecs_task_definition" "release"' in ecs
    command = re.search(r'-release".*?command\s+= \[(.*?)\]\n', ecs, re.S)
    assert command and "python manage.py migrate --noinput" in command.group(1)
    assert "sslmode=require" in command.group(1)  # the URL composed as for the app
    steps = yaml.safe_load(bundle.files[".github/workflows/deploy.yml"])["jobs"]["deploy"]["steps"]
    names = [s.get("name") for s in steps]
    release = names.index("Release (once, before the new version takes traffic)")
    assert release < names.index("Terraform apply")
    run = steps[release]["run"]
    assert "aws ecs run-task" in run and "aws ecs wait tasks-stopped" in run
    assert 'test "$CODE" = "0"' in run


def test_lambda_runs_the_release_as_an_invocation() -> None:
    bundle = bundle_of(profile("python", framework="django", services=("postgres",)), "lambda")
    lam = bundle.files["infra/lambda.tf"]
    assert 'resource "aws_lambda_function" "release"' in lam
    assert 'AUTOSTACK_RELEASE = "python manage.py migrate --noinput"' in lam
    steps = yaml.safe_load(bundle.files[".github/workflows/deploy.yml"])["jobs"]["deploy"]["steps"]
    (release,) = [s for s in steps if s.get("name", "").startswith("Release")]
    assert "aws lambda invoke" in release["run"] and 'test "$ERROR" = "None"' in release["run"]


def test_no_release_step_means_no_release_resources() -> None:
    bundle = bundle_of(profile("python", framework="flask"), "ecs-fargate")
    assert "release" not in bundle.files["infra/ecs.tf"].replace("releases", "")
    assert "Release (once" not in bundle.files[".github/workflows/deploy.yml"]
