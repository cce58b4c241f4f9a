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

Services are not provided locally: an app whose plan needs PostgreSQL/Redis fails its
``building`` phase naming the service unless the runner's environment gives its URL
(``AUTOSTACK_LOCAL_POSTGRESQL_URL``, ``AUTOSTACK_LOCAL_REDIS_URL``).
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from runner.local_runtime import (
    LocalRuntime,
    LocalRuntimeError,
    RunningApp,
    RuntimeInputs,
    ServiceEndpoint,
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
