"""StackProfile fixtures for every stack family the generator supports.

Plain Python objects (the contract of chalicelib/models/profile.py), shared by
the generator's unit tests, quality gates, golden files and the benchmark.
"""

from __future__ import annotations

from chalicelib.models.profile import (
    App,
    EnvVar,
    Framework,
    Languages,
    LanguageStat,
    Port,
    Service,
    StackProfile,
    Tests,
    Worker,
)


def _langs(name: str) -> Languages:
    return Languages(
        primary=name, stats=[LanguageStat(name=name, bytes=12000, lines=400, files=12)]
    )


def flask_postgres() -> StackProfile:
    """Stateless Flask API with PostgreSQL, Redis and uploads to S3."""
    return StackProfile(
        languages=_langs("python"),
        apps=[
            App(
                path=".",
                name="orders-api",
                language="python",
                runtime_version="3.12",
                package_manager="pip",
                framework=Framework(name="flask", version="3.0.3"),
                kind="web",
                start_command="gunicorn --bind 0.0.0.0:$PORT app:app",
                port=Port(value=5000, source="code", env_var="PORT"),
                healthcheck_path="/healthz",
            )
        ],
        services=[Service(kind="postgres"), Service(kind="redis"), Service(kind="object_storage")],
        env_vars=[
            EnvVar(name="LOG_LEVEL", is_secret=False, default="info"),
            EnvVar(name="UPLOAD_BUCKET", is_secret=False),
            EnvVar(name="SECRET_KEY", is_secret=True),
            EnvVar(name="STRIPE_API_KEY", is_secret=True),
        ],
        tests=Tests(present=True, command="pytest -q"),
    )


def fastapi_stateless() -> StackProfile:
    """A stateless FastAPI service: the Lambda case."""
    return StackProfile(
        languages=_langs("python"),
        apps=[
            App(
                path=".",
                name="quotes",
                language="python",
                runtime_version="3.11",
                package_manager="poetry",
                framework=Framework(name="fastapi"),
                kind="web",
                healthcheck_path="/health",
            )
        ],
        env_vars=[
            EnvVar(name="API_TOKEN", is_secret=True),
            EnvVar(name="MODE", is_secret=False, default="prod"),
        ],
        tests=Tests(present=True, command="pytest"),
    )


def django_sqlite_celery() -> StackProfile:
    """Django with SQLite and a Celery worker on Redis: needs a disk and a worker (EC2)."""
    return StackProfile(
        languages=_langs("python"),
        apps=[
            App(
                path="backend",
                name="wiki",
                language="python",
                framework=Framework(name="django"),
                kind="web",
                port=Port(value=8000, source="framework_default"),
            )
        ],
        services=[Service(kind="sqlite"), Service(kind="redis")],
        workers=[Worker(name="celery", command="celery -A wiki worker -l info", system="celery")],
        env_vars=[
            EnvVar(name="DJANGO_SECRET_KEY", is_secret=True),
            EnvVar(name="DEBUG", is_secret=False, default="0"),
        ],
    )


def express_mysql() -> StackProfile:
    """Express with MySQL and a WebSocket framework: long connections."""
    return StackProfile(
        languages=_langs("javascript"),
        apps=[
            App(
                path=".",
                name="chat",
                language="javascript",
                runtime_version="20",
                package_manager="npm",
                framework=Framework(name="socket.io"),
                kind="web",
                start_command="node server.js",
                port=Port(value=3000, source="code"),
                healthcheck_path="/status",
            )
        ],
        services=[Service(kind="mysql")],
        env_vars=[EnvVar(name="SESSION_SECRET", is_secret=True)],
        tests=Tests(present=True, command="npm test"),
    )


def nextjs_static() -> StackProfile:
    """A static site built with npm."""
    return StackProfile(
        languages=_langs("typescript"),
        apps=[
            App(
                path=".",
                name="landing",
                language="typescript",
                package_manager="npm",
                framework=Framework(name="vite"),
                kind="static",
                build_command="npm run build",
                static_output_dir="dist",
            )
        ],
    )


def hugo_site() -> StackProfile:
    return StackProfile(
        languages=_langs("html"),
        apps=[
            App(path="docs", name="docs", language="html", framework=Framework(name="hugo"),
                kind="static", build_command="hugo --minify", static_output_dir="public")
        ],
    )  # fmt: skip


