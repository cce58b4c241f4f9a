"""The user command: in-process through main(argv), and once as a real subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from runner.analysis.cli import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, main
from tests.unit.analysis.corpus import CORPUS
from tests.unit.analysis.helpers import make_zip, write_tree

REPO = Path(__file__).resolve().parents[3]


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_folder_prints_profile_json(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "app", CORPUS["express_mongo_env_port"]["files"])
    code, out, err = run([str(root)])
    assert code == EXIT_OK, err
    profile = json.loads(out)
    assert profile["schema_version"] == 1
    assert profile["apps"][0]["framework"]["name"] == "express"
    assert str(tmp_path) not in out


def test_archive_summary(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", CORPUS["django_postgres_procfile"]["files"])
    code, out, _ = run([str(archive), "--summary"])
    assert code == EXIT_OK
    assert "app .: python 3.11.7, django 5.0.1, web, port 8000 (framework_default)" in out
    assert "services: postgres, redis" in out


def test_refused_archive_exits_non_zero_with_reason(tmp_path: Path) -> None:
    bad = make_zip(tmp_path / "slip.zip", {"../../evil.sh": "rm -rf /"})
    code, out, err = run([str(bad)])
    assert code == EXIT_REFUSED
    assert out == ""
    assert "archive refused (path_traversal)" in err and "../../evil.sh" in err


def test_missing_path_and_bad_usage(tmp_path: Path) -> None:
    code, _, err = run([str(tmp_path / "nope")])
    assert code == EXIT_USAGE and "no such file or folder" in err
    assert run([])[0] == EXIT_USAGE


def test_same_input_gives_byte_identical_json(tmp_path: Path) -> None:
    files = CORPUS["compose_backend_frontend"]["files"]
    zips = {run([str(make_zip(tmp_path / f"{i}.zip", files))])[1] for i in range(2)}
    assert len(zips) == 1
    folders = {run([str(write_tree(tmp_path / f"d{i}" / "x", files))])[1] for i in range(2)}
    assert len(folders) == 1
    # the archive and the folder agree on everything but the stats of how they were read
    from_zip, from_dir = json.loads(zips.pop()), json.loads(folders.pop())
    from_zip.pop("stats"), from_dir.pop("stats")
    assert from_zip == from_dir


def test_module_runs_as_a_subprocess(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "site", CORPUS["hugo_site"]["files"])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "ec2-runner")]))
    done = subprocess.run(
        [sys.executable, "-m", "runner.analysis", str(root), "--summary"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "hugo" in done.stdout
    bad = tmp_path / "junk.zip"
    bad.write_bytes(b"not an archive")
    done = subprocess.run(
        [sys.executable, "-m", "runner.analysis", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_REFUSED
    assert "not_an_archive" in done.stderr


def test_documented_commands_work_as_written(tmp_path: Path) -> None:
    """docs/architecture.md and the README run these from ec2-runner/ with nothing set:
    each must find the repository's chalicelib by itself (or an installed one)."""
    root = write_tree(tmp_path / "app", CORPUS["p18_fastapi_include_router_prefix"]["files"])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for argv in (
        [sys.executable, "-m", "runner.analysis", str(root)],
        [sys.executable, "-m", "runner", "analyze", str(root)],
    ):
        done = subprocess.run(
            argv, cwd=REPO / "ec2-runner", env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == EXIT_OK, (argv, done.stderr)
        profile = json.loads(done.stdout)
        assert profile["apps"][0]["healthcheck_path"] == "/api/v1/health"
        summary = subprocess.run(
            [*argv, "--summary"], cwd=REPO / "ec2-runner", env=env, capture_output=True, text=True
        )
        assert "fastapi" in summary.stdout, summary.stderr
