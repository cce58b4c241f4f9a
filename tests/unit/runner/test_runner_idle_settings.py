"""The idle stop's settings and the instance id from the metadata service (fakes, no I/O)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from runner.chores import IdleStopError, instance_id_from_imds
from runner.settings import RunnerSettings, SettingsError

BASE = {
    "AUTOSTACK_STAGE": "prod",
    "AUTOSTACK_TABLE": "t",
    "AUTOSTACK_BUCKET": "b",
    "AUTOSTACK_QUEUE_URL": "q",
    "AUTOSTACK_DLQ_URL": "d",
}


def test_defaults_are_two_terraform_slots_one_general_and_three_minutes_idle() -> None:
    settings = RunnerSettings.from_env(BASE)
    assert (settings.terraform_slots, settings.general_slots) == (2, 1)
    assert settings.idle_stop_s == 180 and settings.instance_id is None


def test_settings_are_read_and_checked_by_name() -> None:
    settings = RunnerSettings.from_env(
        BASE
        | {
            "AUTOSTACK_MAX_CONCURRENT_DEPLOYMENTS": "3",
            "AUTOSTACK_RUNNER_IDLE_STOP_S": "0",
            "AUTOSTACK_RUNNER_INSTANCE_ID": " i-0abc ",
        }
    )
    assert settings.terraform_slots == 3 and settings.idle_stop_s == 0
    assert settings.instance_id == "i-0abc"
    with pytest.raises(SettingsError, match="AUTOSTACK_RUNNER_IDLE_STOP_S"):
        RunnerSettings.from_env(BASE | {"AUTOSTACK_RUNNER_IDLE_STOP_S": "-1"})
    with pytest.raises(SettingsError, match="AUTOSTACK_MAX_CONCURRENT_DEPLOYMENTS"):
        RunnerSettings.from_env(BASE | {"AUTOSTACK_MAX_CONCURRENT_DEPLOYMENTS": "0"})


class FakeImds:
    def __init__(self, instance_id: bytes = b"i-0123456789abcdef0", fail: bool = False):
        self.requests: list[Any] = []
        self._instance_id = instance_id
        self._fail = fail

    def __call__(self, request: Any, timeout: float) -> io.BytesIO:
        self.requests.append(request)
        if self._fail:
            raise OSError("no route to host")
        if request.full_url.endswith("/api/token"):
            return io.BytesIO(b"token-1")
        assert request.get_header("X-aws-ec2-metadata-token") == "token-1"
        return io.BytesIO(self._instance_id)


def test_instance_id_comes_from_imdsv2_with_a_token_first() -> None:
    imds = FakeImds()
    assert instance_id_from_imds(urlopen=imds) == "i-0123456789abcdef0"
    token, identity = imds.requests
    assert token.get_method() == "PUT" and token.full_url.endswith("/latest/api/token")
    assert identity.full_url.endswith("/latest/meta-data/instance-id")


def test_no_metadata_service_names_the_setting_to_use() -> None:
    with pytest.raises(IdleStopError, match="AUTOSTACK_RUNNER_INSTANCE_ID"):
        instance_id_from_imds(urlopen=FakeImds(fail=True))
    with pytest.raises(IdleStopError, match="no instance id"):
        instance_id_from_imds(urlopen=FakeImds(instance_id=b"<html>"))