def mkdocs_site() -> StackProfile:
    return StackProfile(
        languages=_langs("markdown"),
        apps=[
            App(path=".", name="handbook", language="markdown", package_manager="pip",
                framework=Framework(name="mkdocs"), kind="static", build_command="mkdocs build",
                static_output_dir="site")
        ],
    )  # fmt: skip


def plain_html() -> StackProfile:
    return StackProfile(
        languages=_langs("html"),
        apps=[App(path=".", name="brochure", language="html", framework=Framework(name="html"),
                  kind="static", static_output_dir=".")],
    )  # fmt: skip


def go_api() -> StackProfile:
    return StackProfile(
        languages=_langs("go"),
        apps=[
            App(
                path="svc",
                name="inventory",
                language="go",
                framework=Framework(name="gin"),
                kind="web",
                port=Port(value=8080, source="code"),
                healthcheck_path="/ping",
            )
        ],
        services=[Service(kind="postgres")],
        tests=Tests(present=True, command="go test ./..."),
    )


def spring_boot() -> StackProfile:
    return StackProfile(
        languages=_langs("java"),
        apps=[
            App(
                path=".",
                name="billing",
                language="java",
                runtime_version="21",
                package_manager="maven",
                framework=Framework(name="spring-boot"),
                kind="web",
                healthcheck_path="/actuator/health",
            )
        ],
        tests=Tests(present=True, command="mvn -q test"),
    )


def rails_worker() -> StackProfile:
    return StackProfile(
        languages=_langs("ruby"),
        apps=[
            App(
                path=".",
                name="shop",
                language="ruby",
                framework=Framework(name="rails"),
                kind="web",
            )
        ],
        services=[Service(kind="postgres"), Service(kind="redis")],
        workers=[Worker(name="sidekiq", command="bundle exec sidekiq", system="sidekiq")],
        env_vars=[EnvVar(name="RAILS_MASTER_KEY", is_secret=True)],
    )


def generic_language() -> StackProfile:
    """A language without a recipe: the generic Dockerfile."""
    return StackProfile(
        languages=_langs("crystal"),
        apps=[
            App(
                path=".",
                name="edge",
                language="crystal",
                kind="web",
                start_command="./bin/edge",
            )
        ],
    )


def laravel_mysql() -> StackProfile:
    """Laravel as the analysis reports it: dev server start command, cache build steps, a queue."""
    return StackProfile(
        languages=_langs("php"),
        apps=[
            App(path=".", name="helpdesk", language="php", ecosystem="php", runtime_version="8.2",
                package_manager="composer", framework=Framework(name="laravel"), kind="web",
                start_command="php artisan serve --host=0.0.0.0 --port=8000",
                build_command="php artisan config:cache && php artisan route:cache",
                install_command="composer install --no-dev --optimize-autoloader",
                port=Port(value=8000, source="framework_default"), healthcheck_path="/up")
        ],
        services=[Service(kind="mysql"), Service(kind="redis")],
        workers=[Worker(name="queue", command="php artisan queue:work", system="laravel-queue")],
        env_vars=[EnvVar(name="APP_KEY", is_secret=True),
                  EnvVar(name="APP_ENV", is_secret=False, default="production")],
        tests=Tests(present=True, command="php artisan test"),
    )  # fmt: skip


def symfony_postgres() -> StackProfile:
    return StackProfile(
        languages=_langs("php"),
        apps=[
            App(path="api", name="catalog", language="php", ecosystem="php",
                runtime_version="8.4", package_manager="composer",
                framework=Framework(name="symfony"), kind="web")
        ],
        services=[Service(kind="postgres")],
        env_vars=[EnvVar(name="APP_SECRET", is_secret=True)],
    )  # fmt: skip


def plain_php() -> StackProfile:
    """Plain PHP without Composer, served from its public/ folder."""
    return StackProfile(
        languages=_langs("php"),
        apps=[
            App(path=".", name="guestbook", language="php", ecosystem="php",
                framework=Framework(name="php"), kind="web",
                start_command="php -S 0.0.0.0:8080 -t public",
                port=Port(value=8080, source="framework_default"))
        ],
    )  # fmt: skip


def aspnetcore_postgres() -> StackProfile:
    return StackProfile(
        languages=_langs("csharp"),
        apps=[
            App(path="src/Shop.Api", name="Shop.Api", language="csharp", ecosystem="dotnet",
                runtime_version="9.0", package_manager="dotnet",
                framework=Framework(name="aspnetcore", version="9.0"), kind="web",
                build_command="dotnet publish -c Release -o out",
                start_command="dotnet out/Shop.Api.dll",
                port=Port(value=8080, source="framework_default"), healthcheck_path="/healthz")
        ],
        services=[Service(kind="postgres")],
        env_vars=[EnvVar(name="ConnectionStrings__Default", is_secret=True)],
        tests=Tests(present=True, command="dotnet test ../../tests/Shop.Tests/Shop.Tests.csproj"),
    )  # fmt: skip


