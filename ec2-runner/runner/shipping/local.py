"""The local stage's executor: the runner's ``LocalRuntime`` builds and serves the app.

**Local stage only** (``AUTOSTACK_RELEASE_EXECUTOR=local``, refused outside the local
and test stages): this runs user code natively with the runner's privileges. In AWS the
runner never runs user code; there the build is CodeBuild in the user's account and the
app runs on the user's ECS/EC2/Lambda (those executors are not written yet).

``LocalRuntime.start`` does install, build, release and start in one call; a failure
names its step, which maps to the deployment phase (install/build -> ``building``,
release -> ``releasing``, start -> ``verifying``). The new version starts on a fresh
loopback port while the previous one still serves; only after it verified does the
previous one stop (``keep``); a failure stops the new one (``discard``).

The user's config (``spec.config``, ``runner.shipping.app_config``) reaches the app's
release, start and worker processes: values as its variables, secrets as its provided
secrets; every line this executor logs has the secrets' values masked.

The apps must not outlive the runner (seen: gunicorn processes left by killed runners):
every process is spawned from one long-lived thread (``SpawnThread``: PR_SET_PDEATHSIG
fires when the *thread* that started a child ends, and a job thread ends with its job:
the leader, ``sh -c``, was stopped then, its app lived on orphaned and outlived the
runner) under a guard shell (``guarded_runner``) that stops
the whole group when the kernel says the runner died; and each group is written down
(``AppProcesses``, pid + start time, beside the runner's database) so that the next
runner to start kills whatever of them is still there (``reap_left_apps``) before it
takes a job.

Services are not provided locally: an app whose plan needs PostgreSQL/Redis fails its
``building`` phase naming the service unless the runner's environment gives its URL
(``AUTOSTACK_LOCAL_POSTGRESQL_URL``, ``AUTOSTACK_LOCAL_REDIS_URL``).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from runner.local_runtime import (
    LocalRuntime,
    LocalRuntimeError,
    Process,
    ProcessRunner,
    RunningApp,
    RuntimeInputs,
    ServiceEndpoint,
    SubprocessRunner,
    group_alive,
)
from runner.shipping.executor import Candidate, LogLine, PhaseFailedError, ReleaseSpec

_PHASE_OF_STEP = {
    "": "building",
    "prepare": "building",
    "install": "building",
    "build": "building",
    "release": "releasing",
    "start": "verifying",
}
_SERVICE_SETTINGS = {
    "postgresql": "AUTOSTACK_LOCAL_POSTGRESQL_URL",
    "redis": "AUTOSTACK_LOCAL_REDIS_URL",
}
_DEFAULT_PORTS = {"postgresql": 5432, "redis": 6379}


class LocalServicesError(ValueError):
    """A local service URL setting is malformed (the message names the setting)."""


def local_services(environ: Mapping[str, str]) -> dict[str, ServiceEndpoint]:
    """The local services the runner's environment gives, by plan kind."""
    services: dict[str, ServiceEndpoint] = {}
    for kind, name in _SERVICE_SETTINGS.items():
        raw = (environ.get(name) or "").strip()
        if not raw:
            continue
        parsed = urllib.parse.urlsplit(raw)
        if not parsed.hostname:
            raise LocalServicesError(f"{name}: {raw!r} is not a URL with a host")
        try:
            port = parsed.port or _DEFAULT_PORTS[kind]
        except ValueError:
            raise LocalServicesError(f"{name}: the port is not a number") from None
        services[kind] = ServiceEndpoint(
            kind=kind,
            host=parsed.hostname,
            port=port,
            user=urllib.parse.unquote(parsed.username or ""),
            password=urllib.parse.unquote(parsed.password or ""),
            db=parsed.path.lstrip("/"),
        )
    return services


# --------------------------------------------------------------------------- app processes


def process_start_time(pid: int, proc_root: Path = Path("/proc")) -> int | None:
    """The process's start time (clock ticks since boot, /proc/<pid>/stat field 22); None
    when there is no such process. With the pid it names one process: a pid is reused."""
    try:
        stat = (proc_root / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ")".
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])  # field 22 overall; fields[0] is field 3 (the state)
    except (IndexError, ValueError):
        return None


