"""Class 5: a fallback in code stays the app's (unset, never ""); development fallbacks are
never production values; variables of tests, CI and tooling are not the app's."""

from __future__ import annotations

import yaml

from chalicelib.models.plan import EnvEntry
from tests.golden.plan_profiles import bundle_of, env_var, plan_of, profile


def _env(*variables, framework: str = "rails") -> list[EnvEntry]:
    return plan_of(profile("ruby", framework=framework, env=list(variables))).env


def test_a_code_fallback_is_left_unset_not_empty() -> None:
    (entry,) = _env(env_var("CACHE_TTL", default="300", required=False))
    assert entry == EnvEntry(name="CACHE_TTL", kind="optional", value=None,
                             source="app/settings.py")  # fmt: skip


def test_a_development_fallback_never_becomes_the_production_value() -> None:
    entries = _env(
        env_var("RAILS_ENV", default="development", required=False),
        env_var("NODE_ENV"),
        env_var("DEBUG", default="true", required=False),
        env_var("PUBLIC_URL", default="http://localhost:3000"),
    )
    assert [(e.name, e.kind, e.value) for e in entries] == [
        ("RAILS_ENV", "default", "production"),
        ("NODE_ENV", "default", "production"),
        ("DEBUG", "default", "false"),
        ("PUBLIC_URL", "optional", None),
    ]


def test_required_settings_without_a_usable_sample_are_required_and_unset() -> None:
    (entry,) = _env(env_var("API_BASE", required=True))
    assert (entry.kind, entry.value) == ("required", None)
    (sample,) = _env(env_var("SITE_NAME", default="Shop", required=True))
    assert (sample.kind, sample.value) == ("default", "Shop")


def test_variables_of_tests_ci_and_tooling_are_not_the_apps() -> None:
    entries = _env(
        env_var("CI"),
        env_var("GITHUB_TOKEN", secret=True),
        env_var("PYTEST_ADDOPTS"),
        env_var("FIXTURE_DIR", file="tests/conftest.py"),
        env_var("STRIPE_WEBHOOK_URL", file=".github/workflows/ci.yml"),
        env_var("REGION", default="eu"),
    )
    assert [e.name for e in entries] == ["REGION"]


def test_unset_variables_are_not_written_into_terraform_or_compose() -> None:
    prof = profile("ruby", framework="rails", env=[
        env_var("CACHE_TTL", default="300", required=False),
        env_var("RAILS_ENV", default="development", required=False),
    ])  # fmt: skip
    bundle = bundle_of(prof, "ec2")
    variables = bundle.files["infra/variables.tf"]
    assert '"RAILS_ENV" = "production"' in variables and "CACHE_TTL" not in variables
    compose = yaml.safe_load(bundle.files["docker-compose.yml"])
    environment = compose["services"]["app"]["environment"]
    assert environment["RAILS_ENV"] == "production" and "CACHE_TTL" not in environment
    assert "" not in environment.values()
