"""Class 1: the toolchain follows what the app declares; an unknown version is refused."""

from __future__ import annotations

import pytest

from chalicelib.generate import ToolchainVersionError
from tests.golden.plan_profiles import bundle_of, plan_of, profile


@pytest.mark.parametrize(
    ("ecosystem", "declared", "source", "version", "image"),
    [
        ("python", ">=3.11,<3.13", "pyproject.toml", "3.12", "python:3.12.12-slim-bookworm"),
        ("python", ">=3.9", "pyproject.toml", "3.14", "python:3.14.0-slim-bookworm"),
        ("python", "3.13", ".python-version", "3.13", "python:3.13.9-slim-bookworm"),
        ("node", "20", ".nvmrc", "20", "node:20.19.5-alpine3.22"),
        ("node", ">=18 <23", "package.json", "22", "node:22.21.1-alpine3.22"),
        ("go", "1.24.2", "go.mod", "1.24", "golang:1.24.10-alpine3.22"),
        ("go", "1.21", "go.mod", "1.25", "golang:1.25.4-alpine3.22"),  # go.mod: a minimum
        ("ruby", "3.3.6", ".ruby-version", "3.3", "ruby:3.3.10-slim-bookworm"),
        ("jvm", "17", "pom.xml", "17", "maven:3.9.11-eclipse-temurin-17-alpine"),
    ],
)
def test_the_declared_version_picks_the_image(ecosystem, declared, source, version, image) -> None:
    plan = plan_of(
        profile(
            ecosystem, runtime_version=declared, runtime_constraint=declared, runtime_source=source
        )
    )
    assert (plan.toolchain.version, plan.toolchain.image) == (version, image)
    assert (plan.toolchain.declared, plan.toolchain.source) == (declared, source)


@pytest.mark.parametrize(
    ("ecosystem", "current", "image"),
    [
        ("python", "3.14", "python:3.14.0-slim-bookworm"),
        ("node", "24", "node:24.11.1-alpine3.22"),
        ("go", "1.25", "golang:1.25.4-alpine3.22"),
        ("ruby", "3.4", "ruby:3.4.7-slim-bookworm"),
    ],
)
def test_nothing_declared_uses_the_current_version(ecosystem, current, image) -> None:
    plan = plan_of(profile(ecosystem))
    assert (plan.toolchain.version, plan.toolchain.image, plan.toolchain.source) == (
        current,
        image,
        None,
    )


@pytest.mark.parametrize(
    ("ecosystem", "declared", "supported"),
    [
        ("python", "3.8", "3.10, 3.11, 3.12, 3.13, 3.14"),
        ("node", "16", "20, 22, 24"),
        ("ruby", "3.1.4", "3.2, 3.3, 3.4"),
        ("go", "1.99", "1.23, 1.24, 1.25"),
    ],
)
def test_a_version_the_table_lacks_is_an_error_with_the_fix(ecosystem, declared, supported):
    prof = profile(ecosystem, runtime_version=declared, runtime_source="the-file")
    with pytest.raises(ToolchainVersionError) as raised:
        bundle_of(prof, "ec2")
    message = str(raised.value)
    assert f"{declared!r}" in message and "(in the-file)" in message
    assert f"Supported: {supported}." in message and "Fix: declare one of them in" in message


def test_bun_apps_get_an_image_with_bun() -> None:
    plan = plan_of(profile("node", package_manager="bun", lockfile="bun.lock",
                           lockfile_kind="bun", start_command="bun run server.ts"))  # fmt: skip
    assert (plan.toolchain.language, plan.toolchain.image) == ("bun", "oven/bun:1.3.2-alpine")
    assert plan.install == ["bun install --frozen-lockfile"]
