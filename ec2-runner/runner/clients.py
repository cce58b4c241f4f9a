"""The AWS clients the runner uses, built once from the settings (endpoint-URL aware)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runner.settings import RunnerSettings


@dataclass(frozen=True)
class RunnerClients:
    s3: Any
    sqs: Any
    dynamodb: Any

    @classmethod
    def from_settings(cls, settings: RunnerSettings) -> RunnerClients:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(region_name=settings.region)
        # The long poll holds a connection for wait_time_s: read timeout must exceed it.
        config = Config(
            read_timeout=max(60, settings.wait_time_s + 10),
            connect_timeout=10,
            retries={"max_attempts": 4, "mode": "standard"},
            max_pool_connections=10,
        )

        def client(name: str) -> Any:
            return session.client(name, endpoint_url=settings.endpoint_url, config=config)

        return cls(s3=client("s3"), sqs=client("sqs"), dynamodb=client("dynamodb"))
