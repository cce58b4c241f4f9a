"""A bundle that cannot be stored leaves no objects behind (emulator S3 and DynamoDB)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.aws import AwsClients
from chalicelib.context import AppContext, build_context
from chalicelib.models.templates import TemplateRequest
from chalicelib.services import templates
from chalicelib.settings import load_settings
from chalicelib.store.codec import to_item
from devtools.local_resources import LocalResources
from tests.golden.stack_profiles import flask_postgres

PROJECT = "p1"


class _Failing:
    """A real client whose ``method`` fails on the calls ``should_fail`` picks."""

    def __init__(self, client: Any, method: str, should_fail: Any, error: Exception) -> None:
        self._client, self._method, self._should_fail, self._error = (
            client, method, should_fail, error
        )  # fmt: skip
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._client, name)
        if name != self._method:
            return real

        def call(**kwargs: Any) -> Any:
            self.calls += 1
            if self._should_fail(kwargs, self.calls):
                raise self._error
            return real(**kwargs)

        return call


class _Clients(AwsClients):
    """The emulator's clients, with some replaced by failing wrappers."""

    def __init__(self, real: AwsClients, **replaced: Any) -> None:
        super().__init__(real.region, real.endpoint_url, real._credentials)
        self._real, self._replaced = real, replaced

    def client(self, service: str) -> Any:
        return self._replaced.get(service) or self._real.client(service)


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "Call")


@pytest.fixture
def context(local_resources: LocalResources) -> AppContext:
    settings = load_settings({**local_resources.environment(), "AUTOSTACK_STAGE": "test"})
    ctx = build_context(settings)
    report_key = f"reports/{PROJECT}/job1.json"
    ctx.aws.s3.put_object(
        Bucket=settings.bucket, Key=report_key, Body=flask_postgres().model_dump_json().encode()
    )
    job = {"pk": f"PROJECT#{PROJECT}", "sk": "JOB#job1", "job_id": "job1", "project_id": PROJECT,
           "kind": "analyze", "status": "succeeded", "payload": {"upload_id": "u1"},
           "result": {"report_key": report_key}, "created_at_epoch": 1}  # fmt: skip
    ctx.aws.dynamodb.put_item(TableName=settings.table, Item=to_item(job))
    return ctx


def _bundle_keys(ctx: AppContext) -> list[str]:
    listed = ctx.aws.s3.list_objects_v2(Bucket=ctx.settings.bucket, Prefix="bundles/")
    return [o["Key"] for o in listed.get("Contents", [])]


def _bundle_items(ctx: AppContext) -> list[dict]:
    page = ctx.aws.dynamodb.query(
        TableName=ctx.settings.table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :b)",
        ExpressionAttributeValues={":pk": {"S": f"PROJECT#{PROJECT}"}, ":b": {"S": "BUNDLE#"}},
    )
    return page["Items"]


def _with(ctx: AppContext, **replaced: Any) -> AppContext:
    return AppContext(settings=ctx.settings, aws=_Clients(ctx.aws, **replaced))


def test_failed_item_write_deletes_every_uploaded_object(context: AppContext) -> None:
    dynamodb = _Failing(
        context.aws.dynamodb,
        "put_item",
        lambda kwargs, _: kwargs["Item"]["sk"]["S"].startswith("BUNDLE#"),
        _error("ProvisionedThroughputExceededException"),
    )
    flaky = _with(context, dynamodb=dynamodb)
    with pytest.raises(ClientError, match="ProvisionedThroughputExceeded"):
        templates.create(flaky, PROJECT, TemplateRequest(analysis_id="job1"))
    assert dynamodb.calls == 1
    assert _bundle_keys(context) == []  # files, document and zip all gone
    assert _bundle_items(context) == []
    # the same context stores the next bundle normally
    record = templates.create(context, PROJECT, TemplateRequest(analysis_id="job1"))
    assert len(_bundle_keys(context)) == len(record.files) + 2
    assert len(_bundle_items(context)) == 1


def test_failed_upload_deletes_the_objects_already_uploaded(context: AppContext) -> None:
    s3 = _Failing(
        context.aws.s3,
        "put_object",
        lambda kwargs, calls: kwargs["Key"].startswith("bundles/") and calls == 5,
        _error("SlowDown"),
    )
    with pytest.raises(ClientError, match="SlowDown"):
        templates.create(_with(context, s3=s3), PROJECT, TemplateRequest(analysis_id="job1"))
    assert s3.calls > 5  # the other uploads went through before the cleanup
    assert _bundle_keys(context) == [] and _bundle_items(context) == []


def test_a_write_that_landed_before_its_retry_failed_keeps_the_bundle(context: AppContext) -> None:
    """The first attempt stored the item, the retry failed its condition: not an orphan."""

    class _LandsThenFails:
        def __init__(self, client: Any) -> None:
            self._client = client

        def __getattr__(self, name: str) -> Any:
            real = getattr(self._client, name)
            if name != "put_item":
                return real

            def put_item(**kwargs: Any) -> Any:
                real(**kwargs)
                if kwargs["Item"]["sk"]["S"].startswith("BUNDLE#"):
                    return real(**kwargs)  # the retry: ConditionalCheckFailedException
                return None

            return put_item

    ctx = _with(context, dynamodb=_LandsThenFails(context.aws.dynamodb))
    record = templates.create(ctx, PROJECT, TemplateRequest(analysis_id="job1"))
    assert len(_bundle_items(context)) == 1
    assert len(_bundle_keys(context)) == len(record.files) + 2
    assert templates.get(context, PROJECT, record.id).contents.keys() == set(record.files)


def test_unknown_outcome_keeps_the_files(context: AppContext) -> None:
    """When neither the write nor the check answers, the files stay (an orphan beats a hole)."""
    dynamodb = _Failing(
        context.aws.dynamodb,
        "put_item",
        lambda kwargs, _: kwargs["Item"]["sk"]["S"].startswith("BUNDLE#"),
        _error("InternalServerError"),
    )
    broken = _Failing(
        dynamodb,
        "get_item",
        lambda kwargs, _: kwargs["Key"]["sk"]["S"].startswith("BUNDLE#"),
        _error("InternalServerError"),
    )
    with pytest.raises(ClientError, match="InternalServerError"):
        templates.create(
            _with(context, dynamodb=broken), PROJECT, TemplateRequest(analysis_id="job1")
        )
    assert _bundle_keys(context) and _bundle_items(context) == []
