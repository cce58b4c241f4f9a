"""Ruby: Gemfile / Gemfile.lock, config.ru, Rails and Sinatra conventions."""

from __future__ import annotations

import re

from chalicelib.models.profile import Evidence
from runner.analysis.context import (
    Candidate,
    Context,
    Dep,
    Draft,
    ServiceFinding,
    WorkerFinding,
    clean_version,
    first_version,
    join,
    line_in,
)
from runner.analysis.frameworks import detect_framework

_GEM = re.compile(r"""^\s*gem\s+["']([\w.\-]+)["'](?:\s*,\s*["']([^"']+)["'])?""", re.M)
_LOCK_SPEC = re.compile(r"^    ([\w.\-]+) \(([^)]+)\)$", re.M)


def discover(ctx: Context, directory: str) -> Candidate | None:
    names = set(ctx.names(directory))
    if "Gemfile" in names:
        manifest = "Gemfile"
    elif "config.ru" in names:
        manifest = "config.ru"
    else:
        return None
    rel = join(directory, manifest)
    name = ctx.root_name if directory == "." else directory.rsplit("/", 1)[-1]
    cand = Candidate(
        directory,
        "ruby",
        "ruby",
        name,
        rel,
        package_manager="bundler" if manifest == "Gemfile" else None,
    )
    text = ctx.read(join(directory, "Gemfile")) or ""
    for m in _GEM.finditer(text):
        cand.deps.setdefault(
            m.group(1), Dep(m.group(1), clean_version(m.group(2)), rel, line_in(text, m.start()))
        )
    lock = ctx.read(join(directory, "Gemfile.lock")) or ""
    for m in _LOCK_SPEC.finditer(lock):
        if m.group(1) in cand.deps:
            cand.deps[m.group(1)].version = m.group(2)
    if manifest == "config.ru":
        cand.deps.setdefault("rack", Dep("rack", None, rel, None))
    for fname in (".ruby-version",):
        if fname in names:
            v = first_version((ctx.read(join(directory, fname)) or "").strip())
            if v:
                cand.runtime_version, cand.runtime_evidence = (
                    v,
                    Evidence(file=join(directory, fname), line=1),
                )
    if cand.runtime_version is None:
        rv = re.search(r"^RUBY VERSION\s*\n\s*ruby (\d[\w.]*)", lock, re.M) or re.search(
            r"""^\s*ruby\s+["'](\d[\w.]*)["']""", text, re.M
        )
        if rv:
            src = join(directory, "Gemfile.lock") if rv.re.pattern.startswith("^RUBY") else rel
            cand.runtime_version = re.sub(r"p\d+$", "", rv.group(1))
            cand.runtime_evidence = Evidence(
                file=src, line=line_in(lock if src != rel else text, rv.start())
            )
    return cand


def complete(ctx: Context, draft: Draft) -> None:
    cand = draft.cand
    if "rack" not in cand.deps and ctx.exists(draft.rel("config.ru")):
        cand.deps["rack"] = Dep("rack", None, draft.rel("config.ru"), None)
    spec = detect_framework(draft)
    bundle = "bundle exec " if cand.package_manager == "bundler" else ""
    draft.install_command = "bundle install" if bundle else None
    fw = draft.framework
    if fw == "rails":
        draft.build_command = (
            "bundle exec rails assets:precompile"
            if ctx.is_dir(draft.rel("app/assets")) or ctx.is_dir(draft.rel("app/javascript"))
            else None
        )
        draft.start_command = "bundle exec rails server -b 0.0.0.0 -p {port}"
        db = ctx.read(draft.rel("config/database.yml")) or ""
        for m in re.finditer(r"^\s*adapter:\s*(\w+)", db, re.M):
            kind = {
                "postgresql": "postgres",
                "postgis": "postgres",
                "mysql2": "mysql",
                "trilogy": "mysql",
                "sqlite3": "sqlite",
            }.get(m.group(1))
            if kind:
                draft.services.append(
                    ServiceFinding(
                        kind,
                        Evidence(
                            file=draft.rel("config/database.yml"),
                            line=line_in(db, m.start()),
                            detail="adapter",
                        ),
                    )
                )
                break
    elif fw == "jekyll":
        draft.build_command = "bundle exec jekyll build"
        draft.static_output_dir = "_site"
    elif fw in ("sinatra", "rack"):
        if ctx.exists(draft.rel("config.ru")):
            draft.start_command = f"{bundle}rackup config.ru -o 0.0.0.0 -p {{port}}"
        else:
            mains = sorted(
                f
                for f in draft.owned
                if f.endswith(".rb")
                and "/" not in f[len(cand.path) + 1 if cand.path != "." else 0 :]
            )
            if mains:
                inner = mains[0][len(cand.path) + 1 :] if cand.path != "." else mains[0]
                draft.start_command = f"{bundle}ruby {inner}"
    draft.kind = spec.kind if spec else None
    if spec and spec.default_port and spec.kind == "web":
        port = 9292 if fw == "sinatra" and ctx.exists(draft.rel("config.ru")) else spec.default_port
        draft.add_default_port(port, f"{fw} default")
    if "sidekiq" in cand.deps:
        draft.workers.append(
            WorkerFinding(
                "sidekiq", "sidekiq", "bundle exec sidekiq", cand.deps["sidekiq"].evidence()
            )
        )
    for gem, cmd in (
        ("resque", "bundle exec rake resque:work"),
        ("good_job", "bundle exec good_job start"),
        ("delayed_job", "bundle exec rake jobs:work"),
        ("solid_queue", "bundle exec rake solid_queue:start"),
    ):
        if gem in cand.deps or f"{gem}_active_record" in cand.deps:
            dep = cand.deps.get(gem) or cand.deps[f"{gem}_active_record"]
            draft.workers.append(WorkerFinding(gem, gem, cmd, dep.evidence()))
    specs = [f for f in draft.owned if f.endswith("_spec.rb")]
    tests = [f for f in draft.owned if f.endswith("_test.rb")]
    if specs:
        draft.test_command, draft.tests_evidence = (
            "bundle exec rspec",
            [Evidence(file=sorted(specs)[0])],
        )
    elif tests:
        draft.test_command = "bundle exec rails test" if fw == "rails" else "bundle exec rake test"
        draft.tests_evidence = [Evidence(file=sorted(tests)[0])]
