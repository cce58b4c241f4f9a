import pytest

from chalicelib.errors import SettingsError
from chalicelib.settings import load_settings

REQUIRED = {
    "AUTOSTACK_STAGE": "test",
    "AUTOSTACK_TABLE": "t",
    "AUTOSTACK_BUCKET": "bucket",
    "AUTOSTACK_QUEUE_URL": "http://q",
}


def test_defaults_are_the_design_limits() -> None:
    s = load_settings(REQUIRED)
    assert (s.max_users, s.max_projects_per_user, s.max_concurrent_deployments) == (10, 5, 2)
    assert s.max_upload_bytes == 10 * 1024 * 1024
    assert (s.rate_limit, s.rate_window_s) == (50, 900)
    assert s.access_token_ttl_s == 900 and s.refresh_token_ttl_s == 7 * 86400
    assert s.jwt_key_param == "/autostack/jwt-signing-key"


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_a_missing_setting_is_named(missing: str) -> None:
    env = {k: v for k, v in REQUIRED.items() if k != missing}
    with pytest.raises(SettingsError, match=missing):
        load_settings(env)


def test_malformed_values_are_named() -> None:
    with pytest.raises(SettingsError, match="AUTOSTACK_MAX_USERS"):
        load_settings({**REQUIRED, "AUTOSTACK_MAX_USERS": "ten"})
    with pytest.raises(SettingsError, match="AUTOSTACK_MAX_USERS"):
        load_settings({**REQUIRED, "AUTOSTACK_MAX_USERS": "0"})
    with pytest.raises(SettingsError, match="AUTOSTACK_RUNNER_REQUIRED"):
        load_settings({**REQUIRED, "AUTOSTACK_RUNNER_REQUIRED": "maybe"})
    with pytest.raises(SettingsError, match="AUTOSTACK_STAGE"):
        load_settings({**REQUIRED, "AUTOSTACK_STAGE": "staging"})


def test_overrides_and_buckets() -> None:
    s = load_settings({**REQUIRED, "AUTOSTACK_RATE_LIMIT": "7", "AUTOSTACK_RUNNER_REQUIRED": "yes"})
    assert s.rate_limit_for("default") == 7
    assert s.rate_limit_for("status") == 600
    assert s.rate_limit_for("read") == 300
    assert s.runner_required is True
    with pytest.raises(SettingsError):
        s.rate_limit_for("nope")


def test_secrets_are_not_in_repr() -> None:
    s = load_settings({**REQUIRED, "AUTOSTACK_JWT_KEY": "super-secret-value-xyz"})
    assert "super-secret-value-xyz" not in repr(s)


def test_unconfigured_placeholders_are_refused() -> None:
    with pytest.raises(SettingsError, match="AUTOSTACK_BUCKET"):
        load_settings({**REQUIRED, "AUTOSTACK_BUCKET": "SET-FROM-TERRAFORM-OUTPUT-bucket_name"})
    with pytest.raises(SettingsError, match="AUTOSTACK_QUEUE_URL"):
        load_settings({**REQUIRED, "AUTOSTACK_QUEUE_URL": "SET-FROM-TERRAFORM"})


def test_long_poll_interval_defaults_to_half_a_second_and_is_bounded() -> None:
    assert load_settings(REQUIRED).long_poll_s == 0.5
    assert load_settings({**REQUIRED, "AUTOSTACK_LONG_POLL_S": "2"}).long_poll_s == 2.0
    for bad in ("0", "60", "soon"):
        with pytest.raises(SettingsError, match="AUTOSTACK_LONG_POLL_S"):
            load_settings({**REQUIRED, "AUTOSTACK_LONG_POLL_S": bad})


def test_health_deadline_defaults_to_five_seconds_and_fits_in_a_request() -> None:
    assert load_settings(REQUIRED).health_deadline_s == 5.0
    assert load_settings({**REQUIRED, "AUTOSTACK_HEALTH_DEADLINE_S": "12"}).health_deadline_s == 12
    for bad in ("0.1", "30", "later"):
        with pytest.raises(SettingsError, match="AUTOSTACK_HEALTH_DEADLINE_S"):
            load_settings({**REQUIRED, "AUTOSTACK_HEALTH_DEADLINE_S": bad})
