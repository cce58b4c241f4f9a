"""Following a deployment: phases appear as the server reports them (new ones too), the log
streams once, and Ctrl-C leaves the deployment running."""

from __future__ import annotations

import io
from typing import Any

import pytest

from autostack.flows import FollowInterruptedError, follow
from autostack.output import Output


class ScriptedApi:
    """Answers the follow loop's two reads from a script of (status, new log text)."""

    def __init__(self, script: list[tuple[str, str]], interrupt_at: int | None = None) -> None:
        self.script = script
        self.step = 0
        self.offset = 0
        self.calls: list[str] = []
        self.interrupt_at = interrupt_at
        self.current = script[0][0]

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        self.calls.append(path.rsplit("/", 1)[-1])
        status, text = self.script[min(self.step, len(self.script) - 1)]
        if path.endswith("/logs"):
            if self.interrupt_at is not None and self.step == self.interrupt_at:
                raise KeyboardInterrupt
            assert kwargs["params"]["after"] == self.offset
            self.step += 1
            self.current = status
            last = self.step >= len(self.script)
            self.offset += len(text)
            settled = last or status == "planned"
            return {"text": text, "next": self.offset, "status": status, "complete": settled}
        return {"id": "d1", "status": self.current, "progress_message": f"{self.current} now"}


def _follow(api: ScriptedApi, stop_when_planned: bool = False) -> tuple[dict, str]:
    stream = io.StringIO()
    final, _ = follow(
        api,  # type: ignore[arg-type]
        Output(json_mode=False, stdout=stream),
        "p1",
        "d1",
        stop_when_planned=stop_when_planned,
        clock=lambda: 0.0,
        sleep=lambda s: None,
    )
    return final, stream.getvalue()


def test_new_phases_simply_appear_and_the_log_streams_once() -> None:
    api = ScriptedApi(
        [
            ("applying", "apply started\n"),
            ("applying", "resource created\n"),
            ("building", "image built\n"),  # a phase this client has never heard of
            ("live", "verified\n"),
        ]
    )
    final, text = _follow(api)
    assert final["status"] == "live"
    assert [line for line in text.splitlines() if line.startswith("==>")] == [
        "==> applying: applying now",
        "==> building: building now",
        "==> live: live now",
    ]
    assert text.count("resource created") == 1
    # The state is read only when the log says it changed (and at the end).
    assert api.calls.count("d1") == 3


def test_stops_at_planned_only_when_asked() -> None:
    final, _ = _follow(ScriptedApi([("planning", "x\n"), ("planned", "")]), True)
    assert final["status"] == "planned"


def test_ctrl_c_leaves_the_deployment_running() -> None:
    api = ScriptedApi([("applying", "a\n"), ("applying", "b\n")], interrupt_at=1)
    with pytest.raises(FollowInterruptedError) as stopped:
        _follow(api)
    assert stopped.value.deployment_id == "d1"
    assert "cancel" not in api.calls  # nothing was sent to stop it
