"""Render a bundle's files from the jinja2 templates in ``chalicelib/templates``.

The Environment is built once per process (lazily, on first use) so the
templates compile once; ``StrictUndefined`` turns a missing value into an error
instead of an empty string. Autoescape is off: every user-controlled value goes
through an explicit per-language filter from ``escaping``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from chalicelib.generate import escaping
from chalicelib.generate.hclfmt import align_assignments
from chalicelib.generate.stack import StackContext
from chalicelib.models.templates import CostSummary, Recommendation, Target

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
TERRAFORM_VERSION = "1.10.5"

_env: Any = None
_env_lock = threading.Lock()

# Pinned base images per Dockerfile family: (build, runtime) by runtime version.
_IMAGES: dict[str, dict[str, tuple[str, str]]] = {
    "python": {
        v: (f"python:{p}-slim-bookworm", f"python:{p}-slim-bookworm")
        for v, p in {
            "3.9": "3.9.21",
            "3.10": "3.10.16",
            "3.11": "3.11.11",
            "3.12": "3.12.8",
            "3.13": "3.13.1",
        }.items()
    },
    "node": {
        v: (f"node:{p}-alpine3.20", f"node:{p}-alpine3.20")
        for v, p in {"18": "18.20.5", "20": "20.18.1", "22": "22.12.0"}.items()
    },
    "static": {"22": ("node:22.12.0-alpine3.20", "nginxinc/nginx-unprivileged:1.27.3-alpine3.20")},
    "go": {"1.23": ("golang:1.23.4-alpine3.20", "alpine:3.20.3")},
    "java": {
        "21": ("maven:3.9.9-eclipse-temurin-21-alpine", "eclipse-temurin:21.0.5_11-jre-alpine"),
        "17": ("maven:3.9.9-eclipse-temurin-17-alpine", "eclipse-temurin:17.0.13_11-jre-alpine"),
    },
    "ruby": {
        v: (f"ruby:{p}-slim-bookworm", f"ruby:{p}-slim-bookworm")
        for v, p in {"3.2": "3.2.6", "3.3": "3.3.6"}.items()
    },
    "generic": {"": ("debian:bookworm-20241202-slim", "debian:bookworm-20241202-slim")},
}
_DEFAULT_VERSION = {
    "python": "3.12",
    "node": "22",
    "static": "22",
    "go": "1.23",
    "java": "21",
    "ruby": "3.3",
    "generic": "",
}
_GRADLE_IMAGE = "gradle:8.11.1-jdk21-alpine"


def environment() -> Any:
    """The process-wide jinja2 Environment (built on first use)."""
    global _env
    if _env is None:
        with _env_lock:
            if _env is None:
                import jinja2  # imported lazily: only template generation needs it

                env = jinja2.Environment(
                    loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
                    undefined=jinja2.StrictUndefined,
                    autoescape=False,  # noqa: S701 - not HTML; explicit per-language filters instead
                    trim_blocks=True,
                    lstrip_blocks=True,
                    keep_trailing_newline=True,
                    auto_reload=False,
                    cache_size=-1,
                )
                env.filters.update(
                    hcl=escaping.hcl_string,
                    yaml=escaping.yaml_string,
                    gha=escaping.gha_string,
                    compose=escaping.compose_string,
                    sh=escaping.shell_quote,
                    json=escaping.json_string,
                    dexec=escaping.dockerfile_exec,
                    tftpl=escaping.tftpl_escape,
                    ident=escaping.identifier,
                )
                _env = env
    return _env


_STATIC_BUILD_IMAGES = {
    "node": "node:22.12.0-alpine3.20",
    "hugo": "alpine:3.20.3",
    "python": "python:3.12.8-slim-bookworm",
    "ruby": "ruby:3.3.6-slim-bookworm",
    "none": "node:22.12.0-alpine3.20",
}


_NEVER_PUBLISHED = (".git/*", ".github/*", "infra/*", ".env*", "Dockerfile", ".dockerignore",
                    "docker-compose.yml")  # fmt: skip


def static_tool(ctx: StackContext) -> str:
    """What builds a static site: node, hugo, python (MkDocs), ruby (Jekyll), or none."""
    if not ctx.build_command:
        return "none"
    if ctx.framework == "hugo":
        return "hugo"
    if ctx.framework == "mkdocs" or ctx.language in ("python", "markdown"):
        return "python"
    if ctx.framework == "jekyll" or ctx.language == "ruby":
        return "ruby"
    return "node"


def _images(ctx: StackContext) -> tuple[dict[str, str], str]:
    table = _IMAGES[ctx.family]
    version = _DEFAULT_VERSION[ctx.family]
    if ctx.runtime_version and ctx.family != "static":
        wanted = ctx.runtime_version.lstrip("v^~>=< ")
        for known in table:
            if known and (wanted == known or wanted.startswith(known + ".")):
                version = known
                break
    build, runtime = table[version]
    if ctx.family == "java" and ctx.package_manager == "gradle":
        build = _GRADLE_IMAGE
    if ctx.family == "static":
        build = _STATIC_BUILD_IMAGES[static_tool(ctx)]
    return {"build": build, "runtime": runtime}, version


def _start_command(ctx: StackContext) -> tuple[str, str | None]:
    """The app's start command and a server package the image must add, if any."""
    if ctx.start_command:
        return ctx.start_command, None
    fw = ctx.framework
    if ctx.family == "python":
        if fw == "flask":
            return "gunicorn --bind 0.0.0.0:$PORT app:app", "gunicorn==23.0.0"
        if fw == "fastapi":
            return "uvicorn main:app --host 0.0.0.0 --port $PORT", "uvicorn==0.32.1"
        if fw == "django":
            return (
                'gunicorn --bind 0.0.0.0:$PORT "$(basename "$(dirname "$(find . -maxdepth 2 '
                '-name wsgi.py | head -n 1)")")".wsgi',
                "gunicorn==23.0.0",
            )
        return "python main.py", None
    if ctx.family == "node":
        return "npm start", None
    if ctx.family == "go":
        return "exec /usr/local/bin/server", None
    if ctx.family == "java":
        return "exec java -jar /app/app.jar", None
    if ctx.family == "ruby":
        if fw == "rails":
            return "bundle exec rails server -b 0.0.0.0 -p $PORT", None
        return "bundle exec rackup -o 0.0.0.0 -p $PORT", None
    return "./start", None


