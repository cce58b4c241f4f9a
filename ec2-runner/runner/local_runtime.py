"""Run an app plan natively on loopback, as a buildpack would: the local stage's runtime.

Given an ``AppPlan`` (``chalicelib.models.plan``) and the app's source folder, this
copies the source into a work folder, creates a fresh virtualenv (Python) or lets the
plan's install create ``node_modules`` (Node), runs the plan's install and build steps
with the build environment (no secrets, no services: a ``docker build`` has neither),
its release steps and then its start command and workers with the runtime environment
(services wired to the local PostgreSQL/Redis given, generated secrets generated here,
``PORT`` a free port on 127.0.0.1), waits until the health path answers 2xx/3xx within
a bounded time and returns the app's URL. ``stop()`` ends every process group.

**Local stage only.** This executes user code with the caller's privileges and no
sandbox. In AWS the runner must never run user application code outside a sandbox:
there, images are built by CodeBuild in the user's own account and run on the user's
ECS/EC2/Lambda. Locally (``make run``, the tests) the emulator can neither build nor
run a container, so this stands in for build + release + rollout.

What differs from the bundle's container on purpose:
- the toolchain is the machine's ``python3``/``node``, whatever version the plan names
  (the result's ``notes`` say so);
- a start command's bind-all address ``0.0.0.0`` becomes ``127.0.0.1`` (loopback only);
- a static site (``kind == "static"``) is served from its ``static_output`` folder by
  Python's file server, standing in for the bundle's nginx or CloudFront.

Side effects (processes, clock, sleep, HTTP probe, randomness) are passed in.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, cast

from chalicelib.models.plan import AppPlan, SecretEntry, ServiceBinding

LOG_TAIL_BYTES = 64 * 1024
"""How much of each step's or process's output is kept for errors and the caller."""

# Variables a build or an app inherits from the machine: what a package client needs to
# reach its registry (CA bundles, proxies, pip/npm configuration) and nothing else, so
# that AutoStack's own settings (AWS keys, endpoints) never leak into user code.
_INHERITED = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)
_INHERITED_PREFIXES = ("PIP_", "npm_config_", "UV_")
_FACT = re.compile(r"\{([a-z_]+)\}")
_BIND_ALL = re.compile(r"(?<![\d.])0\.0\.0\.0(?![\d.])")
_PYTHON_MANAGERS = {"pip", "uv", "poetry", "pipenv"}


class LocalRuntimeError(Exception):
    """The plan could not be run locally; the message names the step or field."""

    def __init__(self, message: str, *, log_tail: str = "", step: str = "") -> None:
        super().__init__(message + (f"\n--- output (tail) ---\n{log_tail}" if log_tail else ""))
        self.log_tail = log_tail
        self.message = message
        # Which step failed (prepare, install, build, release, start; "" = the plan's inputs).
        self.step = step


@dataclass(frozen=True)
class ServiceEndpoint:
    """Facts of one local service, substituted into the plan's wiring templates."""

    kind: str
    host: str = "127.0.0.1"
    port: int = 0
    user: str = ""
    password: str = ""
    db: str = ""
    bucket: str = ""
    path: str = ""

    def facts(self) -> dict[str, str]:
        return {
            "host": self.host,
            "port": str(self.port),
            "user": self.user,
            "password": self.password,
            "db": self.db,
            "bucket": self.bucket,
            "path": self.path,
        }


class Process(Protocol):
    """A started process, leader of its own process group."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout_s: float) -> int | None:
        """The exit code, or None if still running after ``timeout_s``."""
        ...

    def signal_group(self, sig: int) -> None: ...

    def group_alive(self) -> bool:
        """Whether any process of its group still exists (a killed child not yet reaped
        counts: it still holds the group)."""
        ...


class ProcessRunner(Protocol):
    def spawn(
        self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path
    ) -> Process: ...


Probe = Callable[[str, float], int | None]
"""GET a URL with a timeout: its HTTP status, or None when nothing answered."""


_PR_SET_PDEATHSIG = 1


def _libc_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    # Loaded here, in the parent: a child of a threaded process must not dlopen.
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    return cast(Callable[..., int], libc.prctl)


def group_alive(pgid: int) -> bool:
    """Whether process group ``pgid`` still has a process."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _PopenProcess:
    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen

    @property
    def pid(self) -> int:
        return self._popen.pid

    def poll(self) -> int | None:
        return self._popen.poll()

    def wait(self, timeout_s: float) -> int | None:
        try:
            return self._popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self._popen.pid, sig)
        except ProcessLookupError:
            pass

    def group_alive(self) -> bool:
        return group_alive(self._popen.pid)


