"""From a stack profile to one app plan per deployed app (see ``chalicelib.models.plan``).

Pure: no AWS, no clock. Every file of a bundle renders from these plans. Each
section below is one decision of the plan: the toolchain, the package manager and
install, the release step, the start command of compiled apps, the environment,
the secrets and the services' wiring.
"""

from __future__ import annotations

import re

from chalicelib.generate import escaping
from chalicelib.generate.stack import StackContext, build_context
from chalicelib.generate.toolchains import ToolchainVersionError, resolve_toolchain
from chalicelib.models.plan import (
    AppPlan,
    CaBundle,
    EnvEntry,
    PackageManager,
    SecretEntry,
    ServiceBinding,
    WorkerPlan,
)
from chalicelib.models.profile import StackProfile
from chalicelib.models.templates import TemplateRequest

__all__ = ["ToolchainVersionError", "build_app_plans", "plan_for"]

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


# What installs an app whose analysis named no package manager (its ecosystem's own tool).
_FAMILY_PACKAGE_MANAGERS = {
    "python": "pip",
    "node": "npm",
    "ruby": "bundler",
    "php": "composer",
    "go": "go",
    "rust": "cargo",
    "java": "maven",
    "dotnet": "dotnet",
}


# --- package manager and install -----------------------------------------------------------


def package_manager_of(ctx: StackContext) -> PackageManager:
    """The lockfile decides; without one, what the analysis found (package.json's field)."""
    kind = ctx.app.lockfile_kind or ctx.package_manager or ""
    if kind == "yarn" and ctx.package_manager == "yarn" and ctx.app.lockfile is None:
        kind = "yarn"
    if kind == "pdm":
        kind = "pip"
    if ctx.family == "static" and not ctx.build_command:
        return "none"
    if not kind and ctx.family != "static":
        kind = _FAMILY_PACKAGE_MANAGERS.get(ctx.family, "")
    return _PACKAGE_MANAGERS.get(kind, "none")


def install_commands(ctx: StackContext, pm: PackageManager) -> list[str]:
    """Install the app's dependencies, frozen to the lockfile when there is one."""
    locked = has_lockfile(ctx)
    name = ctx.app.name
    match pm:
        case "npm":
            return ["npm ci" if locked else "npm install"]
        case "yarn":
            return ["yarn install --frozen-lockfile" if locked else "yarn install"]
        case "yarn-berry":
            return ["corepack enable", "yarn install --immutable" if locked else "yarn install"]
        case "pnpm":
            return [
                "corepack enable",
                "pnpm install --frozen-lockfile" if locked else "pnpm install",
            ]
        case "bun":
            return ["bun install --frozen-lockfile" if locked else "bun install"]
        case "uv":
            workspace = locked and _lock_above(ctx)
            package = f" --package {escaping.shell_quote(name)}" if workspace else ""
            return [f"uv sync {'--frozen ' if locked else ''}--no-dev{package}"]
        case "poetry":
            return ["poetry install --only main --no-root --no-interaction"]
        case "pipenv":
            return ["pipenv install --deploy --system" if locked else "pipenv install --system"]
        case "pip":
            command = ctx.app.install_command
            if command and command.startswith("pip "):
                return [command]
            # the profile named no file: whichever the app has, at build time
            return [
                "if [ -f requirements.txt ]; then pip install -r requirements.txt; "
                "elif [ -f pyproject.toml ] || [ -f setup.py ]; then pip install .; fi"
            ]
        case "bundler":
            if locked:
                return [
                    "bundle config set --local deployment true",
                    "bundle config set --local without 'development test'",
                    "bundle install",
                ]
            return ["bundle config set --local without 'development test'", "bundle install"]
        case "composer":
            return ["composer install --no-dev --optimize-autoloader --no-interaction"]
        case "go":
            return ["go mod download"]
        case "cargo":
            return ["cargo fetch --locked" if locked else "cargo fetch"]
        case "dotnet":
            return ["dotnet restore"]
        case _:
            return []


