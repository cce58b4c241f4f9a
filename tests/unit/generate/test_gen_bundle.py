"""Bundle contents per target: files, Dockerfile, compose file, workflow, README."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from chalicelib.generate import generate_bundle
from chalicelib.generate.stack import NoDeployableAppError
from chalicelib.models.profile import App, Languages, StackProfile
from chalicelib.models.templates import TemplateOptions, TemplateRequest
from tests.golden import stack_profiles as sp
from tests.golden.helpers import all_bundles, bundle_for

BUNDLES = all_bundles()


def norm(text: str) -> str:
    """HCL with alignment spaces removed, so assertions do not depend on column widths."""
    return re.sub(r"[ ]+=[ ]+", " = ", text)


def test_every_stack_has_bundles_and_every_target_is_covered() -> None:
    assert {name for name, _ in BUNDLES} == set(sp.PROFILES)
    assert {target for _, target in BUNDLES} == {"static", "lambda", "ec2", "ecs-fargate"}


@pytest.mark.parametrize("key", sorted(BUNDLES), ids="-".join)
def test_common_files_and_terraform_basics(key) -> None:
    bundle = BUNDLES[key]
    files = bundle.files
    for path in (
        "infra/versions.tf",
        "infra/providers.tf",
        "infra/variables.tf",
        "infra/outputs.tf",
        "infra/README.md",
        "docker-compose.yml",
        ".github/workflows/deploy.yml",
    ):
        assert path in files, path
    assert any(p.endswith("Dockerfile") for p in files) and any(
        p.endswith(".dockerignore") for p in files
    )
    for path in files:
        assert not path.startswith("/") and ".." not in path.split("/")
    versions = files["infra/versions.tf"]
    assert 'required_version = "~> 1.10"' in versions and 'version = ">= 5.100, < 7"' in versions
    providers = files["infra/providers.tf"]
    providers = norm(providers)
    assert "role_arn = var.role_arn" in providers and "external_id = var.external_id" in providers
    assert "default_tags" in providers
    variables = files["infra/variables.tf"]
    for block in re.findall(r'variable "[^"]+" \{.*?\n\}', variables, flags=re.S):
        assert "  type " in block and "  description " in block, block
    assert files["infra/outputs.tf"].startswith('output "app_url"')
    assert "aws_nat_gateway" not in "".join(files.values())
    assert "access_key" not in providers and "secret_key" not in providers


@pytest.mark.parametrize("key", sorted(BUNDLES), ids="-".join)
def test_dockerfile_is_pinned_non_root_with_healthcheck(key) -> None:
    bundle = BUNDLES[key]
    paths = [p for p in bundle.files if p.endswith("Dockerfile")]
    apps = {(a.path.strip("./") or "."): a for a in sp.PROFILES[key[0]]().apps}
    assert paths
    for path in paths:
        folder = path.rpartition("/")[0] or "."
        _check_dockerfile(key, bundle.files[path], apps.get(folder, apps.get(".")))


def _check_dockerfile(key, dockerfile: str, app) -> None:
    froms = re.findall(r"^FROM (\S+)", dockerfile, flags=re.M)
    assert froms
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", dockerfile, flags=re.M))
    copied = re.findall(r"^COPY --from=(\S+)", dockerfile, flags=re.M)
    for image in [*froms, *copied]:
        if image in stages:  # an earlier stage of this file
            continue
        _, _, tag = image.partition(":")
        assert tag and tag != "latest" and re.search(r"\d", tag), image
    assert re.search(r"^USER (?!root)\S+", dockerfile, flags=re.M)
    assert "HEALTHCHECK" in dockerfile
    if app is None:  # an app at an unsafe folder, generated at the root
        app = sp.PROFILES[key[0]]().apps[0]
    builds = app.kind != "static" or bool(app.build_command)
    assert len(froms) == len(stages) + 1  # named build stages, then the unnamed runtime stage
    assert (len(froms) >= 2) == builds  # multi-stage wherever something is built
    assert re.search(r"^EXPOSE \d+$", dockerfile, flags=re.M)
    for line in dockerfile.splitlines():  # every exec form is valid JSON
        for prefix in ("CMD ", "RUN [", "HEALTHCHECK "):
            if line.startswith(prefix) and "[" in line:
                json.loads(line[line.index("[") :])
    if key[1] == "lambda":
        assert "aws-lambda-adapter" in dockerfile


def test_detected_port_and_health_path_reach_every_file() -> None:
    bundle = bundle_for(sp.flask_postgres(), "ecs-fargate")
    assert "EXPOSE 5000" in bundle.files["Dockerfile"] and "/healthz" in bundle.files["Dockerfile"]
    ecs = norm(bundle.files["infra/ecs.tf"])
    assert 'path = "/healthz"' in ecs and "containerPort = 5000" in ecs
    compose = yaml.safe_load(bundle.files["docker-compose.yml"])
    assert compose["services"]["app"]["ports"] == ["5000:5000"]


@pytest.mark.parametrize("key", sorted(BUNDLES), ids="-".join)
def test_compose_has_the_app_and_its_services(key) -> None:
    bundle = BUNDLES[key]
    profile = sp.PROFILES[key[0]]()
    compose = yaml.safe_load(bundle.files["docker-compose.yml"])
    services = compose["services"]
    assert "app" in services
    kinds = {s.kind for s in profile.services}
    expected = {
        "postgres": "postgres",
        "mysql": "mysql",
        "redis": "redis",
        "object_storage": "minio",
    }
    for kind, service in expected.items():
        if kind in kinds and not (kind == "mysql" and "postgres" in kinds):
            assert service in services, service
            assert service in services["app"]["depends_on"]
    assert len([s for s in services if s.startswith("worker-")]) == len(
        [w for w in profile.workers if w.command]
    )


@pytest.mark.parametrize("key", sorted(BUNDLES), ids="-".join)
def test_workflow_jobs_use_oidc_and_no_stored_keys(key) -> None:
    bundle = BUNDLES[key]
    text = bundle.files[".github/workflows/deploy.yml"]
    workflow = yaml.safe_load(text)
    jobs = workflow["jobs"]
    assert {"test", "plan", "deploy"} <= set(jobs)
    if key[1] != "static":
        assert "build" in jobs
    assert "pull_request" in jobs["plan"]["if"] and "refs/heads/main" in jobs["deploy"]["if"]
    for name in ("plan", "deploy"):
        assert jobs[name]["permissions"]["id-token"] == "write"
        steps = jobs[name]["steps"]
        creds = [
            s
            for s in steps
            if s.get("uses", "").startswith("aws-actions/configure-aws-credentials")
        ]
        assert creds and "role-to-assume" in creds[0]["with"]
    assert "AWS_SECRET_ACCESS_KEY" not in text and "aws-access-key-id" not in text
    runs = " ".join(s.get("run", "") for s in jobs["plan"]["steps"])
    assert "terraform plan" in runs
    deploy_runs = " ".join(s.get("run", "") for s in jobs["deploy"]["steps"])
    assert "terraform apply" in deploy_runs
    if key[1] != "static":
        assert "docker push" in deploy_runs


def test_secrets_never_appear_as_values() -> None:
    bundle = bundle_for(sp.flask_postgres(), "ecs-fargate")
    env_tf = norm(bundle.files["infra/environment.tf"])
    assert '"SECRET_KEY"' in env_tf and '"STRIPE_API_KEY"' in env_tf
    assert 'type = "SecureString"' in env_tf
    assert "SECRET_KEY" not in bundle.files["infra/variables.tf"]
    assert "manage_master_user_password = true" in norm(bundle.files["infra/data.tf"])
    assert "secrets = local.container_secrets" in norm(bundle.files["infra/ecs.tf"])


def test_data_services_are_private_and_encrypted() -> None:
    data = norm(bundle_for(sp.flask_postgres(), "ec2").files["infra/data.tf"])
    for needle in (
        "storage_encrypted = true",
        "publicly_accessible = false",
        "backup_retention_period = 7",
        "instance_class = var.db_instance_class",
        "at_rest_encryption_enabled = true",
        "transit_encryption_enabled = true",
        "block_public_acls = true",
    ):
        assert needle in data, needle
    variables = bundle_for(sp.flask_postgres(), "ec2").files["infra/variables.tf"]
    assert '"db.t4g.micro"' in variables and '"cache.t4g.micro"' in variables


def test_ec2_is_hardened() -> None:
    files = bundle_for(sp.django_sqlite_celery(), "ec2").files
    ec2 = norm(files["infra/ec2.tf"])
    assert 'http_tokens = "required"' in ec2
    assert "encrypted = true" in ec2 and 'volume_type = "gp3"' in ec2
    assert "AmazonSSMManagedInstanceCore" in ec2 and "key_name" not in ec2
    sg = files["infra/security_groups.tf"]
    ports = re.findall(r"ingress \{.*?from_port\s+= (\d+)", sg, flags=re.S)
    assert ports == ["80", "443"]
    assert files["backend/Dockerfile"].startswith("# syntax=docker/dockerfile:1")
    assert "celery -A wiki worker" in files["infra/ec2.tf"]


def test_static_bundle_uses_private_bucket_and_oac() -> None:
    static = norm(bundle_for(sp.nextjs_static()).files["infra/static.tf"])
    assert "aws_cloudfront_origin_access_control" in static
    assert "restrict_public_buckets = true" in static
    assert "redirect-to-https" in static
    assert "aws_ecr_repository" not in static


def test_options_reach_the_variables() -> None:
    request = TemplateRequest(
        analysis_id="a1",
        target="ecs-fargate",
        options=TemplateOptions(
            desired_count=3, task_cpu=512, task_memory_mb=1024, log_retention_days=30
        ),
    )
    variables = norm(generate_bundle(sp.go_api(), request).files["infra/variables.tf"])
    assert "default = 3" in variables and "default = 512" in variables
    assert "default = 1024" in variables and "default = 30" in variables


def test_generation_is_deterministic() -> None:
    assert bundle_for(sp.rails_worker()).files == bundle_for(sp.rails_worker()).files


def test_profile_without_an_app_is_a_clear_error() -> None:
    with pytest.raises(NoDeployableAppError, match="no web app"):
        bundle_for(StackProfile(languages=Languages()))
    cli_only = StackProfile(
        languages=Languages(), apps=[App(path=".", name="tool", language="python", kind="cli")]
    )
    with pytest.raises(NoDeployableAppError):
        bundle_for(cli_only)


def test_hostile_profile_is_reported_in_warnings() -> None:
    bundle = bundle_for(sp.hostile(), "ec2")
    text = " ".join(bundle.warnings)
    assert "not a safe relative path" in text and "not valid" in text
    assert "Dockerfile" in bundle.files  # the unsafe app folder fell back to the root


def test_custom_domain_gets_certificate_dns_and_https() -> None:
    request = TemplateRequest(
        analysis_id="a1", target="ecs-fargate", options=TemplateOptions(domain="App.Example.com.")
    )
    bundle = generate_bundle(sp.flask_postgres(), request)
    files = bundle.files
    domain = norm(files["infra/domain.tf"])
    assert (
        'resource "aws_acm_certificate" "app"' in domain and 'validation_method = "DNS"' in domain
    )
    assert "aws_lb.app.dns_name" in domain
    ecs = norm(files["infra/ecs.tf"])
    assert 'protocol = "HTTPS"' in ecs and 'status_code = "HTTP_301"' in ecs
    variables = norm(files["infra/variables.tf"])
    assert 'default = "app.example.com"' in variables and 'default = "example.com"' in variables
    assert 'value = "https://${var.domain_name}"' in norm(files["infra/outputs.tf"])
    est = next(e for e in bundle.cost.targets if e.target == "ecs-fargate")
    assert any(line.item == "route53.hosted_zone" for line in est.lines)


def test_static_domain_certificate_comes_from_us_east_1() -> None:
    request = TemplateRequest(
        analysis_id="a1", region="eu-west-1", options=TemplateOptions(domain="example.org")
    )
    files = generate_bundle(sp.nextjs_static(), request).files
    assert 'alias  = "us_east_1"' in files["infra/providers.tf"]
    assert "provider = aws.us_east_1" in norm(files["infra/domain.tf"])
    static = norm(files["infra/static.tf"])
    assert "aliases = [var.domain_name]" in static and "TLSv1.2_2021" in static
    assert "CKV_AWS_174" not in static
    assert 'default = "example.org"' in norm(files["infra/variables.tf"])  # the apex is its zone


@pytest.mark.parametrize(
    ("instance_type", "accepted", "rejected"),
    [("t3.micro", ["t3.micro", "t3a.small", "m7i-flex.large"], ["t4g.micro", "m7gd.large"]),
     ("t4g.micro", ["t4g.micro", "m7gd.large"], ["t3.micro", "t3a.small"])],
)  # fmt: skip
def test_instance_type_validation_matches_the_ami_architecture(
    instance_type, accepted, rejected
) -> None:
    request = TemplateRequest(
        analysis_id="a1", target="ec2", options=TemplateOptions(instance_type=instance_type)
    )
    variables = generate_bundle(sp.go_api(), request).files["infra/variables.tf"]
    pattern = re.search(r'regex\("(.+?)", var\.instance_type\)', variables).group(1)
    pattern = pattern.replace("\\\\", "\\")  # the HCL string's escaped backslash
    for value in accepted:
        assert re.match(pattern, value), value
    for value in rejected:
        assert not re.match(pattern, value), value


@pytest.mark.parametrize(
    ("profile", "build_image", "step"),
    [
        (sp.nextjs_static, "node:", "npm install"),  # the profile names no lockfile
        (sp.hugo_site, "alpine:", "apk add --no-cache hugo"),
        (sp.mkdocs_site, "python:", "mkdocs"),
        (sp.plain_html, None, None),
    ],
)
def test_static_sites_build_with_their_own_tool(profile, build_image, step) -> None:
    bundle = bundle_for(profile())
    assert bundle.target == "static"
    (path,) = [p for p in bundle.files if p.endswith("Dockerfile")]
    dockerfile = bundle.files[path]
    froms = re.findall(r"^FROM (\S+)", dockerfile, flags=re.M)
    if build_image is None:
        assert len(froms) == 1 and 'COPY ["./", ' in dockerfile
        workflow = yaml.safe_load(bundle.files[".github/workflows/deploy.yml"])
        runs = [s.get("run", "") for s in workflow["jobs"]["deploy"]["steps"]]
        assert any(r.startswith("aws s3 sync . ") for r in runs)
    else:
        assert froms[0].startswith(build_image) and step in dockerfile


def test_ec2_domain_gets_https_through_caddy() -> None:
    request = TemplateRequest(
        analysis_id="a1", target="ec2", options=TemplateOptions(domain="api.example.com")
    )
    bundle = generate_bundle(sp.go_api(), request)
    files = bundle.files
    assert "domain = var.domain_name" in norm(files["infra/ec2.tf"])
    assert 'value = "https://${var.domain_name}"' in norm(files["infra/outputs.tf"])
    assert "Caddy" in files["infra/README.md"] and not bundle.warnings
    assert "records = [aws_eip.app.public_ip]" in norm(files["infra/domain.tf"])
    assert "caddy:2.8.4-alpine" in files["infra/user_data.sh.tftpl"]
