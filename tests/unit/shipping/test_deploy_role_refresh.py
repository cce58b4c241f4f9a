"""The deploy-role credentials of the AWS executors outlive the one-hour session: they
refresh themselves (a fresh job session, the role assumed again with the ExternalId)
before they expire. Fake STS and clock; the emulator's real STS:
tests/functional/shipping/test_aws_release_emulator.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runner.job_session import JobSessionError
from runner.shipping.aws_access import DeployAccess, _SharedSession, refreshing_deploy_role

ACCESS = DeployAccess(
    role_arn="arn:aws:iam::210987654321:role/autostack-deploy",
    external_id="ext-7f3a9c1d2e",
    region="eu-west-1",
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Sts:
    """AssumeRole: an hour-long session each time, numbered."""

    def __init__(self, clock: Clock, fail: bool = False) -> None:
        self.clock = clock
        self.fail = fail
        self.calls: list[dict[str, Any]] = []

    def assume_role(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.fail:
            raise RuntimeError("AccessDenied: not trusted")
        n = len(self.calls)
        return {
            "Credentials": {
                "AccessKeyId": f"AK{n}",
                "SecretAccessKey": f"secret{n}",
                "SessionToken": f"token{n}",
                "Expiration": self.clock.now + timedelta(hours=1),
            }
        }


def test_the_deploy_role_is_assumed_again_before_its_session_expires() -> None:
    clock = Clock()
    sts = Sts(clock)
    job_sessions: list[int] = []

    def job_sts() -> Sts:
        job_sessions.append(1)  # the job's scoped session expires too: a fresh one
        return sts

    credentials = refreshing_deploy_role(job_sts, ACCESS, "autostack-job-j1", clock)
    assert credentials.get_frozen_credentials().access_key == "AK1"
    clock.now += timedelta(minutes=40)  # a long build, still well inside the hour
    assert credentials.get_frozen_credentials().access_key == "AK1"
    assert len(sts.calls) == 1
    clock.now += timedelta(minutes=6)  # 14 minutes left: refreshed
    frozen = credentials.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == ("AK2", "secret2", "token2")
    assert len(sts.calls) == 2 and len(job_sessions) == 2
    assert all(
        call
        == {
            "RoleArn": ACCESS.role_arn,
            "RoleSessionName": "autostack-job-j1",
            "ExternalId": ACCESS.external_id,
        }
        for call in sts.calls
    )
    clock.now += timedelta(hours=3)  # and so on, for as long as the job runs
    assert credentials.get_frozen_credentials().access_key == "AK3"


def test_a_refused_first_assume_names_the_deploy_role() -> None:
    clock = Clock()
    with pytest.raises(JobSessionError, match="could not assume the deploy role: AccessDenied"):
        refreshing_deploy_role(lambda: Sts(clock, fail=True), ACCESS, "n", clock)


def test_clients_of_a_job_sign_with_the_refreshing_credentials() -> None:
    """A real boto3 client (no request sent): its signer reads the refreshable ones."""
    clock = Clock()
    sts = Sts(clock)
    credentials = refreshing_deploy_role(lambda: sts, ACCESS, "n", clock)
    session = _SharedSession(None).with_credentials(credentials)
    client = session.client("s3", region_name="eu-west-1")
    signer_credentials = client._request_signer._credentials
    assert signer_credentials.get_frozen_credentials().access_key == "AK1"
    clock.now += timedelta(minutes=50)
    assert signer_credentials.get_frozen_credentials().access_key == "AK2"
    # Another job's session keeps its own credentials (a session holds one set).
    other = refreshing_deploy_role(lambda: Sts(clock), ACCESS, "m", clock)
    other_session = _SharedSession(None).with_credentials(other)
    assert other_session.get_credentials() is other and session.get_credentials() is credentials
