"""The egress gate: the sandbox's only way out of its own network namespace.

Every sandboxed Terraform command runs in a network namespace of its own (bubblewrap
``--unshare-net``): it has a loopback and nothing else, so the instance metadata
service, the VPC and the runner's own loopback services are not even routable from it.
What it may reach goes through this gate, which runs in the runner (threads, one gate
per command) and listens on a unix socket bound into the sandbox. Inside, the sandbox's
Python process (``runner.egress_forwarder``) listens on its loopback and hands each
connection to the socket:

- ``HTTPS_PROXY`` points the provider and the S3 backend (Go's ``ProxyFromEnvironment``)
  at a loopback port there: the client asks the gate ``CONNECT host:port``;
- Go never proxies a loopback destination, so in the local stage the emulator's own
  loopback port is forwarded instead (the forwarder asks ``CONNECT`` for it), and the
  endpoint URLs of the local-stage override stay valid unchanged.

The gate resolves the name itself, refuses if any address it gets is not allowed
(``EgressPolicy``: link-local including the metadata service, loopback, private,
shared, multicast, unspecified or otherwise non-public addresses, and every port but
443), and connects to the checked address (never a second lookup). The one exception
is the configured emulator endpoint (``AWS_ENDPOINT_URL`` outside the prod stage).
Refusals answer 403, are logged as JSON with the job's fields and told to the job's
log. Bounded per command: open connections, an idle timeout, bytes in both directions.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import selectors
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("runner.egress")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[IPAddress]]
Dialer = Callable[[IPAddress, int, float], socket.socket]

ALLOWED_PORTS = frozenset({443})  # AWS APIs (and the S3 backend) speak HTTPS only
SOCKET_NAME = "gate.sock"
MAX_HEAD_BYTES = 8 * 1024  # a CONNECT request's head
MAX_REFUSALS_KEPT = 20  # for the job's log
MAX_REFUSALS_LOGGED = 50  # JSON lines per command: a loop of refusals must not flood the log
_IMDS_V6 = ipaddress.IPv6Address("fd00:ec2::254")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # embeds an IPv4 address in its last 32 bits
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT (not "private", not public)


class EgressError(Exception):
    """Base of this module's errors."""


class EgressSettingsError(EgressError):
    """An egress setting is missing or invalid (names the variable)."""


class EgressRequestError(EgressError):
    """A client's request to the gate is malformed."""


# --------------------------------------------------------------------------- the decision


