"""The worker loop with in-memory fakes: backoff on receive errors, survival, bounds."""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

from botocore.exceptions import EndpointConnectionError

from runner.clients import RunnerClients
from runner.ledger import Ledger
from runner.settings import RunnerSettings
from runner.worker import Backoff, Worker


class FakeSqs:
    """Receives follow a script: an exception to raise, or a list of messages."""

    def __init__(self, script: list[Any]):
        self.script = list(script)
        self.visibility: list[tuple[str, int]] = []
        self.deleted: list[str] = []
        self.received: list[str] = []
        self.handed_back: list[str] = []
        self.changed = threading.Event()

    def receive_message(self, **_: Any) -> dict[str, Any]:
        step = self.script.pop(0) if self.script else []
        if isinstance(step, BaseException):
            raise step
        for message in step:
            # Like SQS: a message received before comes back only once it is handed back
            # (jobs run in pool threads, so the loop may ask again before that).
            handle = message["ReceiptHandle"]
            while self.received.count(handle) > self.handed_back.count(handle):
                self.changed.wait(5)
                self.changed.clear()
            self.received.append(handle)
        return {"Messages": step}

    def change_message_visibility(self, *, ReceiptHandle: str, VisibilityTimeout: int, **_: Any):
        self.visibility.append((ReceiptHandle, VisibilityTimeout))
        self.handed_back.append(ReceiptHandle)
        self.changed.set()

    def delete_message(self, *, ReceiptHandle: str, **_: Any) -> None:
        self.deleted.append(ReceiptHandle)


class BrokenDynamo:
    def update_item(self, **_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="http://dynamodb")


def _worker(tmp_path: Path, sqs: FakeSqs, sleeps: list[float]) -> Worker:
    settings = RunnerSettings(
        stage="test",
        table="t",
        bucket="b",
        queue_url="q",
        dlq_url="d",
        runner_id="r1",
        runner_db=tmp_path / "runner.db",
        backoff_base_s=1.0,
        backoff_cap_s=4.0,
    )
    return Worker(
        settings,
        RunnerClients(s3=None, sqs=sqs, dynamodb=BrokenDynamo()),
        Ledger(settings.runner_db),
        sleep=sleeps.append,
        rng=random.Random(7),
    )


def test_receive_errors_back_off_capped_with_jitter_then_burst_ends(tmp_path: Path) -> None:
    down = EndpointConnectionError(endpoint_url="http://sqs")
    sqs = FakeSqs([down, down, down, down, []])
    sleeps: list[float] = []

    assert _worker(tmp_path, sqs, sleeps).run(burst=True) == 0

    expected = Backoff(1.0, 4.0, random.Random(7))
    assert sleeps == [expected.delay(n) for n in (1, 2, 3, 4)]
    assert 1.0 <= sleeps[0] <= 2.0 and all(s <= 4.0 for s in sleeps)


def test_a_message_that_cannot_be_claimed_is_handed_back_and_the_loop_goes_on(
    tmp_path: Path,
) -> None:
    body = '{"job_id": "j1", "project_id": "p1", "kind": "analyze"}'
    message = {"ReceiptHandle": "h1", "Body": body, "Attributes": {"ApproximateReceiveCount": "1"}}
    sqs = FakeSqs([[message], [message], []])
    sleeps: list[float] = []

    handled = _worker(tmp_path, sqs, sleeps).run(burst=True)

    assert handled == 2
    assert sqs.deleted == []
    assert [h for h, _ in sqs.visibility] == ["h1", "h1"]
    assert len(sleeps) == 2 and sleeps[1] >= sleeps[0] / 2


def test_max_jobs_bounds_the_loop(tmp_path: Path) -> None:
    poison = {"ReceiptHandle": "p", "Body": "garbage", "Attributes": {}}
    sqs = FakeSqs([[poison]] * 5)

    assert _worker(tmp_path, sqs, []).run(max_jobs=3) == 3
    assert len(sqs.script) == 2
    assert sqs.visibility == [("p", 0)] * 3  # poison: straight back, for SQS to dead-letter