_FROZEN = re.compile(r"\bnpm ci\b|--frozen|--immutable|--locked|--deploy")


def has_lockfile(ctx: StackContext) -> bool:
    """A lockfile pins the dependencies (profiles older than ``App.lockfile`` say so through
    the frozen install command the analysis derived from it)."""
    if ctx.app.lockfile is not None:
        return True
    return bool(_FROZEN.search(ctx.app.install_command or ""))


def build_context_of(ctx: StackContext) -> str:
    """The app's folder, or the workspace root whose lockfile it installs from."""
    lock = ctx.app.lockfile
    if not lock or not _lock_above(ctx) or ctx.family not in ("python", "node"):
        return ctx.app_dir
    folder = lock.rsplit("/", 1)[0] if "/" in lock else "."
    inside = ctx.app_dir == folder or folder == "." or ctx.app_dir.startswith(folder + "/")
    return folder if inside else ctx.app_dir


def _lock_above(ctx: StackContext) -> bool:
    """The lockfile lives in a parent folder: the app is a member of a workspace."""
    lock = ctx.app.lockfile or ""
    folder = lock.rsplit("/", 1)[0] if "/" in lock else "."
    return folder != ctx.app_dir


_NPM_RUN = re.compile(r"^npm run ")


def _with_pm(command: str, pm: PackageManager) -> str:
    """``npm run x`` as the app's own package manager runs it."""
    runner = {"yarn": "yarn ", "yarn-berry": "yarn ", "pnpm": "pnpm run ", "bun": "bun run "}
    return _NPM_RUN.sub(runner.get(pm, "npm run "), command)


# --- release --------------------------------------------------------------------------------


def release_commands(ctx: StackContext, pm: PackageManager) -> tuple[list[str], list[str]]:
    """The release step (migrations) and notes on how it was found."""
    app = ctx.app
    deps = set(app.dependencies)
    fw = ctx.framework
    if app.release_command:
        return [_with_pm(app.release_command, pm)], ["Release: the app's own release step."]
    if fw == "django":
        return ["python manage.py migrate --noinput"], ["Release: Django migrations."]
    if fw == "rails":
        return ["bundle exec rails db:prepare"], ["Release: Rails db:prepare (create + migrate)."]
    if fw == "laravel":
        return ["php artisan migrate --force"], ["Release: Laravel migrations."]
    if "prisma" in deps or "@prisma/client" in deps:
        return ["npx prisma migrate deploy"], ["Release: Prisma migrate deploy."]
    if "flask-migrate" in {d.lower() for d in deps}:
        return ["flask db upgrade"], ["Release: Flask-Migrate (flask db upgrade)."]
    if "alembic" in deps:
        return ["alembic upgrade head"], ["Release: Alembic upgrade head."]
    if "knex" in deps:
        return ["npx knex migrate:latest"], ["Release: Knex migrate:latest."]
    if "sequelize" in deps and "sequelize-cli" in deps:
        return ["npx sequelize-cli db:migrate"], ["Release: Sequelize migrations."]
    if "typeorm" in deps:
        return [], [
            "TypeORM: no migration script was found in package.json; add one named "
            "'migration:run' and it runs on every deploy."
        ]
    if "sqlx" in deps and "migrations" in app.runtime_dirs:
        return ["sqlx migrate run"], ["Release: sqlx migrate run (sqlx-cli in the image)."]
    if fw in ("spring-boot", "quarkus", "micronaut") and (
        deps & {"flyway-core", "org.flywaydb:flyway-core", "liquibase-core"}
        or any("flyway" in d or "liquibase" in d for d in deps)
    ):
        return [], [
            "Flyway/Liquibase migrate when the app starts, before it answers its health check, "
            "so a new version takes traffic only once migrated."
        ]
    return [], []


# --- start of compiled apps -----------------------------------------------------------------

COMPILED_BINARY = "bin/server"  # where a compiled app's build puts the binary (app folder)
_GO_START = re.compile(r"^\s*(?:exec\s+)?(?:\./[\w.-]+|go\s+run\s+\S+)(?=\s|$)")
_RUST_START = re.compile(r"^\s*(?:exec\s+)?(?:\./)?target/release/[\w-]+(?=\s|$)")


