"""What the user reads: the stack lines, the targets table, the plan, the URL, and the three
ways of writing (terminal, pipe, --json)."""

from __future__ import annotations

import io
import json

from autostack import formatting
from autostack.errors import ApiError, RefusedError
from autostack.output import Output

JOB = {
    "summary": {"primary_language": "python"},
    "profile": {
        "languages": {"primary": "python"},
        "apps": [
            {
                "path": ".",
                "framework": {"name": "flask", "version": "3.0.3"},
                "port": {"value": 8000},
                "start_command": "gunicorn app:app",
            }
        ],
        "services": [{"kind": "postgres"}],
        "possible_services": [{"kind": "redis"}],
        "secrets": [{"file": "settings.py", "line": 3, "kind": "aws_access_key"}],
    },
}
BUNDLE = {
    "target": "ec2",
    "recommendation": {"target": "ec2", "reasons": ["cheapest that fits"], "alternatives": []},
    "cost": {
        "targets": [
            {
                "target": "lambda",
                "fits": False,
                "why_not": ["needs a NAT gateway"],
                "monthly_usd": 18.7,
                "monthly_free_tier_usd": 15.43,
            },
            {"target": "ec2", "fits": True, "monthly_usd": 28.67, "monthly_free_tier_usd": 27.27},
        ]
    },
}


def test_stack_lines_name_language_framework_port_start_services_secrets() -> None:
    lines = dict(formatting.stack_lines(JOB))
    assert lines["language"] == "python"
    assert lines["framework"] == "flask 3.0.3"
    assert lines["port"] == "8000" and lines["start"] == "gunicorn app:app"
    assert lines["services"] == "postgres (possible: redis)"
    assert lines["secrets"].startswith("1 found in settings.py:3")


def test_stack_lines_when_nothing_is_found() -> None:
    lines = dict(formatting.stack_lines({"profile": {"apps": [{}]}}))
    assert lines["framework"] == "none detected" and lines["port"] == "not found"
    assert lines["services"] == "none" and lines["secrets"] == "none found"


def test_target_rows_mark_the_recommended_one_with_its_reasons() -> None:
    rows = formatting.target_rows(BUNDLE)
    assert [(r["target"], r["recommended"]) for r in rows] == [("lambda", False), ("ec2", True)]
    assert rows[1]["why"] == "cheapest that fits" and rows[0]["why"] == "needs a NAT gateway"


def test_plan_lines_and_app_url() -> None:
    plan = {
        "headline": "Plan: 1 to add, 0 to change, 0 to destroy.",
        "resources": [{"description": 'aws_instance "app" will be created'}],
        "warnings": ["1 resource will be destroyed"],
    }
    assert formatting.plan_lines(plan) == [
        "Plan: 1 to add, 0 to change, 0 to destroy.",
        '- aws_instance "app" will be created',
        "! 1 resource will be destroyed",
    ]
    outputs = [{"name": "zz", "value": "https://b"}, {"name": "app_url", "value": "https://a"}]
    assert formatting.app_url({"outputs": outputs}) == "https://a"
    assert formatting.app_url({"outputs": [{"name": "x", "value": "http://c"}]}) == "http://c"
    assert formatting.app_url({"outputs": None}) is None


def test_a_pipe_gets_plain_text_without_colour_or_box_drawing() -> None:
    stream = io.StringIO()
    out = Output(json_mode=False, stdout=stream)
    assert out.tty is False
    out.heading("Targets")
    out.targets(formatting.target_rows(BUNDLE))
    with out.progress("analyzing") as update:
        update(10, "downloading")
        update(10, "downloading")  # unchanged: not repeated
        update(100, "succeeded")
    text = stream.getvalue()
    assert "\x1b[" not in text and "━" not in text and "│" not in text
    assert "\n*  ec2     yes   $28.67" in text
    assert "$28.67" in text and "recommended: cheapest that fits" in text
    assert text.count("analyzing: 10% downloading") == 1
    assert "analyzing: 100% succeeded" in text


def test_json_mode_writes_one_document_and_nothing_else() -> None:
    stream = io.StringIO()
    out = Output(json_mode=True, stdout=stream)
    out.say("hello")
    out.targets(formatting.target_rows(BUNDLE))
    with out.progress("analyzing") as update:
        update(50, "half")
    out.document({"ok": True})
    assert json.loads(stream.getvalue()) == {"ok": True}


def test_errors_carry_the_api_message_a_hint_and_an_exit_code() -> None:
    stream = io.StringIO()
    out = Output(json_mode=True, stdout=stream)
    error = ApiError(429, "rate_limited", "rate limit reached: 50 requests per 900 s")
    out.error(error)
    document = json.loads(stream.getvalue())
    assert document["exit_code"] == 3
    assert document["error"]["message"] == "rate limit reached: 50 requests per 900 s"
    assert "Retry-After" in document["error"]["hint"]
    assert ApiError(401, "unauthorized", "x").exit_code == 4
    assert ApiError(404, "not_found", "x").exit_code == 4
    assert ApiError(422, "validation_error", "x").exit_code == 2
    assert ApiError(500, "internal_error", "x").exit_code == 1
    assert RefusedError("no").line() == "no"


def test_a_big_plan_shows_deletions_first_and_counts_the_rest() -> None:
    created = [
        {"action": "create", "description": f'aws_thing "r{i}" will be created'} for i in range(20)
    ]
    deleted = {"action": "delete", "description": 'aws_db_instance "db" will be destroyed'}
    plan = {
        "headline": "Plan: 20 to add, 0 to change, 1 to destroy.",
        "resources": [*created, deleted],
    }
    lines = formatting.plan_lines(plan, limit=5)
    assert lines[0].startswith("Plan: 20 to add")
    assert lines[1] == '- aws_db_instance "db" will be destroyed'
    assert lines[2:6] == [f'- aws_thing "r{i}" will be created' for i in range(4)]
    assert lines[6] == "- and 16 more (`autostack logs` shows the whole plan)"
    assert len(lines) == 7
