"""The tests' shared waits (tests/support/waiting.py)."""

from __future__ import annotations

import pytest

from tests.support.waiting import most_at_once, wait_for


def test_wait_for_answers_the_first_truthy_value() -> None:
    answers = iter([None, 0, "ready"])
    assert wait_for(lambda: next(answers), 5, "the third answer", interval_s=0) == "ready"


def test_wait_for_names_what_it_waited_for_and_the_last_answer() -> None:
    with pytest.raises(AssertionError, match=r"waiting for the job \(last: \[\]\)"):
        wait_for(list, 0.05, "the job", interval_s=0.01)


def test_most_at_once_counts_overlap_and_narrows_spans_by_the_slack() -> None:
    assert most_at_once([]) == 0
    assert most_at_once([(0, 10), (5, 15), (9, 20)]) == 3
    assert most_at_once([(0, 10), (10, 20)]) == 1  # one ends as the next starts
    assert most_at_once([(0, 10), (9, 20)], slack_s=1.0) == 1
    assert most_at_once([(0, 10), (7, 20)], slack_s=1.0) == 2
