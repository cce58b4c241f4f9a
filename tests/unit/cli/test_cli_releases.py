"""The client's pure pieces for releases and config: which release is the previous one,
what a config list shows."""

from __future__ import annotations

import pytest

from autostack.cli import previous_release
from autostack.errors import NotFoundError, RefusedError
from autostack.formatting import config_value, epoch_time


def test_previous_is_the_release_live_before_the_live_one() -> None:
    listed = [  # newest first, as the API lists them
        {"id": "r4", "status": "failed"},
        {"id": "r3", "status": "live"},
        {"id": "r2", "status": "cancelled"},
        {"id": "r1", "status": "superseded"},
        {"id": "r0", "status": "rolled_back"},
    ]
    assert previous_release(listed)["id"] == "r1"


def test_no_previous_release_is_said_in_words() -> None:
    with pytest.raises(RefusedError, match="nothing to roll back to"):
        previous_release([{"id": "r1", "status": "live"}, {"id": "r0", "status": "failed"}])
    with pytest.raises(NotFoundError, match="no live release"):
        previous_release([{"id": "r0", "status": "failed"}])


def test_a_config_list_never_shows_a_secret() -> None:
    assert config_value({"kind": "secret", "value": "leak"}) == "****"
    assert config_value({"kind": "generated"}) == "(generated)"
    assert config_value({"kind": "value", "value": "debug"}) == "debug"
    assert epoch_time(0) == "-" and epoch_time(86400.5) == "1970-01-02 00:00:00"