def compiled_start(ctx: StackContext, start: str | None) -> str:
    """The start command naming the binary the build produced (``./bin/server``).

    A Procfile's ``web: name`` (the binary as a developer installs it on PATH) is
    rewritten too, when ``name`` is the app's or its module's name.
    """
    entry = f"exec ./{COMPILED_BINARY}"
    if not start or not start.split():
        return entry
    pattern = _GO_START if ctx.family == "go" else _RUST_START
    if pattern.match(start):
        return pattern.sub(entry, start, count=1)
    first = start.split()[0]
    names = {ctx.app.name, ctx.app.name.rsplit("/", 1)[-1], ctx.name}
    if first in names or first.lstrip("./") in names or first.startswith("bin/"):
        return " ".join([entry, *start.split()[1:]])
    return start


# --- environment and secrets ----------------------------------------------------------------

# Variables read only by tests, CI or tooling: never the deployed app's.
_TOOLING_ENV = re.compile(
    r"^(CI|GITHUB_\w+|GITLAB_\w+|CIRCLECI\w*|TRAVIS\w*|BUILDKITE\w*|PYTEST_\w+|COVERAGE_\w+|"
    r"TEST_\w+|\w+_TEST|\w+_TESTS|TESTING|JEST_\w+|VITEST\w*|CYPRESS_\w+|PLAYWRIGHT_\w+|"
    r"CODECOV_\w+|TOX_\w+|NOX_\w+|HYPOTHESIS_\w+|SNAPSHOT_UPDATE|UPDATE_SNAPSHOTS)$"
)
_TOOLING_PATH = re.compile(
    r"(^|/)(tests?|spec|__tests__|e2e|cypress|\.github|\.gitlab-ci\.yml|\.circleci|scripts/ci|"
    r"conftest\.py|jest\.config|vitest\.config|playwright\.config|noxfile\.py|tox\.ini)"
)
# Mode variables whose development fallback must never be deployed: the production value.
PRODUCTION_VALUES = {
    "RAILS_ENV": "production",
    "RACK_ENV": "production",
    "NODE_ENV": "production",
    "APP_ENV": "production",
    "FLASK_ENV": "production",
    "ENVIRONMENT": "production",
    "ENV": "production",
    "GO_ENV": "production",
    "GIN_MODE": "release",
    "ASPNETCORE_ENVIRONMENT": "Production",
    "SPRING_PROFILES_ACTIVE": "prod",
    "MIX_ENV": "prod",
}
# Sample values that only work on a developer's machine.
_DEV_SAMPLE = re.compile(
    r"localhost|127\.0\.0\.1|0\.0\.0\.0|host\.docker\.internal|\.local\b|changeme|change-me|"
    r"your[-_]|example\.(com|org)|^\s*$",
    re.I,
)
_DEV_VALUE = re.compile(r"^(dev|develop|development|local|test|debug|true|1|yes|on)$", re.I)
# Keys a framework needs, generated in the user's account: name -> generator.
_GENERATED_SECRETS = {
    "SECRET_KEY": "alnum64",
    "DJANGO_SECRET_KEY": "alnum64",
    "FLASK_SECRET_KEY": "alnum64",
    "SECRET_KEY_BASE": "alnum64",
    "APP_KEY": "laravel-app-key",
    "JWT_SECRET": "alnum64",
    "JWT_SECRET_KEY": "alnum64",
    "JWT_KEY": "alnum64",
    "SESSION_SECRET": "alnum64",
    "SESSION_KEY": "alnum64",
    "COOKIE_SECRET": "alnum64",
    "NEXTAUTH_SECRET": "alnum64",
    "AUTH_SECRET": "alnum64",
    "APP_SECRET": "alnum64",
    "ENCRYPTION_KEY": "alnum64",
}


GENERATED_SECRET_NAMES = frozenset(_GENERATED_SECRETS)


