"""50 analyses of small archives through the whole local stack.

Emulator, `chalice local` and the runner as processes (devtools/local_stack.py), default
limits. Five users (the default rate limit is 50 requests / 15 min per user) each upload
10 small zip archives through presigned POSTs and request their analyses; every job is
followed with the long-poll status route until it finishes. Target: all succeed, total
wall time (first upload to last result) <= 60 s.
"""

from __future__ import annotations

import io
import json
import statistics
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from devtools.emulator import free_port
from devtools.local_stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent

USERS = 5
PER_USER = 10
PASSWORD = "correct horse battery"  # noqa: S105 - a local bench user


def archive(n: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"svc{n}/app.py", "from flask import Flask\napp = Flask(__name__)\n")
        z.writestr(f"svc{n}/requirements.txt", "flask==3.0.3\nredis==5.0.1\n")
        z.writestr(f"svc{n}/README.md", "# service\n" * 20)
    return buffer.getvalue()


def user_session(url: str, n: int) -> tuple[requests.Session, str]:
    http = requests.Session()
    creds = {"email": f"bench{n}@example.com", "password": PASSWORD}
    assert http.post(f"{url}/auth/signup", json=creds, timeout=30).status_code == 201
    token = http.post(f"{url}/auth/login", json=creds, timeout=30).json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
    project = http.post(f"{url}/projects", json={"name": "bench"}, timeout=30).json()["id"]
    return http, project


def run_user(url: str, http: requests.Session, project: str, base: int) -> list[dict]:
    jobs = []
    for i in range(PER_USER):
        upload = http.post(f"{url}/projects/{project}/uploads", json={}, timeout=30).json()
        post = upload["upload"]
        sent = requests.post(
            post["url"],
            data=post["fields"],
            files={"file": ("a.zip", archive(base + i), post["content_type"])},
            timeout=30,
        )
        assert sent.status_code in (200, 201, 204), sent.text
        job = http.post(
            f"{url}/projects/{project}/analyses", json={"upload_id": upload["id"]}, timeout=30
        )
        assert job.status_code == 202, job.text
        jobs.append(job.json())
    done = []
    for job in jobs:
        while True:
            got = http.get(f"{url}/projects/{project}/analyses/{job['id']}?wait=10", timeout=30)
            assert got.status_code == 200, got.text
            body = got.json()
            if body["status"] in ("succeeded", "failed"):
                done.append(body)
                break
    return done


def main() -> None:
    with tempfile.TemporaryDirectory() as state:
        stack = LocalStack(
            emulator_port=free_port(),
            api_port=free_port(),
            extra_env={
                "AUTOSTACK_RUNNER_DB": str(Path(state) / "runner.db"),
                "AUTOSTACK_RUNNER_WORK_DIR": str(Path(state) / "work"),
            },
            quiet=True,
        )
        stack.start()
        try:
            url = stack.api_url
            sessions = [user_session(url, n) for n in range(USERS)]
            started = time.monotonic()
            with ThreadPoolExecutor(USERS) as pool:
                results = list(
                    pool.map(
                        lambda args: run_user(url, *args),
                        [
                            (http, project, n * PER_USER)
                            for n, (http, project) in enumerate(sessions)
                        ],
                    )
                )
            wall = time.monotonic() - started
        finally:
            stack.stop()
    jobs = [job for user in results for job in user]
    succeeded = [j for j in jobs if j["status"] == "succeeded"]
    running = [j["timings"]["running_s"] for j in succeeded]
    queued = [j["timings"]["queued_s"] for j in succeeded]
    print(
        json.dumps(
            {
                "bench": "runner_pipeline_50_analyses",
                "analyses": len(jobs),
                "succeeded": len(succeeded),
                "wall_s": round(wall, 2),
                "per_analysis_running_p50_s": round(statistics.median(running), 3),
                "queued_p50_s": round(statistics.median(queued), 3),
                "queued_max_s": round(max(queued), 3),
                "target_wall_s": 60,
                "ok": len(succeeded) == USERS * PER_USER and wall <= 60,
            }
        )
    )


if __name__ == "__main__":
    main()
