"""Recommendation: the cheapest target that fits, with plain reasons and the others' cost."""

from __future__ import annotations

import pytest

from chalicelib.generate import TargetNotSuitableError
from chalicelib.generate.pricing import load_prices
from chalicelib.generate.recommend import cost_summary, recommend
from chalicelib.generate.stack import build_context
from chalicelib.models.templates import TARGETS, TemplateOptions
from tests.golden import stack_profiles as sp
from tests.golden.helpers import bundle_for


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        (sp.nextjs_static, "static"),
        (sp.fastapi_stateless, "lambda"),
        (sp.spring_boot, "lambda"),
        (sp.django_sqlite_celery, "ec2"),
        (sp.express_mysql, "ec2"),
        (sp.flask_postgres, "ec2"),
        (sp.rails_worker, "ec2"),
    ],
)
def test_recommended_target(profile, expected) -> None:
    bundle = bundle_for(profile())
    assert bundle.target == expected == bundle.recommendation.target
    fitting = [e for e in bundle.cost.targets if e.fits]
    assert min(e.monthly_usd for e in fitting) == next(
        e.monthly_usd for e in bundle.cost.targets if e.target == expected
    )


def test_reasons_are_plain_words_and_alternatives_are_priced() -> None:
    bundle = bundle_for(sp.django_sqlite_celery())
    text = " ".join(bundle.recommendation.reasons)
    assert "SQLite" in text and "workers" in text and "$" in text
    alternatives = {a.target: a for a in bundle.recommendation.alternatives}
    assert set(alternatives) == set(TARGETS) - {"ec2"}
    assert "does not fit" in alternatives["lambda"].summary
    assert "SQLite" in alternatives["ecs-fargate"].summary
    assert alternatives["ecs-fargate"].monthly_usd > 0


def test_websockets_keep_an_app_off_lambda() -> None:
    bundle = bundle_for(sp.express_mysql())
    lam = next(e for e in bundle.cost.targets if e.target == "lambda")
    assert not lam.fits and any("long-lived connections" in r for r in lam.why_not)


def test_fargate_estimate_counts_alb_and_task_public_ipv4() -> None:
    ctx = build_context(sp.rails_worker(), TemplateOptions(desired_count=2))
    cost = cost_summary(ctx, load_prices())
    fargate = next(e for e in cost.targets if e.target == "ecs-fargate")
    ipv4 = [line for line in fargate.lines if line.item == "vpc.public_ipv4"]
    assert sum(line.quantity for line in ipv4) == (2 + 4) * 730  # ALB's 2 + 2 app + 2 worker tasks
    assert any(line.item == "alb.lcu" for line in fargate.lines)
    assert fargate.monthly_usd == pytest.approx(
        sum(line.monthly_usd for line in fargate.lines), abs=0.01
    )


def test_every_estimate_line_says_where_its_price_comes_from() -> None:
    bundle = bundle_for(sp.flask_postgres())
    for est in bundle.cost.targets:
        assert est.lines
        assert est.monthly_free_tier_usd <= est.monthly_usd
        for line in est.lines:
            assert line.source and line.price_date and line.unit
    ec2 = next(e for e in bundle.cost.targets if e.target == "ec2")
    items = {line.item for line in ec2.lines}
    assert {
        "ec2.t3.micro",
        "ebs.gp3",
        "vpc.public_ipv4",
        "rds.db.t4g.micro.postgres",
        "elasticache.cache.t4g.micro",
        "data_transfer.out",
        "cloudwatch.logs.ingestion",
    } <= items
    assert any(
        "assumed" in (line.note or "") for line in ec2.lines if line.item == "data_transfer.out"
    )


def test_options_change_the_estimate() -> None:
    small = build_context(sp.go_api(), TemplateOptions(instance_type="t4g.micro"))
    big = build_context(sp.go_api(), TemplateOptions(instance_type="t3.small", db_storage_gb=100))
    prices = load_prices()
    cost_small = next(e for e in cost_summary(small, prices).targets if e.target == "ec2")
    cost_big = next(e for e in cost_summary(big, prices).targets if e.target == "ec2")
    assert cost_small.monthly_usd < cost_big.monthly_usd


def test_requesting_a_target_that_does_not_fit_is_a_clear_error() -> None:
    with pytest.raises(TargetNotSuitableError, match=r"lambda.*SQLite"):
        bundle_for(sp.django_sqlite_celery(), "lambda")
    with pytest.raises(TargetNotSuitableError, match="static"):
        bundle_for(sp.flask_postgres(), "static")


def test_region_other_than_priced_one_is_stated() -> None:
    ctx = build_context(sp.go_api(), TemplateOptions(), region="eu-west-1")
    cost = cost_summary(ctx, load_prices())
    assert cost.priced_region == "us-east-1" and "eu-west-1" in cost.assumptions[0]
    # it reaches only its database: a function in the VPC needs no NAT gateway, so it fits
    assert recommend(ctx, cost).target == "lambda"


def test_worker_only_app_gets_no_load_balancer() -> None:
    from chalicelib.models.profile import App, Languages, StackProfile, Worker

    profile = StackProfile(
        languages=Languages(primary="python"),
        apps=[
            App(path=".", name="jobs", language="python", kind="worker", start_command="rq worker")
        ],
        workers=[Worker(name="rq", command="rq worker")],
    )
    bundle = bundle_for(profile, "ecs-fargate")
    fargate = next(e for e in bundle.cost.targets if e.target == "ecs-fargate")
    assert not any(line.item.startswith("alb.") for line in fargate.lines)
    assert "aws_lb" not in bundle.files["infra/ecs.tf"]
    assert "no URL" in bundle.files["infra/outputs.tf"]
    assert bundle_for(profile).target == "ec2"
