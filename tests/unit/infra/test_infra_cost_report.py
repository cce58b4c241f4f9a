"""scripts/cost_report.py: AutoStack's own monthly bill from the project's price table."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

from chalicelib.generate.pricing import load_prices
from scripts.cost_report import (
    DOC_BEGIN,
    DOC_END,
    ORIGINAL_DESIGN_USD,
    DeploymentShape,
    LoadProfile,
    levers,
    main,
    markdown,
    monthly_bill,
    read_shape,
)
from tests.unit.infra.infra_support import REPO_ROOT

SHAPE = DeploymentShape(
    instance_type="t3.micro",
    root_volume_gb=12,
    alarms=4,
    agent_metrics=2,
    lambda_memory_mb=512,
    xray=True,
    api_routes=20,
    emf_route_dimension=True,
)


def _line(bill, resource_start: str):  # type: ignore[no-untyped-def]
    (line,) = [line for line in bill.lines if line.resource.startswith(resource_start)]
    return line


def test_fixed_costs_are_the_price_table_times_730_hours() -> None:
    prices = load_prices()
    bill = monthly_bill(prices, SHAPE)
    assert _line(bill, "Runner EC2").monthly_usd == pytest.approx(730 * 0.0104, abs=0.01)
    assert _line(bill, "Runner public IPv4").monthly_usd == pytest.approx(3.65)
    assert _line(bill, "Runner root volume").monthly_usd == pytest.approx(12 * 0.08)
    # 1,000 requests an hour on a REST API, no always-free allowance (12-month tier only).
    api = _line(bill, "API Gateway REST")
    assert api.quantity == pytest.approx(0.73)
    assert api.monthly_free_tier_usd == api.monthly_usd == pytest.approx(0.73 * 3.5, abs=0.01)


def test_every_line_is_priced_from_prices_json_with_its_assumption() -> None:
    prices = load_prices()
    bill = monthly_bill(prices, SHAPE)
    for line in bill.lines:
        item = prices.item(line.item)
        assert line.unit_price_usd == item.price and line.source == item.source
        assert line.note, f"{line.resource} states no usage assumption"
    assert bill.monthly_usd == pytest.approx(sum(line.monthly_usd for line in bill.lines), abs=0.01)
    assert bill.monthly_free_tier_usd <= bill.monthly_usd


def test_always_free_allowances_cover_lambda_sqs_and_logs_at_this_load() -> None:
    bill = monthly_bill(load_prices(), SHAPE)
    for resource in (
        "Lambda requests",
        "Lambda compute",
        "SQS requests",
        "CloudWatch Logs ingestion",
        "CloudWatch Logs storage",
    ):
        assert _line(bill, resource).monthly_free_tier_usd == 0, resource
        assert _line(bill, resource).monthly_usd > 0, resource
    # One 5 GB allowance for ingestion and storage together: a heavy month pays for both.
    heavy = monthly_bill(load_prices(), SHAPE, LoadProfile(api_requests_per_hour=5000))
    assert _line(heavy, "CloudWatch Logs ingestion").monthly_free_tier_usd > 0
    assert _line(heavy, "CloudWatch Logs storage").monthly_free_tier_usd == pytest.approx(
        _line(heavy, "CloudWatch Logs storage").monthly_usd
    )


def test_usage_lines_follow_the_load_profile() -> None:
    prices = load_prices()
    base = monthly_bill(prices, SHAPE)
    busy = monthly_bill(prices, SHAPE, LoadProfile(api_requests_per_hour=2000))
    assert _line(busy, "API Gateway").quantity == pytest.approx(
        2 * _line(base, "API Gateway").quantity
    )
    assert _line(busy, "DynamoDB writes").quantity > _line(base, "DynamoDB writes").quantity
    assert _line(busy, "Runner EC2").monthly_usd == _line(base, "Runner EC2").monthly_usd
    more_analyses = monthly_bill(prices, SHAPE, LoadProfile(analyses_per_day=100))
    assert _line(more_analyses, "S3 storage").quantity > _line(base, "S3 storage").quantity


def test_per_route_metrics_and_tracing_show_up_and_levers_remove_them() -> None:
    prices = load_prices()
    bill = monthly_bill(prices, SHAPE)
    metrics = _line(bill, "CloudWatch custom metrics")
    assert metrics.quantity > 10 and metrics.monthly_free_tier_usd > 0
    assert _line(bill, "X-Ray").monthly_free_tier_usd > 0
    quiet = monthly_bill(prices, replace(SHAPE, emf_route_dimension=False, xray=False))
    assert _line(quiet, "CloudWatch custom metrics").monthly_free_tier_usd == 0
    assert not [line for line in quiet.lines if line.resource.startswith("X-Ray")]
    rows = levers(prices, SHAPE, LoadProfile())
    assert all(row["saves_usd"] > 0 for row in rows)
    assert rows[-1]["change"] == "all of the above"
    assert rows[-1]["saves_usd"] == pytest.approx(sum(r["saves_usd"] for r in rows[:-1]), abs=0.02)
    assert (
        levers(
            prices,
            replace(SHAPE, emf_route_dimension=False, xray=False, instance_type="t4g.micro"),
            LoadProfile(),
        )
        == []
    )


def test_read_shape_reads_the_repository() -> None:
    shape = read_shape()
    assert shape.instance_type == "t3.micro"
    assert shape.root_volume_gb >= 8
    assert shape.alarms == 5
    assert shape.agent_metrics == 2  # disk used_percent, mem_used_percent
    assert shape.lambda_memory_mb >= 128
    assert shape.api_routes >= 10
    # The API's metrics are one set (no per-route dimension) and X-Ray samples a fixed 5%.
    assert shape.emf_route_dimension is False
    assert shape.xray_fixed_rate == pytest.approx(0.05)


def test_a_fixed_rate_sampling_rule_prices_only_the_sampled_traces() -> None:
    prices = load_prices()
    default_rule = _line(monthly_bill(prices, SHAPE), "X-Ray")
    sampled = _line(monthly_bill(prices, replace(SHAPE, xray_fixed_rate=0.05)), "X-Ray")
    assert sampled.quantity == pytest.approx(default_rule.quantity * 0.05 / 0.95)
    assert sampled.monthly_free_tier_usd == 0  # inside the 100,000 free traces


def test_command_prints_the_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    table = capsys.readouterr().out
    assert "| Runner EC2 t3.micro |" in table and f"${ORIGINAL_DESIGN_USD:.2f}" in table
    assert main(["--json", "--requests-per-hour", "500"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["profile"]["api_requests_per_hour"] == 500
    assert report["original_design_usd"] == ORIGINAL_DESIGN_USD
    assert report["monthly_after_always_free_usd"] == pytest.approx(
        sum(line["monthly_free_tier_usd"] for line in report["lines"]), abs=0.01
    )
    assert markdown(monthly_bill(load_prices(), SHAPE)).count("\n|") >= 20


def test_update_doc_rewrites_only_the_generated_block(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    doc = tmp_path / "deploy.md"
    shutil.copy(REPO_ROOT / "docs" / "deploy.md", doc)
    original = doc.read_text()
    head, tail = original.split(DOC_BEGIN)[0], original.split(DOC_END)[1]
    assert main(["--update-doc", str(doc)]) == 0
    text = doc.read_text()
    assert text.startswith(head) and text.endswith(tail)  # the prose is untouched
    block = text[len(head) : len(text) - len(tail)]
    assert "| Runner EC2 t3.micro |" in block and "| all of the above |" in block
    assert f"against the original single server's ${ORIGINAL_DESIGN_USD:.2f}" in block
    assert main(["--update-doc", str(doc)]) == 0
    assert doc.read_text() == text
    assert capsys.readouterr().out.strip().endswith(f"unchanged {doc}")
    (tmp_path / "plain.md").write_text("no markers\n")
    assert main(["--update-doc", str(tmp_path / "plain.md")]) == 2
