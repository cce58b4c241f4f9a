"""Node fixture apps run from their plans: Express + Knex (PostgreSQL), Next.js, a Vite SPA."""

from __future__ import annotations

import re

import pytest
import requests

from tests.apps.conftest import fresh_database, plan_of, run_plan
from tests.support.services import PostgresServer, TlsMaterial

pytestmark = [pytest.mark.apps, pytest.mark.slow]


def test_express_knex_migrates_and_serves(postgres: PostgresServer, tls: TlsMaterial) -> None:
    plan = plan_of("express_knex")
    # In AWS the image trusts the RDS authority; here the local one (machine_env) is trusted.
    assert [b.env for b in plan.ca_bundles] == [["NODE_EXTRA_CA_CERTS"]], plan.ca_bundles
    database = fresh_database(postgres, "express")
    with run_plan(plan, "express_knex", tls, {"postgresql": database}) as app:
        assert requests.get(app.url + plan.health_path, timeout=10).json() == {"status": "ok"}
        created = requests.post(app.url + "/messages", json={"body": "hello knex"}, timeout=10)
        assert created.status_code == 201, (plan.release, created.text[:500], app.log_tail())
        page = requests.get(app.url + "/", timeout=10)
        assert "Express message board fixture" in page.text and "hello knex" in page.text
    migrations = postgres.psql(database.db, "SELECT name FROM knex_migrations")
    assert migrations == "20250101000000_create_messages.js"


def test_nextjs_builds_and_serves(tls: TlsMaterial) -> None:
    plan = plan_of("nextjs_site")
    with run_plan(plan, "nextjs_site", tls, {}) as app:
        health = requests.get(app.url + plan.health_path, timeout=10)
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        page = requests.get(app.url + "/", timeout=30)
        assert page.status_code == 200 and "Next.js lighthouse fixture" in page.text
        assert (app.work_dir / "src" / ".next" / "BUILD_ID").is_file()  # `next build` ran


def test_vite_spa_builds_and_serves(tls: TlsMaterial) -> None:
    plan = plan_of("vite_spa", target="static")
    assert plan.kind == "static" and plan.static_output == "dist", plan
    with run_plan(plan, "vite_spa", tls, {}) as app:
        page = requests.get(app.url + plan.health_path, timeout=10)
        assert page.status_code == 200 and "Vite orbit fixture" in page.text
        bundle = re.search(r'src="(/assets/[^"]+\.js)"', page.text)
        assert bundle, page.text  # the built index.html, not the source one
        script = requests.get(app.url + bundle.group(1), timeout=10)
        assert script.status_code == 200 and "Mercury" in script.text
