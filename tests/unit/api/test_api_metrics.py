"""The API's EMF metrics: one metric set for the whole API, never one per route."""

import json

import pytest

from chalicelib import observability


def _emf_documents(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if '"_aws"' in line]


@pytest.mark.parametrize(
    ("status", "error_metric"), [(200, None), (404, "Errors4xx"), (503, "Errors5xx")]
)
def test_a_request_emits_one_document_with_the_service_dimension_only(
    capsys: pytest.CaptureFixture[str], status: int, error_metric: str | None
) -> None:
    observability.record_request(status, 12.5)

    (doc,) = _emf_documents(capsys.readouterr().out)
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == observability.NAMESPACE
    # A per-route dimension would make every route its own paid custom metric.
    assert directive["Dimensions"] == [["service"]]
    names = {m["Name"] for m in directive["Metrics"]}
    assert {"Requests", "Latency"} <= names
    assert doc["Latency"] == [12.5]
    assert doc["Requests"] == [1.0]
    if error_metric:
        assert doc[error_metric] == [1.0]
    else:
        assert not names & {"Errors4xx", "Errors5xx"}
