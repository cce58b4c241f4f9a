"""Class 12: placement in zones that offer the instance type, and an estimate of what is
deployed (ALB addresses per zone, X-Ray on Lambda, Lambda with only RDS needs no NAT)."""

from __future__ import annotations

import re

from tests.golden.plan_profiles import bundle_of, env_var, profile


def test_the_instance_goes_to_a_zone_that_offers_its_type() -> None:
    ec2 = bundle_of(profile("python", framework="flask"), "ec2").files["infra/ec2.tf"]
    assert 'data "aws_ec2_instance_type_offerings" "app"' in ec2
    assert "values = data.aws_ec2_instance_type_offerings.app.locations" in ec2
    assert re.search(r"subnet_id\s+= sort\(data.aws_subnets.placement.ids\)\[0\]", ec2)


def test_the_alb_spans_the_two_zones_the_estimate_counts() -> None:
    bundle = bundle_of(profile("python", framework="flask"), "ecs-fargate")
    ecs = bundle.files["infra/ecs.tf"]
    assert re.search(
        r"service_subnets\s+= slice\(sort\(data.aws_subnets.default.ids\), 0, 2\)", ecs
    )
    assert re.search(r"subnets\s+= local.service_subnets", ecs)
    assert "data.aws_subnets.default.ids\n" not in ecs.split("locals {")[1]
    estimate = next(t for t in bundle.cost.targets if t.target == "ecs-fargate")
    (ipv4,) = [line for line in estimate.lines if "of the ALB" in line.resource]
    assert ipv4.quantity == 2 * 730


def test_lambda_prices_its_xray_traces() -> None:
    bundle = bundle_of(profile("python", framework="flask"), "lambda")
    assert 'mode = "Active"' in bundle.files["infra/lambda.tf"]
    estimate = next(t for t in bundle.cost.targets if t.target == "lambda")
    (xray,) = [line for line in estimate.lines if line.item == "xray.traces.recorded"]
    assert xray.quantity == 1.0 and xray.monthly_free_tier_usd == 4.5


def test_lambda_fits_an_app_that_reaches_only_its_database() -> None:
    bundle = bundle_of(profile("python", framework="flask", services=("postgres",)), "lambda")
    lam = bundle.files["infra/lambda.tf"]
    assert "vpc_config {" in lam and "AWSLambdaVPCAccessExecutionRole" in lam
    assert "urlencode(local.db_password)" in lam and "sslmode=require" in lam
    assert "aws_nat_gateway" not in "".join(bundle.files.values())
    assert "infra/security_groups.tf" in bundle.files


def test_lambda_does_not_fit_a_database_app_that_also_needs_the_internet() -> None:
    prof = profile("python", framework="flask", services=("postgres",),
                   env=[env_var("STRIPE_API_KEY", secret=True, required=True)])  # fmt: skip
    bundle = bundle_of(prof)
    estimate = next(t for t in bundle.cost.targets if t.target == "lambda")
    assert not estimate.fits
    assert any("STRIPE_API_KEY" in r and "NAT gateway" in r for r in estimate.why_not)
