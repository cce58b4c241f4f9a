"""moto's server with each DynamoDB request made atomic, like DynamoDB itself.

moto's server answers requests on threads, and its DynamoDB backend is plain
Python with no locking: two concurrent conditional writes can both pass their
condition, and a failed TransactWriteItems restores a copy of the whole table
taken before it started, erasing writes made by others meanwhile. DynamoDB
guarantees that each request is atomic; the race tests (and several runners
claiming jobs) depend on that. So every DynamoDB request runs under one lock
here; other services (S3, SQS long polls) stay concurrent.

Costs of moto's server that are not the emulated services' work are removed
(measured with py-spy under the API latency benchmark):

- keep-alive: werkzeug's dev server closes every connection after one answer and
  then waits 10 ms for stray request bytes, so every boto3 call paid a TCP connect,
  a new server thread and that wait. Requests whose body has a Content-Length (all
  of boto3's but chunked uploads) are read whole before the app runs and their
  connection stays open; chunked ones keep werkzeug's behaviour (close).
- moto resolves the service of each request under a global lock, listing its own
  package directory (~200 ``isdir`` calls) every time, and lists the handler class's
  methods with ``inspect`` for every request: both are cached.
- moto's Query sorts every item of the table to keep one partition (so a query's cost
  grew with the table: every login adds a refresh token): a query on the table's own
  key (not an index) is given just that partition's items; results are the same.
- the per-request access log line (``AUTOSTACK_EMULATOR_ACCESS_LOG=1`` keeps it).

``AUTOSTACK_EMULATOR_SPEEDUPS=0`` turns these off (moto as shipped, DynamoDB still
atomic): for comparing, e.g. ``bench/bench_api_latency.py`` before and after.

Usage: python devtools/emulator_server.py -H 127.0.0.1 -p 5000  (same as moto.server)
"""

from __future__ import annotations

import functools
import io
import os
import selectors
import sys
import threading
import types
from typing import Any

_dynamodb_lock = threading.Lock()
# Bodies up to this size are buffered so the connection can be kept; larger: closed.
MAX_BUFFERED_BODY = 64 * 1024 * 1024
_connection_state = threading.local()  # werkzeug handles each connection on its own thread


def make_dynamodb_atomic() -> None:
    """Serialize DynamoDB request handling in this process (idempotent)."""
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler, "_autostack_atomic", False):
        return
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with _dynamodb_lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    DynamoHandler._autostack_atomic = True  # type: ignore[attr-defined]


def cache_static_lookups() -> None:
    """Cache two lookups moto's server redoes per request on things that never change
    while it runs (idempotent; call after every class patch, e.g. make_dynamodb_atomic):
    the listing of its installed service folders, and each handler class's methods."""
    from moto import backends
    from moto.core import responses

    if getattr(backends, "_autostack_cached", False):
        return
    list_modules = backends.list_of_moto_modules
    module_listing = functools.lru_cache(maxsize=1)(lambda: tuple(list_modules()))
    backends.list_of_moto_modules = module_listing  # type: ignore[assignment]
    method_names = responses.method_names_from_class
    cached_names = functools.lru_cache(maxsize=None)(lambda cls: tuple(method_names(cls)))
    responses.method_names_from_class = lambda cls: list(cached_names(cls))  # type: ignore[assignment]
    backends._autostack_cached = True  # type: ignore[attr-defined]


def scope_queries_to_partition() -> None:
    """Let a base-table Query look at its partition only (idempotent).

    moto's ``Table.query`` filters ``self.all_items()`` (the whole table, sorted) by the
    hash key and then sorts by the range key. For the duration of one such query the
    table's ``all_items`` is that partition's items: the filter and the sort then give
    the same list. Safe because every DynamoDB request runs under ``_dynamodb_lock``.
    """
    from moto.dynamodb.models.table import Table

    if getattr(Table, "_autostack_partition_query", False):
        return
    original = Table.query

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name or hash_key is None or not self.range_key_attr:
            return original(self, hash_key, *args, **kwargs)
        partition = list(self.items.get(hash_key, {}).values())
        self.all_items = lambda: partition  # shadows the method for this call only
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query  # type: ignore[method-assign]
    Table._autostack_partition_query = True  # type: ignore[attr-defined]


