"""The AWS executors of one job: the user's account reached through the job's scoped session.

In AWS the runner never uses its own credentials on the user's account: it obtains the
job's scoped session (``runner.job_session``: the runner's role with a session policy
that allows only ``sts:AssumeRole`` of the deploy role with the project's ExternalId,
plus the stack's state), assumes the deploy role with it, and builds the executor's
clients from that. Without a session issuer (no ``AUTOSTACK_TERRAFORM_SESSION_ROLE_ARN``)
only the local and test stages may go on, with the runner's own (emulator) credentials.

A deploy-role session lasts an hour at most (a role assumed from an assumed role cannot
ask for more), and a build can take longer: the clients' credentials are botocore
``RefreshableCredentials`` whose refresh obtains a fresh job session and assumes the
deploy role again with the ExternalId, 15 minutes before they expire.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runner.job_session import JobScope, JobSessionError, JobSessionIssuer, session_name
from runner.shipping.aws_ec2 import Ec2Executor
from runner.shipping.aws_ecs import EcsExecutor
from runner.shipping.aws_lambda import LambdaExecutor
from runner.shipping.aws_static import StaticExecutor
from runner.shipping.aws_target import AwsClients, AwsTarget, Waiter
from runner.shipping.executor import ReleaseExecutor
from runner.shipping.settings import LOCAL_STAGES, ShippingSettings

SessionFactory = Callable[[], Any]  # a boto3 session (tests)


@dataclass(frozen=True)
class DeployAccess:
    """How the job reaches the user's account (from its payload)."""

    role_arn: str
    external_id: str
    region: str


@dataclass(frozen=True)
class ExecutorRequest:
    """What one release needs to build its executor."""

    project_id: str
    stack: str
    job_id: str
    target: str  # the bundle's target
    outputs: Mapping[str, Any]  # the stack's Terraform outputs
    access: DeployAccess | None
    clock: Callable[[], float]
    sleep: Callable[[float], object]


