"""The dashboard's files as devtools/chalice_local.py serves them (devtools/dashboard_static.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.dashboard_static import resolve, static_answer

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>AutoStack</title>")
    (root / "assets" / "index-abc.js").write_text("console.log(1)")
    (root / "assets" / "index-abc.css").write_text("body{}")
    (root / ".built").write_text("")
    (tmp_path / "secret.txt").write_text("outside")
    return root


def test_root_is_the_app_never_cached(dist: Path) -> None:
    answer = static_answer("GET", "/", {}, dist)
    assert answer is not None
    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"] == "text/html; charset=utf-8"
    assert answer["headers"]["Cache-Control"] == "no-cache"
    assert answer["headers"]["X-Content-Type-Options"] == "nosniff"
    assert answer["body"].startswith(b"<!doctype html>")


def test_assets_have_their_type_and_are_cached_for_good(dist: Path) -> None:
    js = static_answer("GET", "/assets/index-abc.js?v=1", {}, dist)
    css = static_answer("GET", "/assets/index-abc.css", {}, dist)
    assert js is not None and css is not None
    assert js["headers"]["Content-Type"] == "text/javascript; charset=utf-8"
    assert css["headers"]["Content-Type"] == "text/css; charset=utf-8"
    assert js["headers"]["Cache-Control"] == "public, max-age=31536000, immutable"
    assert js["body"] == b"console.log(1)"


def test_head_has_no_body(dist: Path) -> None:
    answer = static_answer("HEAD", "/", {}, dist)
    assert answer is not None and answer["statusCode"] == 200 and answer["body"] == b""


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/assets/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/..%5csecret.txt",
        "/.built",
        "/assets/index-abc.js%00.png",
    ],
)
def test_no_path_leaves_the_build_folder(dist: Path, path: str) -> None:
    assert resolve(dist, path) is None
    answer = static_answer("GET", path, {}, dist)  # a script's fetch, not a page: the API's 404
    assert answer is None


def test_a_page_deep_link_gets_the_app_and_other_misses_the_api_404(dist: Path) -> None:
    page = static_answer("GET", "/some/screen", HTML, dist)
    assert page is not None and page["body"].startswith(b"<!doctype html>")
    assert static_answer("GET", "/some/screen", {"Accept": "application/json"}, dist) is None
    assert static_answer("GET", "/missing.js", HTML, dist) is None
    assert static_answer("POST", "/", HTML, dist) is None


def test_unbuilt_dashboard_says_how_to_build_it(tmp_path: Path) -> None:
    answer = static_answer("GET", "/", HTML, tmp_path / "nothing")
    assert answer is not None and answer["statusCode"] == 503
    assert b"make dashboard" in answer["body"]
    assert static_answer("GET", "/assets/x.js", HTML, tmp_path / "nothing") is None


def test_config_json_says_the_api_is_this_origin(dist: Path) -> None:
    answer = static_answer("GET", "/config.json", {}, dist)
    assert answer is not None and answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"] == "application/json"
    assert answer["headers"]["Cache-Control"] == "no-cache"
    assert json.loads(answer["body"]) == {"api_url": ""}
    # A published config.json in the build folder wins (as in the bucket).
    (dist / "config.json").write_text('{"api_url": "https://x.example.com/api"}')
    published = static_answer("GET", "/config.json", {}, dist)
    assert published is not None
    assert json.loads(published["body"])["api_url"] == "https://x.example.com/api"
