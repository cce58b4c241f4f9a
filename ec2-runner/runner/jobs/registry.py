"""Which handler runs a job kind.

By convention the handler of kind ``k`` is ``handle`` in module ``runner.jobs.k``,
imported on first use (so a runner at rest does not load the analysis engine or
Terraform). A registry built with explicit handlers (tests) wins over the convention.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

from runner.errors import PermanentJobError
from runner.jobs.context import JobContext, JobResult

Handler = Callable[[JobContext], JobResult]


class HandlerRegistry:
    def __init__(self, handlers: Mapping[str, Handler] | None = None, package: str = "runner.jobs"):
        self._handlers: dict[str, Handler] = dict(handlers or {})
        self._package = package

    def register(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    def resolve(self, kind: str) -> Handler:
        handler = self._handlers.get(kind)
        if handler is not None:
            return handler
        if not kind.isidentifier():
            raise PermanentJobError(f"no handler for job kind {kind!r}", code="unknown_kind")
        name = f"{self._package}.{kind}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if not exc.name or not (name == exc.name or name.startswith(exc.name + ".")):
                raise  # the handler exists but one of its imports is missing: a real error
            raise PermanentJobError(
                f"this runner has no handler for job kind {kind!r}", code="unknown_kind"
            ) from None
        handler = getattr(module, "handle", None)
        if handler is None:
            raise PermanentJobError(f"runner.jobs.{kind} has no handle()", code="unknown_kind")
        self._handlers[kind] = handler
        return handler
