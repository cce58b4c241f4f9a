"""The app tier: fixture apps analyzed, planned and run natively against real services.

Each test analyzes a fixture folder with the real engine, builds its plan with
``build_app_plans``, runs the plan with the local runtime (fresh virtualenv or
node_modules, the plan's install/build/release/start) against Debian's PostgreSQL
and Redis (TLS, started here per test process), then speaks HTTP to the app.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from chalicelib.generate.plan import build_app_plans
from chalicelib.models.plan import AppPlan
from chalicelib.models.templates import TemplateRequest
from runner.analysis.engine import analyze_directory
from runner.local_runtime import (
    LocalRuntime,
    RunningApp,
    RuntimeInputs,
    ServiceEndpoint,
    SubprocessRunner,
)
from tests.support.services import (
    PostgresServer,
    RedisServer,
    TlsMaterial,
    make_tls,
    postgres_server,
    redis_server,
)

FIXTURE_APPS = Path(__file__).resolve().parents[1] / "fixtures" / "apps"


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def postgres(tls: TlsMaterial) -> Iterator[PostgresServer]:
    with postgres_server(tls) as server:
        yield server


@pytest.fixture(scope="session")
def redis(tls: TlsMaterial) -> Iterator[RedisServer]:
    with redis_server(tls) as server:
        yield server


def plan_of(fixture: str, target: str = "ec2") -> AppPlan:
    """The plan AutoStack makes for a fixture folder: real analysis, real planner."""
    profile = analyze_directory(FIXTURE_APPS / fixture)
    plans = build_app_plans(profile, TemplateRequest(analysis_id="apps-tier", target=target))
    assert len(plans) == 1, [p.name for p in plans]
    return plans[0]


def fresh_database(postgres: PostgresServer, fixture: str) -> ServiceEndpoint:
    db = re.sub(r"[^a-z0-9_]", "_", fixture.lower()) + "_" + secrets.token_hex(3)
    postgres.create_database(db)
    return ServiceEndpoint(
        kind="postgresql",
        host=postgres.host,
        port=postgres.port,
        user=postgres.user,
        password=postgres.password,
        db=db,
    )


@contextmanager
def run_plan(
    plan: AppPlan,
    fixture: str,
    tls: TlsMaterial,
    services: dict[str, ServiceEndpoint],
) -> Iterator[RunningApp]:
    """Run the plan from a work folder (the fixture itself is never written to)."""
    runtime = LocalRuntime(runner=SubprocessRunner(), machine_env=dict(os.environ))
    inputs = RuntimeInputs(
        services=services,
        machine_env={**tls.client_env(), "NEXT_TELEMETRY_DISABLED": "1"},
    )
    with tempfile.TemporaryDirectory(prefix=f"autostack-app-{fixture}-") as work:
        with runtime.running(plan, FIXTURE_APPS / fixture, Path(work), inputs) as app:
            # Seconds per phase, shown by `pytest -rP` (the tier's wall time is watched).
            print(fixture, {k: round(v, 1) for k, v in app.timings.items()})
            yield app
