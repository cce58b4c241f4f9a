"""Engine-level behaviour: language stats, evidence everywhere, big files, exclusions."""

from __future__ import annotations

from pathlib import Path

import pytest

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
