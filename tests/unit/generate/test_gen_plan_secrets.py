"""Class 6: framework keys are generated in the user's account; optional features' secrets stay
unset; no placeholder value is ever deployed."""

from __future__ import annotations

from chalicelib.models.plan import SecretEntry
from tests.golden.plan_profiles import bundle_of, env_var, plan_of, profile


def test_framework_keys_are_generated_and_others_provided_or_optional() -> None:
    prof = profile("python", framework="django", env=[
        env_var("SECRET_KEY", secret=True),
        env_var("JWT_SECRET", secret=True),
        env_var("OPENAI_API_KEY", secret=True, required=True),
        env_var("SENTRY_DSN", secret=True, required=False),
    ])  # fmt: skip
    assert plan_of(prof).secrets == [
        SecretEntry(name="SECRET_KEY", kind="generated", generator="alnum64",
                    source="app/settings.py"),
        SecretEntry(name="JWT_SECRET", kind="generated", generator="alnum64",
                    source="app/settings.py"),
        SecretEntry(name="OPENAI_API_KEY", kind="provided", source="app/settings.py"),
        SecretEntry(name="SENTRY_DSN", kind="optional", source="app/settings.py"),
    ]  # fmt: skip


def test_rails_and_laravel_get_their_key_even_when_the_code_scan_missed_it() -> None:
    rails = plan_of(profile("ruby", framework="rails")).secrets
    assert rails == [SecretEntry(name="SECRET_KEY_BASE", kind="generated", generator="alnum64")]
    laravel = plan_of(profile("php", framework="laravel")).secrets
    assert laravel == [SecretEntry(name="APP_KEY", kind="generated", generator="laravel-app-key")]


def test_terraform_generates_in_the_account_and_never_writes_a_placeholder() -> None:
    prof = profile("php", framework="laravel", env=[
        env_var("MAILGUN_SECRET", secret=True, required=True),
        env_var("PUSHER_APP_SECRET", secret=True, required=False),
    ])  # fmt: skip
    files = bundle_of(prof, "ecs-fargate").files
    environment = files["infra/environment.tf"]
    assert '"APP_KEY" = "laravel-app-key"' in environment
    assert 'data "aws_secretsmanager_random_password" "generated"' in environment
    assert "base64:${base64encode(substr(" in environment  # Laravel's key form
    assert 'provided_secret_names = toset(["MAILGUN_SECRET"])' in environment
    assert 'toset(["PUSHER_APP_SECRET"])' in environment
    for path, text in files.items():
        assert "replace-me" not in text, path
    # ECS hands the app the generated and the provided secrets; the optional one stays unset
    ecs = files["infra/ecs.tf"]
    assert "for name, arn in local.secret_arns" in ecs and "optional_secret" not in ecs
    assert "PUSHER_APP_SECRET" not in environment.split("secret_names =")[1].split("\n")[0]
