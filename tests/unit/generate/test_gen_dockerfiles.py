"""Dockerfile recipes per ecosystem: PHP, .NET, Rust, JVM, Go, and start-command rewrites."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib.generate.dockerfiles import docker_recipe
from chalicelib.generate.stack import build_context
from chalicelib.models.profile import App, Framework, StackProfile
from chalicelib.models.templates import TemplateOptions
from tests.golden import stack_profiles as sp
from tests.golden.helpers import bundle_for


def _dockerfile(files: dict[str, str]) -> str:
    (path,) = [p for p in files if p.endswith("Dockerfile")]
    return files[path]


def _cmd(dockerfile: str) -> list[str]:
    line = next(ln for ln in dockerfile.splitlines() if ln.startswith("CMD "))
    return json.loads(line[4:])


def _app_profile(**app: object) -> StackProfile:
    base = {"path": ".", "name": "svc", "kind": "web"}
    return StackProfile(languages=sp._langs(str(app["language"])), apps=[App(**{**base, **app})])


def test_laravel_runs_on_frankenphp_with_its_caches_built_at_start() -> None:
    bundle = bundle_for(sp.laravel_mysql(), "ecs-fargate")
    dockerfile = bundle.files["Dockerfile"]
    assert "FROM dunglas/frankenphp:1.9.1-php8.2-bookworm AS base" in dockerfile
    assert "RUN install-php-extensions opcache intl zip pdo_mysql redis" in dockerfile
    assert "COPY --from=composer:2.8.12 /usr/bin/composer /usr/bin/composer" in dockerfile
    assert "composer install --no-dev" in dockerfile
    assert "APP_ENV=production" in dockerfile and "EXPOSE 8000" in dockerfile
    command = _cmd(dockerfile)[2]
    # ECS composes DATABASE_URL first; then the caches, then the production server.
    assert command.endswith(
        "php artisan config:cache && php artisan route:cache && "
        "exec frankenphp php-server --listen 0.0.0.0:$PORT --root public"
    )
    assert "artisan serve" not in dockerfile
    assert any("development server" in w and "FrankenPHP" in w for w in bundle.warnings)
    assert "/up" in next(ln for ln in dockerfile.splitlines() if ln.startswith("HEALTHCHECK"))
    ignore = bundle.files[".dockerignore"]
    assert "vendor/" in ignore and "storage/logs/" in ignore


def test_plain_php_keeps_its_document_root_and_needs_no_composer() -> None:
    dockerfile = bundle_for(sp.plain_php(), "ec2").files["Dockerfile"]
    assert "composer" not in dockerfile
    assert _cmd(dockerfile)[2] == "exec frankenphp php-server --listen 0.0.0.0:$PORT --root public"
    assert "install-php-extensions opcache intl zip\n" in dockerfile


def test_php_document_root_cannot_escape_the_app() -> None:
    profile = _app_profile(
        language="php", ecosystem="php", start_command="php -S 0.0.0.0:80 -t ../x"
    )
    recipe = docker_recipe(build_context(profile, TemplateOptions()))
    assert recipe.php_docroot == "."


def test_php_custom_start_command_is_kept() -> None:
    profile = _app_profile(language="php", ecosystem="php", start_command="php worker-server.php")
    recipe = docker_recipe(build_context(profile, TemplateOptions()))
    assert recipe.start_command == "php worker-server.php" and not recipe.warnings


def test_aspnetcore_publishes_and_runs_on_the_aspnet_runtime() -> None:
    bundle = bundle_for(sp.aspnetcore_postgres(), "ec2")
    dockerfile = bundle.files["src/Shop.Api/Dockerfile"]
    froms = re.findall(r"^FROM (\S+)", dockerfile, flags=re.M)
    assert froms == [
        "mcr.microsoft.com/dotnet/sdk:9.0.307-bookworm-slim",
        "mcr.microsoft.com/dotnet/aspnet:9.0.11-bookworm-slim",
    ]
    assert "ENV ASPNETCORE_URLS=http://+:8080 PORT=8080" in dockerfile
    assert "USER 1654:1654" in dockerfile  # the image's own app user, by number
    assert "dotnet publish -c Release -o /out" in dockerfile
    assert "-o out" not in dockerfile  # the analysis' own publish step is replaced
    assert _cmd(dockerfile)[2] == 'exec dotnet "/app/$(cat /app/.entrypoint)"'
    ignore = bundle.files["src/Shop.Api/.dockerignore"]
    assert "bin/" in ignore and "obj/" in ignore


def test_dotnet_defaults_to_8_and_the_detected_port() -> None:
    profile = _app_profile(language="csharp", framework=Framework(name="aspnetcore"))
    dockerfile = _dockerfile(bundle_for(profile, "ecs-fargate").files)
    assert "dotnet/aspnet:8.0.22-bookworm-slim" in dockerfile
    assert "ASPNETCORE_URLS=http://+:8080" in dockerfile


def test_rust_copies_the_named_binary_and_runs_it_from_the_image() -> None:
    bundle = bundle_for(sp.rust_axum(), "ec2")
    dockerfile = bundle.files["Dockerfile"]
    assert "cp target/release/edge-api bin/server" in dockerfile
    assert dockerfile.count("cargo build --release") == 1
    assert _cmd(dockerfile)[2] == "exec ./bin/server"
    assert "FROM rust:1.91.1-slim-bookworm AS build" in dockerfile
    assert "FROM debian:bookworm-20251117-slim" in dockerfile
    assert "EXPOSE 3000" in dockerfile and "target/" in bundle.files[".dockerignore"]


def test_rocket_listens_on_all_interfaces_and_finds_its_binary() -> None:
    dockerfile = bundle_for(sp.rust_rocket(), "ec2").files["server/Dockerfile"]
    assert "ROCKET_ADDRESS=0.0.0.0 ROCKET_PORT=8000" in dockerfile
    # "rocket app" is no binary name: the first executable cargo built is used
    assert "for f in target/release/*; do" in dockerfile and "test -x bin/server" in dockerfile


def test_start_command_arguments_survive_the_rewrite() -> None:
    profile = _app_profile(language="rust", start_command="./target/release/api --port $PORT")
    recipe = docker_recipe(build_context(profile, TemplateOptions()))
    assert recipe.rust_binary == "api"
    assert recipe.start_command == "exec /usr/local/bin/server --port $PORT"


def test_ktor_builds_a_fat_jar_with_the_runtime_jdk() -> None:
    dockerfile = bundle_for(sp.ktor_gradle(), "ec2").files["Dockerfile"]
    assert "FROM gradle:8.14.3-jdk17-alpine AS build" in dockerfile
    assert "FROM eclipse-temurin:17.0.17_10-jre-alpine" in dockerfile
    assert '"./gradlew buildFatJar"' in dockerfile
    assert _cmd(dockerfile)[2] == "exec java -jar /app/app.jar"


@pytest.mark.parametrize(
    ("framework", "package_manager", "build"),
    [
        ("ktor", "gradle", "gradle --no-daemon -x test buildFatJar"),
        ("spring-boot", "maven", "mvn -q -DskipTests package"),
        ("quarkus", "maven", "mvn -q -DskipTests package -Dquarkus.package.jar.type=uber-jar"),
    ],
)
def test_jvm_build_step_makes_a_runnable_jar(framework, package_manager, build) -> None:
    profile = _app_profile(
        language="kotlin", framework=Framework(name=framework), package_manager=package_manager
    )
    assert docker_recipe(build_context(profile, TemplateOptions())).java_build == build


def test_jar_start_command_keeps_jvm_options() -> None:
    profile = _app_profile(language="java", start_command="java -Xmx256m -jar target/*.jar")
    recipe = docker_recipe(build_context(profile, TemplateOptions()))
    assert recipe.start_command == "exec java -Xmx256m -jar /app/app.jar"


def test_go_builds_the_package_the_analysis_found() -> None:
    profile = _app_profile(
        language="go",
        build_command="CGO_ENABLED=0 go build -o app ./cmd/server",
        start_command="./app",
    )
    dockerfile = _dockerfile(bundle_for(profile, "ec2").files)
    assert "-o bin/server ./cmd/server" in dockerfile
    assert "go build -o app" not in dockerfile  # replaced by the recipe's own build
    assert _cmd(dockerfile)[2] == "exec ./bin/server"


@pytest.mark.parametrize(
    ("ecosystem", "language", "family"),
    [
        ("php", "php", "php"),
        ("dotnet", "csharp", "dotnet"),
        (None, "fsharp", "dotnet"),
        ("rust", "rust", "rust"),
        ("jvm", "kotlin", "java"),
        (None, "crystal", "generic"),
    ],
)
def test_recipe_family_follows_ecosystem_then_language(ecosystem, language, family) -> None:
    profile = _app_profile(language=language, ecosystem=ecosystem)
    assert build_context(profile, TemplateOptions()).family == family


@pytest.mark.parametrize("name", ["laravel_mysql", "aspnetcore_postgres", "rust_axum"])
def test_new_ecosystems_do_not_claim_lambda(name) -> None:
    bundle = bundle_for(sp.PROFILES[name]())
    lambda_estimate = next(e for e in bundle.cost.targets if e.target == "lambda")
    assert not lambda_estimate.fits


@pytest.mark.parametrize(
    ("name", "action", "version"),
    [
        ("laravel_mysql", "shivammathur/setup-php@v2", {"php-version": "8.2"}),
        ("aspnetcore_postgres", "actions/setup-dotnet@v5", {"dotnet-version": "9.0.x"}),
        ("ktor_gradle", "actions/setup-java@v5", {"java-version": "17"}),
    ],
)
def test_ci_sets_up_the_toolchain_the_tests_need(name, action, version) -> None:
    import yaml

    workflow = yaml.safe_load(
        bundle_for(sp.PROFILES[name](), "ec2").files[".github/workflows/deploy.yml"]
    )
    steps = workflow["jobs"]["test"]["steps"]
    setup = next(s for s in steps if s.get("uses") == action)
    assert version.items() <= setup["with"].items()
    assert steps[-1]["name"] == "Test"


def test_a_runtime_version_without_an_image_is_refused_with_the_fix() -> None:
    from chalicelib.generate import ToolchainVersionError

    profile = _app_profile(
        language="csharp", runtime_version="6.0", framework=Framework(name="aspnetcore")
    )
    with pytest.raises(ToolchainVersionError, match=r"dotnet '6.0'.*Supported: 8.0, 9.0.*Fix"):
        bundle_for(profile, "ec2")
    pinned = bundle_for(sp.aspnetcore_postgres(), "ec2")
    assert "ROLL_FORWARD" not in pinned.files["src/Shop.Api/Dockerfile"]
