"""Small profiles for the app-plan tests: one app, the fields a test names, nothing else."""

from __future__ import annotations

from typing import Any

from chalicelib.generate import generate_bundle
from chalicelib.generate.plan import build_app_plans
from chalicelib.models.plan import AppPlan
from chalicelib.models.profile import (
    App,
    EnvVar,
    Evidence,
    Framework,
    Languages,
    Service,
    StackProfile,
)
from chalicelib.models.templates import GeneratedBundle, TemplateRequest

_ECOSYSTEM_LANGUAGE = {"python": "python", "node": "javascript", "go": "go", "ruby": "ruby",
                       "php": "php", "rust": "rust", "jvm": "java", "dotnet": "csharp",
                       "static": "html"}  # fmt: skip


def profile(
    ecosystem: str,
    *,
    framework: str | None = None,
    services: tuple[str, ...] = (),
    env: list[EnvVar] | None = None,
    **app: Any,
) -> StackProfile:
    """A profile of one app of ``ecosystem`` (web unless ``kind`` says otherwise)."""
    language = app.pop("language", _ECOSYSTEM_LANGUAGE[ecosystem])
    fields: dict[str, Any] = {"path": ".", "name": "shop", "kind": "web", **app}
    return StackProfile(
        languages=Languages(primary=language),
        apps=[
            App(
                language=language,
                ecosystem=ecosystem,
                framework=Framework(name=framework) if framework else None,
                **fields,
            )
        ],
        services=[Service(kind=kind, app_path=".") for kind in services],  # type: ignore[arg-type]
        env_vars=env or [],
    )


def env_var(name: str, *, secret: bool = False, default: str | None = None,
            required: bool | None = None, file: str = "app/settings.py") -> EnvVar:  # fmt: skip
    return EnvVar(
        name=name,
        is_secret=secret,
        default=default,
        required=required,
        evidence=[Evidence(file=file, line=1)],
    )


def plan_of(prof: StackProfile, project: str | None = None) -> AppPlan:
    return build_app_plans(prof, TemplateRequest(analysis_id="a1"), project)[0]


def bundle_of(
    prof: StackProfile, target: str | None = None, project: str | None = None, **options: Any
) -> GeneratedBundle:
    request = TemplateRequest.model_validate(
        {"analysis_id": "a1", "target": target, "options": options}
    )
    return generate_bundle(prof, request, project=project)
