"""Packing a folder: ignore rules, dependency and VCS folders, symlinks, the size refusal."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from autostack.errors import EXIT_REFUSED
from autostack.packing import TooBigError, pack


def _write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def _names(data: bytes) -> set[str]:
    return set(zipfile.ZipFile(io.BytesIO(data)).namelist())


def test_gitignore_dockerignore_and_dependency_folders_are_left_out(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "app.py": "print(1)\n",
            ".gitignore": "*.log\nbuild/\n!keep.log\n",
            ".dockerignore": "secrets.env\ndocs/**/*.md\n",
            "debug.log": "x",
            "keep.log": "kept",
            "build/out.bin": "x",
            "secrets.env": "A=1",
            "docs/guide/intro.md": "x",
            "docs/guide/logo.svg": "<svg/>",
            "web/.gitignore": "dist\n",
            "web/dist/bundle.js": "x",
            "web/src/index.js": "x",
            "web/node_modules/left/index.js": "x",
            ".git/HEAD": "ref",
            ".venv/bin/python": "x",
            "pkg/__pycache__/m.pyc": "x",
            "rust/target/debug/app": "x",
            "go/vendor/mod/x.go": "x",
            ".autostack.json": "{}",
        },
    )
    packed = pack(tmp_path)
    assert _names(packed.data) == {
        "app.py",
        ".gitignore",
        ".dockerignore",
        "keep.log",
        "docs/guide/logo.svg",
        "web/.gitignore",
        "web/src/index.js",
    }
    assert set(packed.files) == _names(packed.data)
    assert packed.ignored >= 10


def test_nested_gitignore_applies_only_below_its_folder(tmp_path: Path) -> None:
    _write(tmp_path, {"a/.gitignore": "*.txt\n", "a/x.txt": "x", "b/x.txt": "x", "c.py": ""})
    assert _names(pack(tmp_path).data) == {"a/.gitignore", "b/x.txt", "c.py"}


def test_symlinks_are_skipped_and_reported(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    _write(outside, {"secret.txt": "do not upload"})
    app = tmp_path / "app"
    _write(app, {"main.py": "print(1)\n"})
    os.symlink(outside / "secret.txt", app / "link.txt")
    os.symlink(outside, app / "linked_dir")
    packed = pack(app)
    assert _names(packed.data) == {"main.py"}
    assert packed.skipped_links == ["link.txt", "linked_dir"]


def test_a_folder_over_the_limit_is_refused_naming_what_is_big(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "app.py": "print(1)\n",
            "data/big.bin": os.urandom(60_000),
            "data/other.bin": os.urandom(20_000),
            "model.bin": os.urandom(30_000),
        },
    )
    with pytest.raises(TooBigError) as refused:
        pack(tmp_path, max_bytes=50_000)
    error = refused.value
    assert error.exit_code == EXIT_REFUSED
    assert "data/" in error.message and "data/big.bin" in error.message
    assert error.details["folders"][0] == ["data/", 80_000]
    assert [name for name, _ in error.details["files"]][:2] == ["data/big.bin", "model.bin"]
    assert ".gitignore" in (error.hint or "")


def test_the_same_folder_packs_to_the_same_bytes(tmp_path: Path) -> None:
    _write(tmp_path, {"a.py": "1", "b/c.py": "2"})
    first = pack(tmp_path).data
    os.utime(tmp_path / "a.py", (1, 1))
    assert pack(tmp_path).data == first
