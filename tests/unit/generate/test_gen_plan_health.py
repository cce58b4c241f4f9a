"""Class 8: the health path is a route the app serves, else "/"; checks expect 2xx/3xx."""

from __future__ import annotations

import json
import re

import pytest

from tests.golden.plan_profiles import bundle_of, plan_of, profile


def test_the_detected_route_is_the_health_path_else_root() -> None:
    routed = profile("python", framework="fastapi", healthcheck_path="/api/v1/health")
    assert plan_of(routed).health_path == "/api/v1/health"
    assert plan_of(profile("python", framework="fastapi")).health_path == "/"


@pytest.mark.parametrize("ecosystem", ["node", "ruby", "python", "go"])
def test_docker_checks_fail_on_client_and_server_errors(ecosystem) -> None:
    dockerfile = bundle_of(profile(ecosystem, healthcheck_path="/up"), "ec2").files["Dockerfile"]
    (check,) = re.findall(r"^HEALTHCHECK .* CMD (.*)$", dockerfile, re.M)
    argv = json.loads(check)
    assert any("/up" in a for a in argv)
    assert "< 500" not in check  # a 404 is not healthy
    if ecosystem == "node":
        assert "r.status < 400" in argv[2] and "redirect: 'manual'" in argv[2]
    if ecosystem == "ruby":
        assert "code.to_i < 400" in argv[-1]


def test_the_load_balancer_expects_2xx_or_3xx_on_the_health_path() -> None:
    ecs = bundle_of(profile("python", framework="fastapi", healthcheck_path="/healthz"),
                    "ecs-fargate").files["infra/ecs.tf"]  # fmt: skip
    assert re.search(r'path\s+= "/healthz"\n\s+matcher\s+= "200-399"', ecs)