def _compose_services(ctx: StackContext) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    services: list[dict[str, Any]] = []
    env: list[tuple[str, str]] = []
    if ctx.database == "postgres":
        services.append(
            {
                "name": "postgres",
                "image": "postgres:16.6-alpine3.20",
                "volume": "/var/lib/postgresql/data",
                "environment": [
                    ("POSTGRES_USER", "app"),
                    ("POSTGRES_PASSWORD", "app"),
                    ("POSTGRES_DB", "app"),
                ],
                "healthcheck": '["CMD", "pg_isready", "-U", "app"]',
                "command": None,
            }
        )
        env += [
            ("DB_HOST", "postgres"),
            ("DB_PORT", "5432"),
            ("DB_NAME", "app"),
            ("DB_USER", "app"),
            ("DB_PASSWORD", "app"),
            ("DATABASE_URL", "postgresql://app:app@postgres:5432/app"),
        ]
    elif ctx.database == "mysql":
        services.append(
            {
                "name": "mysql",
                "image": "mysql:8.4.3",
                "volume": "/var/lib/mysql",
                "environment": [
                    ("MYSQL_USER", "app"),
                    ("MYSQL_PASSWORD", "app"),
                    ("MYSQL_DATABASE", "app"),
                    ("MYSQL_RANDOM_ROOT_PASSWORD", "yes"),
                ],
                "healthcheck": '["CMD", "mysqladmin", "ping", "-h", "127.0.0.1"]',
                "command": None,
            }
        )
        env += [
            ("DB_HOST", "mysql"),
            ("DB_PORT", "3306"),
            ("DB_NAME", "app"),
            ("DB_USER", "app"),
            ("DB_PASSWORD", "app"),
            ("DATABASE_URL", "mysql://app:app@mysql:3306/app"),
        ]
    if ctx.redis:
        services.append(
            {
                "name": "redis",
                "image": "redis:7.4.1-alpine3.20",
                "volume": None,
                "environment": [],
                "healthcheck": '["CMD", "redis-cli", "ping"]',
                "command": None,
            }
        )
        env.append(("REDIS_URL", "redis://redis:6379/0"))
    if ctx.object_storage:
        services.append(
            {
                "name": "minio",
                "image": "minio/minio:RELEASE.2024-11-07T00-52-20Z",
                "volume": "/data",
                "environment": [
                    ("MINIO_ROOT_USER", "minio"),
                    ("MINIO_ROOT_PASSWORD", "minio-local-only"),
                ],
                "healthcheck": None,
                "command": '["server", "/data"]',
            }
        )
        env += [(storage_env_name(ctx), "app"), ("AWS_ENDPOINT_URL_S3", "http://minio:9000")]
    extra = {
        "mongodb": (
            "mongo",
            "mongo:7.0.16",
            "/data/db",
            ("MONGODB_URL", "mongodb://mongo:27017/app"),
        ),
        "rabbitmq": (
            "rabbitmq",
            "rabbitmq:3.13.7-alpine",
            None,
            ("RABBITMQ_URL", "amqp://guest:guest@rabbitmq:5672/"),
        ),
        "elasticsearch": (
            "elasticsearch",
            "elasticsearch:8.16.1",
            None,
            ("ELASTICSEARCH_URL", "http://elasticsearch:9200"),
        ),
    }
    for kind in ctx.services:
        if kind in extra:
            name, image, volume, pair = extra[kind]
            environment = (
                [("discovery.type", "single-node"), ("xpack.security.enabled", "false")]
                if kind == "elasticsearch"
                else []
            )
            services.append(
                {
                    "name": name,
                    "image": image,
                    "volume": volume,
                    "environment": environment,
                    "healthcheck": None,
                    "command": None,
                }
            )
            env.append(pair)
    known = {e.name for e in ctx.env} | set(ctx.secrets)
    # Detected env vars with the same name keep their place; service values override them locally.
    return services, [(k, v) for k, v in env if k not in known or k in _SERVICE_OWNED]


