"""The local runtime's logic with a scripted process runner, clock and probe (no processes)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from chalicelib.models.plan import (
    AppPlan,
    EnvEntry,
    SecretEntry,
    ServiceBinding,
    Toolchain,
    WorkerPlan,
)
from runner.local_runtime import (
    LocalRuntime,
    LocalRuntimeError,
    RuntimeInputs,
    ServiceEndpoint,
    generate_secret,
    loopback_command,
    runtime_environment,
)

PG = ServiceEndpoint(kind="postgresql", port=5433, user="u", password="p@ss", db="app")


def _plan(**overrides: object) -> AppPlan:
    fields: dict[str, object] = {
        "name": "shop-web",
        "path": ".",
        "toolchain": Toolchain(language="python", version="3.14", image="python:3.14"),
        "package_manager": "pip",
        "install": ["pip install -r requirements.txt"],
        "build": ["python manage.py collectstatic --noinput"],
        "release": ["python manage.py migrate --noinput"],
        "start": "gunicorn app.wsgi --bind 0.0.0.0:$PORT",
        "port": 8000,
        "health_path": "/healthz",
        "env": [
            EnvEntry(name="ALLOWED_HOSTS", kind="optional"),
            EnvEntry(name="TIME_ZONE", kind="default", value="UTC"),
        ],
        "secrets": [
            SecretEntry(name="SECRET_KEY", kind="generated", generator="alnum64"),
            SecretEntry(name="SENTRY_DSN", kind="optional"),
        ],
        "services": [
            ServiceBinding(
                kind="postgresql",
                env={"DATABASE_URL": "postgresql://{user}:{password}@{host}:{port}/{db}"},
            )
        ],
        "workers": [WorkerPlan(name="jobs", start="celery -A app worker")],
    }
    fields.update(overrides)
    return AppPlan.model_validate(fields)


def _bytes(n: int) -> bytes:
    return bytes(range(n))


def test_environment_wires_services_generates_secrets_and_leaves_optionals_unset() -> None:
    env = runtime_environment(_plan(), RuntimeInputs(services={"postgresql": PG}), _bytes)
    assert env["DATABASE_URL"] == "postgresql://u:p@ss@127.0.0.1:5433/app"
    assert env["TIME_ZONE"] == "UTC"
    assert len(env["SECRET_KEY"]) == 64 and env["SECRET_KEY"].isalnum()
    assert "ALLOWED_HOSTS" not in env and "SENTRY_DSN" not in env
    assert "" not in env.values()


def test_environment_errors_name_the_missing_piece() -> None:
    with pytest.raises(LocalRuntimeError, match=r"services\[postgresql\]"):
        runtime_environment(_plan(), RuntimeInputs(), _bytes)
    provided = _plan(secrets=[SecretEntry(name="STRIPE_KEY", kind="provided")])
    with pytest.raises(LocalRuntimeError, match=r"secrets\.STRIPE_KEY"):
        runtime_environment(provided, RuntimeInputs(services={"postgresql": PG}), _bytes)
    required = _plan(env=[EnvEntry(name="API_BASE", kind="required")])
    with pytest.raises(LocalRuntimeError, match=r"env\.API_BASE"):
        runtime_environment(required, RuntimeInputs(services={"postgresql": PG}), _bytes)
    env = runtime_environment(
        required,
        RuntimeInputs(services={"postgresql": PG}, env={"API_BASE": "http://x"}),
        _bytes,
    )
    assert env["API_BASE"] == "http://x"


def test_unknown_wiring_fact_and_generator_are_refused() -> None:
    bad = _plan(services=[ServiceBinding(kind="postgresql", env={"X": "{secret_arn}"})])
    with pytest.raises(LocalRuntimeError, match=r"unknown fact \{secret_arn\}"):
        runtime_environment(bad, RuntimeInputs(services={"postgresql": PG}), _bytes)
    with pytest.raises(LocalRuntimeError, match="unknown generator"):
        generate_secret(SecretEntry(name="K", kind="generated", generator="rot13"), _bytes)


def test_laravel_key_has_its_base64_form() -> None:
    key = generate_secret(
        SecretEntry(name="APP_KEY", kind="generated", generator="laravel-app-key"), _bytes
    )
    assert key.startswith("base64:") and len(key) == len("base64:") + 44


def test_loopback_command_rewrites_only_the_bind_all_address() -> None:
    assert loopback_command("gunicorn a:b --bind 0.0.0.0:$PORT") == (
        "gunicorn a:b --bind 127.0.0.1:$PORT"
    )
    assert loopback_command("serve --host=0.0.0.0 --v 10.0.0.05") == (
        "serve --host=127.0.0.1 --v 10.0.0.05"
    )


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class _Proc:
    def __init__(self, exit_code: int | None, pid: int) -> None:
        self.exit_code = exit_code  # None: runs until signalled
        self.pid = pid
        self.signals: list[int] = []

    def poll(self) -> int | None:
        return self.exit_code

    def wait(self, timeout_s: float) -> int | None:
        return self.exit_code

    def signal_group(self, sig: int) -> None:
        self.signals.append(sig)
        if sig in (signal.SIGTERM, signal.SIGKILL) and self.exit_code is None:
            self.exit_code = -sig

    def group_alive(self) -> bool:
        return self.exit_code is None


class _Runner:
    """Scripted processes: commands whose text contains a key exit with its code."""

    def __init__(self, exits: Mapping[str, int | None]) -> None:
        self.exits = exits
        self.spawned: list[tuple[str, dict[str, str]]] = []
        self.procs: list[_Proc] = []

    def spawn(
        self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path
    ) -> _Proc:
        command = " ".join(argv)
        self.spawned.append((command, dict(env)))
        log_path.write_text(f"output of {command}\n")
        code: int | None = 0
        for key, value in self.exits.items():
            if key in command:
                code = value
        proc = _Proc(code, pid=1000 + len(self.procs))
        self.procs.append(proc)
        return proc


def _runtime(runner: _Runner, answers: list[int | None], clock: _Clock) -> LocalRuntime:
    replies = iter(answers)
    return LocalRuntime(
        runner=runner,
        clock=clock,
        sleep=clock.sleep,
        probe=lambda url, timeout: next(replies, answers[-1]),
        token_bytes=_bytes,
        port_picker=lambda: 41234,
        machine_env={"PATH": "/usr/bin", "HOME": "/root", "AWS_SECRET_ACCESS_KEY": "runner's"},
        python="/usr/bin/python3",
        health_timeout_s=5.0,
    )


def _source(tmp_path: Path) -> Path:
    src = tmp_path / "source"
    (src / "node_modules").mkdir(parents=True)
    (src / "manage.py").write_text("print('hi')\n")
    return src


def test_start_runs_phases_in_order_and_returns_the_url(tmp_path: Path) -> None:
    runner, clock = _Runner({"gunicorn": None, "celery": None}), _Clock()
    runtime = _runtime(runner, [None, 503, 302], clock)
    app = runtime.start(
        _plan(), _source(tmp_path), tmp_path / "work", RuntimeInputs(services={"postgresql": PG})
    )
    commands = [c for c, _ in runner.spawned]
    assert commands[0].startswith("/usr/bin/python3 -m venv")
    assert [c.removeprefix("/bin/sh -c ") for c in commands[1:]] == [
        "pip install -r requirements.txt",
        "python manage.py collectstatic --noinput",
        "python manage.py migrate --noinput",
        "gunicorn app.wsgi --bind 127.0.0.1:$PORT",
        "celery -A app worker",
    ]
    build_env, release_env, web_env = (runner.spawned[i][1] for i in (2, 3, 4))
    assert "SECRET_KEY" not in build_env and "DATABASE_URL" not in build_env
    assert "DATABASE_URL" in release_env and web_env["PORT"] == "41234"
    assert all("AWS_SECRET_ACCESS_KEY" not in env for _, env in runner.spawned)
    assert app.url == "http://127.0.0.1:41234"
    assert not (app.work_dir / "src" / "node_modules").exists()  # a fresh install
    app.stop()
    assert all(signal.SIGTERM in p.signals for p in runner.procs[-2:])


def test_a_failing_release_stops_before_start(tmp_path: Path) -> None:
    runner, clock = _Runner({"migrate": 3}), _Clock()
    with pytest.raises(LocalRuntimeError, match=r"release step failed with exit code 3"):
        _runtime(runner, [200], clock).start(
            _plan(), _source(tmp_path), tmp_path / "w", RuntimeInputs(services={"postgresql": PG})
        )
    assert not any("gunicorn" in c for c, _ in runner.spawned)


def test_health_never_answering_fails_in_bounded_time_and_stops_everything(
    tmp_path: Path,
) -> None:
    runner, clock = _Runner({"gunicorn": None, "celery": None}), _Clock()
    with pytest.raises(LocalRuntimeError, match=r"/healthz did not answer 2xx/3xx"):
        _runtime(runner, [404], clock).start(
            _plan(), _source(tmp_path), tmp_path / "w", RuntimeInputs(services={"postgresql": PG})
        )
    assert 5.0 <= clock.now < 6.0
    assert all(p.exit_code is not None for p in runner.procs)


def test_a_crashing_web_process_is_reported_with_its_log(tmp_path: Path) -> None:
    runner, clock = _Runner({"gunicorn": 1, "celery": None}), _Clock()
    with pytest.raises(LocalRuntimeError, match=r"web exited with code 1") as err:
        _runtime(runner, [None], clock).start(
            _plan(), _source(tmp_path), tmp_path / "w", RuntimeInputs(services={"postgresql": PG})
        )
    assert "output of /bin/sh -c gunicorn" in str(err.value)


def test_path_outside_the_source_is_refused(tmp_path: Path) -> None:
    runner, clock = _Runner({}), _Clock()
    with pytest.raises(LocalRuntimeError, match=r"path: '\.\./\.\.'"):
        _runtime(runner, [200], clock).start(
            _plan(path="../.."), _source(tmp_path), tmp_path / "w", RuntimeInputs()
        )


def test_the_runners_interpreter_makes_venvs_with_virtualenv_another_with_venv(
    tmp_path: Path,
) -> None:
    """``make venv`` installs virtualenv (requirements-dev.txt): every Python release in the
    local stage and the tests gets a seeded pip, not ensurepip's install + compile."""
    from runner.local_runtime import venv_command

    assert venv_command()[:2] == ["-m", "virtualenv"]
    runner, clock = _Runner({"gunicorn": None, "celery": None}), _Clock()
    runtime = _runtime(runner, [200], clock)
    runtime.python = sys.executable
    runtime.start(
        _plan(), _source(tmp_path), tmp_path / "work", RuntimeInputs(services={"postgresql": PG})
    )
    assert runner.spawned[0][0].startswith(f"{sys.executable} -m virtualenv --quiet")
