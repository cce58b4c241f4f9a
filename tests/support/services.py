"""Debian's real PostgreSQL and Redis servers for the tests, on free loopback ports.

Each server runs in a fresh temporary folder and speaks TLS only, with a certificate of
a throwaway local authority, because the app plans wire the managed services the way
AWS serves them: ``sslmode=require`` for RDS PostgreSQL, ``rediss://`` for ElastiCache.
``TlsMaterial.client_env()`` makes the apps trust that authority (as the AWS ones are
trusted in AWS). PostgreSQL refuses to run as root: as root the server runs as the
``postgres`` user (or ``nobody``) through ``setpriv``; as anyone else, as that user.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devtools.process import die_with_parent

PG_BIN = Path(os.environ.get("AUTOSTACK_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
SYSTEM_CA_BUNDLE = Path(os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"))


class ServiceStartError(RuntimeError):
    """A test service could not start; the message carries its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class TlsMaterial:
    """A local certificate authority and a server certificate for 127.0.0.1/localhost."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    trust_bundle: Path
    """The system's authorities plus the local one (OpenSSL's SSL_CERT_FILE replaces the list)."""

    def client_env(self) -> dict[str, str]:
        """Variables that make Python (OpenSSL) and Node clients trust the local authority."""
        bundle = str(self.trust_bundle)
        return {"SSL_CERT_FILE": bundle, "NODE_EXTRA_CA_CERTS": bundle, "PIP_CERT": bundle}


def make_tls(folder: Path) -> TlsMaterial:
    if shutil.which("openssl") is None:
        raise ServiceStartError("openssl is not installed (Debian package openssl)")
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = folder / "ca.key", folder / "ca.crt"
    key, csr, cert = folder / "server.key", folder / "server.csr", folder / "server.crt"
    ext = folder / "server.ext"
    ext.write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _run(["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_cert, "-days", "2",
          "-subj", "/CN=AutoStack test CA"])  # fmt: skip
    _run(["openssl", "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost"])
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
          "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext])  # fmt: skip
    bundle = folder / "trust-bundle.pem"
    system = SYSTEM_CA_BUNDLE.read_text() if SYSTEM_CA_BUNDLE.exists() else ""
    bundle.write_text(system + "\n" + ca_cert.read_text())
    return TlsMaterial(ca_cert=ca_cert, server_cert=cert, server_key=key, trust_bundle=bundle)


def _run(argv: list[object], **kwargs: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )
    if proc.returncode != 0:
        raise ServiceStartError(f"{argv[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc


def _service_user() -> pwd.struct_passwd | None:
    """The account PostgreSQL runs as when we are root (it refuses root), else None."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise ServiceStartError("running as root and neither 'postgres' nor 'nobody' exists")


def _as_user(argv: list[str], user: pwd.struct_passwd | None) -> list[str]:
    if user is None:
        return argv
    return [
        "setpriv",
        f"--reuid={user.pw_uid}",
        f"--regid={user.pw_gid}",
        "--clear-groups",
        "--",
        *argv,
    ]


def _stop(proc: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown; Redis exits on it too
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceStartError(f"exited with {proc.returncode}: {_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServiceStartError(f"port {port} did not open within {timeout_s}s: {_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    socket_dir: Path
    run_as: pwd.struct_passwd | None

    def create_database(self, name: str) -> None:
        self.psql("postgres", f'CREATE DATABASE "{name}"')

    def psql(self, database: str, sql: str) -> str:
        """Run one statement over the local socket; the unaligned, tuples-only output."""
        argv = [str(PG_BIN / "psql"), "-h", str(self.socket_dir), "-p", str(self.port)]
        argv += ["-U", self.user, "-d", database, "-v", "ON_ERROR_STOP=1", "-tAc", sql]
        return _run(argv).stdout.strip()


@contextmanager
def postgres_server(tls: TlsMaterial) -> Iterator[PostgresServer]:
    """A fresh PostgreSQL cluster: TLS on TCP (password auth), trust on its own socket."""
    run_as = _service_user()
    base = Path(tempfile.mkdtemp(prefix="autostack-pg-"))
    data, sockets, log = base / "data", base / "sock", base / "postgres.log"
    sockets.mkdir()
    user, password = "autostack", secrets.token_hex(12)
    (base / "pwfile").write_text(password + "\n")
    for name, src in (("server.crt", tls.server_cert), ("server.key", tls.server_key)):
        shutil.copy(src, base / name)
    (base / "server.key").chmod(0o600)
    if run_as is not None:
        for path in [base, *base.iterdir()]:
            os.chown(path, run_as.pw_uid, run_as.pw_gid)
    port = free_port()
    proc: subprocess.Popen[bytes] | None = None
    try:
        initdb = [str(PG_BIN / "initdb"), "-D", str(data), "-U", user, "-E", "UTF8"]
        initdb += ["--pwfile", str(base / "pwfile"), "--auth-local=trust"]
        initdb += ["--auth-host=scram-sha-256", "--no-sync"]
        _run(_as_user(initdb, run_as), env=dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8"))
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": str(sockets),
            "ssl": "on",
            "ssl_cert_file": str(base / "server.crt"),
            "ssl_key_file": str(base / "server.key"),
            "fsync": "off",  # throwaway test data: durability buys nothing here
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "60",
        }
        argv = [str(PG_BIN / "postgres"), "-D", str(data)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                _as_user(argv, run_as),
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
        _wait_port(port, proc, log, timeout_s=30)
        server = PostgresServer("127.0.0.1", port, user, password, sockets, run_as)
        _wait_ready(server, proc, log)
        yield server
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(base, ignore_errors=True)


def _wait_ready(server: PostgresServer, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            server.psql("postgres", "SELECT 1")
            return
        except ServiceStartError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise ServiceStartError(f"PostgreSQL never answered: {_tail(log)}") from None
            time.sleep(0.1)


@dataclass(frozen=True)
class RedisServer:
    host: str
    port: int

    def cli(self, tls: TlsMaterial, *args: str) -> str:
        argv = ["redis-cli", "--tls", "--cacert", str(tls.ca_cert), "-h", self.host]
        return _run([*argv, "-p", str(self.port), *args]).stdout.strip()


@contextmanager
def redis_server(tls: TlsMaterial) -> Iterator[RedisServer]:
    """A fresh Redis speaking TLS only, nothing persisted."""
    base = Path(tempfile.mkdtemp(prefix="autostack-redis-"))
    log = base / "redis.log"
    port = free_port()
    argv = [REDIS_SERVER, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"]
    argv += ["--tls-cert-file", str(tls.server_cert), "--tls-key-file", str(tls.server_key)]
    argv += ["--tls-ca-cert-file", str(tls.ca_cert), "--tls-auth-clients", "no"]
    argv += ["--save", "", "--appendonly", "no", "--dir", str(base), "--logfile", str(log)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, preexec_fn=die_with_parent)
    try:
        _wait_port(port, proc, log, timeout_s=20)
        yield RedisServer("127.0.0.1", port)
    finally:
        _stop(proc)
        shutil.rmtree(base, ignore_errors=True)
