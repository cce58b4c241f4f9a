"""`make run`: the whole AutoStack stack on this machine, no AWS account needed.

Starts moto's server (the AWS emulator) on 127.0.0.1:5000, creates the table,
bucket, queues and signing-key parameter, writes a local JWT signing key, and
starts the API with `chalice local --stage local` on 127.0.0.1:3000, then the
runner and the daily-backup timer. Ctrl-C (also SIGTERM, SIGHUP) stops every
process it started (each runs in its own process group, so children of children
go too). The emulator keeps everything in memory: stopping it forgets all data.
AUTOSTACK_RUNNER_ROLE_ARN defaults to a placeholder role so that
`GET /projects/{id}/deploy-role` answers locally.

Ports: AUTOSTACK_EMULATOR_PORT (5000) and AUTOSTACK_API_PORT (3000).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devtools.emulator import wait_for_http
from devtools.local_resources import LocalResources, create_local_resources
from devtools.process import die_with_parent

ROOT = Path(__file__).resolve().parent.parent

LOCAL_DIR = ROOT / ".local"
# The principal of the deploy-role trust policy (`GET /projects/{id}/deploy-role`). In AWS
# it is the runner's instance role; the emulator accepts any well-formed ARN.
LOCAL_RUNNER_ROLE_ARN = "arn:aws:iam::123456789012:role/autostack-runner-local"


@dataclass
class ProcessSpec:
    name: str
    argv: list[str]
    ready_url: str | None = None  # polled until it answers
    cwd: Path = ROOT


@dataclass
class LocalStack:
    """The started processes; ``stop()`` ends them all (safe to call twice)."""

    emulator_port: int = 5000
    api_port: int = 3000
    extra_env: Mapping[str, str] = field(default_factory=dict)
    autoreload: bool = False
    quiet: bool = False
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    resources: LocalResources | None = None
    env: dict[str, str] = field(default_factory=dict)
    temp_dirs: list[Path] = field(default_factory=list)  # removed by stop()

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _spawn(self, spec: ProcessSpec) -> None:
        output = subprocess.DEVNULL if self.quiet else None
        self.processes[spec.name] = subprocess.Popen(
            spec.argv,
            cwd=spec.cwd,
            env=self.env,
            stdout=output,
            stderr=output,
            start_new_session=True,  # its own process group: we stop it and its children
            preexec_fn=die_with_parent,  # and it ends if we are killed with -9
        )
        if spec.ready_url:
            wait_for_http(spec.ready_url, timeout_s=60)

    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.env = dict(os.environ, MOTO_ALLOW_NONEXISTENT_REGION="true")
        self._spawn(
            ProcessSpec(
                "emulator",
                [
                    sys.executable,
                    str(ROOT / "devtools" / "emulator_server.py"),  # moto, DynamoDB atomic
                    "-H",
                    "127.0.0.1",
                    "-p",
                    str(self.emulator_port),
                ],
                ready_url=self.emulator_url + "/moto-api/",
            )
        )
        self.resources = create_local_resources(self.emulator_url)
        self.env.update(self.resources.environment())
        self.env.update(
            {
                "AUTOSTACK_STAGE": "local",
                "AUTOSTACK_JWT_KEY": local_signing_key(),
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.env.setdefault("AUTOSTACK_RUNNER_ROLE_ARN", LOCAL_RUNNER_ROLE_ARN)
        self.env.update(self.extra_env)
        reload_flag = "--autoreload" if self.autoreload else "--no-autoreload"
        self._spawn(
            ProcessSpec(
                "api",
                [
                    sys.executable,
                    str(ROOT / "devtools" / "chalice_local.py"),  # `chalice local`, see there
                    "local",
                    "--stage",
                    "local",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.api_port),
                    reload_flag,
                ],
                ready_url=self.api_url + "/health",
            )
        )
        # ---- HOOK (issue 4, runner/jobs): start the runner and the daily-backup timer here.
        # Append ProcessSpec(...) entries from `extra_processes(self)`; they get self.env.
        for spec in extra_processes(self):
            self._spawn(spec)

    def first_exited(self) -> str | None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                return name
        return None

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM each process group in reverse start order (the runner and the API
        finish while the emulator is still up), SIGKILL after ``timeout_s``."""
        for proc in reversed(list(self.processes.values())):
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
            # Children of the process (e.g. chalice's reloader worker) share its group.
            _signal_group(proc, signal.SIGKILL)
        self.processes.clear()
        for directory in self.temp_dirs:
            shutil.rmtree(directory, ignore_errors=True)
        self.temp_dirs.clear()