def is_ours(recorded_start: int, leader_start: int | None, group_alive: bool) -> bool:
    """Whether a recorded group is still the app's (to kill).

    The leader alive with the recorded start time: ours. The leader gone but its group
    still there: its children (a pid is never handed out while a group bears it): ours.
    The leader's pid alive with another start time: the pid was reused: not ours."""
    if leader_start is not None:
        return leader_start == recorded_start
    return group_alive


class AppProcesses:
    """The process groups this runner's apps run in, kept in a JSON file beside its
    database: the runner's database lock makes the file one runner's alone."""

    def __init__(
        self,
        path: Path,
        start_time: Callable[[int], int | None] = process_start_time,
        alive: Callable[[int], bool] = group_alive,
    ) -> None:
        self.path = path
        self._start_time = start_time
        self._alive = alive
        self._lock = threading.Lock()

    @staticmethod
    def beside(runner_db: Path) -> AppProcesses:
        return AppProcesses(runner_db.with_name(runner_db.name + ".apps.json"))

    def _load(self) -> list[dict[str, int]]:
        try:
            raw = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return []
        entries = raw.get("groups") if isinstance(raw, dict) else None
        return [
            {"pgid": int(e["pgid"]), "start": int(e["start"])}
            for e in entries or []
            if isinstance(e, dict) and isinstance(e.get("pgid"), int)
            and isinstance(e.get("start"), int) and e["pgid"] > 1
        ]  # fmt: skip

    def _save(self, entries: list[dict[str, int]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(self.path.name + ".tmp")
        temp.write_text(json.dumps({"groups": entries}))
        os.replace(temp, self.path)

    def live(self) -> list[dict[str, int]]:
        """The recorded groups that are still ours."""
        return [
            e
            for e in self._load()
            if is_ours(e["start"], self._start_time(e["pgid"]), self._alive(e["pgid"]))
        ]

    def add(self, pgid: int) -> None:
        """Write down a group just started (and forget the ones that are gone)."""
        start = self._start_time(pgid)
        if start is None:
            return  # already gone
        with self._lock:
            entries = [e for e in self.live() if e["pgid"] != pgid]
            self._save([*entries, {"pgid": pgid, "start": start}])

    def reap(
        self,
        kill: Callable[[int, int], None] = os.killpg,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        grace_s: float = 5.0,
    ) -> list[int]:
        """Kill every recorded group that is still ours (a runner before ours was killed
        and left them); the killed groups. Waits, bounded, until they are gone."""
        with self._lock:
            groups = [e["pgid"] for e in self.live()]
            for pgid in groups:
                try:
                    kill(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            deadline = clock() + grace_s
            while any(self._alive(g) for g in groups) and clock() < deadline:
                sleep(0.05)
            self._save([])
        return groups


# The group leader of every app process: a shell that runs the app as its child and, told
# by the kernel (SIGHUP, PR_SET_PDEATHSIG) that the runner died, sends SIGTERM to the whole
# group. The plain leader was ``sh -c "<start>"``, which does not exec its command: the
# signal stopped the shell and its gunicorn lived on. HUP is this guard's alone, so a
# ``stop`` (SIGTERM to the group) reaches each process once, as before; the guard itself
# outlives a SIGTERM until its child is gone (the leader's exit still means "stopped"),
# and exits with the child's status.
GUARD_SCRIPT = """trap "kill -TERM 0" HUP
trap ":" TERM
"$@" &
child=$!
wait "$child"; code=$?
while kill -0 "$child" 2>/dev/null; do wait "$child"; code=$?; done
exit "$code"
"""


def guarded_runner() -> SubprocessRunner:
    """Each app process in its own session (group) under ``GUARD_SCRIPT``, whose leader gets
    SIGHUP when the thread that started it ends (``SpawnThread`` keeps that thread alive as
    long as the runner process)."""
    return SubprocessRunner(
        death_signal=signal.SIGHUP, leader=["/bin/sh", "-c", GUARD_SCRIPT, "app-guard"]
    )


def reap_left_apps(runner_db: Path, log: Callable[[str], None]) -> list[int]:
    """At a runner's start, under its database lock: kill the apps a killed runner left."""
    groups = AppProcesses.beside(runner_db).reap()
    if groups:
        log(f"stopped {len(groups)} app process group(s) a previous runner left: {groups}")
    return groups


class SpawnThread:
    """A ``ProcessRunner`` that starts every process from one thread living as long as
    the runner process, and writes each group down (``AppProcesses``).

    Linux sends PR_SET_PDEATHSIG when the thread that forked the child ends, not the
    process: spawned from a job thread, the app's leader was signalled as soon as its
    release job ended."""

    def __init__(self, inner: ProcessRunner, record: AppProcesses | None = None) -> None:
        self._inner = inner
        self._record = record
        self._calls: queue.SimpleQueue[tuple[Callable[[], Process], Future[Process]]] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _serve(self) -> None:
        while True:
            call, future = self._calls.get()
            try:
                future.set_result(call())
            except BaseException as exc:  # handed to the caller
                future.set_exception(exc)

    def spawn(
        self, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path
    ) -> Process:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="app-spawner", daemon=True)
                self._thread.start()
        future: Future[Process] = Future()
        self._calls.put(
            (lambda: self._inner.spawn(argv, cwd=cwd, env=env, log_path=log_path), future)
        )
        process = future.result()
        if self._record is not None:
            self._record.add(process.pid)  # the leader of its own group: pgid == pid
        return process


class LocalApps:
    """What serves each (project, stack) on this runner: one running app each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._serving: dict[tuple[str, str], tuple[str, RunningApp]] = {}

    def serving(self, project_id: str, stack: str) -> tuple[str, RunningApp] | None:
        with self._lock:
            return self._serving.get((project_id, stack))

    def swap(
        self, project_id: str, stack: str, release_id: str, app: RunningApp
    ) -> RunningApp | None:
        """Make ``app`` the one serving; the previous one (to stop), if any."""
        with self._lock:
            previous = self._serving.get((project_id, stack))
            self._serving[(project_id, stack)] = (release_id, app)
        return previous[1] if previous else None

    def retire(self, project_id: str, stack: str) -> RunningApp | None:
        """The stack is gone: nothing serves it any more (the app that did, to stop)."""
        with self._lock:
            previous = self._serving.pop((project_id, stack), None)
        return previous[1] if previous else None

    def stop_all(self) -> None:
        with self._lock:
            apps = [app for _, app in self._serving.values()]
            self._serving.clear()
        for app in apps:
            app.stop()


@dataclass
class LocalExecutor:
    runtime: LocalRuntime
    apps: LocalApps
    services: Mapping[str, ServiceEndpoint] = field(default_factory=dict)
    name: str = "local"

    def build(self, spec: ReleaseSpec, log: LogLine) -> Candidate:
        for binding in spec.plan.services:
            if binding.kind not in self.services:
                setting = _SERVICE_SETTINGS.get(binding.kind)
                how = f"set {setting} for the runner" if setting else "it has no local stand-in"
                raise PhaseFailedError(
                    "building",
                    f"services[{binding.kind}]: the app needs {binding.kind}, which the local "
                    f"stage does not provide ({how})",
                )
        config = spec.config
        inputs = RuntimeInputs(
            services=dict(self.services),
            provided_secrets=dict(config.secrets),
            env=dict(config.values),
        )
        try:
            app = self.runtime.start(spec.plan, spec.source_dir, spec.work_dir, inputs)
        except LocalRuntimeError as exc:
            raise PhaseFailedError(
                _PHASE_OF_STEP.get(exc.step, "building"),
                config.masked(exc.message),
                log_tail=config.masked(exc.log_tail),
            ) from None
        for command, tail in app.step_logs:
            log(config.masked(f"$ {command}"))
            for line in tail.splitlines()[-5:]:
                log(config.masked(f"  {line}"))
        for note in app.notes:
            log(config.masked(f"note: {note}"))
        return Candidate(spec.release_id, app.url, dict(app.timings), handle=app)

    def run_release(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None:
        # The runtime ran the release commands before it started the app (see build).
        log("the release commands ran before the new version started (local runtime)")

    def roll_out(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> str:
        if not candidate.url:
            raise PhaseFailedError("verifying", f"{spec.plan.name} serves no URL (a worker)")
        return candidate.url

    def keep(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None:
        previous = self.apps.swap(spec.project_id, spec.stack, spec.release_id, candidate.handle)
        if previous is not None:
            log(f"stopping the previous release at {previous.url}")
            previous.stop()

    def discard(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None:
        app = candidate.handle
        if isinstance(app, RunningApp):
            app.stop()

    def retire(self, project_id: str, stack: str, log: LogLine) -> None:
        """After the stack's destroy: its app stops serving."""
        app = self.apps.retire(project_id, stack)
        if app is not None:
            log(f"stopping the app at {app.url}: its stack was destroyed")
            app.stop()