_DEBUG_FLAGS = frozenset({"DEBUG", "APP_DEBUG", "DJANGO_DEBUG", "FLASK_DEBUG"})
_FALSE_OF = {"1": "0", "true": "false", "True": "False", "TRUE": "FALSE", "yes": "no", "on": "off"}


def _production_value(name: str, sample: str | None) -> str | None:
    """The production value of a mode variable; None when ``name`` is not one or the sample
    is already a production value (then the usual rules apply)."""
    if name in _DEBUG_FLAGS:
        # Off, in the notation the app uses; without a sample the framework's default (off).
        return _FALSE_OF.get(sample or "") if sample else None
    production = PRODUCTION_VALUES.get(name)
    if production is None:
        return None
    if sample is None or _DEV_VALUE.match(sample):
        return production
    return None


def _is_tooling(name: str, files: list[str]) -> bool:
    if _TOOLING_ENV.match(name):
        return True
    return bool(files) and all(_TOOLING_PATH.search(f) for f in files)


def environment(
    ctx: StackContext, profile: StackProfile
) -> tuple[list[EnvEntry], list[SecretEntry], list[str]]:
    """The app's environment and secrets (service wiring excluded), and notes."""
    notes: list[str] = []
    by_name = {v.name: v for v in profile.env_vars}
    env: list[EnvEntry] = []
    secrets: list[SecretEntry] = []
    owned = _service_owned(ctx)
    for setting in ctx.env:
        var = by_name.get(setting.name)
        files = [e.file for e in var.evidence] if var else []
        source = f"{files[0]}" if files else None
        if setting.name in owned or _is_tooling(setting.name, files):
            continue
        if setting.name == "PORT":
            continue
        production = _production_value(setting.name, setting.value)
        if production is not None:
            env.append(EnvEntry(name=setting.name, kind="default", value=production, source=source))
            if setting.value is not None and setting.value != production:
                notes.append(
                    f"{setting.name}: the development fallback {setting.value!r} is not "
                    f"deployed; it is {production!r}."
                )
            continue
        if setting.name in _DEBUG_FLAGS:
            # Unset is the framework's default (debug off) in every notation: never required.
            env.append(EnvEntry(name=setting.name, kind="optional", value=None, source=source))
            continue
        required = var.required if var else None
        sample = setting.value
        usable = sample is not None and not _DEV_SAMPLE.search(sample)
        if required is False:
            # The app reads it with a fallback of its own: left unset, never "".
            env.append(EnvEntry(name=setting.name, kind="optional", value=None, source=source))
        elif usable:
            env.append(EnvEntry(name=setting.name, kind="default", value=sample, source=source))
        elif required:
            env.append(EnvEntry(name=setting.name, kind="required", value=None, source=source))
        else:
            if sample is not None:
                notes.append(f"{setting.name}: the development value is not deployed; unset.")
            env.append(EnvEntry(name=setting.name, kind="optional", value=None, source=source))
    for name in ctx.secrets:
        var = by_name.get(name)
        files = [e.file for e in var.evidence] if var else []
        if name in owned or _is_tooling(name, files):
            continue
        source = files[0] if files else None
        generator = _GENERATED_SECRETS.get(name)
        if name in {e.env_name for e in ctx.external}:  # a service's address: the user's
            secrets.append(SecretEntry(name=name, kind="provided", source=source))
            continue
        if generator == "laravel-app-key" and ctx.framework != "laravel":
            generator = "alnum64"
        if generator:
            secrets.append(
                SecretEntry(name=name, kind="generated", generator=generator, source=source)
            )
        elif var is not None and var.required:
            secrets.append(SecretEntry(name=name, kind="provided", source=source))
        else:
            secrets.append(SecretEntry(name=name, kind="optional", source=source))
    for name, generator in _framework_secrets(ctx).items():
        if name not in {s.name for s in secrets}:
            secrets.append(SecretEntry(name=name, kind="generated", generator=generator))
            notes.append(f"{name}: {ctx.framework} needs it; it is generated in your account.")
    return env, secrets, notes


