"""Runners' heartbeats (``RUNNERS`` / ``RUNNER#<id>``): written by each runner, read by /health
(with the table probe, ``ping``)."""

from __future__ import annotations

from typing import Any

from chalicelib import keys
from chalicelib.store.codec import timestamp
from chalicelib.store.items import DynamoItems, ItemStore, MemoryItems
from chalicelib.store.records import RunnerHeartbeat

HEARTBEAT_TTL_S = 7 * 24 * 3600  # stale heartbeats of dead runners expire; /health filters by `at`


class RunnerStore(ItemStore):
    def put_heartbeat(
        self, runner_id: str, now: float, version: str, current_job: str | None, state: str
    ) -> None:
        item: dict[str, Any] = {
            "pk": keys.RUNNERS_PK,
            "sk": keys.runner_sk(runner_id),
            "runner_id": runner_id,
            "at": now,
            "at_iso": timestamp(now),
            "version": version,
            "state": state,
            "expires_at": int(now) + HEARTBEAT_TTL_S,
        }
        if current_job:
            item["current_job"] = current_job
        self._put(item)

    def heartbeats(self) -> list[RunnerHeartbeat]:
        beats = []
        for v in self._query(keys.RUNNERS_PK):
            runner_id = v.get("runner_id") or str(v["sk"]).removeprefix(keys.runner_sk(""))
            beats.append(
                RunnerHeartbeat(
                    runner_id=runner_id,
                    at=float(v.get("at", 0)),
                    version=v.get("version"),
                    current_job=v.get("current_job"),
                )
            )
        return beats

    def ping(self) -> None:
        """Raise if the table cannot be read (one read of the ``HEALTH`` key)."""
        self._get(keys.HEALTH_PK, keys.HEALTH_SK)


class DynamoRunnerStore(DynamoItems, RunnerStore):
    pass


class MemoryRunnerStore(MemoryItems, RunnerStore):
    pass
