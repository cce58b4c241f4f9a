"""Cross-app findings: services, workers, environment variables, tests, warnings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from chalicelib.models.profile import (
    Confidence,
    EnvVar,
    Evidence,
    Service,
    ServiceKind,
    Tests,
    Worker,
)
from runner.analysis.apps import Finished, _is_test_file, _with_kind
from runner.analysis.context import (
    Context,
    WorkerFinding,
    join,
    line_in,
    owning_dir,
)
from runner.analysis.ecosystems.python import celery_target
from runner.analysis.frameworks import SERVICE_DEPS, _matches
from runner.analysis.hints import literal_default
from runner.analysis.infra import Infra

_MAX_EVIDENCE = 10
MAX_ENV_VARS = 1000

_IMAGE_SERVICES = (
    (re.compile(r"(^|/)(postgres|postgis|pgvector|timescaledb)[^/]*$"), "postgres"),
    (re.compile(r"(^|/)(mysql|mariadb|percona)[^/]*$"), "mysql"),
    (re.compile(r"(^|/)mongo(db)?[^/]*$"), "mongodb"),
    (re.compile(r"(^|/)(redis|valkey|keydb|redis-stack)[^/]*$"), "redis"),
    (re.compile(r"(^|/)(elasticsearch|opensearch)[^/]*$"), "elasticsearch"),
    (re.compile(r"(^|/)rabbitmq[^/]*$"), "rabbitmq"),
    (re.compile(r"(^|/)(kafka|cp-kafka|cp-server|redpanda)[^/]*$"), "kafka"),
    (re.compile(r"(^|/)minio[^/]*$"), "object_storage"),
)
_URL_SERVICES = (
    (re.compile(r"^(postgres(?:ql)?|postgis)(\+\w+)?://"), "postgres"),
    (re.compile(r"^(mysql|mariadb)(\+\w+)?://"), "mysql"),
    (re.compile(r"^mongodb(\+srv)?://"), "mongodb"),
    (re.compile(r"^rediss?://"), "redis"),
    (re.compile(r"^amqps?://"), "rabbitmq"),
    (re.compile(r"^sqlite(\+\w+)?:"), "sqlite"),
    (re.compile(r"^file:.*\.db$"), "sqlite"),
)
_NAME_SERVICES = (
    (re.compile(r"^(REDIS_(URL|HOST)|CACHE_REDIS_URL)$"), "redis"),
    (re.compile(r"^(MONGO(DB)?_(URI|URL|HOST))$"), "mongodb"),
    (re.compile(r"^(ELASTICSEARCH_(URL|HOST|HOSTS)|OPENSEARCH_(URL|HOST))$"), "elasticsearch"),
    (re.compile(r"^(RABBITMQ_(URL|HOST)|AMQP_URL)$"), "rabbitmq"),
    (re.compile(r"^KAFKA_(BROKERS|BOOTSTRAP_SERVERS|URL)$"), "kafka"),
    (
        re.compile(r"^(AWS_)?(S3_BUCKET|AWS_STORAGE_BUCKET_NAME|S3_BUCKET_NAME|AWS_BUCKET)$"),
        "object_storage",
    ),
)
_DB_CONNECTION = {
    "mysql": "mysql",
    "mariadb": "mysql",
    "pgsql": "postgres",
    "postgres": "postgres",
    "sqlite": "sqlite",
    "mongodb": "mongodb",
}
_ENV_FILES = (
    ".env.example",
    ".env.sample",
    ".env.template",
    ".env.dist",
    ".env",
    ".env.local.example",
)

_SECRET_NAME = re.compile(
    r"SECRET|TOKEN|PASSWORD|PASSWD|(^|_)PASS$|(^|_)PWD$|API_?KEY|APIKEY|PRIVATE_?KEY|ACCESS_?KEY|"
    r"CREDENTIAL|(^|_)AUTH($|_)|SALT|SIGNING|ENCRYPTION|(^|_)KEY$|DSN$|^DATABASE_URL$|"
    r"(DB|DATABASE|POSTGRES|MYSQL|MONGO|MONGODB|REDIS|AMQP|RABBITMQ)_(URL|URI)$|WEBHOOK"
)
_PUBLIC_NAME = re.compile(
    r"^(NEXT_PUBLIC_|VITE_|REACT_APP_|PUBLIC_|NUXT_PUBLIC_|EXPO_PUBLIC_)|PUBLISHABLE|PUBLIC_KEY"
)


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return bool(_SECRET_NAME.search(upper)) and not _PUBLIC_NAME.search(upper)


def _owner(apps: list[Finished], rel: str) -> str | None:
    return owning_dir(rel, {a.app.path for a in apps})


@dataclass
class _Found:
    kind: str
    app: str | None
    version: str | None
    evidence: Evidence
    reason: str | None = None  # set: not provisioned (a possible service), and why


def _line_text(ctx: Context, ev: Evidence) -> str:
    text = ctx.read(ev.file) or ""
    lines = text.splitlines()
    return lines[ev.line - 1] if ev.line and ev.line <= len(lines) else ""


_FALLBACK_LINE = re.compile(r"environ|getenv|\benv\(|ENV\.fetch|process\.env|\bor\b|\|\|")
_H2_MAIN = re.compile(r"jdbc:h2:")
_SQL_KINDS = ("postgres", "mysql")
_NODE_DIALECT = re.compile(
    r"""\b(?:dialect|client|type|provider)\s*["']?\s*[:=]\s*["'](mysql2?|mariadb|postgres(?:ql)?|pg)["']"""
)
_NODE_DB_CONFIGS = (
    "config/config.json",
    "config/database.json",
    "knexfile.js",
    "knexfile.ts",
    "ormconfig.json",
    "ormconfig.js",
    "src/data-source.ts",
    "src/database.ts",
    "src/db.ts",
    "src/db.js",
    "db.js",
)
_LARAVEL_REDIS_DRIVER = re.compile(
    r"""(?:^|env\(\s*["'])(?:CACHE_DRIVER|CACHE_STORE|SESSION_DRIVER|QUEUE_CONNECTION|BROADCAST_DRIVER|BROADCAST_CONNECTION)"""
    r"""(?:["']\s*,\s*["']|\s*=\s*["']?)redis\b""",
    re.M,
)
_ADD_HINT = {
    "postgres": "set DATABASE_URL to a PostgreSQL URL, or add postgres to the profile's services",
    "mysql": "set DATABASE_URL to a MySQL URL, or add mysql to the profile's services",
    "redis": "set REDIS_URL, or add redis to the profile's services",
}


def _laravel_selects_redis(ctx: Context, path: str) -> bool:
    for name in (*_ENV_FILES, "config/cache.php", "config/session.php", "config/queue.php"):
        rel = join(path, name)
        if ctx.exists(rel) and _LARAVEL_REDIS_DRIVER.search(ctx.read(rel) or ""):
            return True
    return False


def _app_findings(ctx: Context, fin: Finished) -> list[_Found]:
    """Every service finding of one app, each either used (``reason`` None) or a mention."""
    draft, path = fin.draft, fin.app.path
    found: list[_Found] = []
    imports = [h.value for h in draft.hints_of("import") if not _is_test_file(h.file)]
    code_env = {h.value for h in draft.hints_of("env") if not _is_test_file(h.file)}
    cands = [draft.cand, *draft.cand.data.get("siblings", [])]
    for cand in cands:
        table = SERVICE_DEPS.get(cand.ecosystem, {})
        for name in sorted(cand.deps):
            dep = cand.deps[name]
            for pattern, kind in table.items():
                if _matches(pattern, name):
                    reason = None
                    if dep.transitive:
                        reason = f"{name} is a transitive dependency (// indirect)"
                    elif cand.ecosystem == "go" and not any(
                        i == name or i.startswith(name + "/") for i in imports
                    ):
                        reason = (
                            f"{name} is required in go.mod but no package of the app imports it"
                        )
                    found.append(_Found(kind, path, None, dep.evidence(), reason))
                    break
    for s in draft.services:
        ev = _with_kind(s.evidence, "config")
        reason = None
        name = ev.file.rsplit("/", 1)[-1]
        if re.fullmatch(r"application-[\w]+\.(properties|ya?ml)", name):
            reason = f"only the Spring profile in {name} selects it"
        elif s.kind == "sqlite" and _FALLBACK_LINE.search(_line_text(ctx, ev)):
            reason = "a SQLite URL used only when the database variable is unset"
        found.append(_Found(s.kind, path, s.version, ev, reason))
    for rel in sorted(draft.owned):
        if rel.endswith("schema.prisma"):
            text = ctx.read(rel) or ""
            m = re.search(r'datasource\s+\w+\s*\{[^}]*provider\s*=\s*"(\w+)"', text)
            if m:
                prisma_kind = {
                    "postgresql": "postgres",
                    "mysql": "mysql",
                    "sqlite": "sqlite",
                    "mongodb": "mongodb",
                    "cockroachdb": "postgres",
                }.get(m.group(1))
                if prisma_kind:
                    ev = Evidence(
                        file=rel,
                        line=line_in(text, m.start(1)),
                        detail="prisma provider",
                        kind="config",
                    )
                    found.append(_Found(prisma_kind, path, None, ev))
    if fin.app.ecosystem == "node":
        for name in _NODE_DB_CONFIGS:
            rel = join(path, name)
            cfg = ctx.read(rel) if ctx.exists(rel) else None
            m = _NODE_DIALECT.search(cfg or "")
            if m and cfg is not None:
                kind = "mysql" if m.group(1).startswith(("mysql", "maria")) else "postgres"
                ev = Evidence(
                    file=rel, line=line_in(cfg, m.start(1)), detail="dialect", kind="config"
                )
                found.append(_Found(kind, path, None, ev))
    laravel_redis: bool | None = None
    # env vars the code reads: REDIS_URL, a default like "postgres://..."
    for h in draft.hints_of("env"):
        if _is_test_file(h.file):
            continue
        default = h.extra or ""
        ev = Evidence(file=h.file, line=h.line, detail=h.value, kind="code")
        hit = None
        for url_pattern, url_kind in _URL_SERVICES:
            if url_pattern.search(default):
                hit = url_kind
                break
        else:
            for name_pattern, name_kind in _NAME_SERVICES:
                if name_pattern.search(h.value):
                    hit = name_kind
                    break
        if hit is None:
            continue
        reason = None
        if hit == "sqlite" and default:
            # the app takes its database from the variable; SQLite is only the fallback
            reason = f"SQLite is only the fallback when {h.value} is unset"
        elif h.file.endswith("config/cable.yml"):
            reason = "mentioned by Action Cable's config only"
            ev = ev.model_copy(update={"kind": "mention"})
        elif (
            fin.app.framework
            and fin.app.framework.name == "laravel"
            and "/config/" in ("/" + h.file)
        ):
            if laravel_redis is None:
                laravel_redis = _laravel_selects_redis(ctx, path)
            if hit == "redis" and not laravel_redis:
                reason = "a Laravel config default; no cache, session or queue driver selects it"
                ev = ev.model_copy(update={"kind": "mention"})
        found.append(_Found(hit, path, None, ev, reason))
    for name in _ENV_FILES:
        rel = join(path, name)
        env_text = ctx.read(rel) if ctx.exists(rel) else None
        for env_kind, line, detail in _env_file_services(env_text or ""):
            ev = Evidence(file=rel, line=line, detail=detail, kind="mention")
            used = detail in code_env
            if env_kind == "redis" and fin.app.framework and fin.app.framework.name == "laravel":
                if laravel_redis is None:
                    laravel_redis = _laravel_selects_redis(ctx, path)
                # config/database.php always reads REDIS_HOST: only a driver choosing redis counts
                used = laravel_redis
            reason = (
                None if used else f"{detail} is set in {name} but the app's code never reads it"
            )
            found.append(_Found(env_kind, path, None, ev, reason))
    return _pick_engine(ctx, fin, found)


def _pick_engine(ctx: Context, fin: Finished, found: list[_Found]) -> list[_Found]:
    """Drivers are often declared for several engines (an ORM's dialects): the engine the
    app's own configuration or code names wins; an in-memory H2 default means none."""
    if fin.app.ecosystem == "jvm":
        main_cfg = [
            r
            for r in fin.draft.owned
            if re.fullmatch(r"application\.(properties|ya?ml)", r.rsplit("/", 1)[-1])
        ]
        if any(_H2_MAIN.search(ctx.read(r) or "") for r in main_cfg) or (
            not any(f.evidence.kind == "config" and f.reason is None for f in found)
            and any(n.endswith(":h2") or n == "com.h2database:h2" for n in fin.draft.cand.deps)
        ):
            for f in found:
                if f.kind in (*_SQL_KINDS, "sqlite") and f.reason is None:
                    f.reason = "the app runs on in-memory H2 unless a Spring profile is chosen"
    named = {
        f.kind
        for f in found
        if f.reason is None and f.kind in _SQL_KINDS and f.evidence.kind in ("config", "code")
    }
    if len(named) == 1:
        (engine,) = named
        for f in found:
            if f.kind in _SQL_KINDS and f.kind != engine and f.reason is None:
                f.reason = f"the app's configuration selects {engine}"
    return found


def services(
    ctx: Context, infra: Infra, apps: list[Finished]
) -> tuple[list[Service], list[Service]]:
    """(services to provision, possible services): only direct, used evidence provisions."""
    found: list[_Found] = []
    for fin in apps:
        found += _app_findings(ctx, fin)
    for svc in infra.compose:
        if svc.image and not svc.build:
            for image_pattern, image_kind in _IMAGE_SERVICES:
                image = svc.image.split("@")[0]
                repo, _, tag = (
                    image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
                )
                if image_pattern.search(repo):
                    tag_version = re.match(r"\d+(\.\d+)*", tag)
                    ev = Evidence(
                        file=svc.file, line=svc.line, detail=f"image {svc.image}", kind="config"
                    )
                    found.append(
                        _Found(image_kind, None, tag_version.group(0) if tag_version else None, ev)
                    )
                    break
    used = {f.kind for f in found if f.reason is None}
    provisioned = _merge([f for f in found if f.kind in used], "high")
    possible = _merge([f for f in found if f.kind not in used], "low")
    return provisioned, possible


def _merge(found: list[_Found], confidence: str) -> list[Service]:
    by_kind: dict[str, list[_Found]] = {}
    for f in found:
        by_kind.setdefault(f.kind, []).append(f)
    out = []
    for kind in sorted(by_kind):
        items = by_kind[kind]
        app_paths = sorted({f.app for f in items if f.app is not None})
        versions = sorted({f.version for f in items if f.version})
        # the used evidence first: it is what the decision stands on
        evidence = _sorted_ev([f.evidence for f in items if f.reason is None]) + _sorted_ev(
            [f.evidence for f in items if f.reason is not None]
        )
        reasons = sorted({f.reason for f in items if f.reason})
        strongest = {f.evidence.kind for f in items}
        level = confidence
        if confidence == "low" and strongest & {"direct_dependency", "config", "code"}:
            level = "medium"
        out.append(
            Service(
                kind=cast(ServiceKind, kind),
                app_path=app_paths[0] if len(app_paths) == 1 else None,
                version=versions[0] if versions else None,
                evidence=evidence[:_MAX_EVIDENCE],
                confidence=cast(Confidence, level),
                reason=None if confidence == "high" else "; ".join(reasons),
                add_command=None if confidence == "high" else _ADD_HINT.get(kind),
            )
        )
    return out


def _env_file_services(text: str) -> Iterator[Any]:
    for m in re.finditer(
        r"^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*[\"']?([^\s\"'#]*)",
        text,
        re.M,
    ):
        name, value = m.group(1), m.group(2)
        line = line_in(text, m.start(1))
        if name == "DB_CONNECTION" and value in _DB_CONNECTION:
            yield _DB_CONNECTION[value], line, name
            continue
        for pattern, kind in _URL_SERVICES:
            if pattern.search(value):
                yield kind, line, name
                break
        else:
            for pattern, kind in _NAME_SERVICES:
                if pattern.search(name) and value:
                    yield kind, line, name
                    break


def _sorted_ev(items: list[Evidence]) -> list[Evidence]:
    unique = {(e.file, e.line or 0, e.detail or ""): e for e in items}
    return [unique[k] for k in sorted(unique)]


_WORKER_SYSTEMS = (
    ("celery", "celery"),
    ("rq ", "rq"),
    ("rqworker", "rq"),
    ("dramatiq", "dramatiq"),
    ("huey", "huey"),
    ("arq ", "arq"),
    ("sidekiq", "sidekiq"),
    ("resque", "resque"),
    ("good_job", "good_job"),
    ("queue:work", "laravel-queue"),
    ("horizon", "horizon"),
    ("bullmq", "bullmq"),
    ("jobs:work", "delayed_job"),
)


def _system_of(command: str) -> str | None:
    for needle, system in _WORKER_SYSTEMS:
        if needle in command + " ":
            return system
    return None


def workers(ctx: Context, infra: Infra, apps: list[Finished]) -> list[Worker]:
    items: list[tuple[str | None, WorkerFinding]] = []
    for p in infra.procfile:
        if p.name in ("web", "release"):
            continue
        items.append(
            (
                _owner(apps, p.file)
                if p.directory not in {a.app.path for a in apps}
                else p.directory,
                WorkerFinding(
                    p.name,
                    _system_of(p.command) or "procfile",
                    p.command,
                    Evidence(file=p.file, line=p.line, detail="Procfile"),
                ),
            )
        )
    for svc in infra.compose:
        cmd = svc.command or ""
        system = _system_of(cmd)
        if system or re.search(r"\bworker\b", svc.name + " " + cmd):
            items.append(
                (
                    svc.build if svc.build in {a.app.path for a in apps} else None,
                    WorkerFinding(
                        svc.name,
                        system or "compose",
                        cmd or None,
                        Evidence(file=svc.file, line=svc.line, detail=f"services.{svc.name}"),
                    ),
                )
            )
    for fin in apps:
        draft = fin.draft
        found = list(draft.workers)
        if fin.app.ecosystem == "python":
            found += _python_workers(draft)
        for w in found:
            if fin.app.kind == "worker" and w.command == fin.app.start_command:
                continue  # the app itself is this worker
            items.append((fin.app.path, w))
    explicit = {
        (a, w.system)
        for a, w in items
        if w.evidence.detail in ("Procfile",)
        or (w.evidence.detail and w.evidence.detail.startswith("services."))
    }
    out: dict[tuple, Worker] = {}
    for app, w in items:
        derived = not (
            w.evidence.detail == "Procfile" or (w.evidence.detail or "").startswith("services.")
        )
        if derived and (app, w.system) in explicit:
            continue
        key = (app or "", w.name, w.system)
        if key not in out:
            out[key] = Worker(
                name=w.name, app_path=app, command=w.command, system=w.system, evidence=[w.evidence]
            )
    return [out[k] for k in sorted(out)]


def _python_workers(draft: Any) -> list[WorkerFinding]:
    deps = draft.cand.deps
    out = []
    if "celery" in deps:
        target, evidence = celery_target(draft)
        command = f"celery -A {target} worker --loglevel=info"
        out.append(WorkerFinding("celery", "celery", command, evidence))
    if "rq" in deps:
        out.append(WorkerFinding("rq", "rq", "rq worker", deps["rq"].evidence()))
    if "dramatiq" in deps:
        out.append(
            WorkerFinding("dramatiq", "dramatiq", "dramatiq tasks", deps["dramatiq"].evidence())
        )
    if "huey" in deps:
        out.append(
            WorkerFinding("huey", "huey", "huey_consumer main.huey", deps["huey"].evidence())
        )
    return out


_TOOLING = re.compile(
    r"(^|/)(e2e|playwright|cypress|\.github|\.circleci|\.gitlab|\.buildkite|\.devcontainer|"
    r"\.husky|tools|tooling|testdata|fixtures?)/"
    r"|(^|/)(playwright|cypress|jest|vitest|karma)\.config\.\w+$"
    r"|(^|/)(\.gitlab-ci\.ya?ml|Jenkinsfile|noxfile\.py|tox\.ini|conftest\.py|\.travis\.ya?ml)$"
)


def is_tooling_file(rel: str) -> bool:
    """Tests, e2e, Playwright, CI and tooling: what they read is not the app's environment."""
    return _is_test_file(rel) or bool(_TOOLING.search(rel))


_SETTINGS_CLASS = re.compile(r"^class\s+\w+\(([\w.]*BaseSettings)\)\s*:[ \t]*$", re.M)
_SETTINGS_FIELD = re.compile(r"^    ([a-zA-Z_]\w*)\s*:\s*([^=\n#]+?)\s*(?:=\s*(.+?))?\s*(?:#.*)?$")
_ENV_PREFIX = re.compile(r"""env_prefix\s*[=:]\s*["'](\w*)["']""")
_FIELD_ALIAS = re.compile(r"""(?:validation_alias|alias|env)\s*=\s*["']([A-Za-z_]\w*)["']""")
_ZOD_FIELD = re.compile(r"^\s*([A-Z][A-Z0-9_]*)\s*:\s*z\.([^\n]*)$", re.M)

EnvFinding = tuple[str, Evidence, str | None, bool]  # name, evidence, default, required


def typed_settings(ctx: Context) -> list[EnvFinding]:
    """Fields of typed settings classes: pydantic ``BaseSettings`` (the field name, upper-cased,
    with the class's ``env_prefix``) and zod env schemas (``PORT: z.coerce.number()``)."""
    out: list[EnvFinding] = []
    files = sorted(
        {
            h.file
            for h in ctx.hints
            if h.kind == "import" and h.value in ("pydantic_settings", "pydantic", "zod")
        }
    )
    for rel in files:
        if is_tooling_file(rel):
            continue
        text = ctx.read(rel) or ""
        if rel.endswith(".py"):
            out += _pydantic_settings(rel, text)
        elif "z.object" in text and re.search(r"(^|/)env\.\w+$|(^|/)config\.\w+$", rel):
            for m in _ZOD_FIELD.finditer(text):
                tail = m.group(2)
                d = re.search(r"""\.default\(\s*["']?([^"')]*)["']?\s*\)""", tail)
                optional = ".optional()" in tail or d is not None
                ev = Evidence(file=rel, line=line_in(text, m.start(1)), detail="zod env schema")
                out.append((m.group(1), ev, d.group(1) if d else None, not optional))
    return out


def _pydantic_settings(rel: str, text: str) -> list[EnvFinding]:
    out: list[EnvFinding] = []
    for cls in _SETTINGS_CLASS.finditer(text):
        body_start = cls.end() + 1
        nxt = re.search(r"^\S", text[body_start:], re.M)
        body = text[body_start : body_start + nxt.start()] if nxt else text[body_start:]
        prefix_m = _ENV_PREFIX.search(body)
        prefix = prefix_m.group(1) if prefix_m else ""
        offset = body_start
        for raw in body.splitlines(keepends=True):
            m = _SETTINGS_FIELD.match(raw.rstrip("\n"))
            if m and m.group(1) != "model_config" and "ClassVar" not in m.group(2):
                value = m.group(3)
                alias = _FIELD_ALIAS.search(value or "")
                name = alias.group(1) if alias else (prefix + m.group(1)).upper()
                required = value is None or bool(re.match(r"Field\(\s*(\.\.\.|\))", value))
                default = None
                if not required and value is not None:
                    fm = re.match(r"Field\(\s*(?:default\s*=\s*)?(.*?)\s*[,)]", value)
                    default = literal_default((fm.group(1) if fm else value).encode())
                ev = Evidence(
                    file=rel,
                    line=line_in(text, offset),
                    detail=f"{cls.group(1)} field",
                    kind="code",
                )
                out.append((name, ev, default, required))
            offset += len(raw)
    return out


def env_vars(ctx: Context, apps: list[Finished]) -> list[EnvVar]:
    # name -> [(evidence, default, required)]; required None: a sample file, not the code
    collected: dict[str, list[tuple[Evidence, str | None, bool | None]]] = {}

    def add(name: str, ev: Evidence, default: str | None, required: bool | None) -> None:
        collected.setdefault(name, []).append((ev, default, required))

    for h in ctx.hints:
        if h.kind == "env" and not is_tooling_file(h.file):
            add(h.value, Evidence(file=h.file, line=h.line, kind="code"), h.extra, h.extra is None)
    for fin in apps:
        for name, default, ev in fin.draft.env:
            if not is_tooling_file(ev.file):
                add(name, _with_kind(ev, "config"), default, default is None)
    for name, ev, default, required in typed_settings(ctx):
        add(name, ev, default, required)
    for f in ctx.files:
        name = f.rel.rsplit("/", 1)[-1]
        if is_tooling_file(f.rel):
            continue
        if name.endswith(".prisma"):
            text = ctx.read(f.rel) or ""
            for m in re.finditer(r'\benv\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)', text):
                ev = Evidence(
                    file=f.rel, line=line_in(text, m.start(1)), detail="prisma", kind="config"
                )
                add(m.group(1), ev, None, True)
        if name in (".env.example", ".env.sample", ".env.template", ".env.dist"):
            text = ctx.read(f.rel) or ""
            for m in re.finditer(
                r"^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=", text, re.M
            ):
                ev = Evidence(
                    file=f.rel, line=line_in(text, m.start(1)), detail=name, kind="mention"
                )
                add(m.group(1), ev, None, None)
    out = []
    for name in sorted(collected)[:MAX_ENV_VARS]:
        items = sorted(collected[name], key=lambda t: (t[0].file, t[0].line or 0))
        secret = is_secret_name(name)
        default = None
        if not secret:
            default = next((d for _, d, _ in items if d is not None), None)
        from_app = [r for _, _, r in items if r is not None]
        # required when some code reads it without a default and nothing gives one
        required = bool(from_app) and all(from_app)
        out.append(
            EnvVar(
                name=name,
                is_secret=secret,
                default=default,
                evidence=_sorted_ev([e for e, _, _ in items])[:_MAX_EVIDENCE],
                required=required,
                confidence="high" if from_app else "low",
            )
        )
    return out


def tests(apps: list[Finished], ctx: Context) -> Tests:
    with_tests = [f for f in apps if f.draft.tests_evidence or f.draft.test_command]
    if not with_tests:
        # test files with no app to run them
        files = sorted(
            f.rel
            for f in ctx.files
            if _is_test_file(f.rel)
            and f.language
            in (
                "python",
                "javascript",
                "typescript",
                "go",
                "java",
                "kotlin",
                "ruby",
                "php",
                "rust",
                "csharp",
            )
        )
        if files:
            return Tests(present=True, command=None, evidence=[Evidence(file=files[0])])
        return Tests(present=False)
    commands = [(f.app.path, f.draft.test_command) for f in with_tests if f.draft.test_command]
    if len(commands) == 1 and commands[0][0] == ".":
        command = commands[0][1]
    elif commands:
        command = " && ".join(f"(cd {p} && {c})" if p != "." else f"({c})" for p, c in commands)
    else:
        command = None
    evidence = _sorted_ev([e for f in with_tests for e in f.draft.tests_evidence])
    return Tests(present=True, command=command, evidence=evidence[:_MAX_EVIDENCE])
