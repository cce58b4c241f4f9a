"""The API's dependencies in one place: settings, item stores, AWS clients, clock, signing key.

Routes and services get them from ``get_context()``; it is built from the
environment on first use (so ``import app`` stays cheap) and cached for the
process. Tests and benchmarks build their own with ``build_context(settings, ...)``
and install it with ``set_context`` (``reset_context`` drops it) — no patching.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chalicelib.aws import AwsClients
from chalicelib.settings import Settings, load_settings

if TYPE_CHECKING:
    from chalicelib.auth.keys import SigningKeyProvider
    from chalicelib.auth.tokens import TokenSigner
    from chalicelib.limits import LoginAttemptLimiter, RateLimiter
    from chalicelib.services.project_data import ProjectData
    from chalicelib.store.registry import Stores


@dataclass
class AppContext:
    settings: Settings
    aws: AwsClients
    clock: Callable[[], float] = time.time
    key_provider: SigningKeyProvider | None = None
    # What a project owns besides its item (services.project_data); None: the table
    # and bucket. Unit tests pass a fake.
    project_data: ProjectData | None = None
    _signer: TokenSigner | None = field(default=None, repr=False)
    # The item stores (users, projects, tokens, counters, jobs, ...): DynamoDB on the
    # settings' table, built on first use; ``memory_stores()`` (the fakes) in unit tests.
    _stores: Stores | None = field(default=None, repr=False)

    @property
    def stores(self) -> Stores:
        if self._stores is None:
            from chalicelib.store.registry import dynamo_stores

            self._stores = dynamo_stores(self.aws.dynamodb, self.settings.table)
        return self._stores

    def now(self) -> int:
        """The current time in whole epoch seconds (from the injected clock)."""
        return int(self.clock())

    @property
    def signer(self) -> TokenSigner:
        """The token signer for the current signing key (rebuilt when the key changes)."""
        from chalicelib.auth.tokens import TokenSigner

        if self.key_provider is None:
            from chalicelib.auth.keys import SigningKeyProvider

            self.key_provider = SigningKeyProvider(self.settings, self.aws)
        key = self.key_provider.key()
        signer = self._signer
        if signer is None or signer.key != key:
            signer = TokenSigner(
                key,
                issuer=self.settings.jwt_issuer,
                audience=self.settings.jwt_audience,
                ttl_s=self.settings.access_token_ttl_s,
            )
            self._signer = signer
        return signer

    def refresh_signing_key(self) -> bool:
        """Re-read the signing key (a token named an unknown key id); True if it changed."""
        return self.key_provider is not None and self.key_provider.refresh()

    @property
    def rate_limiter(self) -> RateLimiter:
        from chalicelib.limits import RateLimiter

        return RateLimiter(self.stores.counters, self.settings, self.clock)

    @property
    def login_limiter(self) -> LoginAttemptLimiter:
        from chalicelib.limits import LoginAttemptLimiter

        return LoginAttemptLimiter(self.stores.counters, self.settings, self.clock)


def build_context(
    settings: Settings,
    *,
    aws: AwsClients | None = None,
    clock: Callable[[], float] = time.time,
    stores: Stores | None = None,
) -> AppContext:
    """A context for ``settings``; the stores default to DynamoDB on ``settings.table``."""
    clients = aws or AwsClients.for_settings(settings)
    return AppContext(settings=settings, aws=clients, clock=clock, _stores=stores)


_current: AppContext | None = None
_lock = threading.Lock()


def get_context() -> AppContext:
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = build_context(load_settings())
    return _current


def set_context(context: AppContext) -> None:
    global _current
    _current = context


def reset_context() -> None:
    global _current
    _current = None


def get_settings() -> Settings:
    return get_context().settings
