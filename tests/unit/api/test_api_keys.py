"""The signing key: cached from SSM, re-read after a rotation."""

from __future__ import annotations

from typing import Any

from chalicelib.auth.keys import SigningKeyProvider
from chalicelib.context import AppContext
from chalicelib.routes.endpoint import authenticate
from tests.unit.api.helpers import FakeClock, make_settings

OLD, NEW = "o" * 48, "n" * 48


class FakeSsm:
    def __init__(self, value: str) -> None:
        self.value = value
        self.reads = 0

    def get_parameter(self, Name: str, WithDecryption: bool) -> dict[str, Any]:
        assert WithDecryption
        self.reads += 1
        return {"Parameter": {"Value": self.value}}


class FakeAws:
    def __init__(self, ssm: FakeSsm) -> None:
        self.ssm = ssm


class FakeRequest:
    def __init__(self, token: str) -> None:
        self.headers = {"authorization": f"Bearer {token}"}


def test_key_is_cached_then_refreshed_after_its_ttl() -> None:
    ssm, ticks = FakeSsm(OLD), FakeClock(0)
    provider = SigningKeyProvider(make_settings(jwt_key=None), FakeAws(ssm), ticks, ttl_s=300)  # type: ignore[arg-type]
    assert provider.key() == OLD and provider.key() == OLD and ssm.reads == 1
    ssm.value = NEW
    ticks.advance(299)
    assert provider.key() == OLD
    ticks.advance(1)
    assert provider.key() == NEW and ssm.reads == 2


def test_forced_refresh_is_rate_limited() -> None:
    ssm, ticks = FakeSsm(OLD), FakeClock(0)
    provider = SigningKeyProvider(
        make_settings(jwt_key=None), FakeAws(ssm), ticks, min_refresh_s=30
    )  # type: ignore[arg-type]
    provider.key()
    ssm.value = NEW
    assert provider.refresh() is False  # read moments ago
    ticks.advance(30)
    assert provider.refresh() is True and provider.key() == NEW


def test_a_token_signed_with_a_rotated_key_is_accepted_after_a_reread() -> None:
    ssm, ticks = FakeSsm(OLD), FakeClock(0)
    settings = make_settings(jwt_key=None)
    old_ctx = AppContext(settings, FakeAws(ssm), clock=FakeClock())  # type: ignore[arg-type]
    old_ctx.key_provider = SigningKeyProvider(settings, FakeAws(ssm), ticks)  # type: ignore[arg-type]
    assert old_ctx.signer.key == OLD
    # A fresh container signs with the new key...
    new_ctx = AppContext(settings, FakeAws(FakeSsm(NEW)), clock=FakeClock())  # type: ignore[arg-type]
    token = new_ctx.signer.issue("user-1", new_ctx.now())
    # ...and the warm one re-reads SSM when it sees the unknown key id.
    ssm.value = NEW
    ticks.advance(60)
    assert authenticate(old_ctx, FakeRequest(token)) == "user-1"
    assert old_ctx.signer.key == NEW