_SERVICE_OWNED = {
    "DATABASE_URL",
    "REDIS_URL",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_PASSWORD",
}


def hosted_zone_of(domain: str) -> str:
    """The zone that most likely holds ``domain``: its parent, or itself at the apex."""
    labels = domain.split(".")
    return ".".join(labels[1:]) if len(labels) > 2 else domain


def storage_env_name(ctx: StackContext) -> str:
    """The env var carrying the files bucket name: the app's own if it reads one."""
    for name in [e.name for e in ctx.env] + ctx.secrets:
        if "BUCKET" in name.upper():
            return name
    return "S3_BUCKET"


_FILE_ROLES = {
    "infra/versions.tf": "Terraform and AWS provider versions, S3 state backend",
    "infra/providers.tf": "AWS provider: assumes your role, tags every resource",
    "infra/variables.tf": "inputs, typed and described",
    "infra/outputs.tf": "the app's URL first, then what CI and you need",
    "infra/static.tf": "private S3 bucket and CloudFront with origin access control",
    "infra/network.tf": "the default VPC's public subnets (no NAT gateway)",
    "infra/environment.tf": "the app's env vars and SSM parameters for its secrets",
    "infra/ecr.tf": "the image repository",
    "infra/access.tf": "what the running app may do in AWS",
    "infra/security_groups.tf": "the app's firewall",
    "infra/data.tf": "database, cache and file bucket",
    "infra/ec2.tf": "the instance, its role (SSM, no SSH) and its Elastic IP",
    "infra/user_data.sh.tftpl": "first boot: Docker and the deploy script",
    "infra/ecs.tf": "cluster, task definitions, services, load balancer, logs",
    "infra/lambda.tf": "the function, its HTTP API and logs",
    "infra/domain.tf": "the custom domain: certificate and DNS records",
    "infra/README.md": "this file",
    "docker-compose.yml": "local development with the app's services",
    ".github/workflows/deploy.yml": "test, build, plan on pull requests, apply on main (OIDC)",
}


