"""The runner's shipping settings, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

EXECUTORS = ("none", "local")
LOCAL_STAGES = frozenset({"local", "test"})


class ShippingSettingsError(ValueError):
    """A shipping setting is wrong; the message names it."""


@dataclass(frozen=True)
class ShippingSettings:
    executor: str = "none"
    """``none``: deployments end at ``applied``; ``local``: the local runtime ships the app."""
    health_timeout_s: float = 30.0

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
        raw = (environ.get("AUTOSTACK_RELEASE_HEALTH_TIMEOUT_S") or "30").strip()
        try:
            timeout = float(raw)
        except ValueError:
            timeout = -1.0
        if not 0 < timeout <= 600:
            raise ShippingSettingsError(
                f"AUTOSTACK_RELEASE_HEALTH_TIMEOUT_S: {raw!r} is not a number of seconds"
                " in (0, 600]"
            )
        return cls(executor=executor, health_timeout_s=timeout)
