"""The release phase: the plan's release commands (migrations), once, before traffic moves."""

from __future__ import annotations

from runner.shipping.executor import Candidate, LogLine, ReleaseExecutor, ReleaseSpec


def run(executor: ReleaseExecutor, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None:
    if not spec.plan.release:
        log("the plan has no release command")
        return
    for command in spec.plan.release:
        log(f"release command: {command}")
    executor.run_release(spec, candidate, log)