def refusal_reason(address: IPAddress, port: int) -> str | None:
    """Why the gate must not connect to ``address:port`` (None: allowed). Pure."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = refusal_reason(embedded, port)
        return None if reason is None else f"{reason} (inside {address})"
    if address in _NAT64_LOCAL:
        return "translated address"
    if address == _IMDS_V6 or address.is_link_local:
        return "link-local address (instance metadata)"
    if address.is_loopback:
        return "loopback address"
    if address.is_unspecified:
        return "unspecified address"
    if address.is_multicast:
        return "multicast address"
    if address.is_private:
        return "private address"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "shared address space"
    if not address.is_global or address.is_reserved:
        return "not a public address"
    if port not in ALLOWED_PORTS:
        return f"port {port} (only {', '.join(map(str, sorted(ALLOWED_PORTS)))} is allowed)"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries to (mapped, NAT64, 6to4), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


@dataclass(frozen=True)
class EgressPolicy:
    """What a sandbox may connect to: public addresses on 443, plus ``endpoints`` exactly."""

    endpoints: frozenset[tuple[IPAddress, int]] = frozenset()  # the emulator's addresses

    def refusal(self, addresses: Sequence[IPAddress], port: int) -> str | None:
        """None if every address is allowed, else the first refusal (naming the address).

        All of a name's addresses must pass: a name that also points somewhere internal
        is refused as a whole, so that no retry can reach the internal one."""
        if not addresses:
            return "the name has no address"
        for address in addresses:
            if (address, port) in self.endpoints:
                continue
            reason = refusal_reason(address, port)
            if reason is not None:
                return f"{address}: {reason}"
        return None


def parse_connect(head: bytes) -> tuple[str, int]:
    """The ``host, port`` of a ``CONNECT host:port HTTP/1.x`` request head."""
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise EgressRequestError(f"not an HTTP/1 request line: {line[:80]!r}")
    method, target = parts[0], parts[1]
    if method != "CONNECT":
        raise EgressRequestError(f"only CONNECT is allowed, not {method[:16]!r}")
    return parse_authority(target)


def parse_authority(target: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` into its parts (the port is required)."""
    if target.startswith("["):
        host, sep, rest = target[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise EgressRequestError(f"bad authority {target[:80]!r}")
        port_text = rest[1:]
    else:
        host, sep, port_text = target.rpartition(":")
        if not sep or ":" in host:
            raise EgressRequestError(f"bad authority {target[:80]!r} (host:port expected)")
    if not host or len(host) > 253 or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise EgressRequestError(f"bad authority {target[:80]!r}")
    return host.lower().rstrip("."), int(port_text)


def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses of ``host`` (an address literal is itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


def dial(address: IPAddress, port: int, timeout_s: float) -> socket.socket:
    """A TCP connection to the checked address itself (no second name lookup)."""
    return socket.create_connection((str(address), port), timeout=timeout_s)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class EgressSettings:
    """The gate's limits and the emulator endpoint it lets through; read once."""

    endpoint_url: str | None = None  # the emulator (AWS_ENDPOINT_URL outside prod)
    max_connections: int = 64  # open connections of one command at once
    idle_timeout_s: float = 300.0  # a connection with no byte either way for this long closes
    max_bytes: int = 2 * 1024 * 1024 * 1024  # both directions, all connections, one command
    connect_timeout_s: float = 15.0
    head_timeout_s: float = 10.0  # a client must send its CONNECT within this

    def __post_init__(self) -> None:
        if self.endpoint_url is not None:
            self.endpoint()  # fails early on a URL the sandbox could not reach

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> EgressSettings:
        """AWS_ENDPOINT_URL (the emulator; ignored in the prod stage),
        AUTOSTACK_EGRESS_MAX_CONNECTIONS, AUTOSTACK_EGRESS_IDLE_TIMEOUT_S and
        AUTOSTACK_EGRESS_MAX_MB."""
        stage = (environ.get("AUTOSTACK_STAGE") or "").strip()
        url = (environ.get("AWS_ENDPOINT_URL") or "").strip().rstrip("/") or None
        return cls(
            endpoint_url=None if stage == "prod" else url,
            max_connections=int(_number(environ, "AUTOSTACK_EGRESS_MAX_CONNECTIONS", 64)),
            idle_timeout_s=_number(environ, "AUTOSTACK_EGRESS_IDLE_TIMEOUT_S", 300.0),
            max_bytes=int(_number(environ, "AUTOSTACK_EGRESS_MAX_MB", 2048)) << 20,
        )

    def endpoint(self) -> tuple[str, int] | None:
        """The emulator's ``host, port`` (None without one)."""
        if self.endpoint_url is None:
            return None
        parts = urlsplit(self.endpoint_url)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            port = None
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host or port is None:
            raise EgressSettingsError(
                f"AWS_ENDPOINT_URL: {self.endpoint_url!r} is not an http(s) URL of the emulator"
            )
        if parts.scheme == "http" and not _is_loopback_name(host):
            # Go sends plain-http requests for a non-loopback host to HTTP_PROXY as
            # absolute-form requests, which the gate (CONNECT only) does not relay.
            raise EgressSettingsError(
                f"AWS_ENDPOINT_URL: {self.endpoint_url!r}: the Terraform sandbox reaches an "
                "emulator over plain http only on a loopback address (or use https)"
            )
        if _is_loopback_name(host) and port < 1024:
            # The sandbox's unprivileged uid cannot listen on it in its own loopback.
            raise EgressSettingsError(
                f"AWS_ENDPOINT_URL: {self.endpoint_url!r}: an emulator on loopback must use a "
                "port from 1024 up (the Terraform sandbox forwards that port unprivileged)"
            )
        return host, port

    def loopback_forwards(self) -> tuple[tuple[str, int], ...]:
        """The emulator endpoint when the sandbox must forward it on its own loopback."""
        endpoint = self.endpoint()
        if endpoint is None or not _is_loopback_name(endpoint[0]):
            return ()
        return (endpoint,)

    def policy(self, resolver: Resolver = resolve) -> EgressPolicy:
        endpoint = self.endpoint()
        if endpoint is None:
            return EgressPolicy()
        host, port = endpoint
        try:
            addresses = resolver(host, port)
        except OSError as exc:
            raise EgressSettingsError(f"AWS_ENDPOINT_URL: cannot resolve {host!r}: {exc}") from None
        return EgressPolicy(frozenset((address, port) for address in addresses))


def _is_loopback_name(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise EgressSettingsError(f"{name}: {raw!r} is not a number") from None
    if not value > 0:
        raise EgressSettingsError(f"{name}: must be positive, got {raw!r}")
    return value


# --------------------------------------------------------------------------- the gate


@dataclass(frozen=True)
class Refusal:
    destination: str  # host:port as the client asked
    reason: str


@dataclass
class _Counters:
    lock: threading.Lock = field(default_factory=threading.Lock)
    active: int = 0
    connections: int = 0  # relayed
    refused: int = 0
    bytes: int = 0


class EgressGate:
    """One command's gate: a unix socket in a folder of its own, served by threads.

    Use as a context manager (``open`` ... ``close``); ``directory`` is what the sandbox
    binds, ``refusals`` what it was refused."""

    def __init__(
        self,
        parent: Path,
        policy: EgressPolicy,
        settings: EgressSettings,
        *,
        resolver: Resolver = resolve,
        dialer: Dialer = dial,
        log_fields: Mapping[str, Any] | None = None,
    ) -> None:
        self.policy = policy
        self.settings = settings
        self._resolve = resolver
        self._dial = dialer
        self._log_fields = dict(log_fields or {})
        parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory = Path(tempfile.mkdtemp(prefix="egress-", dir=parent))
        # The sandbox's uid must traverse it (only the socket is in it; its parent is 0700).
        os.chmod(self.directory, 0o755)  # noqa: S103 (holds only the socket)
        self.refusals: list[Refusal] = []
        self.counters = _Counters()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._closed = threading.Event()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._bind(self._listener)
            self._listener.listen(64)
        except BaseException:
            self._listener.close()
            shutil.rmtree(self.directory, ignore_errors=True)
            raise
        self._acceptor = threading.Thread(target=self._accept, name="egress-gate", daemon=True)
        self._acceptor.start()

    @property
    def socket_path(self) -> Path:
        return self.directory / SOCKET_NAME

    def _bind(self, listener: socket.socket) -> None:
        # A unix socket path is limited to 107 bytes; the folder's own may be longer (a
        # deep work folder), so bind through a descriptor of the folder instead.
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            listener.bind(f"/proc/self/fd/{fd}/{SOCKET_NAME}")
        finally:
            os.close(fd)
        os.chmod(self.socket_path, 0o666)  # noqa: S103 (the sandbox's uid connects)

    def __enter__(self) -> EgressGate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting, cut every open connection, remove the socket's folder."""
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        except OSError:
            pass
        self._listener.close()
        with self.counters.lock:
            sockets = list(self._open)
        for sock in sockets:
            _shutdown(sock)
        self._acceptor.join(timeout=5)
        for thread in list(self._threads):
            thread.join(timeout=5)
        shutil.rmtree(self.directory, ignore_errors=True)
        if self.counters.refused > MAX_REFUSALS_LOGGED:
            log.warning(
                "egress refusals not logged one by one",
                extra={**self._log_fields, "refused": self.counters.refused},
            )

    # -- serving ---------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self.counters.lock:
                full = self.counters.active >= self.settings.max_connections
                if not full:
                    self.counters.active += 1
                    self._open.add(client)
            if full:
                self._refuse(client, "?", f"over {self.settings.max_connections} connections", 503)
                client.close()
                continue
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            client.settimeout(self.settings.head_timeout_s)
            try:
                head, rest = _read_head(client)
                host, port = parse_connect(head)
            except EgressRequestError as exc:
                self._refuse(client, "?", str(exc), 405 if "only CONNECT" in str(exc) else 400)
                return
            destination = f"{host}:{port}"
            try:
                addresses = self._resolve(host, port)
            except (OSError, ValueError) as exc:
                self._refuse(client, destination, f"cannot resolve: {exc}", 502)
                return
            reason = self.policy.refusal(addresses, port)
            if reason is not None:
                self._refuse(client, destination, reason, 403)
                return
            upstream = self._connect(addresses, port)
            if upstream is None:
                self._refuse(client, destination, "cannot connect", 502)
                return
            with self.counters.lock:
                if self._closed.is_set():
                    return
                self._open.add(upstream)
                self.counters.connections += 1
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest and not self._count(len(rest), destination):
                return
            if rest:
                upstream.sendall(rest)
            self._relay(client, upstream, destination)
        except OSError:
            pass  # the client or the destination went away
        finally:
            with self.counters.lock:
                self.counters.active -= 1
                self._open.discard(client)
                if upstream is not None:
                    self._open.discard(upstream)
            client.close()
            if upstream is not None:
                upstream.close()

    def _connect(self, addresses: Iterable[IPAddress], port: int) -> socket.socket | None:
        for address in addresses:
            try:
                return self._dial(address, port, self.settings.connect_timeout_s)
            except OSError:
                continue
        return None

    def _relay(self, client: socket.socket, upstream: socket.socket, destination: str) -> None:
        """Copy both ways until both ends are done, a byte limit, idleness or close."""
        peers = {client: upstream, upstream: client}
        for sock in peers:
            sock.settimeout(self.settings.idle_timeout_s)  # a stalled send ends too
        selector = selectors.DefaultSelector()
        try:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            reading = len(peers)
            while reading and not self._closed.is_set():
                events = selector.select(timeout=self.settings.idle_timeout_s)
                if not events:
                    log.info(
                        "egress connection idle, closed",
                        extra={**self._log_fields, "destination": destination},
                    )
                    return
                for key, _ in events:
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(64 * 1024)
                    if not data:
                        selector.unregister(source)
                        reading -= 1
                        _shutdown(peers[source], socket.SHUT_WR)
                        continue
                    if not self._count(len(data), destination):
                        return
                    peers[source].sendall(data)
        finally:
            selector.close()

    def _count(self, size: int, destination: str) -> bool:
        with self.counters.lock:
            self.counters.bytes += size
            over = self.counters.bytes > self.settings.max_bytes
        if over:
            log.warning(
                "egress byte limit reached, connection closed",
                extra={
                    **self._log_fields,
                    "destination": destination,
                    "max_bytes": self.settings.max_bytes,
                },
            )
        return not over

    def _refuse(self, client: socket.socket, destination: str, reason: str, status: int) -> None:
        with self.counters.lock:
            self.counters.refused += 1
            count = self.counters.refused
            if len(self.refusals) < MAX_REFUSALS_KEPT:
                self.refusals.append(Refusal(destination, reason))
        if count <= MAX_REFUSALS_LOGGED:
            log.warning(
                "egress refused",
                extra={**self._log_fields, "destination": destination, "reason": reason},
            )
        phrase = {400: "Bad Request", 403: "Forbidden", 405: "Method Not Allowed"}.get(
            status, "Bad Gateway" if status == 502 else "Service Unavailable"
        )
        body = f"AutoStack sandbox: {reason}\n".encode()
        head = (
            f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        try:
            client.sendall(head + body)
        except OSError:
            pass


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The request head (up to the blank line) and whatever came after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD_BYTES:
            raise EgressRequestError("request head too long")
        chunk = sock.recv(4096)
        if not chunk:
            raise OSError("client closed before its request")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _shutdown(sock: socket.socket, how: int = socket.SHUT_RDWR) -> None:
    try:
        sock.shutdown(how)
    except OSError:
        pass
