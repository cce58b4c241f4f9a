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
    assert rows[-1]["change"] == "all of the above that save"
    # Two idle-stop rows overlap (the shorter wins), so the whole saves less than the sum.
    assert max(r["saves_usd"] for r in rows[:-1]) < rows[-1]["saves_usd"]
    assert rows[-1]["saves_usd"] <= sum(r["saves_usd"] for r in rows[:-1])
    already = levers(
        prices,
        replace(SHAPE, emf_route_dimension=False, xray=False, instance_type="t4g.micro"),
        LoadProfile(),
    )
    names = " ".join(row["change"] for row in already)
    assert "X-Ray" not in names and "t4g" not in names and "EMF" not in names


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
    # infrastructure/: the HTTP API with access logs, the dashboard's /api/* behaviour,
    # DynamoDB provisioned at the always-free units.
    assert shape.api_http and shape.api_access_logs and shape.dashboard_same_origin
    assert shape.dynamodb_provisioned
    assert (shape.dynamodb_wcu, shape.dynamodb_rcu) == (25, 25)


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
    assert "| Runner EC2 t3.micro |" in block and "| all of the above that save |" in block
    assert f"against the original single server's ${ORIGINAL_DESIGN_USD:.2f}" in block
    assert main(["--update-doc", str(doc)]) == 0
    assert doc.read_text() == text
    assert capsys.readouterr().out.strip().endswith(f"unchanged {doc}")
    (tmp_path / "plain.md").write_text("no markers\n")
    assert main(["--update-doc", str(tmp_path / "plain.md")]) == 2


# --- issue 17: runner hours from the load profile ----------------------------------------


def test_without_idle_stop_the_runner_is_on_all_month() -> None:
    from scripts.cost_report import runner_usage

    usage = runner_usage(LoadProfile(), SHAPE)
    assert usage.hours == 730 and usage.wakeups == 0


def test_idle_stop_hours_follow_the_jobs_the_tail_and_the_boots() -> None:
    import math

    from scripts.cost_report import Assumptions, runner_usage

    assume = Assumptions()
    shape = replace(SHAPE, runner_idle_stop_s=600)
    usage = runner_usage(LoadProfile(), shape, assume, 730)
    jobs = 50 + 2 * 10 + 1  # analyses, plan + apply per deployment, the daily snapshot
    asleep = math.exp(-(jobs / 24) * (600 / 3600))
    busy = 730 / 24 * (50 * 20 + 10 * (90 + 300) + 15) / 3600
    assert usage.busy_hours == pytest.approx(busy, abs=0.1)
    assert usage.idle_tail_hours == pytest.approx(730 * (1 - asleep), abs=0.1)
    assert usage.wakeups == round(730 / 24 * jobs * asleep)
    assert usage.hours == pytest.approx(
        busy + 730 * (1 - asleep) + usage.wakeups * 60 / 3600, abs=0.3
    )
    # A shorter tail: fewer idle hours, more boots.
    shorter = runner_usage(LoadProfile(), replace(shape, runner_idle_stop_s=120), assume, 730)
    assert shorter.hours < usage.hours and shorter.wakeups > usage.wakeups


def test_the_runner_and_its_address_are_billed_for_its_awake_hours_only() -> None:
    prices = load_prices()
    bill = monthly_bill(prices, replace(SHAPE, runner_idle_stop_s=600))
    assert bill.runner is not None and bill.runner.hours < 730
    assert _line(bill, "Runner EC2").quantity == pytest.approx(bill.runner.hours)
    assert _line(bill, "Runner public IPv4").quantity == pytest.approx(bill.runner.hours)
    assert _line(bill, "Runner root volume").quantity == 12  # the disk is kept while stopped


def test_working_hours_profile_counts_requests_and_jobs_in_the_active_hours_only() -> None:
    from scripts.cost_report import WORKING_HOURS_PROFILE

    prices = load_prices()
    bill = monthly_bill(prices, SHAPE, WORKING_HOURS_PROFILE)
    api = _line(bill, "API Gateway REST")
    assert api.quantity == pytest.approx(1000 * 9 * 22 / 1e6)
    asleep = replace(SHAPE, runner_idle_stop_s=600)
    working = monthly_bill(prices, asleep, WORKING_HOURS_PROFILE)
    seed = monthly_bill(prices, asleep)
    assert working.runner is not None and seed.runner is not None
    assert working.runner.hours < seed.runner.hours
    # The nightly snapshot wakes it every day, also on the 8 days without work.
    assert working.runner.wakeups >= 730 / 24


def test_provisioned_dynamodb_within_the_free_25_units_costs_nothing() -> None:
    prices = load_prices()
    bill = monthly_bill(prices, replace(SHAPE, dynamodb_provisioned=True))
    wcu = _line(bill, "DynamoDB write capacity")
    assert wcu.quantity == pytest.approx(25 * 730) and wcu.monthly_free_tier_usd == 0
    assert not [line for line in bill.lines if "on demand" in line.resource]


