"""From a StackProfile to the facts the templates need (the render context).

Everything user-controlled is normalized here once: names become slugs and
identifiers, env var names are made valid, paths are checked to stay inside
the repository. Templates then only apply a language's escape filter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from chalicelib.generate import escaping
from chalicelib.models.profile import App, StackProfile
from chalicelib.models.templates import TemplateOptions

_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9._-]*$")  # no leading "-": never a flag

# Services Terraform provisions; the others are only in docker-compose.
PROVISIONED_SERVICES = ("postgres", "mysql", "redis", "object_storage")
# Frameworks that hold long-lived connections (WebSockets), which Lambda cannot serve.
LONG_CONNECTION_FRAMEWORKS = frozenset(
    {
        "socketio",
        "socket.io",
        "flask-socketio",
        "channels",
        "django-channels",
        "actioncable",
        "phoenix",
        "ws",
        "signalr",
    }
)

FRAMEWORK_PORTS = {
    "flask": 5000,
    "django": 8000,
    "fastapi": 8000,
    "express": 3000,
    "nextjs": 3000,
    "nestjs": 3000,
    "fastify": 3000,
    "koa": 3000,
    "rails": 3000,
    "sinatra": 4567,
    "spring-boot": 8080,
    "aspnetcore": 8080,
    "laravel": 8080,
    "gin": 8080,
    "echo": 8080,
    "fiber": 3000,
    "symfony": 8000,
    "slim": 8080,
    "php": 8080,
    "axum": 3000,
    "actix-web": 8080,
    "rocket": 8000,
    "warp": 3030,
    "ktor": 8080,
    "quarkus": 8080,
    "micronaut": 8080,
}
LANGUAGE_PORTS = {
    "python": 8000,
    "javascript": 3000,
    "typescript": 3000,
    "go": 8080,
    "java": 8080,
    "kotlin": 8080,
    "ruby": 3000,
    "php": 8080,
    "rust": 8080,
    "csharp": 8080,
    "fsharp": 8080,
}


DATABASE_ENV = frozenset(
    {"DATABASE_URL", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD"}
)


# Services the bundle does not provision (see docs/architecture.md, issue 5): the label,
# the env var the app gets the address from (an SSM secret), words that mark the app's own
# variable for it, and where to get one.
EXTERNAL_SERVICES: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "mongodb": ("MongoDB", "MONGODB_URL", ("MONGO",),
                "a managed MongoDB (MongoDB Atlas, or Amazon DocumentDB, whose smallest instance "
                "costs more than the rest of a small stack)"),
    "rabbitmq": ("RabbitMQ", "RABBITMQ_URL", ("RABBIT", "AMQP"),
                 "a managed broker (Amazon MQ for RabbitMQ, created outside this bundle because "
                 "its Terraform keeps the broker password in plain text in the state)"),
    "elasticsearch": ("Elasticsearch", "ELASTICSEARCH_URL", ("ELASTIC", "OPENSEARCH"),
                      "a managed search cluster (Amazon OpenSearch Service or Elastic Cloud; "
                      "a domain needs sizing this generator cannot guess)"),
    "kafka": ("Kafka", "KAFKA_BROKERS", ("KAFKA",),
              "a managed cluster (Amazon MSK or Confluent Cloud)"),
}  # fmt: skip


_ADDRESS = re.compile(
    r"(URL|URI|HOSTS?|ADDRESS|BROKERS|SERVERS|NODES|DSN|ENDPOINT|CONNECTION(_STRING)?)$", re.I
)


@dataclass(frozen=True)
class ExternalService:
    """A service the app uses that the bundle does not provision."""

    kind: str
    label: str
    env_name: str  # the secret holding its address
    alternative: str  # where to get a managed one


def _external_service(
    kind: str, env: list[EnvSetting], secrets: list[str]
) -> tuple[ExternalService, list[EnvSetting], list[str]]:
    """The service, with its address kept as a secret (URLs carry credentials).

    The app's own variable for it is used when it has one (e.g. MONGO_URI); a plain
    setting of that name becomes a secret, since its deployed value holds a password.
    """
    label, default, words, alternative = EXTERNAL_SERVICES[kind]
    names = [*secrets, *(e.name for e in env)]
    env_name = next(
        (n for n in names if any(w in n.upper() for w in words) and _ADDRESS.search(n)), default
    )
    env = [e for e in env if e.name != env_name]
    if env_name not in secrets:
        secrets = [*secrets, env_name]
    return ExternalService(kind, label, env_name, alternative), env, secrets


class NoDeployableAppError(Exception):
    """The profile has no app that can run as a service or a site."""


@dataclass(frozen=True)
class EnvSetting:
    name: str  # a valid env var name
    value: str | None  # non-secret default, None when unknown


@dataclass(frozen=True)
class WorkerSpec:
    name: str  # slug
    ident: str  # identifier
    command: str
    app_path: str | None = None  # the folder of the app it belongs to, when the analysis says
    owner: str | None = None  # the companion whose image runs it; None: the primary app's


@dataclass
class CompanionApp:
    """Another app of a monorepo, deployed beside the primary one with its own image."""

    name: str  # slug, unique among the bundle's containers
    ident: str
    index: int  # 1-based: short AWS names (target groups) use it
    ctx: StackContext  # its own facts: folder, recipe family, port, health check, commands

    @property
    def web(self) -> bool:
        return self.ctx.app.kind in ("web", "static")

    @property
    def route(self) -> str | None:
        """The path prefix it answers under on the shared entry point; None for a worker."""
        return f"/{self.name}" if self.web else None


@dataclass
class StackContext:
    """Normalized facts about the app to deploy."""

    name: str  # slug for AWS names, <= 24 chars
    ident: str
    app: App
    language: str
    family: str  # Dockerfile recipe: python, node, static, go, java, ruby, php, dotnet, rust...
    framework: str | None
    app_dir: str  # "." or a safe relative folder
    port: int
    healthcheck_path: str
    start_command: str | None
    build_command: str | None
    test_command: str | None
    static_output_dir: str
    package_manager: str | None
    runtime_version: str | None
    env: list[EnvSetting] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # env var names kept in SSM
    services: list[str] = field(default_factory=list)  # distinct kinds, profile order
    workers: list[WorkerSpec] = field(default_factory=list)
    uses_sqlite: bool = False
    long_connections: bool = False
    options: TemplateOptions = field(default_factory=TemplateOptions)
    region: str = "us-east-1"
    warnings: list[str] = field(default_factory=list)
    companions: list[CompanionApp] = field(default_factory=list)
    external: list[ExternalService] = field(default_factory=list)  # services the user brings

    @property
    def database(self) -> str | None:
        for kind in ("postgres", "mysql"):
            if kind in self.services:
                return kind
        return None

    @property
    def redis(self) -> bool:
        return "redis" in self.services

    @property
    def object_storage(self) -> bool:
        return "object_storage" in self.services

    @property
    def is_static(self) -> bool:
        return self.app.kind == "static"

    @property
    def arm(self) -> bool:
        return self.options.instance_type.startswith("t4g")


def safe_relative_path(value: str | None) -> str | None:
    """``value`` as a normalized relative folder, or None when it could escape or break a file."""
    if value is None:
        return None
    parts = [p for p in value.replace("\\", "/").split("/") if p not in ("", ".")]
    if value.startswith("/") or any(p == ".." or not _SAFE_SEGMENT.match(p) for p in parts):
        return None
    return "/".join(parts) or "."


_ECOSYSTEM_FAMILIES = {"python": "python", "node": "node", "go": "go", "jvm": "java",
                       "ruby": "ruby", "php": "php", "rust": "rust",
                       "dotnet": "dotnet"}  # fmt: skip
_LANGUAGE_FAMILIES = {"python": "python", "javascript": "node", "typescript": "node",
                      "node": "node", "go": "go", "java": "java", "kotlin": "java",
                      "scala": "java", "ruby": "ruby", "php": "php", "rust": "rust",
                      "csharp": "dotnet", "fsharp": "dotnet", "vb": "dotnet"}  # fmt: skip


def _family(app: App) -> str:
    """Which Dockerfile recipe builds the app: its ecosystem first, then its language."""
    if app.kind == "static":
        return "static"
    by_ecosystem = _ECOSYSTEM_FAMILIES.get((app.ecosystem or "").lower())
    return by_ecosystem or _LANGUAGE_FAMILIES.get(app.language.lower(), "generic")


def pick_app(profile: StackProfile) -> App:
    for kind in ("web", "static", "worker"):
        for app in profile.apps:
            if app.kind == kind:
                return app
    raise NoDeployableAppError("the analysis found no web app, static site or worker to deploy")


MAX_COMPANIONS = 5
# Container and service names the bundle already uses; companions never take them.
_RESERVED_NAMES = frozenset(
    {"app", "proxy", "postgres", "mysql", "redis", "minio", "mongo", "rabbitmq", "elasticsearch"}
)


def resource_name(project: str | None, app: str) -> str:
    """The stem of every resource name: the project's name, and the app's when it adds to it,
    so two projects (or two apps called ``app``) never collide in one account."""
    app_slug = escaping.slug(app or "app", max_len=20)
    if not project:
        return app_slug
    project_slug = escaping.slug(project, max_len=20)
    if app_slug in (project_slug, "app") or project_slug.endswith(app_slug):
        return project_slug
    if app_slug.startswith(project_slug):
        return escaping.slug(app_slug, max_len=24)
    return escaping.slug(f"{project_slug[:14]}-{app_slug}", max_len=24)


def build_context(
    profile: StackProfile,
    options: TemplateOptions,
    region: str = "us-east-1",
    project: str | None = None,
) -> StackContext:
    """The primary app's context, with the monorepo's other apps as its companions."""
    primary = pick_app(profile)
    ctx = _app_context(profile, primary, options, region)
    if project:
        ctx.name = resource_name(project, primary.name)
        ctx.ident = escaping.identifier(ctx.name)
    taken = set(_RESERVED_NAMES) | {f"worker-{w.name}" for w in ctx.workers}
    folders = {ctx.app_dir}
    for app in profile.apps:
        if app is primary or app.kind not in ("web", "static", "worker"):
            continue
        if primary.kind == "static":  # no web app at all: the static target serves one site
            ctx.warnings.append(f"The app {app.name!r} is not deployed: {primary.name!r} is "
                                "a static site, generated on its own.")  # fmt: skip
            continue
        if len(ctx.companions) >= MAX_COMPANIONS:
            ctx.warnings.append(
                f"The app {app.name!r} is not deployed: at most {MAX_COMPANIONS + 1} apps are "
                "generated per bundle."
            )
            continue
        alone = profile.model_copy(
            update={"apps": [app], "workers": [], "existing": [], "secrets": []}
        )
        other = _app_context(alone, app, options, region)
        if other.app_dir in folders:
            ctx.warnings.append(
                f"The app {app.name!r} shares the folder {other.app_dir!r} with another app, so "
                "it has no Dockerfile of its own; it is not deployed."
            )
            continue
        folders.add(other.app_dir)
        name = other.name
        while name in taken:
            name = escaping.slug(f"{other.name[:16]}-{len(taken)}", max_len=20)
        taken.add(name)
        ctx.warnings += [w for w in other.warnings if w not in ctx.warnings]
        ctx.companions.append(
            CompanionApp(
                name=name, ident=escaping.identifier(name), index=len(ctx.companions) + 1, ctx=other
            )
        )
    # A worker of a companion's folder runs from that companion's image (its code and deps).
    owners = {c.ctx.app_dir: c.name for c in ctx.companions}
    ctx.workers = [
        replace(w, owner=owners[w.app_path]) if w.app_path in owners else w for w in ctx.workers
    ]
    for companion in ctx.companions:
        if companion.route:
            ctx.warnings.append(
                f"The app {companion.ctx.app.name!r} answers under {companion.route}/ on the "
                "same address as the main app (path routing): it must serve that path prefix."
            )
    return ctx


def _app_context(
    profile: StackProfile, app: App, options: TemplateOptions, region: str
) -> StackContext:
    warnings: list[str] = []
    app_dir = safe_relative_path(app.path)
    if app_dir is None:
        warnings.append(f"The app folder {app.path!r} is not a safe relative path; using '.'.")
        app_dir = "."
    out_dir = safe_relative_path(app.static_output_dir) if app.static_output_dir else None
    if app.static_output_dir and out_dir is None:
        warnings.append(
            f"The static output folder {app.static_output_dir!r} is unsafe; using 'dist'."
        )
    framework = app.framework.name.lower() if app.framework else None
    language = app.language.lower()
    port = app.port.value if app.port else None
    if port is None:
        port = FRAMEWORK_PORTS.get(framework or "", LANGUAGE_PORTS.get(language, 8080))
    family = _family(app)
    if family == "static":
        port = 8080  # the unprivileged nginx image serving the site
    health = escaping.url_path(app.healthcheck_path)
    if app.healthcheck_path and health != app.healthcheck_path:
        warnings.append("The detected health-check path has unsafe characters; using '/'.")

    env: list[EnvSetting] = []
    secrets: list[str] = []
    seen: set[str] = {"PORT"}
    for var in profile.env_vars:
        name = escaping.env_name(var.name)
        if name != var.name:
            warnings.append(f"The env var name {var.name!r} is not valid; it is set as {name!r}.")
        if name in seen:
            continue
        seen.add(name)
        if var.is_secret:
            secrets.append(name)
        else:
            env.append(EnvSetting(name=name, value=var.default))

    services: list[str] = []
    for svc in profile.services:
        if svc.kind not in services:
            services.append(svc.kind)
    if "postgres" in services and "mysql" in services:
        services.remove("mysql")
        warnings.append("Both PostgreSQL and MySQL were found; only PostgreSQL is provisioned.")

    # Settings the provisioned services define win over detected ones of the same name.
    owned: set[str] = set()
    if "postgres" in services or "mysql" in services:
        owned |= DATABASE_ENV
    if "redis" in services:
        owned.add("REDIS_URL")
    taken = sorted(owned & ({e.name for e in env} | set(secrets)))
    if taken:
        env = [e for e in env if e.name not in owned]
        secrets = [name for name in secrets if name not in owned]
        warnings.append(
            f"{', '.join(taken)} point(s) at the services provisioned here and are set by them."
        )
    external: list[ExternalService] = []
    for kind in services:
        if kind in EXTERNAL_SERVICES:
            service, env, secrets = _external_service(kind, env, secrets)
            external.append(service)
            warnings.append(
                f"{service.label} is not provisioned in AWS (docker-compose runs it locally): "
                f"the deployed app reads its address from the secret {service.env_name}; "
                f"point it at {service.alternative}."
            )

    replaced = {"dockerfile": "Dockerfile", "compose": "docker-compose.yml", "ci": "CI workflow",
                "terraform": "Terraform"}  # fmt: skip
    for existing in profile.existing:
        if existing.type in replaced:
            warnings.append(
                f"The repository already has a {replaced[existing.type]} ({existing.file!r}); "
                "compare it with the generated one before replacing it."
            )
    if profile.secrets:
        kinds = sorted({finding.type for finding in profile.secrets})
        warnings.append(
            f"{len(profile.secrets)} hard-coded secret(s) found in the code ({', '.join(kinds)}): "
            "rotate them and read them from the environment (SSM Parameter Store) instead."
        )

    workers: list[WorkerSpec] = []
    used: set[str] = set()
    for worker in profile.workers:
        if not worker.command:
            warnings.append(f"The worker {worker.name!r} has no command; it is not deployed.")
            continue
        wname = escaping.slug(worker.name, max_len=20, fallback="worker")
        while wname in used:
            wname = escaping.slug(f"{wname}-{len(used)}", max_len=20)
        used.add(wname)
        workers.append(
            WorkerSpec(
                name=wname,
                ident=escaping.identifier(wname),
                command=worker.command,
                app_path=safe_relative_path(worker.app_path),
            )
        )

    name = escaping.slug(app.name or "app", max_len=20)
    return StackContext(
        name=name,
        ident=escaping.identifier(name),
        app=app,
        language=language,
        family=family,
        framework=framework,
        app_dir=app_dir,
        port=port,
        healthcheck_path=health,
        start_command=app.start_command,
        build_command=app.build_command,
        test_command=profile.tests.command if profile.tests.present else None,
        static_output_dir=out_dir or "dist",
        package_manager=(app.package_manager or "").lower() or None,
        runtime_version=app.runtime_version,
        env=env,
        secrets=secrets,
        services=services,
        workers=workers,
        uses_sqlite="sqlite" in services,
        external=external,
        long_connections=bool(framework and framework in LONG_CONNECTION_FRAMEWORKS),
        options=options,
        region=region,
        warnings=warnings,
    )
