"""Normalizing a StackProfile into the render context."""

from __future__ import annotations

from chalicelib.generate.stack import build_context, pick_app, safe_relative_path
from chalicelib.models.profile import App, EnvVar, Languages, Port, Service, StackProfile, Worker
from chalicelib.models.templates import TemplateOptions


def _profile(**kw) -> StackProfile:
    app = App(path=".", name="My App!", language="python", kind="web", **kw.pop("app", {}))
    return StackProfile(languages=Languages(primary="python"), apps=[app], **kw)


def test_safe_relative_path() -> None:
    assert safe_relative_path(".") == "."
    assert safe_relative_path("./backend/") == "backend"
    assert safe_relative_path("apps\\web") == "apps/web"
    for bad in ("/etc", "../up", "a/../../b", "with space", "x/$(id)", "a\nb", "-rf", "a/--help"):
        assert safe_relative_path(bad) is None, bad


def test_names_ports_and_env() -> None:
    ctx = build_context(
        _profile(
            env_vars=[
                EnvVar(name="PORT", is_secret=False, default="1"),
                EnvVar(name="A", is_secret=False, default="x"),
                EnvVar(name="A", is_secret=True),
                EnvVar(name="TOKEN", is_secret=True),
            ]
        ),
        TemplateOptions(),
    )
    assert ctx.name == "my-app" and ctx.ident == "my_app"
    assert ctx.port == 8000  # python's default without a framework or detected port
    assert [e.name for e in ctx.env] == ["A"] and ctx.secrets == ["TOKEN"]


def test_detected_port_and_framework_default() -> None:
    detected = build_context(
        _profile(app={"port": Port(value=9000, source="code")}), TemplateOptions()
    )
    assert detected.port == 9000
    from chalicelib.models.profile import Framework

    flask = build_context(_profile(app={"framework": Framework(name="Flask")}), TemplateOptions())
    assert flask.port == 5000 and flask.framework == "flask"


def test_services_dedup_and_unprovisioned_warnings() -> None:
    ctx = build_context(
        _profile(
            services=[
                Service(kind="postgres"),
                Service(kind="postgres"),
                Service(kind="mysql"),
                Service(kind="mongodb"),
                Service(kind="sqlite"),
            ]
        ),
        TemplateOptions(),
    )
    assert ctx.services == ["postgres", "mongodb", "sqlite"]
    assert ctx.database == "postgres" and ctx.uses_sqlite
    text = " ".join(ctx.warnings)
    assert "only PostgreSQL" in text and "MongoDB is not provisioned" in text
    assert [(e.kind, e.env_name) for e in ctx.external] == [("mongodb", "MONGODB_URL")]
    assert "MONGODB_URL" in ctx.secrets  # its address holds credentials: an SSM secret


def test_workers_get_unique_safe_names() -> None:
    ctx = build_context(
        _profile(
            workers=[
                Worker(name="Celery Beat", command="celery beat"),
                Worker(name="celery beat", command="celery beat -x"),
                Worker(name="nocmd"),
            ]
        ),
        TemplateOptions(),
    )
    assert [w.name for w in ctx.workers] == ["celery-beat", "celery-beat-1"]
    assert any("nocmd" in w for w in ctx.warnings)


def test_pick_app_prefers_web_then_static_then_worker() -> None:
    apps = [
        App(path="w", name="w", language="python", kind="worker"),
        App(path="s", name="s", language="javascript", kind="static"),
        App(path="a", name="a", language="python", kind="web"),
    ]
    profile = StackProfile(languages=Languages(), apps=apps)
    assert pick_app(profile).name == "a"
    ctx = build_context(profile, TemplateOptions())
    # the others are deployed beside it, each from its own folder
    assert [(c.name, c.ctx.app_dir, c.route) for c in ctx.companions] == [
        ("w", "w", None),
        ("s", "s", "/s"),
    ]
    assert ctx.companions[1].ctx.family == "static" and ctx.companions[1].ctx.port == 8080


def test_companions_get_unique_names_and_their_own_folders() -> None:
    apps = [
        App(path=".", name="app", language="python", kind="web"),
        App(path="api", name="app", language="go", kind="web"),
        App(path="api", name="dup", language="go", kind="web"),
        App(path="../x", name="escape", language="go", kind="web"),
        App(path="redis", name="redis", language="node", kind="worker"),
        App(path="tool", name="tool", language="go", kind="cli"),
    ]
    ctx = build_context(StackProfile(languages=Languages(), apps=apps), TemplateOptions())
    names = [c.name for c in ctx.companions]
    assert len(names) == len(set(names)) == 2
    assert not {"app", "redis"} & set(names)  # never a name the bundle already uses
    assert [c.ctx.app_dir for c in ctx.companions] == ["api", "redis"]
    assert sum("shares the folder" in w for w in ctx.warnings) == 2  # "dup" and "escape" (-> ".")


def test_companions_are_capped() -> None:
    apps = [App(path=".", name="main", language="python", kind="web")] + [
        App(path=f"svc{i}", name=f"svc{i}", language="go", kind="web") for i in range(8)
    ]
    ctx = build_context(StackProfile(languages=Languages(), apps=apps), TemplateOptions())
    assert len(ctx.companions) == 5
    assert sum("at most 6 apps" in w for w in ctx.warnings) == 3


def test_existing_files_and_hardcoded_secrets_are_warned_about() -> None:
    from chalicelib.models.profile import ExistingFile, SecretFinding

    ctx = build_context(
        _profile(
            existing=[ExistingFile(type="dockerfile", file="Dockerfile"),
                      ExistingFile(type="procfile", file="Procfile")],
            secrets=[SecretFinding(type="aws_access_key_id", file="a.py", line=3, masked="AKIA**")],
        ),
        TemplateOptions(),
    )  # fmt: skip
    text = " ".join(ctx.warnings)
    assert "already has a Dockerfile ('Dockerfile')" in text and "Procfile" not in text
    assert "1 hard-coded secret(s)" in text and "aws_access_key_id" in text
    assert "AKIA" not in text  # the masked value is not repeated


def test_settings_of_provisioned_services_replace_detected_ones() -> None:
    ctx = build_context(
        _profile(
            services=[Service(kind="postgres"), Service(kind="redis")],
            env_vars=[
                EnvVar(name="DATABASE_URL", is_secret=True),
                EnvVar(name="REDIS_URL", is_secret=False, default="redis://localhost"),
                EnvVar(name="OTHER", is_secret=False, default="1"),
            ],
        ),
        TemplateOptions(),
    )
    assert ctx.secrets == [] and [e.name for e in ctx.env] == ["OTHER"]
    assert any("DATABASE_URL, REDIS_URL" in w for w in ctx.warnings)
    without = build_context(
        _profile(env_vars=[EnvVar(name="DATABASE_URL", is_secret=True)]), TemplateOptions()
    )
    assert without.secrets == ["DATABASE_URL"]  # no database here: the app brings its own
