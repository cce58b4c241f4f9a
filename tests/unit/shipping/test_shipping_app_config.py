"""The runner's side of app config: which role, reading the prefix (a fake SSM), masking."""

from __future__ import annotations

from typing import Any

from runner.shipping.app_config import AppEnvironment, read_environment, scope_of

ROLE = "arn:aws:iam::210987654321:role/deploy"


class PagedSsm:
    """GetParametersByPath over a dict, two parameters a page (as SSM pages)."""

    def __init__(self, parameters: list[dict[str, Any]]) -> None:
        self.parameters = parameters
        self.calls: list[dict[str, Any]] = []

    def get_parameters_by_path(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        start = int(kwargs.get("NextToken") or 0)
        page = [p for p in self.parameters if p["Name"].rsplit("/", 1)[0] == kwargs["Path"]]
        answer: dict[str, Any] = {"Parameters": page[start : start + 2]}
        if start + 2 < len(page):
            answer["NextToken"] = str(start + 2)
        return answer


def test_read_environment_splits_values_and_secrets_over_pages() -> None:
    prefix = "/autostack/p1/main"
    ssm = PagedSsm(
        [
            {"Name": f"{prefix}/LOG_LEVEL", "Type": "String", "Value": "debug"},
            {"Name": f"{prefix}/API_KEY", "Type": "SecureString", "Value": "s3cret-value"},
            {"Name": f"{prefix}/bad-name", "Type": "String", "Value": "skipped"},
            {"Name": f"{prefix}/PATH", "Type": "String", "Value": "/evil"},  # reserved
            {"Name": "/autostack/p1/other/X", "Type": "String", "Value": "other stack"},
        ]
    )
    env = read_environment(ssm, prefix)
    assert dict(env.values) == {"LOG_LEVEL": "debug"}
    assert dict(env.secrets) == {"API_KEY": "s3cret-value"}
    assert all(c["WithDecryption"] and c["Path"] == prefix for c in ssm.calls)
    assert len(ssm.calls) == 2


def test_the_environment_masks_secrets_and_describes_names_only() -> None:
    env = AppEnvironment(values={"LOG_LEVEL": "debug"}, secrets={"API_KEY": "s3cret-value"})
    assert env.masked("started with s3cret-value and debug") == "started with **** and debug"
    described = env.describe()
    assert "API_KEY (secret)" in described and "LOG_LEVEL" in described
    assert "s3cret-value" not in described and "debug" not in described
    assert AppEnvironment().describe() == "no app config"


def test_scope_from_the_job_payload_else_the_stacks_deployment() -> None:
    asked: list[bool] = []

    def deployment() -> dict[str, Any]:
        asked.append(True)
        return {"role_arn": ROLE, "external_id": "ext-1", "region": "eu-west-1"}

    own = {"role_arn": ROLE, "external_id": "ext-0"}
    scope = scope_of("p1", "main", own, deployment, "us-east-1")
    assert scope is not None and (scope.external_id, scope.region) == ("ext-0", "us-east-1")
    assert asked == []  # an apply job carries its role
    scope = scope_of("p1", "main", {"stack": "main"}, deployment, "us-east-1")
    assert scope is not None and (scope.external_id, scope.region) == ("ext-1", "eu-west-1")
    assert scope.prefix == "/autostack/p1/main"
    assert scope_of("p1", "main", {}, lambda: None, "us-east-1") is None
