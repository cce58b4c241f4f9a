"""The stack profile: what code analysis found in an archive.

A shared contract: the runner's analysis engine produces it, the API stores a
summary and the template generator consumes it. Bump ``PROFILE_SCHEMA_VERSION``
on any change that an older reader could misread.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PROFILE_SCHEMA_VERSION: Literal[1] = 1

AppKind = Literal["web", "worker", "static", "cli"]
ServiceKind = Literal[
    "postgres",
    "mysql",
    "sqlite",
    "mongodb",
    "redis",
    "elasticsearch",
    "rabbitmq",
    "kafka",
    "object_storage",
]
ValueSource = Literal["code", "config", "dockerfile", "procfile", "env", "framework_default"]
"""Where a port comes from. ``code``: the source (a literal, or the default of an env var the code
reads, then ``Port.env_var`` names it); ``config``: a framework or platform config file
(application.properties, Rocket.toml, package.json scripts, fly.toml, compose ports);
``procfile``; ``env``: a committed ``.env``/``.env.example``; ``dockerfile``: ``EXPOSE`` or
``ENV PORT``/``ASPNETCORE_URLS``; ``framework_default``: nothing said otherwise."""

# Canonical framework ids the analysis engine emits (``Framework.name``).
FRAMEWORK_IDS = (
    # python
    "django",
    "fastapi",
    "litestar",
    "flask",
    "sanic",
    "starlette",
    "aiohttp",
    "tornado",
    "streamlit",
    "gradio",
    # node
    "nestjs",
    "nextjs",
    "nuxt",
    "remix",
    "react-router",
    "sveltekit",
    "astro",
    "adonisjs",
    "gatsby",
    "docusaurus",
    "eleventy",
    "angular",
    "hono",
    "fastify",
    "koa",
    "hapi",
    "express",
    "create-react-app",
    "vite",
    # go
    "gin",
    "echo",
    "fiber",
    "chi",
    "gorilla-mux",
    "net-http",
    # jvm
    "spring-boot",
    "quarkus",
    "micronaut",
    "ktor",
    # ruby
    "rails",
    "sinatra",
    "rack",
    "jekyll",
    # php ("php" = plain PHP)
    "laravel",
    "symfony",
    "slim",
    "php",
    # rust
    "axum",
    "actix-web",
    "rocket",
    "warp",
    # .NET
    "aspnetcore",
    # static sites ("html" = plain HTML)
    "hugo",
    "mkdocs",
    "html",
)
# App.ecosystem values: which toolchain builds and runs the app.
ECOSYSTEMS = ("python", "node", "go", "jvm", "ruby", "php", "rust", "dotnet", "static")


Confidence = Literal["high", "medium", "low"]
"""How sure a finding is. ``high``: direct, used evidence (the app's code imports or reads it,
or its framework config selects it); ``medium``: declared but not seen in use, or a fallback;
``low``: a mention only (a sample env file, a transitive dependency, a config default)."""
EvidenceKind = Literal[
    "direct_dependency", "transitive", "mention", "code_import", "config", "code"
]
"""What a piece of evidence is: a dependency the app declares itself, one pulled in by another
(``// indirect``, a lockfile), a mention (sample env file, commented or default config), an
import in the app's own code, a config file that selects it, or code that reads/binds it."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Evidence(_Model):
    """Where a finding comes from: a path from the archive root, and a line when one applies."""

    file: str
    line: int | None = None
    detail: str | None = None
    kind: EvidenceKind | None = None  # optional addition (issue 18)


class LanguageStat(_Model):
    name: str  # lower-case id (python, typescript, csharp, html, yaml, ...)
    bytes: int = Field(ge=0)
    lines: int = Field(ge=0)
    files: int = Field(ge=0)


class Languages(_Model):
    primary: str | None = None
    stats: list[LanguageStat] = Field(default_factory=list)  # sorted by bytes desc, then name


class Framework(_Model):
    name: str  # canonical lower-case id, e.g. "flask", "nextjs", "spring-boot", "aspnetcore"
    version: str | None = None
    evidence: list[Evidence] = Field(default_factory=list)


class Port(_Model):
    value: int = Field(ge=1, le=65535)
    source: ValueSource
    env_var: str | None = None  # e.g. "PORT" when the code reads PORT with this default
    evidence: list[Evidence] = Field(default_factory=list)
    confidence: Confidence | None = None


class App(_Model):
    path: str  # folder relative to the archive root, "." for the root
    name: str
    language: str  # lower-case id: python, javascript, typescript, go, java, kotlin, ruby, php, ...
    runtime_version: str | None = None
    package_manager: str | None = None
    framework: Framework | None = None
    kind: AppKind
    build_command: str | None = None
    start_command: str | None = None
    port: Port | None = None
    healthcheck_path: str | None = None
    static_output_dir: str | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    # Optional additions: profiles written without them still validate.
    ecosystem: str | None = None  # one of ECOSYSTEMS
    install_command: str | None = None  # dependency install, e.g. "npm ci", "pip install -r ..."
    test_command: str | None = None  # this app's tests, run from its folder
    # Where the start command and the health path come from, and how sure they are (issue 18).
    start_evidence: list[Evidence] = Field(default_factory=list)
    start_confidence: Confidence | None = None
    healthcheck_evidence: list[Evidence] = Field(default_factory=list)
    healthcheck_confidence: Confidence | None = None
    # What the app plan is built from (issue 11); optional additions.
    lockfile: str | None = None  # the lockfile (path from the archive root) pinning the deps
    lockfile_kind: str | None = None  # yarn-berry when yarn.lock is a Berry lock, else the tool
    runtime_source: str | None = None  # the file that declared runtime_version
    runtime_constraint: str | None = None  # the declaration as written, e.g. ">=3.11,<3.14"
    dependencies: list[str] = Field(default_factory=list)  # direct dependency names, sorted
    release_command: str | None = None  # the app's own release step (Procfile release:, prestart)
    runtime_dirs: list[str] = Field(default_factory=list)  # folders read at run time (templates)
    submodules: bool = False  # the repository has git submodules (.gitmodules)


class Service(_Model):
    """In ``StackProfile.services``: paid infrastructure to provision (only direct, used
    evidence). In ``possible_services``: weaker findings, with why and how to add them."""

    kind: ServiceKind
    app_path: str | None = None  # the app that needs it, when known
    version: str | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    confidence: Confidence | None = None
    reason: str | None = None  # possible services: why it is not provisioned
    add_command: str | None = None  # possible services: how the user adds it


class Worker(_Model):
    name: str
    app_path: str | None = None
    command: str | None = None
    system: str | None = None  # celery, rq, sidekiq, bullmq, procfile, ...
    evidence: list[Evidence] = Field(default_factory=list)


class EnvVar(_Model):
    name: str
    is_secret: bool
    default: str | None = None  # only when it is not a secret
    evidence: list[Evidence] = Field(default_factory=list)
    # False when the app has a default (in code or a typed settings class) or it is optional.
    required: bool | None = None
    confidence: Confidence | None = None


class SecretFinding(_Model):
    type: str  # aws_access_key_id, private_key, github_token, password_in_url, ...
    file: str
    line: int
    masked: str  # never the value: e.g. "AKIA************MPLE"


class ExistingFile(_Model):
    type: str  # dockerfile, compose, procfile, fly, render, app_json, terraform, kubernetes, ci
    file: str
    details: dict[str, str | int | list[str] | None] = Field(default_factory=dict)


class Tests(_Model):
    present: bool
    command: str | None = None
    evidence: list[Evidence] = Field(default_factory=list)


class StackProfile(_Model):
    schema_version: Literal[1] = PROFILE_SCHEMA_VERSION
    languages: Languages
    apps: list[App] = Field(default_factory=list)
    services: list[Service] = Field(default_factory=list)
    possible_services: list[Service] = Field(default_factory=list)
    workers: list[Worker] = Field(default_factory=list)
    env_vars: list[EnvVar] = Field(default_factory=list)
    secrets: list[SecretFinding] = Field(default_factory=list)
    existing: list[ExistingFile] = Field(default_factory=list)
    tests: Tests = Field(default_factory=lambda: Tests(present=False))
    warnings: list[str] = Field(default_factory=list)
    stats: dict[str, int] = Field(default_factory=dict)  # files_scanned, bytes_scanned, ...
