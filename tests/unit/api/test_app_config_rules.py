"""App config's pure rules: names, bodies, the parameter path, the session policy, masking."""

from __future__ import annotations

import json

import pytest

from chalicelib.models.app_config import (
    MAX_CHANGES,
    MAX_VALUE_BYTES,
    AppConfigScopeError,
    entry_problems,
    mask,
    name_problem,
    parameter_name,
    parameter_prefix,
    session_policy,
)

ROLE = "arn:aws:iam::210987654321:role/deploy"


@pytest.mark.parametrize("name", ["A", "_X", "API_KEY", "DATABASE_URL2", "A" * 128])
def test_good_names(name: str) -> None:
    assert name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("lower", "must match"),
        ("1ABC", "must match"),
        ("A-B", "must match"),
        ("A" * 129, "must match"),
        ("", "must match"),
        ("A/B", "must match"),
        ("A\n", "must match"),
        ("PORT", "reserved"),
        ("PATH", "reserved"),
        ("LD_PRELOAD", "reserved"),
        ("AWS_SECRET_ACCESS_KEY", "reserved"),
        ("AUTOSTACK_STAGE", "reserved"),
        ("_HANDLER", "reserved"),
    ],
)
def test_bad_names_say_why(name: str, why: str) -> None:
    problem = name_problem(name)
    assert problem is not None and why in problem


def test_entry_problems_name_each_field() -> None:
    problems = entry_problems(
        {"OK": "1", "bad": "2", "BIG": "x" * (MAX_VALUE_BYTES + 1), "DUP": "v", "NUL": "a\x00"},
        {"DUP": "s", "EMPTY": ""},
    )
    by_field = {p["field"]: p["type"] for p in problems}
    assert by_field == {
        "values.bad": "name",
        "values.BIG": "too_long",
        "values.DUP": "duplicate",
        "values.NUL": "value",
        "secrets.EMPTY": "empty",
    }
    assert entry_problems({"OK": "1"}, {"S": "2"}) == []
    assert entry_problems({}, {})[0]["type"] == "empty"
    many = {f"N{i}": "v" for i in range(MAX_CHANGES + 1)}
    assert [p["type"] for p in entry_problems(many, {})] == ["too_many"]
    # A multi-byte value is measured in bytes, as SSM does.
    assert entry_problems({"E": "é" * (MAX_VALUE_BYTES // 2 + 1)}, {})[0]["type"] == "too_long"


def test_prefix_and_names_cannot_leave_the_project_path() -> None:
    assert parameter_prefix("p1", "main") == "/autostack/p1/main"
    assert parameter_name("/autostack/p1/main", "API_KEY") == "/autostack/p1/main/API_KEY"
    for project, stack in (("p/1", "main"), ("p1", "*"), ("p1", "../x"), ("", "main")):
        with pytest.raises(AppConfigScopeError):
            parameter_prefix(project, stack)
    with pytest.raises(AppConfigScopeError, match="name"):
        parameter_name("/autostack/p1/main", "../OTHER")


def test_the_session_policy_names_only_the_prefix() -> None:
    read = session_policy(ROLE, "eu-west-1", "/autostack/p1/main", write=False)
    write = session_policy(ROLE, "eu-west-1", "/autostack/p1/main", write=True)
    base = "arn:aws:ssm:eu-west-1:210987654321:parameter/autostack/p1/main"
    for policy in (read, write):
        ssm, kms = policy["Statement"]
        assert ssm["Resource"] == [base, base + "/*"]
        assert all(a.startswith("ssm:") for a in ssm["Action"])
        assert kms["Condition"] == {
            "StringEquals": {"kms:ViaService": "ssm.eu-west-1.amazonaws.com"}
        }
        assert len(json.dumps(policy, separators=(",", ":"))) < 2048  # STS's limit
    assert not any("Put" in a or "Delete" in a for a in read["Statement"][0]["Action"])
    assert "ssm:PutParameter" in write["Statement"][0]["Action"]
    assert read["Statement"][1]["Action"] == ["kms:Decrypt"]
    with pytest.raises(AppConfigScopeError, match="role_arn"):
        session_policy("arn:aws:iam::*:role/x", "eu-west-1", "/autostack/p1/main", write=False)
    with pytest.raises(AppConfigScopeError, match="region"):
        session_policy(ROLE, "*", "/autostack/p1/main", write=False)


def test_mask_replaces_secrets_longest_first_and_leaves_short_ones() -> None:
    text = "token=abcd1234 inner=abcd key=xyz"
    assert mask(text, {"abcd1234", "abcd", "xyz"}) == "token=**** inner=**** key=xyz"
    assert mask("nothing here", set()) == "nothing here"
