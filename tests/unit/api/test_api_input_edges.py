"""Regressions found by the QA sweep: edges of request parsing and validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from chalicelib.errors import InvalidJsonError, UnauthorizedError
from chalicelib.models.api import ProjectCreate, SignupRequest
from chalicelib.models.deployments_api import BundleUploadCreate, DeploymentCreate, DestroyCreate
from chalicelib.models.templates import TemplateRequest
from chalicelib.models.uploads import UploadCreate
from chalicelib.routes.endpoint import authenticate, parse_body
from chalicelib.routes.middleware import request_id_of
from tests.unit.api.helpers import make_context

ARN = "arn:aws:iam::123456789012:role/deploy"


@dataclass
class FakeRequest:
    raw_body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)


# Python's "$" also matches before a trailing newline: "main\n" passed `^...$` + .match()
# and would have become a DynamoDB key and an S3 key (tfstate/<project>/main\n.tfstate).
TRAILING_NEWLINE = [
    (DeploymentCreate, {"bundle_id": "b", "role_arn": ARN + "\n", "region": "us-east-1"}),
    (DeploymentCreate, {"bundle_id": "b", "role_arn": ARN, "region": "us-east-1\n"}),
    (DeploymentCreate, {"bundle_id": "b", "role_arn": ARN, "region": "us-east-1", "stack": "a\n"}),
    (DeploymentCreate, {"bundle_id": "b\n", "role_arn": ARN, "region": "us-east-1"}),
    (TemplateRequest, {"analysis_id": "a", "region": "us-east-1\n"}),
    (TemplateRequest, {"analysis_id": "a\n"}),
    (BundleUploadCreate, {"terraform_root": "infra\n"}),
]


@pytest.mark.parametrize(("model", "data"), TRAILING_NEWLINE)
def test_a_trailing_newline_is_refused(model: type[BaseModel], data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)


def test_fields_that_are_trimmed_keep_no_newline() -> None:
    assert ProjectCreate.model_validate({"name": "shop\n"}).name == "shop"
    signup = {"email": "ada@example.com\n", "password": "correct horse battery"}
    assert SignupRequest.model_validate(signup).email == "ada@example.com"
    domain = TemplateRequest.model_validate(
        {"analysis_id": "a", "options": {"domain": "example.com\n"}}
    )
    assert "\n" not in str(domain.model_dump())


def test_request_ids_with_a_newline_are_replaced() -> None:
    assert request_id_of(FakeRequest(context={"requestId": "abc-1"})) == "abc-1"
    replaced = request_id_of(FakeRequest(context={"requestId": "abc\n"}))
    assert replaced != "abc\n" and replaced.isalnum()


@pytest.mark.parametrize("model", [UploadCreate, BundleUploadCreate, DestroyCreate])
def test_no_body_means_defaults_when_every_field_has_one(model: type[BaseModel]) -> None:
    assert parse_body(FakeRequest(b""), model, 1000) == model()
    assert parse_body(FakeRequest(b"  \n"), model, 1000) == model()


def test_no_body_is_still_400_when_a_field_is_required() -> None:
    with pytest.raises(InvalidJsonError):
        parse_body(FakeRequest(b""), ProjectCreate, 1000)


def test_an_oversized_token_is_401_with_www_authenticate() -> None:
    ctx = make_context()
    request = FakeRequest(headers={"authorization": "Bearer " + "a" * 5000})
    with pytest.raises(UnauthorizedError) as caught:
        authenticate(ctx, request)
    assert caught.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_project_delete_waits_for_jobs_then_purges_and_counts() -> None:
    from chalicelib.errors import ProjectBusyError
    from chalicelib.services import projects, users
    from tests.unit.api.helpers import FakeProjectData

    ctx = make_context()
    data = ctx.project_data
    assert isinstance(data, FakeProjectData)
    alice = users.signup(ctx, "a@x.io", "correct horse battery").user_id
    project = projects.create(ctx, alice, "p").project_id
    data.items[project] = [{"sk": "JOB#j", "job_id": "j", "kind": "analyze", "status": "queued"}]
    data.objects = {f"uploads/{project}/u.zip", f"uploads/{project}x/u.zip"}
    with pytest.raises(ProjectBusyError) as caught:
        projects.delete(ctx, alice, project)
    assert caught.value.status == 409 and caught.value.details["job_id"] == "j"
    assert ctx.stores.users.get(alice).project_count == 1  # type: ignore[union-attr]
    data.items[project][0]["status"] = "succeeded"
    projects.delete(ctx, alice, project)
    assert data.items == {} and data.objects == {f"uploads/{project}x/u.zip"}
    assert ctx.stores.users.get(alice).project_count == 0  # type: ignore[union-attr]


def test_validation_details_are_capped() -> None:
    import json

    from chalicelib.errors import RequestValidationError
    from chalicelib.routes.endpoint import MAX_VALIDATION_DETAILS

    many = json.dumps({f"k{i}": 0 for i in range(5000)}).encode()
    with pytest.raises(RequestValidationError) as caught:
        parse_body(FakeRequest(many, {"content-type": "application/json"}), ProjectCreate, 10**6)
    details = caught.value.details
    assert len(details) == MAX_VALIDATION_DETAILS + 1
    assert details[-1]["type"] == "too_many_errors" and "more errors" in details[-1]["message"]
    long_key = json.dumps({"k" * 10_000: 0, "name": "ok"}).encode()
    with pytest.raises(RequestValidationError) as caught:
        parse_body(FakeRequest(long_key), ProjectCreate, 10**6)
    assert len(caught.value.details[0]["field"]) <= 100
