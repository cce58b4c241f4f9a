"""Where the JWT signing key comes from: the setting (local) or SSM Parameter Store.

The SSM value is cached for ``ttl_s`` and re-read sooner when a token names a key
id we do not know (at most every ``min_refresh_s``): after a key rotation, warm
Lambda containers pick up the new key within seconds instead of rejecting every
token signed by fresh containers until they are recycled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.aws import AwsClients
    from chalicelib.settings import Settings


class SigningKeyProvider:
    def __init__(
        self,
        settings: Settings,
        aws: AwsClients,
        monotonic: Callable[[], float] = time.monotonic,
        ttl_s: float = 300.0,
        min_refresh_s: float = 30.0,
    ) -> None:
        self._settings = settings
        self._aws = aws
        self._monotonic = monotonic
        self._ttl_s = ttl_s
        self._min_refresh_s = min_refresh_s
        self._static = settings.jwt_key is not None
        self._key: str | None = settings.jwt_key
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def _fetch(self) -> None:
        response = self._aws.ssm.get_parameter(
            Name=self._settings.jwt_key_param, WithDecryption=True
        )
        self._key = response["Parameter"]["Value"]
        self._fetched_at = self._monotonic()

    def key(self) -> str:
        if not self._static and self._monotonic() - self._fetched_at >= self._ttl_s:
            with self._lock:
                if self._monotonic() - self._fetched_at >= self._ttl_s:
                    self._fetch()
        assert self._key is not None
        return self._key

    def refresh(self) -> bool:
        """Re-read the key now unless it was read moments ago; True when it changed."""
        if self._static:
            return False
        with self._lock:
            if self._monotonic() - self._fetched_at < self._min_refresh_s:
                return False
            before = self._key
            self._fetch()
            return self._key != before
