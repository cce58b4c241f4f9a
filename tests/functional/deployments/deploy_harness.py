"""The API in-process (chalice's test client) on fresh emulator resources, for deployments.

The runner's side is played by the runner's own ``JobStore`` (claim / finish), so the
job items the API reads are written exactly as the runner writes them.
"""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from chalice.test import Client

from chalicelib.context import AppContext, build_context, reset_context, set_context
from chalicelib.models.jobs import JobRecord
from chalicelib.settings import load_settings
from devtools.local_resources import LocalResources
from runner.jobstore import JobStore

PASSWORD = "correct horse battery"
ROLE_ARN = "arn:aws:iam::123456789012:role/autostack-deploy"
RUNNER_ROLE_ARN = "arn:aws:iam::210987654321:role/autostack-runner"
TF_MAIN = 'resource "terraform_data" "app" {\n  input = "hello"\n}\n'


def zip_bytes(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in files.items():
            archive.writestr(name, body)
    return buffer.getvalue()


@dataclass
class DeployApi:
    client: Client
    context: AppContext
    token: str = ""

    @property
    def ddb(self) -> Any:
        return self.context.aws.dynamodb

    @property
    def s3(self) -> Any:
        return self.context.aws.s3

    @property
    def table(self) -> str:
        return self.context.settings.table

    @property
    def bucket(self) -> str:
        return self.context.settings.bucket

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        headers = {"Content-Type": "application/json"}
        token = self.token if token is None else token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        payload = b"" if body is None else json.dumps(body).encode()
        response = self.client.http.request(method, path, headers=headers, body=payload)
        parsed = json.loads(response.body) if response.body else None
        return response.status_code, parsed, dict(response.headers)

    def new_user(self) -> str:
        email = f"u{secrets.token_hex(4)}@example.com"
        creds = {"email": email, "password": PASSWORD}
        status, body, _ = self.call("POST", "/auth/signup", creds, token="")
        assert status == 201, body
        status, body, _ = self.call("POST", "/auth/login", creds, token="")
        assert status == 200, body
        return str(body["access_token"])

    def new_project(self, token: str | None = None) -> str:
        status, body, _ = self.call("POST", "/projects", {"name": "demo"}, token=token)
        assert status == 201, body
        return str(body["id"])

    def generated_bundle(self, project_id: str, monthly_usd: str = "8.47") -> str:
        """A bundle as the templates service stores it (item written after the files)."""
        bundle_id = secrets.token_urlsafe(8)
        self.s3.put_object(
            Bucket=self.bucket, Key=f"bundles/{project_id}/{bundle_id}/infra/main.tf", Body=TF_MAIN
        )
        item = {
            "pk": {"S": f"PROJECT#{project_id}"},
            "sk": {"S": f"BUNDLE#{bundle_id}"},
            "bundle_id": {"S": bundle_id},
            "project_id": {"S": project_id},
            "analysis_id": {"S": "a1"},
            "target": {"S": "ec2"},
            "region": {"S": "us-east-1"},
            "created_at": {"S": "2026-11-26T00:00:00Z"},
            "monthly_usd": {"S": monthly_usd},
        }
        self.ddb.put_item(TableName=self.table, Item=item)
        return bundle_id

    def deploy(self, project_id: str, bundle_id: str, **extra: Any) -> tuple[int, Any]:
        body = {"bundle_id": bundle_id, "role_arn": ROLE_ARN, "region": "eu-west-1", **extra}
        status, answer, _ = self.call("POST", f"/projects/{project_id}/deployments", body)
        return status, answer

    # -- the runner's side -----------------------------------------------------------

    def jobstore(self) -> JobStore:
        return JobStore(self.ddb, self.table)

    def job(self, project_id: str, job_id: str) -> JobRecord:
        record = self.jobstore().get(project_id, job_id)
        assert record is not None
        return record

    def run_job(
        self,
        project_id: str,
        job_id: str,
        status: str,
        *,
        now: float,
        result: dict[str, Any] | None = None,
        summary: dict[str, Any] | None = None,
        error: dict[str, str] | None = None,
        runner_id: str = "runner-test",
    ) -> JobRecord:
        store = self.jobstore()
        claimed = store.claim(project_id, job_id, runner_id, now, 60)
        assert claimed is not None
        if status == "running":
            return claimed
        return store.finish(
            project_id,
            job_id,
            runner_id,
            now,
            status,
            result=result,
            summary=summary,
            error=error,
        )


@contextmanager
def deploy_api(resources: LocalResources, **overrides: Any) -> Iterator[DeployApi]:
    settings = load_settings({**resources.environment(), "AUTOSTACK_STAGE": "test"})
    settings = settings.replace(
        **{"scrypt_n": 2**10, "runner_role_arn": RUNNER_ROLE_ARN, **overrides}
    )
    context = build_context(settings)
    set_context(context)
    try:
        from app import app

        with Client(app, stage_name="test") as client:
            api = DeployApi(client, context)
            api.token = api.new_user()
            yield api
    finally:
        reset_context()
