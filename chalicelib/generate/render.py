"""Render a bundle's files from the jinja2 templates in ``chalicelib/templates``.

The Environment is built once per process (lazily, on first use) so the
templates compile once; ``StrictUndefined`` turns a missing value into an error
instead of an empty string. Autoescape is off: every user-controlled value goes
through an explicit per-language filter from ``escaping``.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from chalicelib.generate import escaping
from chalicelib.generate.dockerfiles import COMPOSER_IMAGE, docker_recipe, static_tool
from chalicelib.generate.hclfmt import align_assignments
from chalicelib.generate.site_build import site_build
from chalicelib.generate.stack import StackContext
from chalicelib.models.plan import AppPlan
from chalicelib.models.templates import CostSummary, Recommendation, Target

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
TERRAFORM_VERSION = "1.10.5"

_env: Any = None
_env_lock = threading.Lock()
_NEVER_PUBLISHED = (".git/*", ".github/*", "infra/*", ".env*", "Dockerfile", ".dockerignore",
                    "docker-compose.yml")  # fmt: skip


def _hcl_map(mapping: dict[str, str]) -> str:
    """A one-line HCL object of strings (``{}`` when empty, as terraform fmt writes it)."""
    if not mapping:
        return "{}"
    items = ", ".join(
        f"{escaping.hcl_string(k)} = {escaping.hcl_string(v)}" for k, v in mapping.items()
    )
    return "{ " + items + " }"


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
                    steps=escaping.shell_steps,
                    tftpl=escaping.tftpl_escape,
                    ident=escaping.identifier,
                    hcl_list=lambda items: "[" + ", ".join(map(escaping.hcl_string, items)) + "]",
                    hcl_map=_hcl_map,
                )
                _env = env
    return _env


_DB_FACTS = {"user": "$DB_USER", "host": "$DB_HOST", "port": "$DB_PORT", "db": "$DB_NAME"}
_TF_DB_FACTS = {
    "{host}": "aws_db_instance.main.address",
    "{port}": "tostring(aws_db_instance.main.port)",
    "{db}": "aws_db_instance.main.db_name",
    "{user}": "aws_db_instance.main.username",
}
_FIXED_DB_ENV = frozenset({"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER"})


def database_wiring(plan: AppPlan) -> tuple[list[tuple[str, str]], list[str], dict[str, str]]:
    """The plan's database variables split by how they are set.

    (name, HCL expression) for plain ones Terraform sets; the names that carry the
    password (injected from the RDS secret); the templates that embed it (URLs, composed
    where the password is known: in the container or by the deploy script).
    """
    plain: list[tuple[str, str]] = []
    passwords: list[str] = []
    urls: dict[str, str] = {}
    for binding in plan.services:
        if binding.kind not in ("postgresql", "mysql"):
            continue
        for name, template in binding.env.items():
            if template == "{password}":
                passwords.append(name)
            elif "{password}" in template:
                urls[name] = template
            elif name not in _FIXED_DB_ENV:
                expression = _TF_DB_FACTS.get(template)
                if expression is None:
                    parts = re.split(r"(\{\w+\})", template)
                    expression = escaping.hcl_string("".join(
                        "${" + _TF_DB_FACTS[p] + "}" if p in _TF_DB_FACTS else p
                        for p in parts
                    ))  # fmt: skip
                    expression = expression.replace("$${", "${")
                plain.append((name, expression))
    if "DB_PASSWORD" not in passwords:
        passwords.insert(0, "DB_PASSWORD")
    return plain, passwords, urls


def _with_database_url(ctx: StackContext, command: str, plan: AppPlan | None = None) -> str:
    """``command`` run after composing the database URLs from the DB_* settings ECS injects.

    ECS can inject the password but not build a URL around it, so the container
    does it: every byte of the password is percent-encoded with POSIX tools only
    (od, tr, sed exist in every base image used here).
    """
    percent_encoded = (
        "$(printf '%s' \"$DB_PASSWORD\" | od -An -tx1 -v | tr -d ' \\n' | sed 's/../%&/g')"
    )
    scheme = "postgresql" if ctx.database == "postgres" else "mysql"
    tls = "?sslmode=require" if ctx.database == "postgres" else ""
    urls = (
        database_wiring(plan)[2]
        if plan is not None
        else {"DATABASE_URL": f"{scheme}://{{user}}:{{password}}@{{host}}:{{port}}/{{db}}{tls}"}
    )
    exports = [
        f'export {name}="'
        + template.replace("{password}", percent_encoded).format(**_DB_FACTS)
        + '"'
        for name, template in urls.items()
    ]
    if not exports:
        return command
    return " && ".join(exports) + f" && exec /bin/sh -c {escaping.shell_quote(command)}"


def _compose_services(
    ctx: StackContext, plan: AppPlan | None = None
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
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
    names = {service.kind: service.env_name for service in ctx.external}
    extra = {
        "mongodb": (
            "mongo",
            "mongo:7.0.16",
            "/data/db",
            (names.get("mongodb", "MONGODB_URL"), "mongodb://mongo:27017/app"),
        ),
        "rabbitmq": (
            "rabbitmq",
            "rabbitmq:3.13.7-alpine",
            None,
            (names.get("rabbitmq", "RABBITMQ_URL"), "amqp://guest:guest@rabbitmq:5672/"),
        ),
        "elasticsearch": (
            "elasticsearch",
            "elasticsearch:8.16.1",
            None,
            (names.get("elasticsearch", "ELASTICSEARCH_URL"), "http://elasticsearch:9200"),
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
    plan_owned: set[str] = set()
    if plan is not None and ctx.database:
        # The plan's wiring (SPRING_DATASOURCE_*, Laravel DB_*, PG*) against the local
        # container, which speaks no TLS.
        host = "postgres" if ctx.database == "postgres" else "mysql"
        port = "5432" if ctx.database == "postgres" else "3306"
        facts = {"user": "app", "password": "app", "host": host, "port": port, "db": "app"}
        present = {name for name, _ in env}
        for binding in plan.services:
            if binding.kind not in ("postgresql", "mysql"):
                continue
            for name, template in binding.env.items():
                value = template.format(**facts).replace("?sslmode=require", "")
                value = value.replace("?sslMode=REQUIRED", "")
                if name not in present and name not in ("DB_SSLMODE", "PGSSLMODE"):
                    env.append((name, value))
                    plan_owned.add(name)
    known = {e.name for e in ctx.env} | set(ctx.secrets)
    # Detected env vars with the same name keep their place; service values override them locally.
    owned = _SERVICE_OWNED | plan_owned | set(names.values())  # local containers stand in
    return services, [(k, v) for k, v in env if k not in known or k in owned]


_SERVICE_OWNED = {
    "DATABASE_URL",
    "REDIS_URL",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_PASSWORD",
}


def _compose_env(plan: AppPlan, local: dict[str, str]) -> list[tuple[str, str | None]]:
    """The app's variables for docker-compose: defaults with their value; required settings
    and secrets by name only (from the .env file when set there, else unset, never "");
    optional ones are left out. Local service containers set their own."""
    env: list[tuple[str, str | None]] = []
    for entry in plan.env:
        if entry.name in local or entry.kind == "optional":
            continue
        env.append((entry.name, entry.value if entry.kind == "default" else None))
    env += [(s.name, None) for s in plan.secrets if s.name not in local]
    return env


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
    "infra/codebuild.tf": "the image build in your account: CodeBuild, its source bucket and logs",
    "infra/buildspec.yml": "CodeBuild's steps: docker build and push, tagged IMAGE_TAG",
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


_STATIC_FILE_ROLES = {
    "infra/codebuild.tf": "the site build in your account: CodeBuild, its source bucket and logs",
    "infra/buildspec.yml": "CodeBuild's steps: the site's build, uploaded to releases/IMAGE_TAG/",
}


def _file_table(paths: list[str], target: Target) -> list[tuple[str, str]]:
    roles = {**_FILE_ROLES, **_STATIC_FILE_ROLES} if target == "static" else _FILE_ROLES
    rows = []
    for path in paths:
        if path.endswith("Dockerfile"):
            rows.append((path, "the app's image: multi-stage, non-root, health check"))
        elif path.endswith(".dockerignore"):
            rows.append((path, "what stays out of the image"))
        else:
            rows.append((path, roles.get(path, "")))
    return rows


def _data_services_needed(ctx: StackContext, target: Target) -> bool:
    return target != "static" and bool(ctx.database or ctx.redis or ctx.object_storage)


def _docker_source(app_dir: str, context: str) -> str:
    """``docker build`` arguments: the context, and the Dockerfile when it lies deeper."""
    if context == app_dir:
        return escaping.shell_quote(app_dir)
    dockerfile = escaping.shell_quote(f"{app_dir}/Dockerfile")
    return f"-f {dockerfile} {escaping.shell_quote(context)}"


def _commands(ctx: StackContext, target: Target, plan_context: str) -> dict[str, str]:
    """Shell commands for the workflow and README (user values already shell-quoted)."""
    app_dir = ctx.app_dir
    prefix = "" if app_dir == "." else app_dir + "/"
    state_key = f"{ctx.name}/terraform.tfstate"
    init_command = (
        'terraform init -input=false -backend-config="bucket=$TF_STATE_BUCKET" '
        f'-backend-config="key={state_key}" -backend-config="region={ctx.region}" '
        '-backend-config="use_lockfile=true"'
    )
    docker_platform = platform_flag(ctx, target)
    build_context = _docker_source(app_dir, plan_context)
    push_command = (
        'IMAGE="$(terraform -chdir=infra output -raw ecr_repository_url):${GITHUB_SHA}" && '
        f"{_SKIP_PUSHED}"
        f'docker build{docker_platform} -t "$IMAGE" {build_context} && docker push "$IMAGE"; fi'
    )
    if ctx.build_command:  # the Dockerfile's build stage builds the site, whatever the tool
        site_dir = "_site_build"
        build_site_command = (
            "docker build --target build "
            '--build-arg SITE_URL="$(terraform -chdir=infra output -raw app_url)/" '
            f"-t site-build {build_context} && "
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
    ec2_deploy_script = "\n".join(_EC2_DEPLOY_STEPS)
    return {
        "init_command": init_command,
        "push_command": push_command,
        "upload_command": upload_command,
        "build_site_command": build_site_command,
        "ec2_deploy_script": ec2_deploy_script,
        "build_image_command": f"docker build{docker_platform} -t app:ci {build_context}",
    }


# A re-run of a job pushes the same tag again: ECR tags are immutable, so an image already
# pushed for this commit is kept (the build is the same source) instead of failing the push.
_SKIP_PUSHED = (
    'if docker manifest inspect "$IMAGE" >/dev/null 2>&1; then '
    'echo "$IMAGE is already pushed"; else '
)
# EC2: ask the instance to deploy through SSM, wait for the command and report its result.
# A new instance's agent may not have registered yet: the send is retried for a while.
_EC2_DEPLOY_STEPS = (
    'INSTANCE="$(terraform output -raw instance_id)"',
    "for attempt in $(seq 1 30); do",
    '  COMMAND_ID="$(aws ssm send-command --document-name AWS-RunShellScript '
    '--instance-ids "$INSTANCE" --comment "deploy ${GITHUB_SHA}" '
    '--parameters "commands=[\\"/usr/local/bin/app-deploy ${GITHUB_SHA}\\"]" '
    '--query Command.CommandId --output text)" && break',
    '  echo "The instance is not registered with SSM yet (attempt $attempt); waiting"',
    "  sleep 10",
    "done",
    'test -n "$COMMAND_ID"',
    'aws ssm wait command-executed --command-id "$COMMAND_ID" --instance-id "$INSTANCE" || true',
    'STATUS="$(aws ssm get-command-invocation --command-id "$COMMAND_ID" '
    '--instance-id "$INSTANCE" --query Status --output text)"',
    'aws ssm get-command-invocation --command-id "$COMMAND_ID" --instance-id "$INSTANCE" '
    "--query '[StandardOutputContent, StandardErrorContent]' --output text",
    'echo "Deploy: $STATUS"',
    'test "$STATUS" = "Success"',
)


# The release function's command: a minimal Lambda runtime that runs $AUTOSTACK_RELEASE once per
# invocation and reports success or failure. Python images use Python (no wget in Debian slim);
# the Alpine-based images use busybox wget.
_RELEASE_RUNTIME_PYTHON = (
    "exec python -c 'import os, subprocess, urllib.request as u\n"
    'api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"\n'
    "while True:\n"
    '    r = u.urlopen(api + "next"); rid = r.headers["Lambda-Runtime-Aws-Request-Id"]; r.read()\n'
    '    ok = subprocess.call(["/bin/sh", "-c", os.environ["AUTOSTACK_RELEASE"]]) == 0\n'
    '    body = b"{}" if ok else b"{\\"errorMessage\\": \\"the release command failed\\"}"\n'
    '    u.urlopen(u.Request(api + rid + ("/response" if ok else "/error"), data=body,'
    ' method="POST")).read()\''
)
_RELEASE_RUNTIME_WGET = (
    'API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"; while :; do '
    'ID="$(wget -q -S -O /dev/null "$API/next" 2>&1 | '
    "sed -n 's/^ *[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: *//p' | tr -d '\\r')\"; "
    'if /bin/sh -c "$AUTOSTACK_RELEASE"; then R=response; B="{}"; '
    'else R=error; B=\'{"errorMessage": "the release command failed"}\'; fi; '
    'wget -q -O /dev/null --post-data "$B" "$API/$ID/$R"; done'
)


def lambda_url_expressions(urls: dict[str, str]) -> dict[str, str]:
    """HCL for the database URLs a function gets (the password URL-encoded by Terraform)."""
    facts = {
        "{user}": "${aws_db_instance.main.username}",
        "{password}": "${urlencode(local.db_password)}",
        "{host}": "${aws_db_instance.main.address}",
        "{port}": "${aws_db_instance.main.port}",
        "{db}": "${aws_db_instance.main.db_name}",
    }
    out = {}
    for name, template in urls.items():
        text = escaping.hcl_string(template)
        for placeholder, expression in facts.items():
            text = text.replace(placeholder, expression)
        out[name] = text
    return out


def _release_steps(target: Target) -> str:
    """CI: run the release once, after the new image exists and before traffic moves."""
    if target == "ecs-fargate":
        return "\n".join(
            (
                "terraform apply -input=false -auto-approve "
                "-target=aws_ecs_task_definition.release",
                'RELEASE="$(terraform output -json release_task)"',
                'NETWORK="awsvpcConfiguration={subnets=[$(echo "$RELEASE" | jq -r \'.subnets | '
                'join(",")\')],securityGroups=[$(echo "$RELEASE" | jq -r .security_group)],'
                'assignPublicIp=ENABLED}"',
                'TASK="$(aws ecs run-task --cluster "$(terraform output -raw ecs_cluster)" '
                '--launch-type FARGATE --task-definition "$(echo "$RELEASE" | jq -r '
                '.task_definition)" --network-configuration "$NETWORK" --query '
                "'tasks[0].taskArn' --output text)\"",
                'aws ecs wait tasks-stopped --cluster "$(terraform output -raw ecs_cluster)" '
                '--tasks "$TASK"',
                'CODE="$(aws ecs describe-tasks --cluster "$(terraform output -raw ecs_cluster)" '
                '--tasks "$TASK" --query \'tasks[0].containers[0].exitCode\' --output text)"',
                'echo "Release exit code: $CODE"',
                'test "$CODE" = "0"',
            )
        )
    if target == "lambda":
        return "\n".join(
            (
                "terraform apply -input=false -auto-approve -target=aws_lambda_function.release",
                'FUNCTION="$(terraform output -raw release_function_name)"',
                'aws lambda wait function-updated --function-name "$FUNCTION"',
                'ERROR="$(aws lambda invoke --function-name "$FUNCTION" --cli-read-timeout 900 '
                '--query FunctionError --output text release.json)"',
                "cat release.json",
                'test "$ERROR" = "None"',
            )
        )
    return ""


def platform_flag(ctx: StackContext, target: Target) -> str:
    """Images are built for the target's CPU, whatever runner builds them."""
    arm = ctx.arm and target == "ec2"
    return " --platform linux/arm64" if arm else " --platform linux/amd64"