def test_levers_show_what_idle_stop_and_free_capacity_would_save() -> None:
    rows = {r["change"]: r for r in levers(load_prices(), SHAPE, LoadProfile())}
    idle = next(r for name, r in rows.items() if name.startswith("runner idle stop after 10 min"))
    ddb = next(r for name, r in rows.items() if name.startswith("DynamoDB provisioned"))
    assert idle["saves_usd"] > 4 and ddb["saves_usd"] == pytest.approx(1.0, abs=0.1)


# --- the bill as built: idle stop from the runner's settings, both profiles, the floor ------


def test_read_shape_takes_the_idle_stop_from_the_runners_settings() -> None:
    from runner.settings import RunnerSettings

    shape = read_shape(api_routes=20)
    assert shape.runner_idle_stop_s == RunnerSettings.__dataclass_fields__["idle_stop_s"].default
    # Chosen from the cost model (docs/deploy.md): 3 minutes keeps the seed under $5.00.
    assert shape.runner_idle_stop_s == 180


def test_seed_bill_as_built_bills_the_runner_for_its_modelled_hours() -> None:
    from scripts.cost_report import SEED_PROFILE, runner_usage

    prices = load_prices()
    shape = read_shape(api_routes=20)
    bill = monthly_bill(prices, shape, SEED_PROFILE)
    usage = runner_usage(SEED_PROFILE, shape, hours_per_month=prices.hours_per_month)
    assert bill.runner == usage and usage.hours < 730 / 2  # asleep more than half the month
    ec2 = prices.item(f"ec2.{shape.instance_type}").price
    ipv4 = prices.item("vpc.public_ipv4").price
    assert _line(bill, "Runner EC2").monthly_usd == pytest.approx(usage.hours * ec2, abs=0.01)
    assert _line(bill, "Runner public IPv4").monthly_usd == pytest.approx(
        usage.hours * ipv4, abs=0.01
    )
    # Always on (the bill before issue 17) costs more by exactly the hours asleep.
    always_on = monthly_bill(prices, replace(shape, runner_idle_stop_s=0), SEED_PROFILE)
    asleep_h = 730 - usage.hours
    saved = always_on.monthly_free_tier_usd - bill.monthly_free_tier_usd
    heartbeats = asleep_h * 3600 / 30 / 1e6 * prices.item("dynamodb.ondemand.write").price
    if shape.dynamodb_provisioned:  # within the provisioned units: heartbeats cost nothing
        heartbeats = 0.0
    assert saved == pytest.approx(asleep_h * (ec2 + ipv4) + heartbeats, abs=0.03)


def test_both_profiles_and_the_floor_are_reported() -> None:
    from scripts.cost_report import (
        GOAL_USD,
        PROFILES,
        SEED_PROFILE,
        WORKING_HOURS_PROFILE,
        floor,
        profiles,
    )

    prices = load_prices()
    shape = read_shape(api_routes=20)
    by_profile = profiles(prices, shape)
    assert set(by_profile) == set(PROFILES) == {"seed", "working-hours"}
    assert by_profile["working-hours"] < by_profile["seed"]
    assert by_profile["seed"] == monthly_bill(prices, shape, SEED_PROFILE).monthly_free_tier_usd
    seed_floor = floor(prices, shape, SEED_PROFILE)
    # What cannot go lower: the REST API's requests and the runner's disk are most of it,
    # and the runner still works its jobs (busy hours) and boots for each of them.
    items = seed_floor["items"]
    api = _line(monthly_bill(prices, shape, SEED_PROFILE), "API Gateway HTTP").monthly_usd
    assert items["API Gateway HTTP API (infrastructure/api.tf)"] == pytest.approx(api)
    assert seed_floor["monthly_usd"] < by_profile["seed"] <= GOAL_USD
    # What is left is the runner's disk, its working hours and the API's requests.
    assert 2.5 < seed_floor["monthly_usd"] < GOAL_USD
    assert seed_floor["monthly_usd"] == pytest.approx(sum(items.values()), abs=0.03)
    assert floor(prices, shape, WORKING_HOURS_PROFILE)["monthly_usd"] < seed_floor["monthly_usd"]


def test_json_report_carries_profiles_floor_and_goal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["profiles"]) == {"seed", "working-hours"}
    assert report["profiles"]["seed"] == report["monthly_after_always_free_usd"]
    assert report["goal_usd"] == 5.0
    assert report["goal_met"] is (report["monthly_after_always_free_usd"] <= 5.0)
    assert report["floor"]["monthly_usd"] <= report["monthly_after_always_free_usd"]
    assert report["shape"]["runner_idle_stop_s"] == 180
    assert report["goal_met"] is True


