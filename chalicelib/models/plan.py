"""The app plan: how one app of a bundle is built, released and run.

Like a buildpack's build plan, it stands between the stack profile (what the
analysis found) and the files of a bundle: the Dockerfile, the compose file, the
CI workflow, the Terraform environment and secrets, the EC2 deploy script and the
README all render from it. It is part of the API's answer (``plans`` of a
template bundle) so a person can read what will run, and the test tier that runs
plans natively executes exactly these commands.

Commands are shell command lines run from the app's folder (``path``) with the
plan's environment; they never hold a secret value.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PackageManager = Literal[
    "npm",
    "yarn",
    "yarn-berry",
    "pnpm",
    "bun",
    "uv",
    "poetry",
    "pipenv",
    "pip",
    "bundler",
    "composer",
    "go",
    "cargo",
    "maven",
    "gradle",
    "dotnet",
    "none",
]
"""The tool that installs the app's dependencies, chosen from its lockfile."""

EnvKind = Literal["required", "optional", "default"]
"""``required``: the app fails without it, a value must be set (by a service or the user);
``optional``: the app reads it with a fallback in code, it is left unset (``value`` is None,
never ``""``) so the app's own fallback applies; ``default``: set to ``value``."""

SecretKind = Literal["generated", "provided", "optional"]
"""``generated``: created in the user's account at deploy time (Terraform ``random_password``
or ``random_bytes`` into SSM), never in code or variables; ``provided``: the user sets it (an
API key of a third party) before the app can work; ``optional``: a secret of an optional
feature, left unset until the user sets it (a placeholder would switch the feature on)."""

ServiceKind = Literal[
    "postgresql",
    "mysql",
    "redis",
    "object_storage",
    "sqlite",
    "mongodb",
    "rabbitmq",
    "elasticsearch",
    "kafka",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Toolchain(_Model):
    """The language runtime that builds and runs the app."""

    language: str
    """Toolchain id: python, node, bun, go, java, ruby, php, rust, dotnet, static."""
    version: str
    """The major (or major.minor) version chosen from what the app declares, e.g. "3.13"."""
    image: str
    """The pinned base image of the build stage, e.g. ``python:3.13.9-slim-bookworm``."""
    runtime_image: str | None = None
    """The pinned base image the app runs on when it differs from ``image`` (compiled apps,
    static sites); None when the same image builds and runs."""
    declared: str | None = None
    """The version constraint the app declared, as written (``>=3.11``, ``1.25.1``)."""
    source: str | None = None
    """Where the declaration was read (``pyproject.toml``, ``.nvmrc``, ``go.mod``); None when
    nothing was declared and the table's current version is used."""


class EnvEntry(_Model):
    """One environment variable the app reads (not a secret, not a service's wiring)."""

    name: str
    kind: EnvKind
    value: str | None = None
    """The production value; None leaves the variable unset."""
    source: str | None = None
    """Why it is here and where it was seen, e.g. ``settings.py:12``."""


class SecretEntry(_Model):
    """One secret: its value lives only in the user's SSM Parameter Store."""

    name: str
    kind: SecretKind
    generator: str | None = None
    """How a ``generated`` secret is made: ``alnum64`` (64 random letters and digits, from
    Secrets Manager's GetRandomPassword) or ``laravel-app-key`` (``base64:`` + 32 random
    bytes, Laravel's APP_KEY form). None otherwise."""
    source: str | None = None


class ServiceBinding(_Model):
    """A backing service the bundle provisions, and how the app is wired to it."""

    kind: ServiceKind
    engine_version: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    """Variables set from the service, as templates over its facts: ``{user}``, ``{password}``,
    ``{host}``, ``{port}``, ``{db}``, ``{bucket}``, ``{path}`` — e.g. ``DATABASE_URL`` =
    ``postgresql://{user}:{password}@{host}:{port}/{db}?sslmode=require``."""


class CaBundle(_Model):
    """A certificate authority bundle the image carries, and the variables pointing clients
    at it (a service whose certificate the app's client verifies against it)."""

    name: str
    url: str
    """Where the image build fetches it (the issuer's own address)."""
    path: str
    """Where it lives in the image."""
    env: list[str] = Field(default_factory=list)
    """Variables set to ``path`` in the image (e.g. ``NODE_EXTRA_CA_CERTS``)."""
    reason: str = ""


class WorkerPlan(_Model):
    """A background process run from the app's image."""

    name: str
    start: str


class AppPlan(_Model):
    """How one app is built, released and run."""

    name: str
    """Resource-name stem: the project's name and the app's (slug, <= 24 characters)."""
    app: str | None = None
    """The app's own name as the analysis found it."""
    path: str
    """The app's folder in the archive, ``"."`` for the root."""
    context: str = "."
    """The folder the image is built from: the app's folder, or the workspace root holding
    its lockfile (a uv/pnpm/yarn workspace member); commands still run from ``path``."""
    kind: Literal["web", "worker", "static"] = "web"
    framework: str | None = None
    toolchain: Toolchain
    package_manager: PackageManager
    lockfile: str | None = None
    """The lockfile ``package_manager`` was chosen from; None when there is none."""
    install: list[str] = Field(default_factory=list)
    """Dependency installation (frozen to the lockfile when there is one)."""
    build: list[str] = Field(default_factory=list)
    """Build steps after install (compile, bundle assets, collect static files)."""
    release: list[str] = Field(default_factory=list)
    """Run once per deploy, with the production environment, before the new version takes
    traffic (migrations): before the container swap on ec2, as a one-off task before the
    service update on ecs-fargate, as an invocation on lambda."""
    start: str
    """The one command that serves the app (``$PORT`` is set to ``port``)."""
    port: int = Field(ge=1, le=65535)
    health_path: str = "/"
    """A route the app really serves; checks expect a 2xx or 3xx answer."""
    runtime_files: list[str] = Field(default_factory=list)
    """Paths (relative to ``path``) the running app reads, copied into the runtime image of a
    compiled app beside the binary: templates, static, config."""
    submodules: bool = False
    """The repository has git submodules (themes, vendored code): checkouts recurse."""
    static_output: str | None = None
    """A static site's build output folder."""
    env: list[EnvEntry] = Field(default_factory=list)
    secrets: list[SecretEntry] = Field(default_factory=list)
    services: list[ServiceBinding] = Field(default_factory=list)
    workers: list[WorkerPlan] = Field(default_factory=list)
    ca_bundles: list[CaBundle] = Field(default_factory=list)
    """CA bundles shipped in the image (the RDS bundle for Node's PostgreSQL clients); a local
    run trusts its own local authority instead."""
    data_dir: str | None = None
    """Where the app keeps data on disk (SQLite): the persistent volume is mounted here."""
    notes: list[str] = Field(default_factory=list)
    """Why a choice was made, for the person reading the plan."""
