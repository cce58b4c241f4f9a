"""Count the AWS calls the API makes: each one is a round trip to DynamoDB (or the
emulator), so the hot routes' counts are a budget (tests) and a figure (benchmark)."""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.aws import AwsClients

SERVICES = ("dynamodb", "s3", "sqs", "ssm")


class AwsCallCounter:
    """The operations sent by the watched boto3 clients, in order ("dynamodb.GetItem").

    Counted on botocore's ``before-send`` event: once per HTTP request, retries included.
    """

    def __init__(self) -> None:
        self._calls: list[str] = []
        self._lock = threading.Lock()

    @classmethod
    def watching(cls, aws: AwsClients, services: tuple[str, ...] = SERVICES) -> AwsCallCounter:
        """A counter on every client ``aws`` has or will hand out for ``services``."""
        counter = cls()
        for service in services:
            aws.client(service).meta.events.register("before-send", counter._on_send)
        return counter

    def _on_send(self, event_name: str = "", **_: Any) -> None:
        # event_name: "before-send.<service>.<Operation>"
        name = event_name.removeprefix("before-send.")
        with self._lock:
            self._calls.append(name)

    def take(self) -> list[str]:
        """The calls since the last ``take`` (and forget them)."""
        with self._lock:
            calls, self._calls = self._calls, []
        return calls
