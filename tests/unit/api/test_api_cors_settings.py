"""AUTOSTACK_CORS_ORIGIN: parsing, and the headers and route config derived from it."""

from __future__ import annotations

import pytest

from chalicelib.errors import SettingsError
from chalicelib.routes.cors import EXPOSE_HEADERS, cors_headers
from chalicelib.settings import cors_origin_from_environment, load_settings

REQUIRED = {
    "AUTOSTACK_STAGE": "test",
    "AUTOSTACK_TABLE": "t",
    "AUTOSTACK_BUCKET": "bucket",
    "AUTOSTACK_QUEUE_URL": "http://q",
}


def test_cors_is_off_by_default() -> None:
    assert load_settings(REQUIRED).cors_origin is None
    assert cors_origin_from_environment({}) is None
    assert cors_origin_from_environment({"AUTOSTACK_CORS_ORIGIN": "  "}) is None


@pytest.mark.parametrize(
    ("raw", "origin"),
    [
        ("https://App.Example.com", "https://app.example.com"),
        ("http://localhost:5173/", "http://localhost:5173"),
        (" https://a.b ", "https://a.b"),
    ],
)
def test_origins_are_normalized_the_same_both_ways(raw: str, origin: str) -> None:
    assert load_settings({**REQUIRED, "AUTOSTACK_CORS_ORIGIN": raw}).cors_origin == origin
    assert cors_origin_from_environment({"AUTOSTACK_CORS_ORIGIN": raw}) == origin


@pytest.mark.parametrize(
    "raw",
    [
        "*",
        "app.example.com",
        "https://app.example.com/path",
        "ftp://x.com",
        "https://a.com,https://b.com",
        "https://x.com:port",
        "null",
    ],
)
def test_malformed_origins_are_named(raw: str) -> None:
    with pytest.raises(SettingsError, match="AUTOSTACK_CORS_ORIGIN"):
        load_settings({**REQUIRED, "AUTOSTACK_CORS_ORIGIN": raw})
    with pytest.raises(SettingsError, match="AUTOSTACK_CORS_ORIGIN"):
        cors_origin_from_environment({"AUTOSTACK_CORS_ORIGIN": raw})


def test_cors_headers() -> None:
    headers = cors_headers("https://app.example.com")
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert headers["Access-Control-Expose-Headers"].split(",") == list(EXPOSE_HEADERS)
    assert "Access-Control-Allow-Credentials" not in headers