def _file_table(paths: list[str]) -> list[tuple[str, str]]:
    rows = []
    for path in paths:
        if path.endswith("Dockerfile"):
            rows.append((path, "the app's image: multi-stage, non-root, health check"))
        elif path.endswith(".dockerignore"):
            rows.append((path, "what stays out of the image"))
        else:
            rows.append((path, _FILE_ROLES.get(path, "")))
    return rows


def _data_services_needed(ctx: StackContext, target: Target) -> bool:
    return target != "static" and bool(ctx.database or ctx.redis or ctx.object_storage)


def _commands(ctx: StackContext, target: Target) -> dict[str, str]:
    """Shell commands for the workflow and README (user values already shell-quoted)."""
    app_dir = ctx.app_dir
    prefix = "" if app_dir == "." else app_dir + "/"
    state_key = f"{ctx.name}/terraform.tfstate"
    init_command = (
        'terraform init -input=false -backend-config="bucket=$TF_STATE_BUCKET" '
        f'-backend-config="key={state_key}" -backend-config="region={ctx.region}" '
        '-backend-config="use_lockfile=true"'
    )
    docker_platform = " --platform linux/arm64" if ctx.arm and target == "ec2" else ""
    build_context = escaping.shell_quote(app_dir)
    push_command = (
        'IMAGE="$(terraform -chdir=infra output -raw ecr_repository_url):${GITHUB_SHA}" && '
        f'docker build{docker_platform} -t "$IMAGE" {build_context} && docker push "$IMAGE"'
    )
    if ctx.build_command:  # the Dockerfile's build stage builds the site, whatever the tool
        site_dir = "_site_build"
        build_site_command = (
            f"docker build --target build -t site-build {build_context} && "
            'id="$(docker create site-build)" && '
            f'docker cp "$id":{escaping.shell_quote("/app/" + ctx.static_output_dir + "/.")} '
            f'{site_dir} && docker rm "$id"'
        )
        out_dir = site_dir
    else:
        build_site_command = "echo 'Nothing to build: the site is uploaded as it is'"
        out_dir = escaping.shell_quote(f"{prefix}{ctx.static_output_dir}".lstrip("/") or ".")
    # Never publish the repository's own files when the site is served from its root.
    excludes = " ".join(f'--exclude "{p}"' for p in _NEVER_PUBLISHED)
    upload_command = (
        f"aws s3 sync {out_dir} "
        '"s3://$(terraform -chdir=infra output -raw site_bucket)" --delete '
        f"{excludes} && "
        "aws cloudfront create-invalidation --distribution-id "
        '"$(terraform -chdir=infra output -raw cloudfront_distribution_id)" --paths "/*"'
    )
    ec2_deploy_command = (
        "aws ssm send-command --document-name AWS-RunShellScript "
        '--instance-ids "$(terraform output -raw instance_id)" '
        '--parameters "commands=[\\"/usr/local/bin/app-deploy ${GITHUB_SHA}\\"]"'
    )
    return {
        "init_command": init_command,
        "push_command": push_command,
        "upload_command": upload_command,
        "build_site_command": build_site_command,
        "ec2_deploy_command": ec2_deploy_command,
        "build_image_command": f"docker build{docker_platform} -t app:ci {build_context}",
    }