class _LazyClient:
    """A boto3 client made on first use: an executor uses four or five of the eight, and
    making one costs ~0.1-0.3 s of CPU."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._make()
        return getattr(self._client, name)


class _SharedSession:
    """One boto3 session per process: its loaded service models serve every job's clients
    (each client still gets the job's own credentials)."""

    def __init__(self, factory: SessionFactory | None) -> None:
        self._factory = factory
        self._session: Any = None
        self._lock = threading.Lock()

    def _made(self) -> Any:
        if self._session is None:
            if self._factory is not None:
                self._session = self._factory()
            else:
                import boto3

                self._session = boto3.session.Session()
        return self._session

    def client(self, name: str, **kwargs: Any) -> Any:
        with self._lock:  # a boto3 session is not thread-safe; its clients are
            return self._made().client(name, **kwargs)

    def with_credentials(self, credentials: Any) -> Any:
        """A boto3 session of its own for one job's credentials (a session holds one set),
        sharing the loaded service models (tests: a new session of the factory)."""
        import boto3
        import botocore.session

        with self._lock:
            if self._factory is not None:
                session = self._factory()
            else:
                core = botocore.session.get_session()
                core.register_component(
                    "data_loader", self._made()._session.get_component("data_loader")
                )
                session = boto3.session.Session(botocore_session=core)
        # botocore's own way to hand a session credentials that refresh themselves.
        session._session._credentials = credentials
        return session


def refreshing_deploy_role(
    job_sts: Callable[[], Any],
    access: DeployAccess,
    name: str,
    time_fetcher: Callable[[], datetime] | None = None,
) -> Any:
    """botocore ``RefreshableCredentials`` of the deploy role: each fetch (the first, and
    every refresh) takes an STS client of a fresh job session from ``job_sts`` and
    assumes the role with the project's ExternalId."""
    from botocore.credentials import RefreshableCredentials
    from dateutil.parser import parse

    def fetch() -> dict[str, str]:
        try:
            creds = job_sts().assume_role(
                RoleArn=access.role_arn, RoleSessionName=name, ExternalId=access.external_id
            )["Credentials"]
        except JobSessionError:
            raise
        except Exception as exc:
            raise JobSessionError(f"could not assume the deploy role: {exc}") from None
        expiry = creds["Expiration"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": expiry.isoformat() if hasattr(expiry, "isoformat") else str(expiry),
        }

    first = fetch()
    extra = {"time_fetcher": time_fetcher} if time_fetcher is not None else {}
    return RefreshableCredentials(
        first["access_key"], first["secret_key"], first["token"], parse(first["expiry_time"]),
        fetch, "assume-role", **extra,
    )  # fmt: skip


def clients_of(
    session: Any, endpoint_url: str | None, region: str, credentials: Mapping[str, str]
) -> AwsClients:
    """The executor's clients (made lazily) with ``credentials`` (may be empty: the
    runner's own, local and test stages only)."""
    from botocore.config import Config

    config = Config(connect_timeout=10, read_timeout=60, retries={"max_attempts": 5})

    def client(name: str) -> Any:
        return _LazyClient(
            lambda: session.client(
                name, endpoint_url=endpoint_url, region_name=region, config=config, **credentials
            )
        )

    return AwsClients(
        s3=client("s3"), codebuild=client("codebuild"), ecr=client("ecr"), logs=client("logs"),
        ecs=client("ecs"), ssm=client("ssm"), lambda_=client("lambda"),
        cloudfront=client("cloudfront"),
    )  # fmt: skip


@dataclass
class DeployRoleClients:
    """Clients of the user's account for one job (see the module doc)."""

    issuer: JobSessionIssuer | None
    bucket: str  # AutoStack's bucket (the job scope names the stack's state in it)
    stage: str
    endpoint_url: str | None = None
    session_factory: SessionFactory | None = None
    time_fetcher: Callable[[], datetime] | None = None  # botocore's clock (tests)
    _shared: _SharedSession | None = field(default=None, init=False, repr=False)

    def _session(self) -> _SharedSession:
        if self._shared is None:
            self._shared = _SharedSession(self.session_factory)
        return self._shared

    def __call__(self, request: ExecutorRequest) -> AwsClients:
        from runner.terraform import state_key

        access = request.access
        if access is None:
            raise JobSessionError("role_arn: the job's payload names no deploy role")
        session = self._session()
        if self.issuer is None:
            if self.stage not in LOCAL_STAGES:
                raise JobSessionError(
                    "AUTOSTACK_TERRAFORM_SESSION_ROLE_ARN: the aws executor needs the job's "
                    "scoped session outside the local and test stages"
                )
            return clients_of(session, self.endpoint_url, access.region, {})
        scope = JobScope(
            self.bucket, state_key(request.project_id, request.stack),
            access.role_arn, access.external_id,
        )  # fmt: skip
        name = session_name(request.job_id)
        issuer = self.issuer

        def job_sts() -> Any:  # a fresh job session each time: it expires too
            job = issuer.issue(scope, name)
            return session.client(
                "sts",
                endpoint_url=self.endpoint_url,
                region_name=access.region,
                aws_access_key_id=job.access_key_id,
                aws_secret_access_key=job.secret_access_key,
                aws_session_token=job.session_token,
            )

        credentials = refreshing_deploy_role(job_sts, access, name, self.time_fetcher)
        return clients_of(
            session.with_credentials(credentials), self.endpoint_url, access.region, {}
        )


EXECUTORS: dict[
    str, type[EcsExecutor] | type[Ec2Executor] | type[LambdaExecutor] | type[StaticExecutor]
] = {
    "ecs-fargate": EcsExecutor,
    "ec2": Ec2Executor,
    "lambda": LambdaExecutor,
    "static": StaticExecutor,
}


@dataclass
class AwsExecutorFactory:
    """The executor of a release, by the bundle's target (``AUTOSTACK_RELEASE_EXECUTOR=aws``)."""

    clients_for: Callable[[ExecutorRequest], AwsClients]
    settings: ShippingSettings

    def __call__(self, request: ExecutorRequest) -> ReleaseExecutor:
        target = AwsTarget.from_outputs(request.target, request.outputs)  # names what's missing
        waiter = Waiter(
            clock=request.clock,
            sleep=request.sleep,
            timeout_s=self.settings.wait_timeout_s,
            interval_s=self.settings.poll_interval_s,
        )
        executor: ReleaseExecutor = EXECUTORS[target.kind](
            self.clients_for(request), target, waiter
        )
        return executor