class SubprocessRunner:
    """Real processes: each in a new session (its own process group), output to a file.

    The leader gets ``death_signal`` when the thread that spawned it ends, even after a
    kill -9 of the runtime (PR_SET_PDEATHSIG, Linux only); ``leader`` runs in front of the
    command (runner.shipping.local's guard, which passes that signal on to the group)."""

    def __init__(self, death_signal: int = signal.SIGTERM, leader: Sequence[str] = ()) -> None:
        self.death_signal = death_signal
        self.leader = tuple(leader)
        self._prctl = _libc_prctl()

    def _in_child(self) -> None:
        if self._prctl is not None:
            self._prctl(_PR_SET_PDEATHSIG, self.death_signal, 0, 0, 0)

    def spawn(
        self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path
    ) -> Process:
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                [*self.leader, *argv],
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=self._in_child,
            )
        return _PopenProcess(popen)


def http_probe(url: str, timeout_s: float) -> int | None:
    """GET without following redirects (a 3xx is an answer); None if nothing answered."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_tail(path: Path, limit: int = LOG_TAIL_BYTES) -> str:
    """The last ``limit`` bytes of a log file, decoded leniently."""
    if not path.exists():
        return ""
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - limit))
        return f.read().decode("utf-8", errors="replace")


_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def generate_secret(entry: SecretEntry, token_bytes: Callable[[int], bytes]) -> str:
    """A value for a ``generated`` secret, made the way its ``generator`` says."""
    match entry.generator:
        case "alnum64" | None:
            # 64 letters and digits; rejection sampling keeps every character equally likely.
            out: list[str] = []
            while len(out) < 64:
                out.extend(_ALNUM[b % 62] for b in token_bytes(96) if b < 248)
            return "".join(out[:64])
        case "laravel-app-key":
            return "base64:" + base64.b64encode(token_bytes(32)).decode()
        case other:
            raise LocalRuntimeError(f"secrets.{entry.name}.generator: unknown generator {other!r}")


def render_wiring(binding: ServiceBinding, endpoint: ServiceEndpoint) -> dict[str, str]:
    """The variables of one service binding with the local service's facts substituted."""
    facts = endpoint.facts()
    out: dict[str, str] = {}
    for name, template in binding.env.items():
        unknown = [m for m in _FACT.findall(template) if m not in facts]
        if unknown:
            raise LocalRuntimeError(
                f"services[{binding.kind}].env.{name}: unknown fact {{{unknown[0]}}}"
            )
        out[name] = _FACT.sub(lambda m: facts[m.group(1)], template)
    return out


def loopback_command(command: str) -> str:
    """The start command bound to loopback: a bind-all ``0.0.0.0`` becomes ``127.0.0.1``."""
    return _BIND_ALL.sub("127.0.0.1", command)


@dataclass
class RuntimeInputs:
    """What the local stage gives the app besides its plan."""

    services: Mapping[str, ServiceEndpoint] = field(default_factory=dict)
    """Local services by plan kind (``postgresql``, ``redis``...)."""
    provided_secrets: Mapping[str, str] = field(default_factory=dict)
    """Values of ``provided`` (and, if set, ``optional``) secrets, as the user set them."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Values for ``required`` variables the plan leaves open, and the user's overrides."""
    machine_env: Mapping[str, str] = field(default_factory=dict)
    """Local-stage plumbing for every step (e.g. the local services' CA bundle)."""


