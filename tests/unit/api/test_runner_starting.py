"""chalicelib/services/runner_wake.py: when a woken runner counts as "starting" and what
the note says (pure logic; the emulator test is tests/functional/runner/
test_runner_starting_views.py)."""

from __future__ import annotations

from chalicelib.services.runner_wake import (
    RUNNER_BOOT_ESTIMATE_S,
    STARTING_WINDOW_S,
    pending_message,
    starting_message,
)

WOKEN = 1000.0


def test_no_wake_no_note() -> None:
    assert starting_message(None, None, WOKEN) is None
    assert starting_message(None, WOKEN - 10, WOKEN) is None


def test_counts_down_the_boot_from_the_wake() -> None:
    assert starting_message(WOKEN, None, WOKEN) == (
        f"the runner is starting (about {RUNNER_BOOT_ESTIMATE_S:.0f} s)"
    )
    assert starting_message(WOKEN, None, WOKEN + 25) == (
        f"the runner is starting (about {RUNNER_BOOT_ESTIMATE_S - 25:.0f} s)"
    )
    # A heartbeat from before it slept does not end "starting".
    assert starting_message(WOKEN, WOKEN - 600, WOKEN + 25) is not None
    assert pending_message() == starting_message(WOKEN, None, WOKEN)


def test_late_boot_says_so_and_a_heartbeat_after_the_wake_ends_it() -> None:
    late = starting_message(WOKEN, None, WOKEN + RUNNER_BOOT_ESTIMATE_S + 1)
    assert late == (
        f"the runner is starting (taking longer than the usual {RUNNER_BOOT_ESTIMATE_S:g} s)"
    )
    assert starting_message(WOKEN, WOKEN + 40, WOKEN + 45) is None
    assert starting_message(WOKEN, WOKEN, WOKEN + 45) is None


def test_a_wake_older_than_the_window_is_not_starting_any_more() -> None:
    assert starting_message(WOKEN, None, WOKEN + STARTING_WINDOW_S) is not None
    assert starting_message(WOKEN, None, WOKEN + STARTING_WINDOW_S + 1) is None
    assert STARTING_WINDOW_S > RUNNER_BOOT_ESTIMATE_S
