"""Infrastructure files already in the repository: Dockerfiles, compose, Procfile, PaaS
configs, Terraform, Kubernetes manifests, CI workflows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from chalicelib.models.profile import ExistingFile
from runner.analysis.context import Context, in_fixture_dir, line_in, parent_dir

_MAX_YAML = 512 * 1024


@dataclass
class DockerfileFacts:
    file: str
    directory: str
    images: list[str] = field(default_factory=list)
    expose: list[tuple[int, int]] = field(default_factory=list)  # (port, line)
    env_ports: list[tuple[str, int, int]] = field(default_factory=list)  # (var, port, line)
    cmd: str | None = None
    healthcheck: str | None = None


@dataclass
class ProcfileEntry:
    file: str
    directory: str
    name: str
    command: str
    line: int


@dataclass
class ComposeService:
    file: str
    name: str
    image: str | None
    build: str | None  # context folder relative to the archive root
    command: str | None
    line: int | None
    ports: list[int] = field(default_factory=list)


@dataclass
class Infra:
    existing: list[ExistingFile] = field(default_factory=list)
    dockerfiles: list[DockerfileFacts] = field(default_factory=list)
    procfile: list[ProcfileEntry] = field(default_factory=list)
    compose: list[ComposeService] = field(default_factory=list)
    fly_ports: list[tuple[str, int, int]] = field(default_factory=list)  # (file, port, line)


def _safe_yaml(text: str) -> Any:
    if len(text) > _MAX_YAML:
        return None
    import yaml  # only when a YAML file is parsed: its import is a cost of every process

    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except (yaml.YAMLError, ValueError, RecursionError):
        return None


def _dockerfile_lines(text: str) -> list[tuple[int, str]]:
    out, buf, start = [], "", 0
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if not buf:
            start = i
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        out.append((start, buf + line))
        buf = ""
    if buf:
        out.append((start, buf))
    return out


def _is_dockerfile(name: str) -> bool:
    return (
        name == "Dockerfile"
        or name.startswith("Dockerfile.")
        or name.endswith(".dockerfile")
        or (name.startswith("Containerfile"))
    )


_COMPOSE_NAMES = frozenset(
    {"docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"}
)
_CI = {
    ".gitlab-ci.yml": "gitlab",
    ".travis.yml": "travis",
    "Jenkinsfile": "jenkins",
    "azure-pipelines.yml": "azure",
    "bitbucket-pipelines.yml": "bitbucket",
    "cloudbuild.yaml": "cloudbuild",
    "cloudbuild.yml": "cloudbuild",
    "buildspec.yml": "codebuild",
}
_OTHER = {
    "fly.toml": "fly",
    "render.yaml": "render",
    "app.json": "app_json",
    "heroku.yml": "heroku",
    "vercel.json": "vercel",
    "netlify.toml": "netlify",
    "serverless.yml": "serverless",
    "serverless.yaml": "serverless",
    "railway.json": "railway",
    "railway.toml": "railway",
    "nixpacks.toml": "nixpacks",
    "Chart.yaml": "kubernetes",
    "kustomization.yaml": "kubernetes",
    "skaffold.yaml": "kubernetes",
    "template.yaml": "sam",
    "samconfig.toml": "sam",
    "cdk.json": "cdk",
    "Pulumi.yaml": "pulumi",
    "apprunner.yaml": "apprunner",
    "Dockerrun.aws.json": "elastic_beanstalk",
    "app.yaml": "app_engine",
}
_K8S = re.compile(r"^apiVersion:\s*\S+", re.M)
_K8S_KIND = re.compile(r"^kind:\s*(\w+)", re.M)


def detect_infra(ctx: Context) -> Infra:
    infra = Infra()
    for f in ctx.files:
        try:
            _infra_file(ctx, f, infra)
        except Exception as exc:  # one malformed file must not stop the analysis
            ctx.unreadable(f.rel, exc)
    infra.existing.sort(key=lambda e: (e.file, e.type))
    return infra


def _dockerfile(ctx: Context, rel: str, directory: str) -> DockerfileFacts:
    facts = DockerfileFacts(rel, directory)
    text = ctx.read(rel) or ""
    for line, instr in _dockerfile_lines(text):
        word, _, rest = instr.partition(" ")
        word, rest = word.upper(), rest.strip()
        if word == "FROM":
            image = [t for t in rest.split() if not t.startswith("--")]
            if image:
                facts.images.append(image[0])
        elif word == "EXPOSE":
            for token in rest.split():
                m = re.match(r"(\d{1,5})(?:/(?:tcp|udp))?$", token)
                if m and 1 <= int(m.group(1)) <= 65535:
                    facts.expose.append((int(m.group(1)), line))
        elif word in ("CMD", "ENTRYPOINT"):
            facts.cmd = rest if word == "CMD" or facts.cmd is None else facts.cmd
        elif word == "HEALTHCHECK":
            facts.healthcheck = rest
        elif word in ("ENV", "ARG"):
            for var, value in re.findall(r"(\w+)[=\s]\"?([^\s\"]+)\"?", rest):
                if (
                    var in ("PORT", "ASPNETCORE_HTTP_PORTS", "HTTP_PORT", "SERVER_PORT")
                    and value.isdigit()
                ):
                    facts.env_ports.append((var, int(value), line))
                elif var == "ASPNETCORE_URLS":
                    m = re.search(r":(\d{2,5})", value)
                    if m:
                        facts.env_ports.append((var, int(m.group(1)), line))
    return facts


def _compose(ctx: Context, rel: str, directory: str, infra: Infra) -> ExistingFile:
    text = ctx.read(rel) or ""
    data = _safe_yaml(text)
    services = data.get("services") if isinstance(data, dict) else None
    names, images = [], []
    if isinstance(services, dict):
        for name, svc in services.items():
            if not isinstance(svc, dict):
                continue
            name = str(name)
            names.append(name)
            image = svc.get("image") if isinstance(svc.get("image"), str) else None
            if image:
                images.append(image)
            build = svc.get("build")
            context = (
                build
                if isinstance(build, str)
                else build.get("context")
                if isinstance(build, dict)
                else None
            )
            build_dir = None
            if isinstance(context, str):
                build_dir = _norm_join(directory, context)
            cmd = svc.get("command")
            if isinstance(cmd, list):
                cmd = " ".join(str(c) for c in cmd)
            ports = []
            for p in svc.get("ports") or [] if isinstance(svc.get("ports"), list) else []:
                m = re.search(
                    r"(\d{1,5})(?:/\w+)?$",
                    str(p.get("target", "")) if isinstance(p, dict) else str(p),
                )
                if m:
                    ports.append(int(m.group(1)))
            m = re.search(rf"^\s+{re.escape(name)}:\s*$", text, re.M)
            infra.compose.append(
                ComposeService(
                    rel,
                    name,
                    image,
                    build_dir,
                    cmd if isinstance(cmd, str) else None,
                    line_in(text, m.start()) + (1 if text[m.start()] == "\n" else 0) if m else None,
                    ports,
                )
            )
    return ExistingFile(
        type="compose", file=rel, details={"services": sorted(names), "images": sorted(images)}
    )


def _norm_join(directory: str, path: str) -> str | None:
    parts = [] if directory == "." else directory.split("/")
    for part in path.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts) or "."


def _procfile(ctx: Context, rel: str, directory: str, infra: Infra) -> ExistingFile:
    text = ctx.read(rel) or ""
    names = []
    for i, raw in enumerate(text.splitlines(), 1):
        m = re.match(r"^([A-Za-z0-9_-]+)\s*:\s*(.+)$", raw.strip())
        if m:
            names.append(m.group(1))
            infra.procfile.append(ProcfileEntry(rel, directory, m.group(1), m.group(2).strip(), i))
    return ExistingFile(type="procfile", file=rel, details={"processes": names})


def _other(ctx: Context, rel: str, name: str, infra: Infra) -> ExistingFile | None:
    kind = _OTHER[name]
    text = ctx.read(rel) or ""
    details: dict = {}
    if kind == "fly":
        m = re.search(r"^\s*internal_port\s*=\s*(\d+)", text, re.M)
        if m:
            details["internal_port"] = int(m.group(1))
            infra.fly_ports.append((rel, int(m.group(1)), line_in(text, m.start())))
        m = re.search(r"""^app\s*=\s*["']([^"']+)""", text, re.M)
        details["app"] = m.group(1) if m else None
    elif kind == "render":
        data = _safe_yaml(text)
        svcs = data.get("services") if isinstance(data, dict) else None
        details["services"] = (
            sorted(str(s.get("name")) for s in svcs if isinstance(s, dict))
            if isinstance(svcs, list)
            else []
        )
    elif kind == "app_json":
        if not re.search(r'"(buildpacks|formation|addons|scripts|stack)"', text):
            return None
    elif kind == "app_engine":
        if not re.search(r"^runtime:", text, re.M):
            return None
    elif kind == "sam":
        if name == "template.yaml" and "AWS::Serverless" not in text:
            return None
    return ExistingFile(type=kind, file=rel, details=details)


def _infra_file(ctx: Context, f: Any, infra: Infra) -> None:
    rel = f.rel
    name = rel.rsplit("/", 1)[-1]
    directory = parent_dir(rel)
    if in_fixture_dir(directory):
        return
    if _is_dockerfile(name):
        infra.dockerfiles.append(_dockerfile(ctx, rel, directory))
        d = infra.dockerfiles[-1]
        infra.existing.append(
            ExistingFile(
                type="dockerfile",
                file=rel,
                details={
                    "base_image": d.images[-1] if d.images else None,
                    "images": d.images,
                    "expose": [str(p) for p, _ in d.expose],
                    "cmd": d.cmd,
                    "healthcheck": d.healthcheck,
                },
            )
        )
    elif name in _COMPOSE_NAMES or re.fullmatch(r"(docker-)?compose\.[\w.-]+\.ya?ml", name):
        infra.existing.append(_compose(ctx, rel, directory, infra))
    elif name == "Procfile":
        infra.existing.append(_procfile(ctx, rel, directory, infra))
    elif rel.startswith(".github/workflows/") and name.endswith((".yml", ".yaml")):
        infra.existing.append(
            ExistingFile(type="ci", file=rel, details={"provider": "github_actions"})
        )
    elif name in _CI or rel == ".circleci/config.yml":
        infra.existing.append(
            ExistingFile(type="ci", file=rel, details={"provider": _CI.get(name, "circleci")})
        )
    elif name.endswith(".tf"):
        text = ctx.read(rel) or ""
        infra.existing.append(
            ExistingFile(
                type="terraform",
                file=rel,
                details={
                    "resources": len(re.findall(r'^resource\s+"', text, re.M)),
                    "modules": len(re.findall(r'^module\s+"', text, re.M)),
                },
            )
        )
    elif name in _OTHER:
        entry = _other(ctx, rel, name, infra)
        if entry is not None:
            infra.existing.append(entry)
    elif (
        name.endswith((".yaml", ".yml")) and f.size <= _MAX_YAML and not rel.startswith(".github/")
    ):
        text = ctx.read(rel) or ""
        if _K8S.search(text) and (kinds := sorted(set(_K8S_KIND.findall(text)))):
            infra.existing.append(
                ExistingFile(type="kubernetes", file=rel, details={"kinds": kinds})
            )
