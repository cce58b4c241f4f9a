"""Pure logic of the deployments API: state derivation, outputs order, zip rules, masking."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.deploy_state import derive_status
from chalicelib.models.deployments_api import DeploymentCreate
from chalicelib.models.jobs import JobRecord
from chalicelib.services.bundles_upload import BundleRefusedError, unpack_bundle
from chalicelib.services.deployment_logs import mask
from chalicelib.services.deployment_views import order_outputs

NOW = 1_800_000_000.0
ITEM: dict[str, Any] = {"created_at_epoch": NOW - 5}


def job(status: str, **extra: Any) -> JobRecord:
    return JobRecord.model_validate(
        {"job_id": "j", "project_id": "p", "kind": "plan", "status": status, **extra}
    )


@pytest.mark.parametrize(
    ("plan", "apply", "item", "expected"),
    [
        (None, None, {}, "queued"),
        (None, None, {"created_at_epoch": NOW - 3600}, "failed"),  # never queued
        (job("queued"), None, {}, "queued"),
        (job("running", phase="planning"), None, {}, "planning"),
        (job("running", progress_message="applying (auto-approve)"), None, {}, "planning"),
        (job("running", phase="applying"), None, {}, "applying"),
        (
            job("running", progress=100, phase="applied", payload={"auto_approve": True}),
            None,
            {},
            "applying",  # applied in place; the outcome is written next
        ),
        (job("running", progress=100, phase="planned"), None, {}, "planning"),
        (job("planned"), None, {}, "planned"),
        (job("planned"), None, {"cancelled_at": "t"}, "cancelled"),
        (job("planned"), None, {"apply_job_id": "a", "approved_at_epoch": NOW}, "applying"),
        (job("planned"), job("queued"), {"apply_job_id": "a"}, "applying"),
        (job("planned"), job("running"), {"apply_job_id": "a"}, "applying"),
        (job("planned"), job("succeeded"), {"apply_job_id": "a"}, "applied"),
        (job("planned"), job("failed"), {"apply_job_id": "a"}, "failed"),
        (job("planned"), job("cancelled"), {"apply_job_id": "a"}, "cancelled"),
        (job("succeeded", result={"changes": False}), None, {}, "applied"),
        (job("failed", error={"code": "terraform_failed", "message": "x"}), None, {}, "failed"),
        (job("cancelled"), None, {}, "cancelled"),
    ],
)
def test_the_state_comes_from_the_jobs(
    plan: JobRecord | None, apply: JobRecord | None, item: dict[str, Any], expected: str
) -> None:
    assert derive_status({**ITEM, **item}, plan, apply, NOW).status == expected


def test_a_failed_plan_carries_the_jobs_error() -> None:
    derived = derive_status(
        ITEM, job("failed", error={"code": "terraform_failed", "message": "bad HCL"}), None, NOW
    )
    assert derived.error is not None and derived.error.message == "bad HCL"


def test_an_apply_whose_retry_finds_its_plan_stale_says_it_was_interrupted() -> None:
    error = {"code": "terraform_failed", "message": "Error: Saved plan is stale"}
    apply = job("failed", attempts=2, error=error, error_code="plan_stale")  # the runner's code
    derived = derive_status({**ITEM, "apply_job_id": "a"}, job("planned"), apply, NOW)
    assert derived.status == "failed" and derived.error is not None
    assert derived.error.code == "apply_interrupted" and "deploy again" in derived.error.message
    first_try = derive_status({**ITEM, "apply_job_id": "a"}, job("planned"),
                              job("failed", attempts=1, error=error, error_code="plan_stale"),
                              NOW)  # fmt: skip
    assert first_try.error is not None and first_try.error.code == "terraform_failed"


def test_outputs_put_the_app_url_first_and_hide_sensitive_values() -> None:
    ordered = order_outputs(
        {
            "bucket": {"value": "b", "sensitive": False},
            "api_endpoint": {"value": "https://api", "sensitive": False},
            "app_url": {"value": "https://app", "sensitive": False},
            "password": {"value": "hunter2", "sensitive": True},
        }
    )
    assert [o.name for o in ordered] == ["app_url", "api_endpoint", "bucket", "password"]
    assert ordered[-1].value is None and ordered[-1].sensitive


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in entries.items():
            archive.writestr(name, body)
    return buffer.getvalue()


def test_unpack_enters_a_single_top_folder_and_keeps_the_tree() -> None:
    files = unpack_bundle(zipped({"stack/infra/main.tf": b"x", "stack/docs/a.md": b"y"}))
    assert files == {"docs/a.md": b"y", "infra/main.tf": b"x"}


@pytest.mark.parametrize(
    ("entries", "root", "says"),
    [
        ({"a/../../x.tf": b""}, None, "not a safe relative path"),
        ({"C:/x.tf": b""}, None, "not a safe relative path"),
        ({"a\\x.tf": b""}, None, "not a safe relative path"),
        ({"x.tf": b"", "README": b""}, "modules/app", "holds no .tf file"),
        ({f"f{i}.tf": b"" for i in range(501)}, None, "at most 500"),
        ({"x.tf": b"0" * (5 * 1024 * 1024)}, None, "compressed more than 100x"),
    ],
)
def test_unpack_refuses_what_the_rules_refuse(
    entries: dict[str, bytes], root: str | None, says: str
) -> None:
    with pytest.raises(BundleRefusedError, match=says):
        unpack_bundle(zipped(entries), root)


@given(st.binary(max_size=2000))
def test_unpack_never_crashes_on_junk(data: bytes) -> None:
    try:
        files = unpack_bundle(data)
    except BundleRefusedError:
        return
    # Whatever is accepted is relative, inside the bundle, and holds Terraform.
    assert files and any(name.endswith(".tf") for name in files)
    assert all(not name.startswith("/") and ".." not in name.split("/") for name in files)


def test_masking_catches_credential_shapes() -> None:
    text = (
        "id AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = abc/def+ghi\n"
        "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\nok\n"
    )
    masked = mask(text)
    assert "AKIAIOSFODNN7EXAMPLE" not in masked and "abc/def+ghi" not in masked
    assert "MIIE" not in masked and masked.endswith("ok\n")


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:role/deploy",
        "arn:aws:iam::123456789012:role/team/ci/deploy-role+1",
        "arn:aws-us-gov:iam::123456789012:role/x",
    ],
)
def test_role_arns_that_are_accepted(arn: str) -> None:
    body = DeploymentCreate.model_validate(
        {"bundle_id": "b", "role_arn": arn, "region": "ap-southeast-2"}
    )
    assert body.role_arn == arn and body.stack == "main"


def test_the_slot_retry_delay_is_a_runner_setting_capped_under_the_waiter_ttl(
    tmp_path: Any,
) -> None:
    from runner.terraform import TerraformSettings

    base = {"AUTOSTACK_TERRAFORM_DIR": str(tmp_path)}
    assert TerraformSettings.from_environ(base).slot_retry_s == 10
    env = {**base, "AUTOSTACK_TERRAFORM_SLOT_RETRY_S": "2"}
    assert TerraformSettings.from_environ(env).slot_retry_s == 2
    env = {**base, "AUTOSTACK_TERRAFORM_SLOT_RETRY_S": "600"}
    assert TerraformSettings.from_environ(env).slot_retry_s == 30


def test_the_permissions_hint_follows_the_bundles_resources() -> None:
    from chalicelib.services.deploy_role import aws_types_in, hint_for_types

    texts = [
        'resource "aws_instance" "app" {}\ndata "aws_vpc" "default" {}\n'
        'data "aws_iam_policy_document" "assume" {}\nresource "aws_iam_role" "app" {}\n'
        '  resource "aws_cloudwatch_log_group" "logs" {}\nresource "aws_fancy_new" "x" {}\n'
        'resource "terraform_data" "y" {}\n'
    ]
    types = aws_types_in(texts)
    assert "terraform_data" not in types and "aws_instance" in types
    hint = hint_for_types(types)
    actions = hint["Statement"][0]["Action"]
    assert {"ec2:*", "logs:*", "iam:PassRole", "sts:GetCallerIdentity"} <= set(actions)
    assert not any(a.startswith(("s3:", "rds:", "lambda:")) for a in actions)
    assert hint["Unmapped"] == ["aws_fancy_new"]
