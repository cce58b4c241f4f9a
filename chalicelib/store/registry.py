"""The item stores of one table, together: DynamoDB in the API and runner, memory in tests.

Each family's store is built (and its module imported) on first use: a login needs the
users, counters and tokens, not the job store and the pydantic model it imports.
"""

from __future__ import annotations

import importlib
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.store.items import MemoryTable

if TYPE_CHECKING:
    from chalicelib.store.bundles import BundleStore
    from chalicelib.store.counters import CounterStore
    from chalicelib.store.deployments import DeploymentStore
    from chalicelib.store.jobs import JobStore
    from chalicelib.store.pending_restarts import PendingRestartStore
    from chalicelib.store.projects import ProjectStore
    from chalicelib.store.releases import ReleaseStore
    from chalicelib.store.runners import RunnerStore
    from chalicelib.store.semaphore import SemaphoreStore
    from chalicelib.store.tokens import TokenStore
    from chalicelib.store.uploads import TerraformBundleStore, UploadStore
    from chalicelib.store.users import UserStore


class Stores:
    """One table's stores: over a DynamoDB client, or over one shared ``MemoryTable``
    (the fakes see each other's items, as in DynamoDB: a deployment's view reads its jobs)."""

    def __init__(
        self, client: Any = None, table: str = "", memory: MemoryTable | None = None
    ) -> None:
        if memory is None and client is None:
            raise ValueError("Stores needs a DynamoDB client or a MemoryTable")
        self._client = client
        self._table = table
        self._memory = memory

    def _build(self, module: str, family: str) -> Any:
        """``Dynamo<family>`` or ``Memory<family>`` of ``chalicelib.store.<module>``."""
        found = importlib.import_module(f"chalicelib.store.{module}")
        if self._memory is not None:
            return getattr(found, f"Memory{family}")(self._memory)
        return getattr(found, f"Dynamo{family}")(self._client, self._table)

    @cached_property
    def users(self) -> UserStore:
        return self._build("users", "UserStore")

    @cached_property
    def projects(self) -> ProjectStore:
        return self._build("projects", "ProjectStore")

    @cached_property
    def tokens(self) -> TokenStore:
        return self._build("tokens", "TokenStore")

    @cached_property
    def counters(self) -> CounterStore:
        return self._build("counters", "CounterStore")

    @cached_property
    def jobs(self) -> JobStore:
        return self._build("jobs", "JobStore")

    @cached_property
    def uploads(self) -> UploadStore:
        return self._build("uploads", "UploadStore")

    @cached_property
    def tf_bundles(self) -> TerraformBundleStore:
        return self._build("uploads", "TerraformBundleStore")

    @cached_property
    def bundles(self) -> BundleStore:
        return self._build("bundles", "BundleStore")

    @cached_property
    def deployments(self) -> DeploymentStore:
        return self._build("deployments", "DeploymentStore")

    @cached_property
    def semaphore(self) -> SemaphoreStore:
        return self._build("semaphore", "SemaphoreStore")

    @cached_property
    def runners(self) -> RunnerStore:
        return self._build("runners", "RunnerStore")

    @cached_property
    def releases(self) -> ReleaseStore:
        return self._build("releases", "ReleaseStore")

    @cached_property
    def pending_restarts(self) -> PendingRestartStore:
        return self._build("pending_restarts", "PendingRestartStore")


def dynamo_stores(client: Any, table: str) -> Stores:
    return Stores(client=client, table=table)


def memory_stores(table: MemoryTable | None = None) -> Stores:
    """Fakes sharing one in-memory table."""
    return Stores(memory=table or MemoryTable())
