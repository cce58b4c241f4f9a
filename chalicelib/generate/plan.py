"""From a stack profile to one app plan per deployed app (see ``chalicelib.models.plan``).

Pure: no AWS, no clock. Every file of a bundle renders from these plans.
"""

from __future__ import annotations

from chalicelib.generate.dockerfiles import docker_recipe
from chalicelib.generate.stack import StackContext, build_context
from chalicelib.models.plan import (
    AppPlan,
    EnvEntry,
    PackageManager,
    SecretEntry,
    ServiceBinding,
    Toolchain,
    WorkerPlan,
)
from chalicelib.models.profile import StackProfile
from chalicelib.models.templates import TemplateRequest

_PACKAGE_MANAGERS: dict[str, PackageManager] = {
    "npm": "npm",
    "yarn": "yarn",
    "yarn-berry": "yarn-berry",
    "pnpm": "pnpm",
    "bun": "bun",
    "uv": "uv",
    "poetry": "poetry",
    "pipenv": "pipenv",
    "pip": "pip",
    "bundler": "bundler",
    "composer": "composer",
    "go": "go",
    "go modules": "go",
    "cargo": "cargo",
    "maven": "maven",
    "gradle": "gradle",
    "dotnet": "dotnet",
}
_TOOLCHAINS = {"java": "java", "static": "static"}


def package_manager_of(ctx: StackContext) -> PackageManager:
    return _PACKAGE_MANAGERS.get(ctx.package_manager or "", "none")


def _services(ctx: StackContext) -> list[ServiceBinding]:
    bindings: list[ServiceBinding] = []
    if ctx.database == "postgres":
        bindings.append(
            ServiceBinding(
                kind="postgresql",
                env={
                    "DATABASE_URL": "postgresql://{user}:{password}@{host}:{port}/{db}"
                    "?sslmode=require",
                    "DB_HOST": "{host}",
                    "DB_PORT": "{port}",
                    "DB_NAME": "{db}",
                    "DB_USER": "{user}",
                    "DB_PASSWORD": "{password}",
                },
            )
        )
    elif ctx.database == "mysql":
        bindings.append(
            ServiceBinding(
                kind="mysql",
                env={
                    "DATABASE_URL": "mysql://{user}:{password}@{host}:{port}/{db}",
                    "DB_HOST": "{host}",
                    "DB_PORT": "{port}",
                    "DB_NAME": "{db}",
                    "DB_USER": "{user}",
                    "DB_PASSWORD": "{password}",
                },
            )
        )
    if ctx.redis:
        bindings.append(ServiceBinding(kind="redis", env={"REDIS_URL": "rediss://{host}:{port}"}))
    if ctx.object_storage:
        bindings.append(ServiceBinding(kind="object_storage", env={"S3_BUCKET": "{bucket}"}))
    return bindings


def plan_for(ctx: StackContext) -> AppPlan:
    """The plan of the app ``ctx`` describes (rough first cut: from the render context)."""
    recipe = docker_recipe(ctx)
    language = _TOOLCHAINS.get(ctx.family, ctx.family)
    install = [ctx.app.install_command] if ctx.app.install_command else []
    return AppPlan(
        name=ctx.name,
        app=ctx.app.name,
        path=ctx.app_dir,
        kind="static" if ctx.is_static else ("worker" if ctx.app.kind == "worker" else "web"),
        framework=ctx.framework,
        toolchain=Toolchain(
            language=language,
            version=recipe.version,
            image=recipe.images["build"],
            runtime_image=recipe.images["runtime"]
            if recipe.images["runtime"] != recipe.images["build"]
            else None,
            declared=ctx.runtime_version,
        ),
        package_manager=package_manager_of(ctx),
        install=install,
        build=[ctx.build_command] if ctx.build_command else [],
        release=[],
        start=recipe.start_command or "true",
        port=ctx.port,
        health_path=ctx.healthcheck_path,
        static_output=ctx.static_output_dir if ctx.is_static else None,
        env=[
            EnvEntry(
                name=e.name,
                kind="default" if e.value is not None else "optional",
                value=e.value,
            )
            for e in ctx.env
        ],
        secrets=[SecretEntry(name=name, kind="provided") for name in ctx.secrets],
        services=_services(ctx),
        workers=[WorkerPlan(name=w.name, start=w.command) for w in ctx.workers],
    )


def build_app_plans(profile: StackProfile, request: TemplateRequest) -> list[AppPlan]:
    """One plan per deployed app: the primary app first, then the monorepo's companions."""
    ctx = build_context(profile, request.options, request.region)
    return [plan_for(ctx), *(plan_for(c.ctx) for c in ctx.companions)]
