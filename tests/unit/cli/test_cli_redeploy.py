"""``autostack deploy`` onto a live stack: when a release of the new source is enough (the
bundle's infrastructure, build files and plans unchanged) and how it is followed. Fake
session answers; the real API and runner: tests/functional/cli/test_cli_deploy_release.py."""

from __future__ import annotations

from typing import Any

import pytest

from autostack import flows
from autostack.errors import CliError
from autostack.output import Output

PLAN = {"name": "web", "start": "gunicorn app:app"}


def _bundle(**changes: Any) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "target": "ec2",
        "region": "eu-west-1",
        "plans": [PLAN],
        "contents": {
            "infra/main.tf": 'resource "aws_instance" "app" {}',
            "Dockerfile": "FROM python:3.13-slim",
            "README.md": "generated for analysis an1",
            ".github/workflows/deploy.yml": "on: push",
        },
    }
    contents = changes.pop("contents", {})
    bundle.update(changes)
    bundle["contents"] = {**bundle["contents"], **contents}
    return bundle


def test_the_same_infrastructure_build_and_plans_need_only_a_release() -> None:
    # Files a release does not use (the README, the CI workflow) may differ.
    other = _bundle(contents={"README.md": "generated for analysis an2", ".github/x": "y"})
    assert flows.changed_inputs(other, _bundle()) == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"contents": {"infra/main.tf": 'resource "aws_db_instance" "db" {}'}}, "infra/main.tf"),
        ({"contents": {"infra/rds.tf": "# a database now"}}, "infra/rds.tf"),
        ({"contents": {"Dockerfile": "FROM node:22"}}, "Dockerfile"),
        ({"plans": [{**PLAN, "start": "flask run"}]}, "plans"),
        ({"target": "lambda"}, "target"),
        ({"region": "us-east-1"}, "region"),
    ],
)
def test_any_infrastructure_build_or_plan_change_is_named(
    change: dict[str, Any], named: str
) -> None:
    assert flows.changed_inputs(_bundle(**change), _bundle()) == [named]


class Releases:
    """GET /projects/p/releases answers, one per call (the last repeats)."""

    def __init__(self, *answers: list[dict[str, Any]]) -> None:
        self.answers = list(answers)
        self.calls = 0

    def call(self, method: str, path: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        assert (method, path) == ("GET", "/projects/p/releases")
        self.calls += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return {"releases": answer}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_release_is_followed_until_it_is_done() -> None:
    older = {"id": "r1", "job_id": "j0", "status": "live"}
    session = Releases(
        [older],  # the runner has not started the job
        [{"id": "r2", "job_id": "j1", "status": "building"}, older],
        [{"id": "r2", "job_id": "j1", "status": "live", "url": "http://app"}, older],
    )
    clock = Clock()
    done = flows.follow_release(
        session,
        Output(json_mode=True),
        "p",
        "j1",
        clock=clock,
        sleep=clock.sleep,  # type: ignore[arg-type]
    )
    assert done["status"] == "live" and done["url"] == "http://app"
    assert session.calls == 3 and clock.now == 2 * flows.RELEASE_POLL_S


def test_a_release_that_never_ends_is_given_up_on_in_bounded_time() -> None:
    session = Releases([{"id": "r2", "job_id": "j1", "status": "building"}])
    clock = Clock()
    with pytest.raises(CliError, match="did not finish within 30 s"):
        flows.follow_release(
            session, Output(json_mode=True), "p", "j1",  # type: ignore[arg-type]
            clock=clock, sleep=clock.sleep, timeout_s=30,
        )  # fmt: skip
    assert clock.now <= 30 + flows.RELEASE_POLL_S
