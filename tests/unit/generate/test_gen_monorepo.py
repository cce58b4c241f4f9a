"""Monorepos: every web/worker app gets its Dockerfile, image, container and route."""

from __future__ import annotations

import re

import yaml

from chalicelib.models.profile import App, Framework, Languages, StackProfile
from tests.golden import stack_profiles as sp
from tests.golden.helpers import bundle_for


def norm(text: str) -> str:
    return re.sub(r"[ ]+=[ ]+", " = ", text)


def test_every_app_has_its_own_dockerfile_from_its_own_recipe() -> None:
    files = bundle_for(sp.monorepo(), "ecs-fargate").files
    dockerfiles = {p for p in files if p.endswith("Dockerfile")}
    assert dockerfiles == {
        "apps/web/Dockerfile",
        "apps/api/Dockerfile",
        "apps/jobs/Dockerfile",
        "apps/admin/Dockerfile",
    }  # the CLI tool is not deployed
    assert "FROM node:24.11.1-alpine3.22 AS build" in files["apps/web/Dockerfile"]
    assert "FROM python:3.12.12-slim-bookworm AS build" in files["apps/api/Dockerfile"]
    assert "nginx-unprivileged" in files["apps/admin/Dockerfile"]
    assert "node_modules/" in files["apps/web/.dockerignore"]
    assert "__pycache__/" in files["apps/api/.dockerignore"]


def test_ecs_runs_one_service_per_app_behind_one_load_balancer() -> None:
    bundle = bundle_for(sp.monorepo(), "ecs-fargate")
    ecs = norm(bundle.files["infra/ecs.tf"])
    services = re.findall(r'resource "aws_ecs_service" "(\w+)"', ecs)
    assert services == ["app", "worker_celery", "api", "jobs", "admin"]
    celery = ecs.split('resource "aws_ecs_task_definition" "worker_celery"', 1)[1]
    celery = celery.split("\n}\n", 1)[0]
    # the API's worker runs from the API's image, with the database URL composed first
    assert 'aws_ecr_repository.companion["api"].repository_url' in celery
    assert "celery -A api worker" in celery
    assert ecs.count('resource "aws_lb" ') == 1
    assert 'image = "${aws_ecr_repository.companion["api"].repository_url}:${var.image_tag}"' in ecs
    assert "portMappings = [{ containerPort = 8000" in ecs
    assert "portMappings = [{ containerPort = 8080" in ecs  # the static admin site's nginx
    rules = re.findall(r'resource "aws_lb_listener_rule" "(\w+)"', ecs)
    assert rules == ["api", "admin"]  # the worker gets no route
    assert 'values = ["/api", "/api/*"]' in ecs and 'values = ["/admin", "/admin/*"]' in ecs
    assert 'name = "${var.name}-tg1"' in ecs and 'path = "/health"' in ecs
    jobs = ecs.split('resource "aws_ecs_service" "jobs"', 1)[1].split("\n}\n", 1)[0]
    assert "load_balancer" not in jobs
    sg = norm(bundle.files["infra/security_groups.tf"])
    assert [int(p) for p in re.findall(r"from_port = (\d+)\n.*\n.*\n    security_groups", sg)] == [
        3000,
        8000,
        8080,
    ]
    ecr = norm(bundle.files["infra/ecr.tf"])
    assert 'for_each = toset(["api", "jobs", "admin"])' in ecr
    assert "companion_repository_urls" in bundle.files["infra/outputs.tf"]


def test_cost_counts_every_app() -> None:
    bundle = bundle_for(sp.monorepo(), "ecs-fargate")
    fargate = next(e for e in bundle.cost.targets if e.target == "ecs-fargate")
    by_name = {line.resource: line for line in fargate.lines}
    assert "Fargate vCPU (5 task(s) x 0.25 vCPU)" in by_name  # 4 apps and the celery worker
    assert "Public IPv4 addresses of the tasks (5)" in by_name
    assert by_name["ECR image storage"].note == "assumed 2 GB of 4 images"
    single = bundle_for(sp.fastapi_stateless(), "ecs-fargate")
    one = next(e for e in single.cost.targets if e.target == "ecs-fargate")
    assert fargate.monthly_usd > one.monthly_usd + 4 * 8  # four more tasks at least $8 each