def _dockerfile_values(ctx: StackContext, plan: AppPlan) -> dict[str, Any]:
    """What one app's Dockerfile and .dockerignore templates need."""
    recipe = docker_recipe(ctx)
    workdir = "/app"
    if plan.context != plan.path:
        workdir = "/app/" + (
            plan.path if plan.context == "." else plan.path[len(plan.context) + 1 :]
        )
    return {
        "plan": plan,
        "workdir": workdir,
        "compose_dockerfile": (
            None
            if plan.context == plan.path
            else (plan.path if plan.context == "." else plan.path[len(plan.context) + 1 :])
            + "/Dockerfile"
        ),
        "static_tool": static_tool(ctx) if ctx.family == "static" else "none",
        "images": recipe.images,
        "tool_version": recipe.version,
        "recipe": recipe,
        "composer_image": COMPOSER_IMAGE,
        "php_app_env": "production" if ctx.framework == "laravel" else "prod",
        "start_command": plan.start,
    }


def _companion_push_commands(
    ctx: StackContext, target: Target, contexts: dict[str, str]
) -> list[tuple[str, str, str]]:
    """(name, build command, push command) for each companion app's image."""
    platform = platform_flag(ctx, target)
    commands = []
    for companion in ctx.companions:
        folder = _docker_source(
            companion.ctx.app_dir, contexts.get(companion.name, companion.ctx.app_dir)
        )
        repository = (
            "$(terraform -chdir=infra output -json companion_repository_urls | "
            f"jq -r '.[\"{companion.name}\"]')"
        )
        commands.append(
            (
                companion.name,
                f"docker build{platform} -t {companion.name}:ci {folder}",
                f'IMAGE="{repository}:${{GITHUB_SHA}}" && {_SKIP_PUSHED}'
                f'docker build{platform} -t "$IMAGE" {folder} && docker push "$IMAGE"; fi',
            )
        )
    return commands


