"""Class 11: resources are named after the project (and app), never a generic ``app``."""

from __future__ import annotations

import pytest

from chalicelib.generate.stack import resource_name
from tests.golden.plan_profiles import bundle_of, plan_of, profile


@pytest.mark.parametrize(
    ("project", "app", "name"),
    [
        ("Shop Backend", "app", "shop-backend"),
        ("shop", "shop", "shop"),
        ("shop", "api", "shop-api"),
        ("shop", "shop-api", "shop-api"),
        (None, "api", "api"),
        ("a-very-long-project-name-indeed", "worker", "a-very-long-pr-worker"),
    ],
)
def test_the_resource_name_carries_the_project(project, app, name) -> None:
    assert resource_name(project, app) == name


def test_two_projects_with_an_app_called_app_do_not_collide() -> None:
    one = bundle_of(profile("python", name="app", framework="flask"), "ec2", project="billing")
    two = bundle_of(profile("python", name="app", framework="flask"), "ec2", project="crm")
    assert 'default     = "billing"' in one.files["infra/variables.tf"]
    assert 'default     = "crm"' in two.files["infra/variables.tf"]
    assert plan_of(profile("python", name="app"), project="crm").name == "crm"