def _framework_secrets(ctx: StackContext) -> dict[str, str]:
    """Keys the framework refuses to run without in production."""
    return {
        "rails": {"SECRET_KEY_BASE": "alnum64"},
        "laravel": {"APP_KEY": "laravel-app-key"},
    }.get(ctx.framework or "", {})


# --- services --------------------------------------------------------------------------------

_PG_URL = "postgresql://{user}:{password}@{host}:{port}/{db}?sslmode=require"
_MYSQL_URL = "mysql://{user}:{password}@{host}:{port}/{db}"


def _database_env(ctx: StackContext, kind: str) -> dict[str, str]:
    """The variables a database is wired through, in the way the app reads it."""
    names = {e.name for e in ctx.env} | set(ctx.secrets)
    if ctx.framework == "spring-boot" or ctx.family == "java":
        jdbc = "postgresql" if kind == "postgresql" else "mysql"
        tls = "?sslmode=require" if kind == "postgresql" else "?sslMode=REQUIRED"
        return {
            "SPRING_DATASOURCE_URL": f"jdbc:{jdbc}://{{host}}:{{port}}/{{db}}{tls}",
            "SPRING_DATASOURCE_USERNAME": "{user}",
            "SPRING_DATASOURCE_PASSWORD": "{password}",
        }
    if ctx.framework == "laravel":
        return {
            "DB_CONNECTION": "pgsql" if kind == "postgresql" else "mysql",
            "DB_HOST": "{host}",
            "DB_PORT": "{port}",
            "DB_DATABASE": "{db}",
            "DB_USERNAME": "{user}",
            "DB_PASSWORD": "{password}",
            **({"DB_SSLMODE": "require"} if kind == "postgresql" else {}),
        }
    env = {"DATABASE_URL": _PG_URL if kind == "postgresql" else _MYSQL_URL}
    discrete = {
        "DB_HOST": "{host}",
        "DB_PORT": "{port}",
        "DB_NAME": "{db}",
        "DB_USER": "{user}",
        "DB_PASSWORD": "{password}",
    }
    pg_discrete = {
        "PGHOST": "{host}",
        "PGPORT": "{port}",
        "PGDATABASE": "{db}",
        "PGUSER": "{user}",
        "PGPASSWORD": "{password}",
        "PGSSLMODE": "require",
    }
    env.update(discrete)
    if kind == "postgresql" and names & set(pg_discrete):
        env.update(pg_discrete)
    for alias in ("POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DB", "POSTGRES_USER"):
        if alias in names:
            env[alias] = (
                "{"
                + {"HOST": "host", "PORT": "port", "DB": "db", "USER": "user"}[
                    alias.split("_", 1)[1]
                ]
                + "}"
            )
    if "POSTGRES_PASSWORD" in names:
        env["POSTGRES_PASSWORD"] = "{password}"  # noqa: S105 - a template, not a value
    return env


RDS_CA_BUNDLE = CaBundle(
    name="rds-global",
    url="https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem",
    path="/etc/ssl/certs/rds-global-bundle.pem",
    env=["NODE_EXTRA_CA_CERTS"],
    reason=(
        "node-postgres treats sslmode=require as full verification (certificate and host "
        "name); the RDS certificate authority is not in Node's store, so the image carries "
        "the RDS global bundle and Node trusts it (NODE_EXTRA_CA_CERTS): the connection is "
        "encrypted and verified, never downgraded to no-verify."
    ),
)


def ca_bundles_of(ctx: StackContext, services: list[ServiceBinding]) -> list[CaBundle]:
    """What the image must trust for the app's clients to verify its services."""
    if ctx.family == "node" and not ctx.is_static and any(s.kind == "postgresql" for s in services):
        return [RDS_CA_BUNDLE]
    return []


