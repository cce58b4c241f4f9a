"""Property tests: random bytes as an archive and random file trees never crash the engine,
and the same input always gives byte-identical JSON."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.analysis import ArchiveRefusedError, analyze_archive, analyze_directory
from runner.analysis.cli import profile_json
from tests.unit.analysis.helpers import make_targz, make_zip, write_tree

_NAMES = st.sampled_from(
    [
        "package.json",
        "requirements.txt",
        "pyproject.toml",
        "go.mod",
        "Cargo.toml",
        "pom.xml",
        "build.gradle",
        "Gemfile",
        "Gemfile.lock",
        "composer.json",
        "app.csproj",
        "Dockerfile",
        "docker-compose.yml",
        "Procfile",
        "index.html",
        "index.php",
        "main.py",
        "app.py",
        "server.js",
        "main.go",
        ".env",
        ".env.example",
        "settings.py",
        "main.rs",
        "Program.cs",
        "mkdocs.yml",
        "hugo.toml",
        "application.properties",
        "package-lock.json",
        "yarn.lock",
        "fly.toml",
        "render.yaml",
        "app.json",
        "config.ru",
        "artisan",
        "a.tf",
        "k8s.yaml",
    ]
)
_DIRS = st.sampled_from(["", "api/", "web/", "apps/x/", "node_modules/y/", "src/", "a/b/c/"])
_TEXT = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300),
    st.sampled_from(
        [
            '{"dependencies": {"express": "^4"}, "scripts": {"start": "node server.js"}}',
            "flask==3.0\n",
            "module x\n\ngo 1.22\nrequire github.com/gin-gonic/gin v1.9.1\n",
            "services:\n  db:\n    image: postgres:16\n",
            "web: gunicorn app:app\n",
            "app.listen(process.env.PORT || 3000)",
            '[project]\ndependencies = ["fastapi"]\n',
            "{",
            "[[",
            "services: [",
            "FROM\nEXPOSE abc 99999\n",
            "\x00\x01\x02",
            "AKIA" + "Q" * 16,
            "x = 'postgres://u:p4ssW0rd!x@h/db'",
            "-----BEGIN PRIVATE KEY-----",
        ]
    ),
)
_TREES = st.dictionaries(st.tuples(_DIRS, _NAMES).map("".join), _TEXT, max_size=12)
_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(
    data=st.binary(max_size=2048),
    magic=st.sampled_from([b"", b"PK\x03\x04", b"\x1f\x8b", b"PK\x05\x06"]),
)
def test_random_bytes_as_archive_never_crash(data: bytes, magic: bytes) -> None:
    work = Path(tempfile.mkdtemp(prefix="prop-work-"))
    try:
        archive = work.parent / f"{work.name}.bin"
        archive.write_bytes(magic + data)
        try:
            profile = analyze_archive(archive, work_root=work)
            assert profile.schema_version == 1
        except ArchiveRefusedError as exc:
            assert exc.reason
        assert list(work.iterdir()) == []
        archive.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)


@_SETTINGS
@given(tree=_TREES)
def test_random_trees_never_crash_and_are_deterministic(tree: dict) -> None:
    root = Path(tempfile.mkdtemp(prefix="prop-tree-"))
    try:
        write_tree(root / "t", tree)
        first = profile_json(analyze_directory(root / "t"))
        second = profile_json(analyze_directory(root / "t"))
        assert first == second
        assert str(root) not in first  # no temp paths leak into the profile
    finally:
        shutil.rmtree(root, ignore_errors=True)


@settings(max_examples=15, deadline=None)
@given(tree=_TREES)
def test_archive_and_folder_give_the_same_profile(tree: dict) -> None:
    root = Path(tempfile.mkdtemp(prefix="prop-arch-"))
    try:
        files = {k: v for k, v in tree.items() if not k.startswith("node_modules/")}
        folder = analyze_directory(write_tree(root / "t", files), root_name="proj")
        # archives usually wrap the project in one folder, which the engine enters
        wrapped = {f"proj/{k}": v for k, v in files.items()}
        for maker, name in ((make_zip, "a.zip"), (make_targz, "a.tgz")):
            archived = analyze_archive(maker(root / name, wrapped), work_root=root)
            assert archived.apps == folder.apps
            assert archived.env_vars == folder.env_vars
            assert archived.secrets == folder.secrets
    finally:
        shutil.rmtree(root, ignore_errors=True)
