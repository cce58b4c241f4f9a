"""Arbitrary JSON bodies never cause a 5xx and always answer in the error shape."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.functional.api.conftest import Api

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
_bodies = st.one_of(
    _json,
    st.fixed_dictionaries(
        {"email": _json, "password": _json}, optional={"extra": _json, "name": _json}
    ),
    st.fixed_dictionaries({"name": st.text(max_size=80)}, optional={"description": _json}),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=_bodies,
    path=st.sampled_from(["/auth/signup", "/auth/login", "/projects", "/auth/refresh"]),
)
def test_any_json_body_answers_cleanly(api: Api, body: object, path: str) -> None:
    raw = json.dumps(body).encode()
    status, answer, _ = api.call("POST", path, raw=raw)
    assert status < 500, answer
    if status >= 400:
        assert set(answer) == {"error"} and set(answer["error"]) == {"code", "message", "details"}
    if status == 422:
        assert all("field" in d and "message" in d for d in answer["error"]["details"])
