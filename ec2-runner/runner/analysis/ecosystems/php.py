"""PHP: composer.json / composer.lock, Laravel, Symfony, Slim, plain PHP."""

from __future__ import annotations

import json
import re

from chalicelib.models.profile import Evidence
from runner.analysis.context import (
    Candidate,
    Context,
    Dep,
    Draft,
    WorkerFinding,
    clean_version,
    find_line,
    first_version,
    join,
)
from runner.analysis.frameworks import PLAIN_DEFAULT_PORT, detect_framework


def discover(ctx: Context, directory: str) -> Candidate | None:
    rel = join(directory, "composer.json")
    name = ctx.root_name if directory == "." else directory.rsplit("/", 1)[-1]
    if not ctx.exists(rel):
        return None
    text = ctx.read(rel) or ""
    try:
        data = json.loads(text)
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    cand = Candidate(directory, "php", "php", name, rel, package_manager="composer")
    for section in ("require", "require-dev"):
        for dep, version in (
            (data.get(section) or {}).items() if isinstance(data.get(section), dict) else []
        ):
            cand.deps.setdefault(
                dep,
                Dep(
                    dep,
                    clean_version(version) if isinstance(version, str) else None,
                    rel,
                    find_line(text, f'"{dep}"'),
                ),
            )
    lock = ctx.read(join(directory, "composer.lock"))
    if lock:
        try:
            packages = json.loads(lock).get("packages") or []
        except (ValueError, AttributeError):
            packages = []
        for pkg in packages:
            if (
                isinstance(pkg, dict)
                and pkg.get("name") in cand.deps
                and isinstance(pkg.get("version"), str)
            ):
                cand.deps[pkg["name"]].version = pkg["version"].lstrip("v")
    php = cand.deps.get("php")
    if php and php.version:
        cand.runtime_version = first_version(php.version)
        cand.runtime_evidence = php.evidence()
    return cand


def plain_candidate(ctx: Context, directory: str) -> Candidate:
    name = ctx.root_name if directory == "." else directory.rsplit("/", 1)[-1]
    return Candidate(directory, "php", "php", name, join(directory, "index.php"))


def complete(ctx: Context, draft: Draft) -> None:
    cand = draft.cand
    if "laravel/framework" not in cand.deps and ctx.exists(draft.rel("artisan")):
        cand.deps["laravel/framework"] = Dep("laravel/framework", None, draft.rel("artisan"))
    spec = detect_framework(draft)
    fw = draft.framework or "php"
    if draft.framework is None:
        draft.set_framework("php", None, [Evidence(file=cand.manifest)])
    draft.install_command = (
        "composer install --no-dev --optimize-autoloader" if cand.package_manager else None
    )
    docroot = "public" if ctx.is_dir(draft.rel("public")) else "."
    if fw == "laravel":
        draft.start_command = "php artisan serve --host=0.0.0.0 --port={port}"
        draft.build_command = "php artisan config:cache && php artisan route:cache"
        env = ctx.read(draft.rel(".env.example")) or ""
        m = re.search(r"^QUEUE_CONNECTION=(\w+)", env, re.M)
        if m and m.group(1) not in ("sync", "null"):
            draft.workers.append(
                WorkerFinding(
                    "queue",
                    "laravel-queue",
                    "php artisan queue:work",
                    Evidence(
                        file=draft.rel(".env.example"), line=find_line(env, "QUEUE_CONNECTION")
                    ),
                )
            )
        if "laravel/horizon" in cand.deps:
            draft.workers.append(
                WorkerFinding(
                    "horizon",
                    "horizon",
                    "php artisan horizon",
                    cand.deps["laravel/horizon"].evidence(),
                )
            )
    else:
        draft.start_command = f"php -S 0.0.0.0:{{port}} -t {docroot}"
    draft.kind = "web"
    port = spec.default_port if spec else PLAIN_DEFAULT_PORT["php"]
    draft.add_default_port(port or 8080, f"{fw} default")
    if (
        ctx.exists(draft.rel("phpunit.xml"))
        or ctx.exists(draft.rel("phpunit.xml.dist"))
        or any(f.endswith("Test.php") for f in draft.owned)
    ):
        tests = sorted(f for f in draft.owned if f.endswith("Test.php")) or [
            draft.rel("phpunit.xml")
        ]
        draft.test_command = (
            "php artisan test"
            if fw == "laravel"
            else ("vendor/bin/pest" if "pestphp/pest" in cand.deps else "vendor/bin/phpunit")
        )
        draft.tests_evidence = [Evidence(file=tests[0])]
