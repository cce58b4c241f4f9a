"""Engine-level behaviour: language stats, evidence everywhere, big files, exclusions."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.models.profile import StackProfile
from runner.analysis import AnalysisError, analyze_directory
from tests.unit.analysis.corpus import CORPUS
from tests.unit.analysis.helpers import write_tree


def test_language_stats_exclude_dependencies_generated_and_lock_files(tmp_path: Path) -> None:
    files = {
        "src/app.py": "a = 1\nb = 2\n",
        "src/util.py": "c = 3",
        "web/main.ts": "export {}\n",
        "web/dist/bundle.js": "x\n" * 100,
        "node_modules/x/index.js": "y\n" * 100,
        "static/app.min.js": "var a=1;" * 1000,
        "static/lib.js": "var b=2;" * 1000,
        "package-lock.json": "{}\n" * 50,
        ".venv/lib/site.py": "z\n" * 100,
        "env/pyvenv.cfg": "home = /usr\n",
        "env/lib/mod.py": "z\n" * 100,
    }
    profile = analyze_directory(write_tree(tmp_path / "p", files))
    stats = {s.name: s for s in profile.languages.stats}
    assert (stats["python"].files, stats["python"].lines) == (2, 3)
    assert set(stats) == {"python", "typescript"}
    assert profile.languages.primary == "python"
    assert profile.stats["minified_files"] == 1


def test_every_finding_has_evidence(tmp_path: Path) -> None:
    for name in ("compose_backend_frontend", "rails_postgres_sidekiq", "laravel_mysql_queue"):
        profile = analyze_directory(write_tree(tmp_path / name, CORPUS[name]["files"]))
        for app in profile.apps:
            assert app.evidence and all(e.file for e in app.evidence)
        for item in (*profile.services, *profile.workers, *profile.env_vars):
            assert item.evidence, item
        for ev in (e for s in profile.services for e in s.evidence):
            assert not Path(ev.file).is_absolute()


def test_big_file_is_counted_but_only_its_head_scanned(tmp_path: Path) -> None:
    body = "import os\nPORT = os.environ.get('BIG_VAR', 'x')\n" + "x = 1\n" * 1_500_000
    root = write_tree(tmp_path / "big", {"big.py": body})
    profile = analyze_directory(root)
    (stat,) = profile.languages.stats
    assert stat.lines == body.count("\n") and stat.bytes == len(body)
    assert [e.name for e in profile.env_vars] == ["BIG_VAR"]


def test_missing_folder_is_an_analysis_error(tmp_path: Path) -> None:
    with pytest.raises(AnalysisError):
        analyze_directory(tmp_path / "missing")


def test_symlinks_in_a_folder_are_not_followed(tmp_path: Path) -> None:
    outside = write_tree(tmp_path / "outside", {"secret.py": "TOKEN = 'ghp_" + "A1" * 18 + "'\n"})
    root = write_tree(tmp_path / "proj", {"app.py": "print(1)\n"})
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "f.py").symlink_to(outside / "secret.py")
    profile = analyze_directory(root)
    assert profile.secrets == []
    assert profile.stats["links_skipped"] == 2


def test_framework_ids_in_the_contract_match_the_engine() -> None:
    from chalicelib.models.profile import ECOSYSTEMS, FRAMEWORK_IDS
    from runner.analysis.apps import MODULES
    from runner.analysis.frameworks import SPECS

    assert set(SPECS) == set(FRAMEWORK_IDS) - {"php"}  # plain PHP has no dependency to match
    assert set(MODULES) == set(ECOSYSTEMS)


@pytest.mark.parametrize(
    "files",
    [
        {"pyproject.toml": '[project]\noptional-dependencies = ["x"]\nscripts = [1]\n'},
        {"pyproject.toml": "[tool.poetry]\ngroup = [1, 2]\ndependencies = 3\n"},
        {"Pipfile": "packages = [1]\nrequires = 'x'\n"},
        {"package.json": '{"dependencies": ["express"], "scripts": "start", "engines": 1}'},
        {"package.json": '{"name": 1, "workspaces": {"packages": 1}, "main": []}'},
        {
            "composer.json": '{"require": ["laravel/framework"]}',
            "composer.lock": '{"packages": {}}',
        },
        {"Cargo.toml": "package = 1\ndependencies = [1]\n"},
        {"Cargo.toml": "[package]\nname = 1\nrust-version = 2\n[dependencies]\naxum = 1\n"},
        {
            "angular.json": '{"projects": []}',
            "package.json": '{"dependencies": {"@angular/core": "1"}}',
        },
        {
            "docker-compose.yml": (
                "services:\n  a: [1, 2]\n  b:\n    build: {context: 1}\n    ports: {a: 1}\n"
            )
        },
        {"render.yaml": "services: 1\n", "fly.toml": "internal_port = 'x'\n"},
        {"package.json": "[" * 50_000 + "]" * 50_000},
        {"package-lock.json": "{", "package.json": '{"dependencies": {"next": "1"}}'},
    ],
)
def test_malformed_manifests_never_crash(tmp_path: Path, files: dict) -> None:
    profile = analyze_directory(write_tree(tmp_path / "m", files))
    # The profile is still a valid contract, and every finding points at a file that exists.
    assert StackProfile.model_validate_json(profile.model_dump_json()) == profile
    evidence = [e.file for app in profile.apps for e in app.evidence]
    assert all(name in files for name in evidence), evidence


def test_thousands_of_manifests_are_capped(tmp_path: Path) -> None:
    import json

    from runner.analysis.apps import MAX_APPS

    files = {
        "package-lock.json": json.dumps(
            {"packages": {"node_modules/express": {"version": "4.18.2"}}}
        )
    }
    for i in range(MAX_APPS + 20):
        files[f"pkgs/p{i:03}/package.json"] = json.dumps(
            {"name": f"p{i}", "dependencies": {"express": "^4"}, "scripts": {"start": "node i.js"}}
        )
    profile = analyze_directory(write_tree(tmp_path / "many", files))
    assert len(profile.apps) == MAX_APPS
    assert {a.framework.version for a in profile.apps if a.framework} == {"4.18.2"}
    assert any("only the first 100 were analyzed" in w for w in profile.warnings)


def test_hint_flood_is_capped_per_file(tmp_path: Path) -> None:
    from runner.analysis.hints import MAX_HINTS_PER_FILE

    body = "".join(f"const a{i} = process.env.V{i};\n" for i in range(MAX_HINTS_PER_FILE * 3))
    profile = analyze_directory(write_tree(tmp_path / "f", {"flood.js": body}))
    assert len(profile.env_vars) == MAX_HINTS_PER_FILE
    assert profile.env_vars[0].evidence[0].line is not None