def runtime_environment(
    plan: AppPlan, inputs: RuntimeInputs, token_bytes: Callable[[int], bytes]
) -> dict[str, str]:
    """The app's variables from its plan: defaults, services, secrets; nothing is ``""``."""
    env: dict[str, str] = {}
    for entry in plan.env:
        if entry.name in inputs.env:
            env[entry.name] = inputs.env[entry.name]
        elif entry.value is not None:
            env[entry.name] = entry.value
    for binding in plan.services:
        endpoint = inputs.services.get(binding.kind)
        if endpoint is None:
            raise LocalRuntimeError(
                f"services[{binding.kind}]: the plan needs {binding.kind} and no local "
                f"{binding.kind} was given"
            )
        env.update(render_wiring(binding, endpoint))
    missing = [
        e.name
        for e in plan.env
        if e.kind == "required" and e.name not in env and e.name not in inputs.env
    ]
    if missing:
        raise LocalRuntimeError(f"env.{missing[0]}: required and no value given")
    for secret in plan.secrets:
        if secret.name in inputs.provided_secrets:
            env[secret.name] = inputs.provided_secrets[secret.name]
        elif secret.kind == "generated":
            env[secret.name] = generate_secret(secret, token_bytes)
        elif secret.kind == "provided":
            raise LocalRuntimeError(
                f"secrets.{secret.name}: provided by the user and no value was given"
            )
    extra = {k: v for k, v in inputs.env.items() if k not in env}
    env.update(extra)
    return env


@dataclass
class RunningApp:
    """A started app: its URL, its processes and their logs."""

    url: str
    port: int
    work_dir: Path
    processes: dict[str, Process]
    log_paths: dict[str, Path]
    step_logs: list[tuple[str, str]]
    """(command, output tail) of every install/build/release step, in order."""
    timings: dict[str, float]
    """Seconds per phase (prepare, install, build, release, start)."""
    notes: list[str]
    stop_grace_s: float

    def log_tail(self, name: str = "web") -> str:
        return read_tail(self.log_paths[name])

    def stop(self) -> None:
        """SIGTERM every process group, then SIGKILL what is still there after the grace."""
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.signal_group(signal.SIGTERM)
        for proc in self.processes.values():
            if proc.wait(self.stop_grace_s) is None:
                proc.signal_group(signal.SIGKILL)
                proc.wait(self.stop_grace_s)
            else:
                # The leader is gone; make sure nothing it forked outlives it.
                proc.signal_group(signal.SIGKILL)
        # A SIGKILLed child (an rq work horse, a gunicorn worker) is gone only once it is
        # reaped: wait, bounded, so that "stopped" means no process of the app is left.
        deadline = time.monotonic() + self.stop_grace_s
        for proc in self.processes.values():
            while proc.group_alive() and time.monotonic() < deadline:
                time.sleep(0.05)


def venv_command() -> list[str]:
    """``-m virtualenv`` when the runner's environment has it (``make venv`` installs it),
    else the standard library's ``-m venv``. Same result (a venv with pip), but the
    standard ``venv`` runs ensurepip, which installs and byte-compiles pip every time:
    7-8 CPU-s per release on this kind of machine, against about 1 s for virtualenv's
    cached seed (measured: ``/usr/bin/time python3 -m venv`` vs ``-m virtualenv``)."""
    import importlib.util

    if importlib.util.find_spec("virtualenv") is not None:
        return ["-m", "virtualenv", "--quiet", "--no-periodic-update"]
    return ["-m", "venv"]