def services_of(ctx: StackContext) -> list[ServiceBinding]:
    bindings: list[ServiceBinding] = []
    if ctx.database == "postgres":
        bindings.append(ServiceBinding(kind="postgresql", env=_database_env(ctx, "postgresql")))
    elif ctx.database == "mysql":
        bindings.append(ServiceBinding(kind="mysql", env=_database_env(ctx, "mysql")))
    if ctx.redis:
        bindings.append(ServiceBinding(kind="redis", env={"REDIS_URL": "rediss://{host}:{port}"}))
    if ctx.object_storage:
        from chalicelib.generate.render import storage_env_name

        bindings.append(
            ServiceBinding(kind="object_storage", env={storage_env_name(ctx): "{bucket}"})
        )
    if ctx.uses_sqlite:
        bindings.append(ServiceBinding(kind="sqlite", env=sqlite_env(ctx)))
    return bindings


SQLITE_FILE = "/data/app.sqlite3"
_SQLITE_PATH_ENV = re.compile(r"SQLITE|^(DB|DATABASE)_(PATH|FILE|FILENAME|NAME)$|^DATA_DIR$")


def sqlite_env(ctx: StackContext) -> dict[str, str]:
    """Point the app's own SQLite setting at the persistent volume (mounted at /data)."""
    names = [e.name for e in ctx.env]
    env: dict[str, str] = {}
    for name in names:
        if name == "DATA_DIR":
            env[name] = "/data"
        elif _SQLITE_PATH_ENV.search(name):
            env[name] = SQLITE_FILE
    if not ctx.database and "DATABASE_URL" in {*names, *ctx.secrets}:
        env["DATABASE_URL"] = f"sqlite:///{SQLITE_FILE}"
    return env


def _service_owned(ctx: StackContext) -> set[str]:
    return {name for b in services_of(ctx) for name in b.env}


# --- the plan ---------------------------------------------------------------------------------

SQLITE_DATA_DIR = "/data"


def plan_for(ctx: StackContext, profile: StackProfile) -> AppPlan:
    """The plan of the app ``ctx`` describes."""
    from chalicelib.generate.dockerfiles import docker_recipe

    toolchain, tool_notes = resolve_toolchain(ctx)
    pm = package_manager_of(ctx)
    recipe = docker_recipe(ctx)
    notes = [*tool_notes]
    install = install_commands(ctx, pm)
    if recipe.server_package:  # the production server the start command runs
        installer = "uv pip install" if pm == "uv" else "pip install"
        install.append(f"{installer} {recipe.server_package}")
    release, release_notes = release_commands(ctx, pm) if not ctx.is_static else ([], [])
    build = [_with_pm(ctx.build_command, pm)] if ctx.build_command else []
    start = recipe.start_command or "true"
    runtime_files: list[str] = []
    if ctx.family in ("go", "rust"):
        start = compiled_start(ctx, ctx.start_command)
        runtime_files = [COMPILED_BINARY, *ctx.app.runtime_dirs]
        build = [
            *(build if recipe.run_build_command else []),
            *_compiled_build(ctx, recipe.go_package, recipe.rust_binary),
        ]
        if "sqlx migrate run" in release:
            build.append(
                "cargo install sqlx-cli --locked --no-default-features "
                "--features rustls,postgres,mysql --root ."
            )
            runtime_files.append("bin/sqlx")
            release = ["./bin/sqlx migrate run"]
    if ctx.is_static:
        build = _static_build(ctx, build)
    elif ctx.family == "java":
        build = [recipe.java_build]
    elif ctx.family == "php":
        build = []  # PHP's build steps read the environment: they run at start (see start)
    notes += release_notes
    env, secrets, env_notes = environment(ctx, profile)
    notes += env_notes
    build, build_notes = _with_build_only_keys(ctx, build, secrets)
    notes += build_notes
    services = services_of(ctx)
    ca_bundles = ca_bundles_of(ctx, services)
    notes += [f"TLS: {b.reason}" for b in ca_bundles]
    if ctx.uses_sqlite:
        pointed = ", ".join(sqlite_env(ctx)) or "none of its settings: keep the file under /data"
        notes.append(f"SQLite: the persistent volume is mounted at {SQLITE_DATA_DIR}; the app "
                     f"is pointed at it through {pointed}.")  # fmt: skip
    return AppPlan(
        name=ctx.name,
        app=ctx.app.name,
        path=ctx.app_dir,
        context=build_context_of(ctx),
        kind="static" if ctx.is_static else ("worker" if ctx.app.kind == "worker" else "web"),
        framework=ctx.framework,
        toolchain=toolchain,
        package_manager=pm,
        lockfile=ctx.app.lockfile,
        install=install,
        build=build,
        release=release,
        start=start,
        port=ctx.port,
        health_path=ctx.healthcheck_path,
        runtime_files=runtime_files,
        submodules=ctx.app.submodules,
        static_output=ctx.static_output_dir if ctx.is_static else None,
        env=env,
        secrets=secrets,
        services=services,
        ca_bundles=ca_bundles,
        workers=[WorkerPlan(name=w.name, start=w.command) for w in ctx.workers],
        data_dir=SQLITE_DATA_DIR if ctx.uses_sqlite else None,
        notes=notes,
    )


