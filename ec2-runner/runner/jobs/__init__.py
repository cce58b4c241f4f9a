"""Job handlers, one module per kind: ``runner.jobs.<kind>`` with ``handle(ctx) -> JobResult``.

See ``runner.jobs.context`` for what a handler receives and ``runner.jobs.registry``
for how the worker finds it.
"""
