"""The dated price table: complete, sourced, and the arithmetic of estimate lines."""

from __future__ import annotations

import json

import pytest

from chalicelib.generate.pricing import PRICES_PATH, PriceDataError, load_prices, parse_prices


def test_every_item_has_a_source_and_a_date() -> None:
    prices = load_prices()
    assert prices.region == "us-east-1" and prices.hours_per_month == 730
    assert prices.as_of >= "2026-11-01"
    for item_id, item in prices.items.items():
        assert item.source.strip(), item_id
        assert len(item.date) >= 7, item_id


def test_items_estimates_often_forget_are_present() -> None:
    prices = load_prices()
    assert prices.item("vpc.public_ipv4").price == 0.005
    assert prices.item("alb.lcu").price * 730 == pytest.approx(5.84)
    for needed in ("ebs.gp3", "cloudwatch.logs.ingestion", "data_transfer.out", "nat_gateway.hour"):
        assert needed in prices.items
    assert prices.assumption("data_transfer_out_gb_month") > 0
    assert "data_transfer_out_gb_month" in prices.assumptions


def test_monthly_shapes_from_prices_md() -> None:
    prices = load_prices()
    instance = prices.hourly_line("i", "ec2.t3.micro").monthly_usd
    disk = prices.line("d", "ebs.gp3", 8).monthly_usd
    ipv4 = prices.hourly_line("ip", "vpc.public_ipv4").monthly_usd
    assert instance + disk + ipv4 == pytest.approx(11.88, abs=0.02)
    rds = prices.hourly_line("db", "rds.db.t4g.micro.postgres").monthly_usd
    assert rds + prices.line("s", "rds.storage.gp3", 20).monthly_usd == pytest.approx(
        13.98, abs=0.02
    )
    assert prices.hourly_line("c", "elasticache.cache.t4g.micro").monthly_usd == pytest.approx(
        11.68
    )


def test_always_free_allowance_is_subtracted_but_not_the_12_month_one() -> None:
    prices = load_prices()
    logs = prices.line("logs", "cloudwatch.logs.ingestion", 7)
    assert logs.monthly_usd == 3.5 and logs.monthly_free_tier_usd == 1.0  # 5 GB always free
    ipv4 = prices.hourly_line("ip", "vpc.public_ipv4")
    assert ipv4.monthly_free_tier_usd == ipv4.monthly_usd  # legacy 12-month tier not assumed
    shared = prices.line("dt", "data_transfer.out", 10, free_quantity=0)
    assert shared.monthly_free_tier_usd == shared.monthly_usd


def test_missing_item_and_bad_file_are_clear_errors(tmp_path) -> None:
    prices = load_prices()
    with pytest.raises(PriceDataError, match=r"no item \'ec2\.x1e\.32xlarge\'"):
        prices.item("ec2.x1e.32xlarge")
    with pytest.raises(PriceDataError, match="invalid price data"):
        parse_prices("{}")
    broken = json.loads(PRICES_PATH.read_text())
    broken["items"]["ebs.gp3"]["price"] = -1
    with pytest.raises(PriceDataError):
        parse_prices(json.dumps(broken))
    with pytest.raises(PriceDataError, match="cannot read"):
        load_prices(str(tmp_path / "missing.json"))
