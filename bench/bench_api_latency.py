"""API latency against a running local stack (moto server + `chalice local`).

Starts its own stack on free ports (or uses --url), signs up one user per
client with one project, then N clients loop for D seconds over: login, list
projects, get project. Prints one JSON object with p50/p95 per route, request
counts and errors. Targets: p95 <= 100 ms (login <= 200 ms), zero 5xx.

The stack runs with the real scrypt cost (n=2**14) but with the rate and login
limits raised (AUTOSTACK_RATE_LIMIT, AUTOSTACK_LOGIN_MAX_PER_*): otherwise the
50 requests / 15 min limit would throttle the benchmark's users after 50 calls.
Clients send back to back by default (a closed loop: the dev server's queue is
measured too); --think-ms adds a pause per client between requests.
With its own stack it also prints `aws_calls_per_request`: the AWS (emulator) round
trips each route makes, counted in-process with chalice's test client on the same
emulator (tests/support/aws_calls.py; tests/functional/api/test_api_aws_call_budget.py
holds the same figures as a budget).
Run: .venv/bin/python -m bench.bench_api_latency [--clients 10 --seconds 30 --think-ms 0]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests

from devtools.emulator import free_port
from devtools.local_stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent

PASSWORD = "benchmark password 1"  # noqa: S105 - a throwaway local user
OVERRIDES = {
    "AUTOSTACK_RATE_LIMIT": "1000000",
    "AUTOSTACK_READ_RATE_LIMIT": "1000000",
    "AUTOSTACK_LOGIN_MAX_PER_EMAIL": "1000000",
    "AUTOSTACK_LOGIN_MAX_PER_IP": "1000000",
    "AUTOSTACK_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_DISABLED": "true",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def client_loop(
    url: str, n: int, deadline: float, think_s: float, out: dict, lock: threading.Lock
) -> None:
    http = requests.Session()
    email = f"bench{n}@example.com"
    token = http.post(f"{url}/auth/login", json={"email": email, "password": PASSWORD}).json()[
        "access_token"
    ]
    auth = {"Authorization": f"Bearer {token}"}
    project_id = http.get(f"{url}/projects", headers=auth).json()["projects"][0]["id"]
    calls = [
        ("login", "POST", "/auth/login", {"email": email, "password": PASSWORD}, None),
        ("list_projects", "GET", "/projects", None, auth),
        ("get_project", "GET", f"/projects/{project_id}", None, auth),
    ]
    step = n  # clients start at different routes
    while time.monotonic() < deadline:
        name, method, path, body, headers = calls[step % len(calls)]
        step += 1
        started = time.perf_counter()
        try:
            response = http.request(method, url + path, json=body, headers=headers, timeout=30)
            status = response.status_code
        except requests.RequestException:
            status = 599
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            out[name].append((elapsed, status))
        if think_s:
            time.sleep(think_s)


def run(url: str, clients: int, seconds: float, think_ms: float = 0) -> dict:
    http = requests.Session()
    for n in range(clients):
        email = f"bench{n}@example.com"
        http.post(f"{url}/auth/signup", json={"email": email, "password": PASSWORD})
        token = http.post(f"{url}/auth/login", json={"email": email, "password": PASSWORD})
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        if not http.get(f"{url}/projects", headers=auth).json()["projects"]:
            http.post(f"{url}/projects", json={"name": f"bench-{n}"}, headers=auth)
    results: dict[str, list[tuple[float, int]]] = defaultdict(list)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(
            target=client_loop, args=(url, n, deadline, think_ms / 1000, results, lock)
        )
        for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    routes = {}
    for name, samples in sorted(results.items()):
        times = [t for t, _ in samples]
        routes[name] = {
            "requests": len(samples),
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(percentile(times, 0.95), 1),
            "max_ms": round(max(times), 1),
            "errors": sum(1 for _, s in samples if s >= 400),
            "5xx": sum(1 for _, s in samples if s >= 500),
        }
    targets = {"login": 200, "list_projects": 100, "get_project": 100}
    return {
        "benchmark": "api_latency",
        "clients": clients,
        "seconds": seconds,
        "think_ms": think_ms,
        "routes": routes,
        "total_requests": sum(r["requests"] for r in routes.values()),
        "throughput_rps": round(sum(r["requests"] for r in routes.values()) / seconds, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "targets_p95_ms": targets,
        "meets_targets": all(
            routes[name]["p95_ms"] <= limit and routes[name]["5xx"] == 0
            for name, limit in targets.items()
            if name in routes
        ),
    }


def aws_calls_per_route(env: dict[str, str], clients: int) -> dict[str, list[str]]:
    """The AWS calls of one login, list and get of a benchmark user, in order."""
    from chalice.test import Client

    from app import app
    from chalicelib.context import build_context, reset_context, set_context
    from chalicelib.settings import load_settings
    from tests.support.aws_calls import AwsCallCounter

    context = build_context(load_settings(env))
    counter = AwsCallCounter.watching(context.aws)
    set_context(context)
    email = f"bench{clients - 1}@example.com"
    # The app prints its EMF metric lines: keep this script's output one JSON object.
    try:
        with contextlib.redirect_stdout(io.StringIO()), Client(app, stage_name="local") as client:

            def call(method: str, path: str, body: dict | None = None, token: str = "") -> dict:
                headers = {"Content-Type": "application/json"}
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                payload = json.dumps(body).encode() if body is not None else b""
                response = client.http.request(method, path, headers=headers, body=payload)
                assert response.status_code == 200, response.body
                return json.loads(response.body)

            credentials = {"email": email, "password": PASSWORD}
            counter.take()
            token = call("POST", "/auth/login", credentials)["access_token"]
            calls = {"login": counter.take()}
            project_id = call("GET", "/projects", token=token)["projects"][0]["id"]
            calls["list_projects"] = counter.take()
            call("GET", f"/projects/{project_id}", token=token)
            calls["get_project"] = counter.take()
    finally:
        reset_context()
    return calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument(
        "--think-ms", type=float, default=0, help="pause of each client between requests"
    )
    parser.add_argument("--url", help="an already running stack (its limits must allow the load)")
    args = parser.parse_args()
    if args.url:
        print(json.dumps(run(args.url, args.clients, args.seconds, args.think_ms)))
        return
    stack = LocalStack(
        emulator_port=free_port(), api_port=free_port(), extra_env=OVERRIDES, quiet=True
    ).start()
    try:
        result = run(stack.api_url, args.clients, args.seconds, args.think_ms)
        calls = aws_calls_per_route(stack.env, args.clients)
        result["aws_calls_per_request"] = {name: len(ops) for name, ops in calls.items()}
        result["aws_calls"] = {
            name: [op.split(".", 1)[1] for op in ops] for name, ops in calls.items()
        }
        print(json.dumps(result))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
