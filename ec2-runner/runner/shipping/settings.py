"""The runner's shipping settings, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

EXECUTORS = ("none", "local", "aws")
LOCAL_STAGES = frozenset({"local", "test"})


class ShippingSettingsError(ValueError):
    """A shipping setting is wrong; the message names it."""


@dataclass(frozen=True)
class ShippingSettings:
    executor: str = "none"
    """``none``: deployments end at ``applied``; ``local``: the local runtime ships the app;
    ``aws``: CodeBuild builds in the user's account, ECS/EC2/Lambda by the bundle's target."""
    health_timeout_s: float = 30.0
    wait_timeout_s: float = 1800.0
    """The longest an AWS wait lasts (a build, a release task, a roll-out)."""
    poll_interval_s: float = 5.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ShippingSettings:
        executor = (environ.get("AUTOSTACK_RELEASE_EXECUTOR") or "none").strip()
        if executor not in EXECUTORS:
            raise ShippingSettingsError(
                f"AUTOSTACK_RELEASE_EXECUTOR: {executor!r} is not one of {', '.join(EXECUTORS)}"
            )
        stage = environ.get("AUTOSTACK_STAGE", "")
        if executor == "local" and stage not in LOCAL_STAGES:
            raise ShippingSettingsError(
                "AUTOSTACK_RELEASE_EXECUTOR: 'local' runs user code on the runner and is only "
                f"allowed in the local and test stages (AUTOSTACK_STAGE is {stage!r})"
            )
        return cls(
            executor=executor,
            health_timeout_s=_seconds(environ, "AUTOSTACK_RELEASE_HEALTH_TIMEOUT_S", 30, 600),
            wait_timeout_s=_seconds(environ, "AUTOSTACK_RELEASE_WAIT_TIMEOUT_S", 1800, 3600),
            poll_interval_s=_seconds(environ, "AUTOSTACK_RELEASE_POLL_S", 5, 60),
        )


def _seconds(environ: Mapping[str, str], name: str, default: float, upper: float) -> float:
    raw = (environ.get(name) or str(default)).strip()
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= upper:
        raise ShippingSettingsError(f"{name}: {raw!r} is not a number of seconds in (0, {upper:g}]")
    return value
