"""The hot routes' AWS round trips, in order: a budget that a change must not grow unnoticed.

Login: attempt counters per email and per IP (counted before the password check, so
parallel guesses cannot pass the limit), the credentials (one item: the email item
carries the hash), the give-back of both counters on success, the refresh token.
Authenticated reads: the rate-limit counter, then the read.
"""

from __future__ import annotations

from chalicelib.context import AppContext
from tests.functional.api.conftest import PASSWORD, Api
from tests.support.aws_calls import AwsCallCounter

LOGIN_OK = [
    "dynamodb.UpdateItem",  # attempts per email
    "dynamodb.UpdateItem",  # attempts per IP
    "dynamodb.GetItem",  # credentials
    "dynamodb.UpdateItem",  # give back (email)
    "dynamodb.UpdateItem",  # give back (IP)
    "dynamodb.PutItem",  # refresh token
]


def test_hot_routes_stay_within_their_call_budget(api: Api, api_context: AppContext) -> None:
    counter = AwsCallCounter.watching(api_context.aws)
    token = api.user("budget@example.com")
    status, project, _ = api.call("POST", "/projects", {"name": "budget"}, token=token)
    assert status == 201
    counter.take()

    assert api.login("budget@example.com")["access_token"]
    assert counter.take() == LOGIN_OK

    status, body, _ = api.call("GET", "/projects", token=token)
    assert status == 200 and [p["id"] for p in body["projects"]] == [project["id"]]
    assert counter.take() == ["dynamodb.UpdateItem", "dynamodb.Query"]

    status, body, _ = api.call("GET", f"/projects/{project['id']}", token=token)
    assert status == 200 and body["id"] == project["id"]
    assert counter.take() == ["dynamodb.UpdateItem", "dynamodb.GetItem"]


def test_failed_login_gives_nothing_back(api: Api, api_context: AppContext) -> None:
    counter = AwsCallCounter.watching(api_context.aws)
    api.signup("budget-fail@example.com")
    counter.take()
    status, _, _ = api.call(
        "POST", "/auth/login", {"email": "budget-fail@example.com", "password": PASSWORD + "x"}
    )
    assert status == 401
    assert counter.take() == ["dynamodb.UpdateItem", "dynamodb.UpdateItem", "dynamodb.GetItem"]