def rust_axum() -> StackProfile:
    """Axum as the analysis reports it: cargo build, the binary under target/release."""
    return StackProfile(
        languages=_langs("rust"),
        apps=[
            App(path=".", name="edge-api", language="rust", ecosystem="rust",
                package_manager="cargo", framework=Framework(name="axum"), kind="web",
                build_command="cargo build --release",
                start_command="./target/release/edge-api",
                port=Port(value=3000, source="framework_default"), healthcheck_path="/health")
        ],
        services=[Service(kind="postgres"), Service(kind="redis")],
        tests=Tests(present=True, command="cargo test"),
    )  # fmt: skip


def rust_rocket() -> StackProfile:
    """Rocket without a start command: the binary is found after the build."""
    return StackProfile(
        languages=_langs("rust"),
        apps=[
            App(path="server", name="rocket app", language="rust", ecosystem="rust",
                package_manager="cargo", framework=Framework(name="rocket"), kind="web")
        ],
    )  # fmt: skip


def ktor_gradle() -> StackProfile:
    return StackProfile(
        languages=_langs("kotlin"),
        apps=[
            App(path=".", name="tracker", language="kotlin", ecosystem="jvm",
                runtime_version="17", package_manager="gradle",
                framework=Framework(name="ktor"), kind="web",
                build_command="./gradlew buildFatJar",
                start_command="java -jar build/libs/*.jar", healthcheck_path="/health")
        ],
        tests=Tests(present=True, command="./gradlew test"),
    )  # fmt: skip


def worker_only() -> StackProfile:
    """A queue consumer with no HTTP side (no load balancer, no URL)."""
    return StackProfile(
        languages=_langs("python"),
        apps=[
            App(path=".", name="mailer", language="python", kind="worker",
                start_command="rq worker --url $REDIS_URL")
        ],
        services=[Service(kind="redis")],
        env_vars=[EnvVar(name="SMTP_PASSWORD", is_secret=True)],
    )  # fmt: skip


def monorepo() -> StackProfile:
    """A monorepo: a Next.js front end, a FastAPI API, a queue worker and a static admin site."""
    return StackProfile(
        languages=_langs("typescript"),
        apps=[
            App(path="apps/web", name="web", language="typescript", ecosystem="node",
                package_manager="npm", framework=Framework(name="nextjs"), kind="web",
                build_command="npm run build", start_command="npm start",
                port=Port(value=3000, source="code"), healthcheck_path="/")
            ,
            App(path="apps/api", name="api", language="python", ecosystem="python",
                runtime_version="3.12", package_manager="pip", framework=Framework(name="fastapi"),
                kind="web", start_command="uvicorn main:app --host 0.0.0.0 --port $PORT",
                port=Port(value=8000, source="code", env_var="PORT"), healthcheck_path="/health"),
            App(path="apps/jobs", name="jobs", language="python", ecosystem="python", kind="worker",
                start_command="python -m jobs"),
            App(path="apps/admin", name="admin", language="typescript", ecosystem="node",
                package_manager="npm", framework=Framework(name="vite"), kind="static",
                build_command="npm run build", static_output_dir="dist"),
            App(path="tools/cli", name="cli", language="go", kind="cli"),
        ],
        services=[Service(kind="postgres"), Service(kind="redis")],
        workers=[Worker(name="celery", app_path="apps/api", command="celery -A api worker",
                        system="celery")],
        env_vars=[EnvVar(name="JWT_SECRET", is_secret=True),
                  EnvVar(name="PUBLIC_URL", is_secret=False, default="http://localhost:3000")],
        tests=Tests(present=True, command="npm test --workspaces"),
    )  # fmt: skip


