"""The item stores of one table, together: DynamoDB in the API and runner, memory in tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.store import bundles, deployments, jobs, releases, runners, semaphore, uploads
from chalicelib.store.bundles import BundleStore
from chalicelib.store.deployments import DeploymentStore
from chalicelib.store.items import MemoryTable
from chalicelib.store.jobs import JobStore
from chalicelib.store.releases import ReleaseStore
from chalicelib.store.runners import RunnerStore
from chalicelib.store.semaphore import SemaphoreStore
from chalicelib.store.uploads import TerraformBundleStore, UploadStore


@dataclass(frozen=True)
class Stores:
    jobs: JobStore
    uploads: UploadStore
    tf_bundles: TerraformBundleStore
    bundles: BundleStore
    deployments: DeploymentStore
    semaphore: SemaphoreStore
    runners: RunnerStore
    releases: ReleaseStore


def dynamo_stores(client: Any, table: str) -> Stores:
    return Stores(
        jobs=jobs.DynamoJobStore(client, table),
        uploads=uploads.DynamoUploadStore(client, table),
        tf_bundles=uploads.DynamoTerraformBundleStore(client, table),
        bundles=bundles.DynamoBundleStore(client, table),
        deployments=deployments.DynamoDeploymentStore(client, table),
        semaphore=semaphore.DynamoSemaphoreStore(client, table),
        runners=runners.DynamoRunnerStore(client, table),
        releases=releases.DynamoReleaseStore(client, table),
    )


def memory_stores(table: MemoryTable | None = None) -> Stores:
    """Fakes sharing one in-memory table (a deployment's view reads its jobs, as in DynamoDB)."""
    shared = table or MemoryTable()
    return Stores(
        jobs=jobs.MemoryJobStore(shared),
        uploads=uploads.MemoryUploadStore(shared),
        tf_bundles=uploads.MemoryTerraformBundleStore(shared),
        bundles=bundles.MemoryBundleStore(shared),
        deployments=deployments.MemoryDeploymentStore(shared),
        semaphore=semaphore.MemorySemaphoreStore(shared),
        runners=runners.MemoryRunnerStore(shared),
        releases=releases.MemoryReleaseStore(shared),
    )
