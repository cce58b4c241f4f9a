"""The roll-out: the candidate starts taking traffic beside the previous release."""

from __future__ import annotations

from runner.shipping.executor import Candidate, LogLine, ReleaseExecutor, ReleaseSpec


def run(executor: ReleaseExecutor, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> str:
    url = executor.roll_out(spec, candidate, log)
    log(f"rolled out {spec.release_id} at {url}")
    return url