def node_external_services() -> StackProfile:
    """MongoDB, RabbitMQ and Elasticsearch: services the bundle leaves to the user."""
    return StackProfile(
        languages=_langs("javascript"),
        apps=[
            App(path=".", name="catalog", language="javascript", ecosystem="node",
                package_manager="npm", framework=Framework(name="express"), kind="web",
                start_command="node index.js", port=Port(value=3000, source="code"),
                healthcheck_path="/health")
        ],
        services=[Service(kind="mongodb"), Service(kind="rabbitmq"),
                  Service(kind="elasticsearch")],
        env_vars=[EnvVar(name="MONGO_URI", is_secret=False, default="mongodb://localhost/app"),
                  EnvVar(name="ELASTIC_APM_SERVICE_NAME", is_secret=False, default="catalog"),
                  EnvVar(name="SESSION_SECRET", is_secret=True)],
        tests=Tests(present=True, command="npm test"),
    )  # fmt: skip


HOSTILE = "x\"; }\n${jndi} %{ if true }${{ secrets.GITHUB_TOKEN }}'$(rm -rf /)`id`\r\\"


def hostile() -> StackProfile:
    """Every user-controlled string tries to break out of the file it lands in."""
    return StackProfile(
        languages=_langs("python"),
        apps=[
            App(
                path="../../etc",
                name=f"evil{HOSTILE}",
                language="python",
                kind="web",
                framework=Framework(name=f"flask{HOSTILE}"),
                start_command=f"gunicorn app:app {HOSTILE}",
                build_command=f"make {HOSTILE}",
                healthcheck_path=f"/h{HOSTILE}",
                static_output_dir=f"../{HOSTILE}",
            )
        ],
        services=[Service(kind="postgres")],
        workers=[Worker(name=f"w{HOSTILE}", command=f"run-worker {HOSTILE}")],
        env_vars=[
            EnvVar(name="PLAIN", is_secret=False, default=HOSTILE),
            EnvVar(name=f"BAD{HOSTILE}", is_secret=False, default="v"),
            EnvVar(name=f"SEC{HOSTILE}", is_secret=True),
        ],
        tests=Tests(present=True, command=f"pytest {HOSTILE}"),
    )


def hostile_monorepo() -> StackProfile:
    """Companion apps with hostile names, commands, health paths and folders."""
    return StackProfile(
        languages=_langs("python"),
        apps=[
            App(path=".", name="main", language="python", kind="web"),
            App(path="svc", name=f"api{HOSTILE}", language="php", ecosystem="php", kind="web",
                start_command=f"php server.php {HOSTILE}", healthcheck_path=f"/h{HOSTILE}",
                build_command=f"make {HOSTILE}"),
            App(path=f"w{HOSTILE}", name="escape", language="go", kind="worker"),
            App(path="jobs", name=f"jobs{HOSTILE}", language="rust", kind="worker",
                start_command=f"./target/release/jobs {HOSTILE}"),
        ],
        services=[Service(kind="postgres"), Service(kind="mongodb")],
        workers=[Worker(name=f"w{HOSTILE}", app_path="svc", command=f"php artisan {HOSTILE}")],
        env_vars=[EnvVar(name=f"MONGO{HOSTILE}_URL", is_secret=False, default=HOSTILE)],
    )  # fmt: skip


def hostile_stateless() -> StackProfile:
    """The hostile app without services or workers, so that it fits Lambda too."""
    base = hostile()
    return base.model_copy(update={"services": [], "workers": []})


def hostile_static() -> StackProfile:
    return StackProfile(
        languages=_langs("javascript"),
        apps=[
            App(
                path=f"web{HOSTILE}",
                name=f"site{HOSTILE}",
                language="javascript",
                kind="static",
                build_command=f"npm run build {HOSTILE}",
                static_output_dir=f"out{HOSTILE}",
            )
        ],
    )


PROFILES = {
    "flask_postgres": flask_postgres,
    "fastapi_stateless": fastapi_stateless,
    "django_sqlite_celery": django_sqlite_celery,
    "express_mysql": express_mysql,
    "static_site": nextjs_static,
    "hugo_site": hugo_site,
    "mkdocs_site": mkdocs_site,
    "plain_html": plain_html,
    "go_api": go_api,
    "spring_boot": spring_boot,
    "rails_worker": rails_worker,
    "generic_language": generic_language,
    "laravel_mysql": laravel_mysql,
    "symfony_postgres": symfony_postgres,
    "plain_php": plain_php,
    "aspnetcore_postgres": aspnetcore_postgres,
    "rust_axum": rust_axum,
    "rust_rocket": rust_rocket,
    "ktor_gradle": ktor_gradle,
    "monorepo": monorepo,
    "node_external_services": node_external_services,
    "worker_only": worker_only,
    "hostile": hostile,
    "hostile_stateless": hostile_stateless,
    "hostile_static": hostile_static,
    "hostile_monorepo": hostile_monorepo,
}