def _companion_host_ports(ctx: StackContext) -> dict[str, int]:
    """Local ports for docker-compose: each web app's own port, moved up when already taken."""
    taken = {ctx.port}
    ports = {}
    for companion in ctx.companions:
        port = companion.ctx.port
        while port in taken:
            port += 1
        taken.add(port)
        ports[companion.name] = port
    return ports


def render_files(
    ctx: StackContext,
    plans: list[AppPlan],
    target: Target,
    recommendation: Recommendation,
    cost: CostSummary,
    warnings: list[str],
) -> dict[str, str]:
    env = environment()
    plan = plans[0]
    plan_of = {c.name: p for c, p in zip(ctx.companions, plans[1:], strict=True)}
    docker_values = _dockerfile_values(ctx, plan)
    start_command = docker_values["start_command"]
    service_env_plain, password_env, database_urls = database_wiring(plan)
    compose_services, local_service_env = _compose_services(ctx, plan)
    prefix = "" if ctx.app_dir == "." else ctx.app_dir + "/"
    this_estimate = next(e for e in cost.targets if e.target == target)
    ecs_services: list[dict[str, Any]] = [
        {
            "name": "app",
            "ident": "app",
            "command": _with_database_url(ctx, start_command, plan) if ctx.database else None,
            "web": ctx.app.kind != "worker",
            "port": ctx.port,
            "repo": "aws_ecr_repository.app",
            "target_group": "aws_lb_target_group.app",
        }
    ]
    ecs_services += [
        {
            "name": f"worker-{w.name}",
            "ident": f"worker_{w.ident}",
            "command": _with_database_url(ctx, w.command, plan) if ctx.database else w.command,
            "web": False,
            "port": ctx.port,
            "repo": f'aws_ecr_repository.companion["{w.owner}"]'
            if w.owner
            else "aws_ecr_repository.app",
            "target_group": "",
        }
        for w in ctx.workers
    ]
    for companion in ctx.companions:
        other = companion.ctx
        command = None  # the image's own CMD, unless the database URL must be composed first
        if other.database and other.family != "static":
            other_plan = plan_of[companion.name]
            command = _with_database_url(other, other_plan.start, other_plan)
        ecs_services.append(
            {
                "name": companion.name,
                "ident": companion.ident,
                "command": command,
                "web": companion.web,
                "port": other.port,
                "repo": f'aws_ecr_repository.companion["{companion.name}"]',
                "target_group": f"aws_lb_target_group.{companion.ident}",
            }
        )
    web_ports = sorted({svc["port"] for svc in ecs_services if svc["web"]})
    domain = (
        ctx.options.domain if not (target == "ecs-fargate" and ctx.app.kind == "worker") else None
    )
    values: dict[str, Any] = {
        **docker_values,
        "plans": plans,
        "service_env_plain": service_env_plain,
        "sqlite_env": [
            (k, v) for b in plan.services if b.kind == "sqlite" for k, v in b.env.items()
        ],
        "password_env": password_env,
        "database_urls": database_urls,
        "lambda_url_expressions": lambda_url_expressions(database_urls),
        "ecs_release_command": (
            _with_database_url(ctx, " && ".join(plan.release), plan)
            if ctx.database
            else " && ".join(plan.release)
        ),
        "release_steps": _release_steps(target) if plan.release else "",
        "lambda_release_runtime": _RELEASE_RUNTIME_PYTHON
        if plan.toolchain.language == "python"
        else _RELEASE_RUNTIME_WGET,
        "domain": domain,
        "hosted_zone": hosted_zone_of(domain) if domain else None,
        "ctx": ctx,
        "target": target,
        "worker_contexts": {
            w.name: next(c.ctx.app_dir for c in ctx.companions if c.name == w.owner)
            if w.owner
            else ctx.app_dir
            for w in ctx.workers
        },
        "compose_services": compose_services,
        "local_service_env": local_service_env,
        "compose_env": _compose_env(plan, dict(local_service_env)),
        "volumes": [f"{s['name']}-data" for s in compose_services if s["volume"]]
        + (["app-data"] if ctx.uses_sqlite else []),
        "storage_env": storage_env_name(ctx),
        "terraform_version": TERRAFORM_VERSION,
        **_commands(ctx, target, plan.context),
        "ecs_services": ecs_services,
        "codebuild_image_command": (
            f'docker build{platform_flag(ctx, target)} -t "$REPOSITORY_URL:$IMAGE_TAG" '
            + _docker_source(ctx.app_dir, plan.context)
        ),
        "web_ports": web_ports,
        "companion_push_commands": _companion_push_commands(
            ctx, target, {name: p.context for name, p in plan_of.items()}
        ),
        "companion_host_ports": _companion_host_ports(ctx),
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
        values["site"] = site_build(ctx, plan, values["static_tool"], _NEVER_PUBLISHED)
        files["infra/codebuild.tf"] = hcl("codebuild.tf")
        files["infra/buildspec.yml"] = render("terraform/buildspec.yml.j2")
    else:
        files["infra/network.tf"] = hcl("network.tf")
        files["infra/environment.tf"] = hcl("environment.tf")
        files["infra/ecr.tf"] = hcl("ecr.tf")
        files["infra/codebuild.tf"] = hcl("codebuild.tf")
        files["infra/buildspec.yml"] = render("terraform/buildspec.yml.j2")
        files["infra/access.tf"] = hcl("app_access.tf")
        if target in ("ec2", "ecs-fargate") or (target == "lambda" and ctx.database):
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
    if plan.context != plan.path:  # BuildKit reads <Dockerfile>.dockerignore beside it
        files[f"{prefix}Dockerfile.dockerignore"] = files[f"{prefix}.dockerignore"]
    for companion in ctx.companions:  # each app of a monorepo builds from its own folder
        other = companion.ctx
        own = {**values, **_dockerfile_values(other, plan_of[companion.name]), "ctx": other}
        files[f"{other.app_dir}/Dockerfile"] = env.get_template(
            f"docker/{other.family}.Dockerfile.j2"
        ).render(own)
        files[f"{other.app_dir}/.dockerignore"] = env.get_template("docker/dockerignore.j2").render(
            own
        )
    files["docker-compose.yml"] = render("docker/compose.yml.j2")
    files[".github/workflows/deploy.yml"] = render("ci/deploy.yml.j2")
    values["file_table"] = _file_table([*files, "infra/README.md"], target)
    files["infra/README.md"] = render("terraform/README.md.j2")
    return files


_deploy_script_text: str | None = None


def _deploy_script() -> str:
    """The instance's deploy script (a plain file, not a template), read once."""
    global _deploy_script_text
    if _deploy_script_text is None:
        _deploy_script_text = (TEMPLATES_DIR / "terraform" / "app_deploy.py").read_text()
    return _deploy_script_text
