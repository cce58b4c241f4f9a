"""The record of the local apps' process groups and what a starting runner kills of it:
fake process tables, kill, clock and sleep passed in (the real processes:
tests/functional/shipping/test_local_apps_die_with_runner.py)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from runner.shipping.local import AppProcesses, is_ours, process_start_time


class Table:
    """pid -> start time of the live leaders, and the groups that still have members."""

    def __init__(self, leaders: dict[int, int], groups: set[int]) -> None:
        self.leaders = leaders
        self.groups = groups
        self.killed: list[tuple[int, int]] = []

    def start_time(self, pid: int) -> int | None:
        return self.leaders.get(pid)

    def alive(self, pgid: int) -> bool:
        return pgid in self.groups

    def kill(self, pgid: int, sig: int) -> None:
        self.killed.append((pgid, sig))
        self.groups.discard(pgid)
        self.leaders.pop(pgid, None)


def _record(tmp_path: Path, table: Table) -> AppProcesses:
    return AppProcesses(tmp_path / "runner.db.apps.json", table.start_time, table.alive)


def test_which_recorded_groups_are_still_ours() -> None:
    assert is_ours(100, 100, True)  # the leader, as recorded
    assert is_ours(100, None, True)  # the leader gone, its children still in the group
    assert not is_ours(100, 250, True)  # the pid was reused by another process
    assert not is_ours(100, None, False)  # all gone


def test_the_record_keeps_only_live_groups(tmp_path: Path) -> None:
    table = Table({10: 500, 20: 600}, {10, 20})
    record = _record(tmp_path, table)
    record.add(10)
    record.add(20)
    table.groups.discard(10)
    table.leaders.pop(10)
    record.add(30)  # gone before it was written down: not kept
    table.leaders[40], table.groups = 700, {20, 40}
    record.add(40)
    saved = json.loads(record.path.read_text())["groups"]
    assert saved == [{"pgid": 20, "start": 600}, {"pgid": 40, "start": 700}]


def test_reap_kills_what_is_ours_and_leaves_a_reused_pid_alone(tmp_path: Path) -> None:
    table = Table({10: 500, 30: 999}, {10, 20, 30})
    record = _record(tmp_path, table)
    record.path.write_text(
        json.dumps(
            {
                "groups": [
                    {"pgid": 10, "start": 500},  # the app, as left
                    {"pgid": 20, "start": 510},  # its leader died, its workers did not
                    {"pgid": 30, "start": 520},  # that pid now names another process
                    {"pgid": 1, "start": 1},  # never init, whatever the file says
                    {"pgid": "x", "start": 2},
                ]
            }
        )
    )
    now = [0.0]
    killed = record.reap(
        kill=table.kill, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)
    )
    assert killed == [10, 20]
    assert table.killed == [(10, signal.SIGKILL), (20, signal.SIGKILL)]
    assert 30 in table.groups
    assert json.loads(record.path.read_text()) == {"groups": []}


def test_reap_waits_bounded_for_a_group_that_will_not_go(tmp_path: Path) -> None:
    table = Table({10: 500}, {10})
    record = _record(tmp_path, table)
    record.add(10)
    now = [0.0]
    record.reap(
        kill=lambda pgid, sig: None,  # the group stays (unkillable, or not ours to kill)
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
        grace_s=2,
    )
    assert 2 <= now[0] < 2.1


def test_no_record_or_a_broken_one_reaps_nothing(tmp_path: Path) -> None:
    table = Table({}, set())
    record = _record(tmp_path, table)
    assert record.reap(kill=table.kill) == []
    record.path.write_text("{not json")
    assert record.reap(kill=table.kill) == []


def test_the_start_time_is_read_past_a_command_name_with_spaces_and_parens(
    tmp_path: Path,
) -> None:
    proc = tmp_path / "proc"
    (proc / "42").mkdir(parents=True)
    fields = ["S"] + [str(n) for n in range(4, 22)] + ["987654"] + ["0"] * 30
    (proc / "42" / "stat").write_text("42 (gunicorn: a) b) " + " ".join(fields) + "\n")
    assert process_start_time(42, proc) == 987654
    assert process_start_time(43, proc) is None