def test_lambda_and_static_refuse_several_apps() -> None:
    bundle = bundle_for(sp.monorepo())
    for target in ("lambda", "static"):
        estimate = next(e for e in bundle.cost.targets if e.target == target)
        assert not estimate.fits
        assert any("4 apps to run side by side" in reason for reason in estimate.why_not)
    assert bundle.target == "ec2"  # the cheapest that fits


def test_ec2_runs_every_container_and_routes_web_apps() -> None:
    bundle = bundle_for(sp.monorepo(), "ec2")
    ec2 = norm(bundle.files["infra/ec2.tf"])
    assert (
        '{ name = "api", repository_url = aws_ecr_repository.companion["api"].repository_url, '
        "port = 8000, routed = true }" in ec2
    )
    assert 'name = "jobs"' in ec2 and "port = 8000, routed = false" in ec2
    assert '{ name = "celery", command = "celery -A api worker", app = "api" }' in ec2
    assert any("5 containers share one t3.micro" in w for w in bundle.warnings)
    assert "Caddy" in bundle.files["infra/README.md"]


def test_compose_and_workflow_cover_every_app() -> None:
    files = bundle_for(sp.monorepo(), "ecs-fargate").files
    compose = yaml.safe_load(files["docker-compose.yml"])
    services = compose["services"]
    assert {"app", "worker-celery", "api", "jobs", "admin", "postgres", "redis"} == set(services)
    assert services["worker-celery"]["build"]["context"] == "apps/api"
    assert services["api"]["build"]["context"] == "apps/api"
    assert services["api"]["ports"] == ["8000:8000"] and services["admin"]["ports"] == ["8080:8080"]
    assert "ports" not in services["jobs"]
    assert services["api"]["environment"]["DATABASE_URL"].startswith("postgresql://")
    workflow = yaml.safe_load(files[".github/workflows/deploy.yml"])
    build_steps = [s["name"] for s in workflow["jobs"]["build"]["steps"] if "name" in s]
    assert build_steps == [
        "Build the image",
        "Build the image of api",
        "Build the image of jobs",
        "Build the image of admin",
    ]
    deploy = workflow["jobs"]["deploy"]["steps"]
    pushes = [s["run"] for s in deploy if s.get("name", "").startswith("Build and push")]
    assert len(pushes) == 4
    assert "jq -r '.[\"admin\"]'" in pushes[3] and "apps/admin" in pushes[3]
    create = next(s["run"] for s in deploy if s.get("name") == "Create the image repository")
    assert create.endswith("-target=aws_ecr_repository.app -target=aws_ecr_repository.companion")


def test_colliding_ports_move_up_locally() -> None:
    profile = StackProfile(
        languages=Languages(),
        apps=[
            App(
                path="a", name="a", language="python", kind="web", framework=Framework(name="flask")
            ),
            App(
                path="b", name="b", language="python", kind="web", framework=Framework(name="flask")
            ),
        ],
    )
    compose = yaml.safe_load(bundle_for(profile, "ec2").files["docker-compose.yml"])
    assert compose["services"]["app"]["ports"] == ["5000:5000"]
    assert compose["services"]["b"]["ports"] == ["5001:5000"]


def test_hostile_companion_names_become_slugs() -> None:
    profile = StackProfile(
        languages=Languages(),
        apps=[
            App(path=".", name="main", language="python", kind="web"),
            App(path="svc", name=f"api{sp.HOSTILE}", language="go", kind="web"),
        ],
    )
    bundle = bundle_for(profile, "ecs-fargate")
    (companion,) = re.findall(r'toset\(\["([^"]*)"\]\)', bundle.files["infra/ecr.tf"])
    assert re.fullmatch(r"[a-z0-9-]+", companion)
    ecs = bundle.files["infra/ecs.tf"]
    assert f'values = ["/{companion}", "/{companion}/*"]' in norm(ecs)
    for path, text in bundle.files.items():
        if path.endswith((".tf", ".yml", "Dockerfile")):
            assert "${jndi}" not in text and "rm -rf" not in text, path