class _DrainSkippingSelector:
    """werkzeug's selector for its after-answer drain, which reads whatever follows the
    request until the socket is quiet for 10 ms: on a kept connection that would swallow
    the client's next request, so for those the drain finds nothing at once."""

    def __init__(self) -> None:
        self._inner = selectors.DefaultSelector()
        self._skip = False

    def register(self, fileobj: Any, events: int, data: Any = None) -> Any:
        self._skip = bool(getattr(_connection_state, "keep_alive", False))
        return self._inner.register(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[Any]:
        return [] if self._skip else self._inner.select(timeout)

    def close(self) -> None:
        self._inner.close()


def keep_alive_handler(base: type) -> type:
    """A request handler class like ``base`` (werkzeug's) that keeps connections open."""

    class KeepAliveRequestHandler(base):  # type: ignore[misc, valid-type]
        access_log = os.environ.get("AUTOSTACK_EMULATOR_ACCESS_LOG") == "1"
        # werkzeug sends the headers and the body separately: on a kept connection
        # Nagle's algorithm and the client's delayed ACK would stall each answer ~40 ms.
        disable_nagle_algorithm = True

        def make_environ(self) -> dict[str, Any]:
            environ = super().make_environ()
            _connection_state.keep_alive = False
            if environ.get("wsgi.input_terminated"):  # chunked: werkzeug closes after it
                return environ
            try:
                size = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return environ
            if not 0 <= size <= MAX_BUFFERED_BODY:
                return environ
            body = self.rfile.read(size) if size else b""
            environ["wsgi.input"] = io.BytesIO(body)
            # A short body means the client went away: let werkzeug close as before.
            _connection_state.keep_alive = len(body) == size
            return environ

        def send_header(self, keyword: str, value: str) -> None:
            if (
                keyword.lower() == "connection"
                and value.lower() == "close"
                and getattr(_connection_state, "keep_alive", False)
            ):
                return  # werkzeug closes every connection; this request was read whole
            super().send_header(keyword, value)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            if self.access_log:
                super().log_request(code, size)

    KeepAliveRequestHandler.__name__ = f"KeepAlive{base.__name__}"
    return KeepAliveRequestHandler


def enable_keep_alive() -> bool:
    """Make moto's server keep connections (idempotent); False if werkzeug changed shape."""
    import moto.server
    from werkzeug import serving

    if getattr(moto.server, "_autostack_keep_alive", False):
        return True
    if getattr(serving, "selectors", None) is not selectors:
        return False  # the drain works differently in this werkzeug: keep its behaviour
    serving.selectors = types.SimpleNamespace(  # type: ignore[assignment]
        DefaultSelector=_DrainSkippingSelector, EVENT_READ=selectors.EVENT_READ
    )
    moto.server.MotoRequestHandler = keep_alive_handler(moto.server.MotoRequestHandler)  # type: ignore[misc, assignment]
    moto.server._autostack_keep_alive = True  # type: ignore[attr-defined]
    return True


def complete_elasticache_replication_groups() -> None:
    """ElastiCache as Terraform's AWS provider needs it (idempotent).

    moto's ``CreateReplicationGroup`` names member clusters (``<id>-001``...) but
    creates none, so ``DescribeCacheClusters`` of a member answers
    ``CacheClusterNotFound`` and the provider's read of the group fails; and
    ``DeleteReplicationGroup`` leaves the group ``deleting`` for ever, so a destroy
    waits until its timeout; and it has no ``DeleteCacheSubnetGroup`` at all. Here the
    members exist (as the group's engine and node type), a deleted group is gone with
    its members, as in AWS once deleted, and a subnet group can be deleted.
    """
    import inspect

    from moto.core.responses import EmptyResult
    from moto.elasticache.exceptions import CacheSubnetGroupNotFound
    from moto.elasticache.models import ElastiCacheBackend
    from moto.elasticache.responses import ElastiCacheResponse

    if getattr(ElastiCacheBackend, "_autostack_complete", False):
        return
    create_group = ElastiCacheBackend.create_replication_group
    delete_group = ElastiCacheBackend.delete_replication_group
    cluster_params = [
        name
        for name in inspect.signature(ElastiCacheBackend.create_cache_cluster).parameters
        if name != "self"
    ]

    def create_replication_group(self: Any, *args: Any, **kwargs: Any) -> Any:
        group = create_group(self, *args, **kwargs)
        for member in group.member_clusters:
            if member in self.cache_clusters:
                continue
            values: dict[str, Any] = dict.fromkeys(cluster_params)
            values.update(
                cache_cluster_id=member,
                replication_group_id=group.replication_group_id,
                num_cache_nodes=1,
                cache_node_type=group.cache_node_type,
                engine=group.engine,
                engine_version=group.engine_version,
                cache_subnet_group_name=group.cache_subnet_group_name,
                transit_encryption_enabled=group.transit_encryption_enabled,
                port=group.port,
                log_delivery_configurations=[],
            )
            self.create_cache_cluster(**values)
        return group

    def delete_replication_group(
        self: Any, replication_group_id: str, *args: Any, **kwargs: Any
    ) -> Any:
        group = delete_group(self, replication_group_id, *args, **kwargs)
        for member in list(self.cache_clusters):
            if self.cache_clusters[member].replication_group_id == replication_group_id:
                del self.cache_clusters[member]
        self.replication_groups.pop(replication_group_id, None)
        return group

    def delete_cache_subnet_group(self: Any) -> Any:
        name = self._get_param("CacheSubnetGroupName")
        groups = self.elasticache_backend.cache_subnet_groups
        if name not in groups:
            raise CacheSubnetGroupNotFound(name)
        del groups[name]
        return EmptyResult()

    ElastiCacheResponse.delete_cache_subnet_group = delete_cache_subnet_group  # type: ignore[attr-defined]
    ElastiCacheBackend.create_replication_group = create_replication_group  # type: ignore[method-assign]
    ElastiCacheBackend.delete_replication_group = delete_replication_group  # type: ignore[method-assign]
    ElastiCacheBackend._autostack_complete = True  # type: ignore[attr-defined]


def unique_rds_resource_ids() -> None:
    """Give each RDS instance its own ``DbiResourceId`` (idempotent).

    moto gives every instance the same one; the AWS provider (5.x) keeps that id as the
    resource's id and reads the instance back with the ``dbi-resource-id`` filter, so a
    second instance in the emulator made the first one's read match two ("couldn't
    find resource")."""
    import secrets
    import string

    from moto.rds.models import DBInstance

    if getattr(DBInstance, "_autostack_unique_ids", False):
        return
    init = DBInstance.__init__
    alphabet = string.ascii_uppercase + string.digits

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.dbi_resource_id = "db-" + "".join(secrets.choice(alphabet) for _ in range(26))

    DBInstance.__init__ = __init__  # type: ignore[method-assign]
    DBInstance._autostack_unique_ids = True  # type: ignore[attr-defined]


def ecs_services_reach_desired_count() -> None:
    """A new ECS service reports its desired tasks running (idempotent).

    The emulator starts no task, so moto leaves ``runningCount`` at 0 (unless a fixed
    ``MOTO_ECS_SERVICE_RUNNING``) and the deployment ``IN_PROGRESS`` for ever; generated
    bundles set ``wait_for_steady_state`` (a deploy waits for its tasks, as in AWS), so
    the provider polled until its 20-minute timeout. The local stage stands in for
    tasks that start: the service is stable at once."""
    from moto.ecs.models import Service

    if getattr(Service, "_autostack_steady", False):
        return
    init = Service.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if self.running_count >= self.desired_count:
            return
        self.running_count, self.pending_count = self.desired_count, 0
        for deployment in self.deployments:
            deployment.update(
                runningCount=self.desired_count,
                pendingCount=0,
                rolloutState="COMPLETED",
                rolloutStateReason=f"ECS deployment {deployment['id']} completed.",
            )

    Service.__init__ = __init__  # type: ignore[method-assign]
    Service._autostack_steady = True  # type: ignore[attr-defined]


def ecs_run_task_with_task_level_memory() -> None:
    """``RunTask`` accepts a Fargate task definition whose memory is set on the task only
    (idempotent).

    moto adds up each container's ``memory`` to place the task and fails on a container
    without one (a TypeError, a 500), which Fargate allows and the generated bundles do:
    the release task (``runner.shipping.aws_ecs``) could not start. Containers without
    their own memory count as 0 here; the task's own ``memory`` is what Fargate uses."""
    from moto.ecs.models import EC2ContainerServiceBackend

    if getattr(EC2ContainerServiceBackend, "_autostack_task_memory", False):
        return
    calculate = EC2ContainerServiceBackend._calculate_task_resource_requirements

    def _calculate(task_definition: Any) -> Any:
        originals = task_definition.container_definitions
        task_definition.container_definitions = [
            c if any(k in c for k in ("memory", "memoryReservation", "Memory",
                                      "MemoryReservation")) else {**c, "memory": 0}
            for c in originals
        ]  # fmt: skip
        try:
            return calculate(task_definition)
        finally:
            task_definition.container_definitions = originals

    EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(_calculate)  # type: ignore[method-assign,assignment]
    EC2ContainerServiceBackend._autostack_task_memory = True  # type: ignore[attr-defined]


def ecs_service_updates_roll_out() -> None:
    """``UpdateService`` with a new task definition starts a deployment that completes at
    once (idempotent).

    moto keeps the service's first deployment, still naming the old task definition, so a
    roll-out (``runner.shipping.aws_ecs``) waiting for its new deployment never saw it.
    As ``ecs_services_reach_desired_count`` does for a new service, the local stage stands
    in for tasks that start: the new deployment is PRIMARY and COMPLETED at once."""
    from moto.ecs.models import EC2ContainerServiceBackend

    if getattr(EC2ContainerServiceBackend, "_autostack_rollouts", False):
        return
    import secrets

    update = EC2ContainerServiceBackend.update_service

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        new_definition = service_properties.get("task_definition")
        service = update(self, service_properties)
        if new_definition:
            arn = self.describe_task_definition(new_definition).arn
            deployment_id = f"ecs-svc/{secrets.randbelow(10**18)}"
            service.deployments[:] = [{
                **(service.deployments[0] if service.deployments else {}),
                "id": deployment_id, "status": "PRIMARY", "taskDefinition": arn,
                "desiredCount": service.desired_count, "runningCount": service.desired_count,
                "pendingCount": 0, "rolloutState": "COMPLETED",
                "rolloutStateReason": f"ECS deployment {deployment_id} completed.",
            }]  # fmt: skip
            service.running_count, service.pending_count = service.desired_count, 0
        return service

    EC2ContainerServiceBackend.update_service = update_service  # type: ignore[method-assign]
    EC2ContainerServiceBackend._autostack_rollouts = True  # type: ignore[attr-defined]


def main(argv: list[str]) -> None:
    # AWS managed policies (AWSLambdaBasicExecutionRole...) exist, as in AWS: generated
    # bundles attach them (moto 5 leaves them out unless asked; ~1 s on first IAM use).
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    make_dynamodb_atomic()
    complete_elasticache_replication_groups()
    unique_rds_resource_ids()
    ecs_services_reach_desired_count()
    ecs_run_task_with_task_level_memory()
    ecs_service_updates_roll_out()
    # AUTOSTACK_EMULATOR_SPEEDUPS=0: moto's server as shipped (plus the lock), to compare.
    if os.environ.get("AUTOSTACK_EMULATOR_SPEEDUPS", "1") != "0":
        scope_queries_to_partition()
        cache_static_lookups()
        enable_keep_alive()
    from moto.server import main as moto_main

    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