def test_dashboard_is_priced_and_free_within_cloudfronts_always_free_tier() -> None:
    prices = load_prices()
    bill = monthly_bill(prices, SHAPE)
    requests = _line(bill, "Dashboard CloudFront requests")
    data = _line(bill, "Dashboard CloudFront data out")
    assert requests.item == "cloudfront.https_requests" and data.item == "cloudfront.data_out"
    assert requests.quantity == pytest.approx(40 * 30.4167 * 4 / 1e4, rel=1e-3)
    for line in (requests, data, _line(bill, "Dashboard S3 GETs")):
        assert line.monthly_usd < 0.01 and line.monthly_free_tier_usd == 0
    # Past 10M requests a month CloudFront bills: the line follows the load.
    from scripts.cost_report import DashboardAssumptions, dashboard_lines

    heavy = dashboard_lines(
        prices, SHAPE, LoadProfile(), 0, 0, DashboardAssumptions(page_loads_per_active_day=100_000)
    )
    assert heavy[0].monthly_free_tier_usd > 0
    # The API is another origin: its preflights are API Gateway requests, billed.
    preflights = _line(bill, "Dashboard CORS preflights")
    api = _line(bill, "API Gateway REST")
    assert preflights.quantity == pytest.approx(api.quantity * 0.25)
    assert preflights.monthly_usd > 0
    assert preflights.monthly_free_tier_usd == pytest.approx(preflights.monthly_usd)


# --- the API's front door and the dashboard's origin (infrastructure/api.tf, dashboard.tf) --


def test_http_api_bills_a_dollar_a_million_and_same_origin_drops_the_preflights() -> None:
    prices = load_prices()
    rest = monthly_bill(prices, SHAPE)
    http = monthly_bill(prices, replace(SHAPE, api_http=True))
    assert _line(http, "API Gateway HTTP").monthly_usd == pytest.approx(0.73 * 1.0, abs=0.01)
    assert not [line for line in http.lines if line.resource.startswith("API Gateway REST")]
    # Preflights on another origin are HTTP API requests too.
    assert _line(http, "Dashboard CORS preflights").item == "apigateway.http.requests"
    saved = rest.monthly_free_tier_usd - http.monthly_free_tier_usd
    assert saved == pytest.approx(0.73 * 2.5 * 1.25, abs=0.02)  # requests + preflights
    same = monthly_bill(prices, replace(SHAPE, api_http=True, dashboard_same_origin=True))
    assert not [line for line in same.lines if "preflight" in line.resource]
    # The API's calls now go through CloudFront: counted there, inside its free tier.
    cloudfront = _line(same, "Dashboard CloudFront requests")
    assert cloudfront.quantity == pytest.approx((40 * 30.4167 * 4 + 730_000) / 1e4, rel=1e-3)
    assert cloudfront.monthly_free_tier_usd == 0
    assert _line(same, "Data transfer out").quantity < _line(http, "Data transfer out").quantity


def test_provisioned_capacity_is_the_shapes_units() -> None:
    prices = load_prices()
    bill = monthly_bill(prices, replace(SHAPE, dynamodb_provisioned=True, dynamodb_wcu=30))
    wcu = _line(bill, "DynamoDB write capacity")
    assert wcu.quantity == pytest.approx(30 * 730)
    # 5 WCU above the always-free 25, all month.
    assert wcu.monthly_free_tier_usd == pytest.approx(5 * 730 * 0.00065, abs=0.01)
    assert _line(bill, "DynamoDB read capacity").monthly_free_tier_usd == 0


def test_the_seed_bill_as_built_meets_the_goal_and_names_its_runner_hours() -> None:
    from scripts.cost_report import GOAL_USD, SEED_PROFILE

    prices = load_prices()
    shape = read_shape(api_routes=20)
    bill = monthly_bill(prices, shape, SEED_PROFILE)
    assert bill.monthly_free_tier_usd <= GOAL_USD
    # The 3-minute tail at ~3 jobs an hour: awake about a quarter of the month.
    assert bill.runner is not None and 150 < bill.runner.hours < 200
    # The same repository with a 10-minute tail would miss it.
    ten = monthly_bill(prices, replace(shape, runner_idle_stop_s=600), SEED_PROFILE)
    assert ten.monthly_free_tier_usd > GOAL_USD


def test_the_boot_the_model_bills_is_the_one_the_api_announces() -> None:
    from chalicelib.services.runner_wake import RUNNER_BOOT_ESTIMATE_S
    from scripts.cost_report import Assumptions

    assert Assumptions().runner_boot_s == RUNNER_BOOT_ESTIMATE_S


def test_a_lever_that_costs_more_is_shown_but_not_combined() -> None:
    prices = load_prices()
    shape = read_shape(api_routes=20)  # the 3-minute default
    rows = {r["change"]: r for r in levers(prices, shape, LoadProfile())}
    longer = rows["runner idle stop after 10 min (issue 17's first default)"]
    assert longer["saves_usd"] < -2  # a 10-minute tail: the runner awake twice as long
    shorter = rows["runner idle stop after 2 min"]
    assert shorter["saves_usd"] > 0
    combined = rows["all of the above that save"]
    assert combined["saves_usd"] >= shorter["saves_usd"]
