"""Issue 18's precision targets, measured over the whole example-app corpus."""

from __future__ import annotations

from tests.unit.analysis.corpus import CORPUS
from tests.unit.analysis.precision import measure, meets_targets


def test_precision_figures_meet_the_targets() -> None:
    figures = measure()
    assert figures["cases"] == len(CORPUS)
    # enough evidence behind each figure for it to mean something
    assert figures["services_reported"] >= 25
    assert figures["port_and_start_apps"] >= 40
    assert figures["health_apps"] >= 20
    assert meets_targets(figures), figures


def test_a_false_service_counts_against_the_figure() -> None:
    # the same app, with an expectation that says the service is not used
    case = dict(CORPUS["p18_sqlite_only_fallback"])
    case = {"files": case["files"], "expect": {**case["expect"], "services": {}}}
    figures = measure({"c": case})
    assert figures["services_reported"] == 1
    assert figures["false_services"] == 1.0
    assert figures["misses"] == ["c: postgres"]
