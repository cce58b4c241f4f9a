"""Schema-driven fuzzing with schemathesis: every operation of /openapi.json, with
bodies and parameters generated from the document (valid and invalid), sent as Alice
with her real ids (so requests reach the handlers, not only the 404 of a random id).
Nothing may answer 5xx, every error answers the error shape, and every success
matches the documented response schema. Bounded: a few examples per operation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from chalicelib.openapi import Operation, operations
from tests.functional.api import qa_world
from tests.functional.api.qa_world import World

module_resources = pytest.fixture(scope="module")(qa_world.make_resources)
world = pytest.fixture(scope="module")(qa_world.make_world)

MAX_EXAMPLES = 4  # per operation: ~35 operations x (valid + invalid phases), within ~30 s


def wsgi_over_chalice(world: World) -> Callable[..., Iterable[bytes]]:
    """A WSGI app that hands each request to chalice's local gateway (the test client)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = quote(environ.get("PATH_INFO", "/"), safe="/")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        response = world.api.client.http.request(
            environ["REQUEST_METHOD"], path, headers=headers, body=body
        )
        start_response(
            f"{response.status_code} STATUS", [(k, str(v)) for k, v in response.headers.items()]
        )
        return [response.body if isinstance(response.body, bytes) else response.body.encode()]

    return app


@pytest.fixture(scope="module")
def api_schema(world: World) -> Any:
    return schemathesis.openapi.from_wsgi("/openapi.json", wsgi_over_chalice(world))


def _id(op: Operation) -> str:
    return f"{op.method} {op.path}"


def _check(world: World, case: Any, deep: bool) -> None:
    if deep:  # Alice's real ids: the request reaches the handler, not a 404 lookup
        for name in list(case.path_parameters or {}):
            case.path_parameters[name] = world.id_for_path(case.operation.path, name)
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {world.alice}"}
    response = case.call()
    answer = response.json() if response.content else None
    where = (case.method, case.formatted_path, case.body, answer)
    assert response.status_code < 500, where
    if response.status_code >= 400:
        assert isinstance(answer, dict) and set(answer) == {"error"}, where
        assert set(answer["error"]) == {"code", "message", "details"}, where


@pytest.mark.parametrize("op", operations(), ids=_id)
def test_generated_requests_never_5xx_and_answer_the_error_shape(
    api_schema: Any, world: World, op: Operation
) -> None:
    operation = api_schema[op.path][op.method]
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for deep in (True, False):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,  # the same examples on every run: a failure reproduces
                database=None,
                phases=[Phase.explicit, Phase.generate],  # no shrinking: keep it bounded
            )
            def run(case: Any) -> None:
                _check(world, case, deep)  # noqa: B023  (run at once, in this iteration)

            try:
                run()
            except Unsatisfiable:
                # Nothing to make invalid (no body, no parameter): only the positive run.
                assert mode is GenerationMode.NEGATIVE, _id(op)
