"""Python fixture apps run from their plans: Django + PostgreSQL, Flask + Redis + rq,
FastAPI + Alembic."""

from __future__ import annotations

import os
import time

import pytest
import requests

from runner.local_runtime import ServiceEndpoint
from tests.apps.conftest import fresh_database, plan_of, run_plan
from tests.support.services import PostgresServer, RedisServer, TlsMaterial

pytestmark = [pytest.mark.apps, pytest.mark.slow]


def test_django_guestbook_migrates_and_serves(postgres: PostgresServer, tls: TlsMaterial) -> None:
    plan = plan_of("django_postgres")
    assert plan.start.endswith("--bind 0.0.0.0:$PORT"), plan.start
    assert {e.name: e.kind for e in plan.env}["DJANGO_DEBUG"] == "optional"
    # collectstatic imports settings that read SECRET_KEY: the build has a build-only key
    assert plan.build[0].startswith("SECRET_KEY=autostack-build-only-"), plan.build
    database = fresh_database(postgres, "django")
    with run_plan(plan, "django_postgres", tls, {"postgresql": database}) as app:
        assert requests.get(app.url + plan.health_path, timeout=10).ok
        created = requests.post(app.url + "/entries", json={"author": "Ada Lovelace"}, timeout=10)
        assert created.status_code == 201, (plan.release, created.text[:500], app.log_tail())
        page = requests.get(app.url + "/", timeout=10)
        assert page.status_code == 200
        assert "Django guestbook fixture" in page.text and "Ada Lovelace" in page.text
    applied = postgres.psql(database.db, "SELECT name FROM django_migrations WHERE app='entries'")
    assert applied == "0001_initial"
    assert postgres.psql(database.db, "SELECT author FROM entries_entry") == "Ada Lovelace"


def test_flask_worker_processes_a_job(redis: RedisServer, tls: TlsMaterial) -> None:
    plan = plan_of("flask_rq")
    assert [w.name for w in plan.workers] == ["worker"], plan.workers
    endpoint = {"redis": _redis_endpoint(redis)}
    with run_plan(plan, "flask_rq", tls, endpoint) as app:
        assert requests.get(app.url + plan.health_path, timeout=10).ok
        page = requests.get(app.url + "/", timeout=10)
        assert page.status_code == 200 and "Flask word counter fixture" in page.text
        queued = requests.post(app.url + "/jobs", json={"text": "one two three four"}, timeout=10)
        assert queued.status_code == 202, queued.text[:500]
        job_id = queued.json()["id"]
        status = _wait_job(app.url, job_id, timeout_s=60)
        assert status == {"status": "finished", "result": 4}, (
            status,
            app.log_tail("worker:worker")[-3000:],
        )
        groups = [proc.pid for proc in app.processes.values()]
    # Stopped: the web server's and the worker's whole process groups are gone.
    for pgid in groups:
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)


def test_fastapi_alembic_migrates_and_serves(postgres: PostgresServer, tls: TlsMaterial) -> None:
    plan = plan_of("fastapi_alembic")
    assert "--host 0.0.0.0" in plan.start and "--port $PORT" in plan.start, plan.start
    database = fresh_database(postgres, "fastapi")
    with run_plan(plan, "fastapi_alembic", tls, {"postgresql": database}) as app:
        health = requests.get(app.url + plan.health_path, timeout=10)
        assert health.ok and health.json() == {"status": "ok"}
        created = requests.post(app.url + "/items", json={"title": "brass compass"}, timeout=10)
        assert created.status_code == 201, (plan.release, created.text[:500], app.log_tail())
        page = requests.get(app.url + "/", timeout=10)
        assert "FastAPI inventory fixture" in page.text and "brass compass" in page.text
    assert postgres.psql(database.db, "SELECT version_num FROM alembic_version") == "0001"
    assert postgres.psql(database.db, "SELECT title FROM items") == "brass compass"


def _redis_endpoint(redis: RedisServer) -> ServiceEndpoint:
    return ServiceEndpoint(kind="redis", host=redis.host, port=redis.port)


def _wait_job(url: str, job_id: str, timeout_s: float) -> dict[str, object]:
    """Poll the app's own job endpoint until rq reports an end state (bounded)."""
    deadline = time.monotonic() + timeout_s
    body: dict[str, object] = {}
    while time.monotonic() < deadline:
        body = requests.get(f"{url}/jobs/{job_id}", timeout=10).json()
        if body.get("status") in ("finished", "failed"):
            return body
        time.sleep(0.2)
    return body