def render_files(
    ctx: StackContext,
    target: Target,
    recommendation: Recommendation,
    cost: CostSummary,
    warnings: list[str],
) -> dict[str, str]:
    env = environment()
    images, tool_version = _images(ctx)
    start_command, server_package = _start_command(ctx)
    compose_services, local_service_env = _compose_services(ctx)
    prefix = "" if ctx.app_dir == "." else ctx.app_dir + "/"
    this_estimate = next(e for e in cost.targets if e.target == target)
    ecs_services = [
        {"name": "app", "ident": "app", "command": None, "web": ctx.app.kind != "worker"}
    ]
    ecs_services += [
        {
            "name": f"worker-{w.name}",
            "ident": f"worker_{w.ident}",
            "command": w.command,
            "web": False,
        }
        for w in ctx.workers
    ]
    domain = (
        ctx.options.domain if not (target == "ecs-fargate" and ctx.app.kind == "worker") else None
    )
    values: dict[str, Any] = {
        "static_tool": static_tool(ctx) if ctx.family == "static" else "none",
        "domain": domain,
        "hosted_zone": hosted_zone_of(domain) if domain else None,
        "ctx": ctx,
        "target": target,
        "images": images,
        "tool_version": tool_version or "stable",
        "start_command": start_command,
        "needs_server_package": server_package,
        "compose_services": compose_services,
        "local_service_env": local_service_env,
        "volumes": [f"{s['name']}-data" for s in compose_services if s["volume"]]
        + (["app-data"] if ctx.uses_sqlite else []),
        "storage_env": storage_env_name(ctx),
        "terraform_version": TERRAFORM_VERSION,
        **_commands(ctx, target),
        "ecs_services": ecs_services,
        "recommendation": recommendation,
        "cost": cost,
        "this_estimate": this_estimate,
        "warnings": warnings,
        "file_table": [],
        "deploy_script": "",
    }

    def render(name: str) -> str:
        return env.get_template(name).render(values)

    def hcl(name: str) -> str:
        return align_assignments(render(f"terraform/{name}.j2"))

    files: dict[str, str] = {
        "infra/versions.tf": hcl("versions.tf"),
        "infra/providers.tf": hcl("providers.tf"),
        "infra/variables.tf": hcl("variables.tf"),
    }
    if target == "static":
        files["infra/static.tf"] = hcl("static.tf")
    else:
        files["infra/network.tf"] = hcl("network.tf")
        files["infra/environment.tf"] = hcl("environment.tf")
        files["infra/ecr.tf"] = hcl("ecr.tf")
        files["infra/access.tf"] = hcl("app_access.tf")
        if target in ("ec2", "ecs-fargate"):
            files["infra/security_groups.tf"] = hcl("app_sg.tf")
        if _data_services_needed(ctx, target):
            files["infra/data.tf"] = hcl("data.tf")
        if target == "ec2":
            files["infra/ec2.tf"] = hcl("ec2.tf")
            values["deploy_script"] = _deploy_script()
            files["infra/user_data.sh.tftpl"] = render("terraform/user_data.sh.tftpl.j2")
        elif target == "ecs-fargate":
            files["infra/ecs.tf"] = hcl("ecs.tf")
        elif target == "lambda":
            files["infra/lambda.tf"] = hcl("lambda.tf")
    if domain:
        files["infra/domain.tf"] = hcl("domain.tf")
    files["infra/outputs.tf"] = hcl("outputs.tf")
    files[f"{prefix}Dockerfile"] = render(f"docker/{ctx.family}.Dockerfile.j2")
    files[f"{prefix}.dockerignore"] = render("docker/dockerignore.j2")
    files["docker-compose.yml"] = render("docker/compose.yml.j2")
    files[".github/workflows/deploy.yml"] = render("ci/deploy.yml.j2")
    values["file_table"] = _file_table([*files, "infra/README.md"])
    files["infra/README.md"] = render("terraform/README.md.j2")
    return files


_deploy_script_text: str | None = None


def _deploy_script() -> str:
    """The instance's deploy script (a plain file, not a template), read once."""
    global _deploy_script_text
    if _deploy_script_text is None:
        _deploy_script_text = (TEMPLATES_DIR / "terraform" / "app_deploy.py").read_text()
    return _deploy_script_text
