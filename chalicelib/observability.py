"""Logging and metrics for the API: powertools Logger (JSON) and Metrics (EMF).

Every log line carries ``request_id`` (API Gateway's, or a generated one when
there is none, e.g. under ``chalice local``). ``current_request_id()`` gives it
to code that stores it (jobs carry it to the runner).
"""

from __future__ import annotations

import contextvars
import threading

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "autostack-api"
NAMESPACE = "AutoStack"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "autostack_request_id", default=None
)
# powertools keeps metrics in one shared set; chalice local serves requests on threads.
_metrics_lock = threading.Lock()


_configured_level: str | None = None


def configure_level(level: str) -> None:
    """Apply the settings' log level (once per change; settings load after import)."""
    global _configured_level
    if level != _configured_level:
        logger.setLevel(level)
        _configured_level = level


def current_request_id() -> str | None:
    return _request_id.get()


def bind_request(request_id: str, function_request_id: str | None = None) -> None:
    """Tag every log line of this request (and give the id to ``current_request_id``)."""
    _request_id.set(request_id)
    logger.thread_safe_append_keys(request_id=request_id)
    if function_request_id:  # Lambda's own invocation id, to find the REPORT line
        logger.thread_safe_append_keys(function_request_id=function_request_id)


def bind_user(user_id: str) -> None:
    logger.thread_safe_append_keys(user_id=user_id)


def unbind_request() -> None:
    _request_id.set(None)
    logger.thread_safe_clear_keys()


def record_request(status: int, duration_ms: float) -> None:
    """One EMF document per request: count, latency, and 4xx/5xx counts.

    One metric set for the whole API (dimension ``service`` only): a ``route``
    dimension would make every route its own paid custom metric (~$15 a month at
    34 routes, see docs/deploy.md). The route is on every log line instead, so
    per-route figures come from Logs Insights.
    """
    with _metrics_lock:
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=duration_ms)
        if status >= 500:
            metrics.add_metric(name="Errors5xx", unit=MetricUnit.Count, value=1)
        elif status >= 400:
            metrics.add_metric(name="Errors4xx", unit=MetricUnit.Count, value=1)
        metrics.flush_metrics()