@dataclass
class LocalRuntime:
    """Builds, releases and starts app plans on this machine (local stage only)."""

    runner: ProcessRunner
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    probe: Probe = http_probe
    token_bytes: Callable[[int], bytes] = secrets.token_bytes
    port_picker: Callable[[], int] = free_port
    machine_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    python: str = sys.executable
    venv_command: Sequence[str] | None = None
    """How ``python`` makes an app's venv (the folder is appended); None: ``venv_command()``
    for the runner's own interpreter, the standard ``-m venv`` for another one."""
    step_timeout_s: float = 900.0
    health_timeout_s: float = 90.0
    poll_interval_s: float = 0.2
    stop_grace_s: float = 10.0

    @contextmanager
    def running(
        self, plan: AppPlan, source: Path, work_dir: Path, inputs: RuntimeInputs
    ) -> Iterator[RunningApp]:
        """``start`` as a context manager that always stops the app."""
        app = self.start(plan, source, work_dir, inputs)
        try:
            yield app
        finally:
            app.stop()

    def start(
        self, plan: AppPlan, source: Path, work_dir: Path, inputs: RuntimeInputs
    ) -> RunningApp:
        began = self.clock()
        app_src = _app_folder(source, plan.path)
        work_dir.mkdir(parents=True, exist_ok=True)
        src = work_dir / "src"
        logs = work_dir / "logs"
        logs.mkdir(exist_ok=True)
        if src.exists():
            shutil.rmtree(src)
        shutil.copytree(app_src, src, symlinks=True, ignore=_ignore_leftovers(app_src))
        notes: list[str] = []
        base = self._base_env(work_dir, inputs)
        if plan.toolchain.language == "python" or plan.package_manager in _PYTHON_MANAGERS:
            self._make_venv(work_dir / "venv", src, base, logs)
            notes.append(f"plan wants python {plan.toolchain.version}; ran on {self._version()}")
        elif plan.toolchain.language in ("node", "static", "bun"):
            notes.append(f"plan wants {plan.toolchain.language} {plan.toolchain.version}")
        build_env = {**base, **{e.name: e.value for e in plan.env if e.value is not None}}
        # A build installs dev dependencies (no NODE_ENV, as in the Dockerfile's build stage);
        # the running app is in production mode unless its plan says otherwise.
        runtime_defaults = {"NODE_ENV": "production"} if _is_node(plan) else {}
        app_env = {
            **base,
            **runtime_defaults,
            **runtime_environment(plan, inputs, self.token_bytes),
        }
        step_logs: list[tuple[str, str]] = []
        timings: dict[str, float] = {"prepare": self.clock() - began}
        for phase, commands, env in (
            ("install", plan.install, build_env),
            ("build", plan.build, build_env),
            ("release", plan.release, app_env),
        ):
            phase_began = self.clock()
            for i, command in enumerate(commands):
                log = logs / f"{phase}-{i}.log"
                tail = self._step(phase, command, src, env, log)
                step_logs.append((command, tail))
            timings[phase] = self.clock() - phase_began
        port = self.port_picker()
        app_env.update(PORT=str(port), HOST="127.0.0.1")
        processes: dict[str, Process] = {}
        log_paths: dict[str, Path] = {}
        app = RunningApp(
            url=f"http://127.0.0.1:{port}",
            port=port,
            work_dir=work_dir,
            processes=processes,
            log_paths=log_paths,
            step_logs=step_logs,
            timings=timings,
            notes=notes,
            stop_grace_s=self.stop_grace_s,
        )
        try:
            web = self._web_argv(plan, src, port)
            if web is not None:
                log_paths["web"] = logs / "web.log"
                processes["web"] = self.runner.spawn(
                    web, cwd=src, env=app_env, log_path=log_paths["web"]
                )
            for worker in plan.workers:
                key = f"worker:{worker.name}"
                log_paths[key] = logs / f"worker-{_safe(worker.name)}.log"
                processes[key] = self.runner.spawn(
                    _shell(loopback_command(worker.start)),
                    cwd=src,
                    env=app_env,
                    log_path=log_paths[key],
                )
            start_began = self.clock()
            if web is not None:
                self._wait_healthy(app, plan.health_path)
            timings["start"] = self.clock() - start_began
        except BaseException:
            app.stop()
            raise
        return app

    # -- steps -------------------------------------------------------------------------

    def _base_env(self, work_dir: Path, inputs: RuntimeInputs) -> dict[str, str]:
        env = {k: v for k, v in self.machine_env.items() if k in _INHERITED}
        env.update(
            {
                k: v
                for k, v in self.machine_env.items()
                if k.startswith(_INHERITED_PREFIXES) and k not in env
            }
        )
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env.setdefault("LANG", "C.UTF-8")
        venv_bin = work_dir / "venv" / "bin"
        node_bin = work_dir / "src" / "node_modules" / ".bin"
        env["PATH"] = os.pathsep.join([str(venv_bin), str(node_bin), env["PATH"]])
        env["VIRTUAL_ENV"] = str(work_dir / "venv")
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.update(inputs.machine_env)
        return env

    def _make_venv(self, venv: Path, src: Path, env: Mapping[str, str], logs: Path) -> None:
        if venv.exists():
            shutil.rmtree(venv)
        how = self.venv_command
        if how is None:
            how = venv_command() if self.python == sys.executable else ["-m", "venv"]
        argv = [self.python, *how, str(venv)]
        self._run_argv("prepare", " ".join(argv), argv, src, env, logs / "venv.log")

    def _version(self) -> str:
        if self.python == sys.executable:
            return ".".join(str(v) for v in sys.version_info[:3])
        return self.python

    def _step(self, phase: str, command: str, cwd: Path, env: Mapping[str, str], log: Path) -> str:
        return self._run_argv(phase, command, _shell(command), cwd, env, log)

    def _run_argv(
        self,
        phase: str,
        command: str,
        argv: Sequence[str],
        cwd: Path,
        env: Mapping[str, str],
        log: Path,
    ) -> str:
        proc = self.runner.spawn(argv, cwd=cwd, env=env, log_path=log)
        code = proc.wait(self.step_timeout_s)
        if code is None:
            proc.signal_group(signal.SIGKILL)
            proc.wait(self.stop_grace_s)
            raise LocalRuntimeError(
                f"{phase} step timed out after {self.step_timeout_s:.0f}s: {command}",
                log_tail=read_tail(log, 8192),
                step=phase,
            )
        proc.signal_group(signal.SIGKILL)  # nothing a step started outlives it
        tail = read_tail(log)
        if code != 0:
            raise LocalRuntimeError(
                f"{phase} step failed with exit code {code}: {command}",
                log_tail=tail[-8192:],
                step=phase,
            )
        return tail

    def _web_argv(self, plan: AppPlan, src: Path, port: int) -> list[str] | None:
        if plan.kind == "worker":
            return None
        if plan.kind == "static":
            if not plan.static_output:
                raise LocalRuntimeError("static_output: a static plan needs its output folder")
            out = (src / plan.static_output).resolve()
            if not out.is_dir() or not out.is_relative_to(src.resolve()):
                raise LocalRuntimeError(
                    f"static_output: {plan.static_output!r} is not a folder the build made"
                )
            return [self.python, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                    "--directory", str(out)]  # fmt: skip
        return _shell(loopback_command(plan.start))

    def _wait_healthy(self, app: RunningApp, health_path: str) -> None:
        url = app.url + (health_path if health_path.startswith("/") else "/" + health_path)
        deadline = self.clock() + self.health_timeout_s
        last: int | None = None
        while True:
            for name, proc in app.processes.items():
                code = proc.poll()
                if code is not None:
                    raise LocalRuntimeError(
                        f"{name} exited with code {code} before {health_path} answered",
                        log_tail=app.log_tail(name)[-8192:],
                        step="start",
                    )
            last = self.probe(url, 2.0)
            if last is not None and 200 <= last < 400:
                return
            if self.clock() >= deadline:
                seen = f"last answer {last}" if last is not None else "nothing answered"
                raise LocalRuntimeError(
                    f"{health_path} did not answer 2xx/3xx on port {app.port} within "
                    f"{self.health_timeout_s:.0f}s ({seen}); does the start command bind $PORT?",
                    log_tail=read_tail(app.log_paths["web"], 8192),
                    step="start",
                )
            self.sleep(self.poll_interval_s)


# Left behind by a developer's own runs: a fresh build makes them again.
_BUILD_LEFTOVERS = {"node_modules", ".venv", "venv", ".next", "dist", "staticfiles", ".git"}


def _ignore_leftovers(root: Path) -> Callable[[str, list[str]], set[str]]:
    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n == "__pycache__"}
        if Path(folder) == root:
            skipped |= _BUILD_LEFTOVERS & set(names)
        return skipped

    return ignore


def _app_folder(source: Path, rel: str) -> Path:
    root = source.resolve()
    folder = (root / rel).resolve()
    if not folder.is_relative_to(root) or not folder.is_dir():
        raise LocalRuntimeError(f"path: {rel!r} is not a folder inside the source")
    return folder


def _is_node(plan: AppPlan) -> bool:
    managers = ("npm", "yarn", "yarn-berry", "pnpm", "bun")
    return plan.toolchain.language in ("node", "bun") or plan.package_manager in managers


def _shell(command: str) -> list[str]:
    # Plans hold shell command lines, run as a Dockerfile's RUN/CMD shell form would run them.
    return ["/bin/sh", "-c", command]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:60] or "worker"