def extra_processes(stack: LocalStack) -> list[ProcessSpec]:
    """Issue 4: the runner (`python -m runner run` from ec2-runner/) and the daily-backup timer.

    runner.db and the work folder live in .local/ for `make run` (port 5000) and in a
    temporary folder for other ports (tests), unless set in extra_env: concurrent stacks
    never share a ledger.
    """
    if stack.emulator_port == 5000 or "AUTOSTACK_RUNNER_DB" in stack.env:
        state = LOCAL_DIR
    else:
        import tempfile

        state = Path(tempfile.mkdtemp(prefix=f"autostack-runner-{stack.emulator_port}-"))
        stack.temp_dirs.append(state)
    stack.env.setdefault("AUTOSTACK_RUNNER_DB", str(state / "runner.db"))
    stack.env.setdefault("AUTOSTACK_RUNNER_WORK_DIR", str(state / "work"))
    stack.env.setdefault("AUTOSTACK_RUNNER_ID", f"local-{stack.emulator_port}")
    return [
        ProcessSpec("runner", [sys.executable, "-m", "runner", "run"], cwd=ROOT / "ec2-runner"),
        ProcessSpec(
            "backup-timer",
            [sys.executable, str(ROOT / "scripts" / "backup_now.py"), "--every", "86400"],
        ),
    ]


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def local_signing_key() -> str:
    """The local JWT key, kept in .local/ (git-ignored) so it survives restarts."""
    path = LOCAL_DIR / "jwt-signing-key"
    if not path.exists():
        LOCAL_DIR.mkdir(exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def main() -> int:
    stack = LocalStack(
        emulator_port=int(os.environ.get("AUTOSTACK_EMULATOR_PORT", "5000")),
        api_port=int(os.environ.get("AUTOSTACK_API_PORT", "3000")),
        # Off by default: chalice's reloader restarted the API whenever anything under the
        # project folder changed (dropping requests); opt in when editing the API.
        autoreload=os.environ.get("AUTOSTACK_AUTORELOAD", "0") == "1",
    )
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    # The children run in their own sessions (so that their whole groups can be stopped):
    # the terminal's signals reach only this process, which passes them on in stop().
    # SIGHUP too: closing the terminal must not leave them running without us.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        stack.start()
        assert stack.resources is not None
        if stopping:  # Ctrl-C while starting: the processes started meanwhile stop below
            return 0
        print(
            "\nAutoStack is running (Ctrl-C stops everything):\n"
            f"  API            {stack.api_url}   (try {stack.api_url}/health)\n"
            f"  OpenAPI        {stack.api_url}/openapi.json\n"
            f"  AWS emulator   {stack.emulator_url}   (moto; data is in memory only)\n"
            f"  table          {stack.resources.table}\n"
            f"  bucket         {stack.resources.bucket}\n"
            f"  jobs queue     {stack.resources.queue_url}\n"
            f"  dead letters   {stack.resources.dlq_url}\n"
            f"  signing key    {LOCAL_DIR / 'jwt-signing-key'}\n",
            flush=True,
        )
        while not stopping:
            exited = stack.first_exited()
            if exited:
                print(f"{exited} exited; stopping the stack", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        print("stopping...", flush=True)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