BUILD_ONLY_KEY = "autostack-build-only-never-used-at-run-time"
_SETTINGS_AT_BUILD = re.compile(r"\bmanage\.py\s+collectstatic\b")


def _with_build_only_keys(
    ctx: StackContext, build: list[str], secrets: list[SecretEntry]
) -> tuple[list[str], list[str]]:
    """Give build steps that import the app's settings a throwaway key.

    Django's ``collectstatic`` imports settings, and settings commonly read the key with
    ``os.environ["SECRET_KEY"]``; a build (``docker build``, CI) has no secrets. As buildpacks
    do, the step gets a fixed build-only value on its own command line: it signs nothing
    (collecting static files uses no key), never enters the image's environment, and the
    running app gets the generated key from SSM.
    """
    keys = [s.name for s in secrets if s.kind == "generated"]
    if ctx.framework != "django" or not keys:
        return build, []
    prefix = " ".join(f"{name}={BUILD_ONLY_KEY}" for name in keys)
    out = [f"{prefix} {c}" if _SETTINGS_AT_BUILD.search(c) else c for c in build]
    if out == build:
        return build, []
    return out, [
        f"Build: collectstatic runs with a throwaway {', '.join(keys)} (build only, never used "
        "at run time: the app gets the generated one)."
    ]


def _compiled_build(ctx: StackContext, go_package: str, rust_binary: str | None) -> list[str]:
    """Build the binary into ``bin/server`` (the start command names it)."""
    if ctx.family == "go":
        return [
            "CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/server "
            + escaping.shell_quote(go_package)
        ]
    locked = " --locked" if has_lockfile(ctx) else ""
    if rust_binary:
        copy = f"mkdir -p bin && cp target/release/{rust_binary} bin/server"
    else:
        # The first executable file cargo built (glob order is sorted); no pipe, so a failure
        # cannot hide behind a pipeline's last command.
        copy = (
            "mkdir -p bin && for f in target/release/*; do "
            'if [ -f "$f" ] && [ -x "$f" ]; then cp "$f" bin/server; break; fi; done '
            "&& test -x bin/server"
        )
    return [
        f"cargo build --release{locked}" + (f" --bin {rust_binary}" if rust_binary else ""),
        copy,
    ]


def _static_build(ctx: StackContext, build: list[str]) -> list[str]:
    """A static site builds for its own URL (``$SITE_URL``, set by the deploy)."""
    if ctx.framework == "hugo":
        return ['hugo --minify --baseURL "${SITE_URL:-/}"']
    return build


def build_app_plans(
    profile: StackProfile, request: TemplateRequest, project: str | None = None
) -> list[AppPlan]:
    """One plan per deployed app: the primary app first, then the monorepo's companions."""
    ctx = build_context(profile, request.options, request.region, project)
    return plans_of(ctx, profile)


def plans_of(ctx: StackContext, profile: StackProfile) -> list[AppPlan]:
    return [plan_for(ctx, profile), *(plan_for(c.ctx, profile) for c in ctx.companions)]
