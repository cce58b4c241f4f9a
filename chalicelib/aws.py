"""boto3 clients, built lazily (boto3 costs ~100 ms to import) and endpoint-URL aware.

One ``AwsClients`` per settings object; each client is created on first use
under a lock (client creation is not thread-safe, using one is).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.settings import Settings


class AwsClients:
    def __init__(
        self,
        region: str,
        endpoint_url: str | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        # Explicit keys only for an emulator; in AWS the default chain (role) applies.
        self._credentials = credentials if endpoint_url else None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings: Settings) -> AwsClients:
        credentials = None
        if settings.emulator_access_key_id and settings.emulator_secret_access_key:
            credentials = (settings.emulator_access_key_id, settings.emulator_secret_access_key)
        return cls(settings.region, settings.aws_endpoint_url, credentials)

    def client(self, service: str) -> Any:
        existing = self._clients.get(service)
        if existing is not None:
            return existing
        with self._lock:
            if service not in self._clients:
                import boto3
                from botocore.config import Config

                # A dependency that stops answering must fail fast: worst case per call is
                # 2 attempts x (1 s connect + 3 s read) + backoff, ~7 s, inside the
                # Lambda's 25 s (API Gateway gives up at 29 s); the wrapper answers 503.
                config = Config(
                    connect_timeout=1,
                    read_timeout=3,
                    retries={"mode": "standard", "max_attempts": 2},
                    # The race tests and the benchmark run 20+ threads on one client.
                    max_pool_connections=32,
                    # Warm containers keep their pooled connections through idle gaps.
                    tcp_keepalive=True,
                )
                keys: dict[str, str] = {}
                if self._credentials:
                    keys = {
                        "aws_access_key_id": self._credentials[0],
                        "aws_secret_access_key": self._credentials[1],
                    }
                self._clients[service] = boto3.session.Session().client(
                    service,
                    region_name=self.region,
                    endpoint_url=self.endpoint_url,
                    config=config,
                    **keys,
                )
            return self._clients[service]

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def sqs(self) -> Any:
        return self.client("sqs")

    @property
    def ssm(self) -> Any:
        return self.client("ssm")
