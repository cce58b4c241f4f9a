"""The precision figures of the analysis over the example-app corpus (issue 18).

- ``false_services``: of all services the corpus apps report (what would provision paid
  infrastructure), the share that the case does not expect;
- ``port_and_start``: of the apps whose port or start command the case states, the share
  where both are right;
- ``health_path``: of the apps whose health path the case states, the share that is right
  (the corpus states a path only when the app really serves it, else ``/``).

Shared by the test that asserts the targets and ``bench/bench_analysis_precision.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from runner.analysis import analyze_directory
from tests.unit.analysis.corpus import CORPUS
from tests.unit.analysis.helpers import write_tree

TARGETS = {"false_services_max": 0.03, "port_and_start_min": 0.97, "health_path_min": 0.95}


def measure(corpus: dict[str, dict] | None = None) -> dict:
    corpus = CORPUS if corpus is None else corpus
    reported = wrong = 0
    ps_total = ps_right = 0
    h_total = h_right = 0
    wrong_cases: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted(corpus):
            spec = corpus[name]
            expect = spec["expect"]
            profile = analyze_directory(write_tree(Path(tmp) / name, spec["files"]))
            if "services" in expect:
                kinds = {s.kind for s in profile.services}
                reported += len(kinds)
                extra = kinds - set(expect["services"])
                wrong += len(extra)
                wrong_cases += [f"{name}: {k}" for k in sorted(extra)]
            apps = {a.path: a for a in profile.apps}
            for path, fields in expect.get("apps", {}).items():
                app = apps.get(path)
                if "port" in fields or "start_command" in fields:
                    ps_total += 1
                    port = app.port.value if app and app.port else None
                    start = app.start_command if app else None
                    if (
                        fields.get("port", port) == port
                        and fields.get("start_command", start) == start
                    ):
                        ps_right += 1
                    else:
                        wrong_cases.append(f"{name}: port/start")
                if "healthcheck_path" in fields:
                    h_total += 1
                    if app and app.healthcheck_path == fields["healthcheck_path"]:
                        h_right += 1
                    else:
                        wrong_cases.append(f"{name}: health")
    return {
        "cases": len(corpus),
        "services_reported": reported,
        "services_wrong": wrong,
        "false_services": round(wrong / reported, 4) if reported else 0.0,
        "port_and_start_apps": ps_total,
        "port_and_start": round(ps_right / ps_total, 4) if ps_total else 1.0,
        "health_apps": h_total,
        "health_path": round(h_right / h_total, 4) if h_total else 1.0,
        "misses": wrong_cases,
        "targets": TARGETS,
    }


def meets_targets(figures: dict) -> bool:
    return (
        figures["false_services"] <= TARGETS["false_services_max"]
        and figures["port_and_start"] >= TARGETS["port_and_start_min"]
        and figures["health_path"] >= TARGETS["health_path_min"]
    )
