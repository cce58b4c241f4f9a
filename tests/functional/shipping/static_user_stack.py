"""A deployed static bundle in the emulator's "user account", and a project seeded with it.

Made with boto3, as ``aws_user_stack`` does for the image targets (the bundle itself is
planned by test_gen_deploy_emulator.py): the build-source bucket, the CodeBuild project
and its log group, the site bucket and a CloudFront distribution whose ``site-bucket``
origin reads ``/releases/<OLD_TAG>`` (a release an earlier deploy shipped). Shared by
test_aws_static_release_emulator.py and bench/bench_static_release_overhead.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import shutil
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Any

from chalicelib import keys
from chalicelib.models.plan import AppPlan
from chalicelib.store.bundles import DynamoBundleStore
from chalicelib.store.releases import DynamoReleaseStore
from devtools.local_resources import REGION
from runner.shipping.aws_static import marker_key
from tests.functional.shipping.aws_user_stack import PROJECT, client, create_build_project, put_item
from tests.golden.plan_profiles import plan_of, profile

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "shipping" / "static_site"
OLD_TAG = "src-0000000000000000"


class StaticStack:
    """A deployed static bundle in the emulator's user account (made with boto3, as
    ``aws_user_stack`` does for the image targets; the bundle itself is applied by
    test_gen_deploy_emulator.py)."""

    def __init__(self, endpoint_url: str, app_url: str) -> None:
        self.endpoint_url = endpoint_url
        self.name = f"site-{secrets.token_hex(3)}"
        self.site_bucket = f"{self.name}-site"
        self.client("s3").create_bucket(Bucket=self.site_bucket)
        self.build_bucket = create_build_project(self.client, self.name, privileged=False)
        self.distribution_id = self.client("cloudfront").create_distribution(
            DistributionConfig={
                "CallerReference": self.name,
                "Comment": f"{self.name} static site",
                "Enabled": True,
                "DefaultRootObject": "index.html",
                "Origins": {
                    "Quantity": 1,
                    "Items": [
                        {
                            "Id": "site-bucket",
                            "OriginPath": f"/releases/{OLD_TAG}",
                            "DomainName": f"{self.site_bucket}.s3.{REGION}.amazonaws.com",
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                        }
                    ],
                },
                "DefaultCacheBehavior": {
                    "TargetOriginId": "site-bucket",
                    "ViewerProtocolPolicy": "redirect-to-https",
                    "MinTTL": 0,
                },
            }
        )["Distribution"]["Id"]
        self.outputs = {
            k: {"value": v, "sensitive": False}
            for k, v in {
                "app_url": app_url,  # the cloudfront.net URL in AWS; the emulator serves none
                "build_project": f"{self.name}-build",
                "build_source_bucket": self.build_bucket,
                "site_bucket": self.site_bucket,
                "cloudfront_distribution_id": self.distribution_id,
            }.items()
        }
        # The release serving before: built and checked by an earlier deploy.
        self.put_release(OLD_TAG, {"index.html": b"<h1>the old site</h1>"})

    def client(self, service: str) -> Any:
        return client(self.endpoint_url, service)

    def put_release(self, tag: str, files: dict[str, bytes], marker: bool = True) -> None:
        s3 = self.client("s3")
        for name, body in files.items():
            s3.put_object(Bucket=self.site_bucket, Key=f"releases/{tag}/{name}", Body=body)
        if marker:
            s3.put_object(Bucket=self.site_bucket, Key=marker_key(tag), Body=b"{}")

    def builds(self) -> list[str]:
        codebuild = self.client("codebuild")
        return list(codebuild.list_builds_for_project(projectName=f"{self.name}-build")["ids"])

    def origin_path(self) -> str:
        config = self.client("cloudfront").get_distribution_config(Id=self.distribution_id)
        return str(config["DistributionConfig"]["Origins"]["Items"][0]["OriginPath"])

    def invalidations(self) -> list[dict[str, Any]]:
        answer = self.client("cloudfront").list_invalidations(DistributionId=self.distribution_id)
        return list(answer["InvalidationList"].get("Items") or [])

    def object(self, key: str) -> bytes:
        return bytes(self.client("s3").get_object(Bucket=self.site_bucket, Key=key)["Body"].read())


def zip_source(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "dist" not in path.relative_to(folder).parts:
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def tag_of(archive: bytes) -> str:
    return "src-" + hashlib.sha256(archive).hexdigest()[:16]


def static_plan() -> AppPlan:
    """The plan of a node static site (the analysis of a real Vite site is tested in the
    analysis tier; this fixture has no npm dependency, so it builds offline)."""
    prof = profile("static", framework="vite", kind="static", language="javascript",
                   build_command="npm run build", static_output_dir="dist")  # fmt: skip
    plan = plan_of(prof)
    assert plan.kind == "static" and plan.static_output == "dist" and plan.release == []
    return plan


def seed_static(jobs: Any, stack: StaticStack, uploads: dict[str, bytes]) -> None:
    """Bundle b1 (target static) generated from upload up1, further ready uploads, and the
    live release OLD_TAG on stack dep1 with the stack's outputs."""
    s3, bucket = jobs.clients.s3, jobs.settings.bucket
    document = {
        "record": {
            "id": "b1",
            "plans": [static_plan().model_dump(mode="json")],
            "target": "static",
        },
        "files": {"Dockerfile": "FROM node:24-alpine\n", "infra/static.tf": "# not built"},
    }
    s3.put_object(Bucket=bucket, Key=keys.bundle_document_key(PROJECT, "b1"),
                  Body=json.dumps(document).encode())  # fmt: skip
    for upload_id, archive in uploads.items():
        key = keys.upload_key(PROJECT, upload_id, "zip")
        s3.put_object(Bucket=bucket, Key=key, Body=archive)
        put_item(jobs, {
            "pk": keys.project_pk(PROJECT), "sk": keys.upload_sk(upload_id), "upload_id": upload_id,
            "project_id": PROJECT, "status": "ready", "key": key,
        })  # fmt: skip
    DynamoBundleStore(jobs.clients.dynamodb, jobs.settings.table).put(
        PROJECT, "b1", {"bundle_id": "b1", "analysis_id": "an1", "target": "static"}
    )
    put_item(jobs, {
        "pk": keys.project_pk(PROJECT), "sk": keys.job_sk("an1"), "job_id": "an1",
        "project_id": PROJECT, "kind": "analyze", "status": "succeeded",
        "created_at_epoch": time.time(),
        "payload": {"upload_id": "up1", "key": keys.upload_key(PROJECT, "up1", "zip")},
    })  # fmt: skip
    DynamoReleaseStore(jobs.clients.dynamodb, jobs.settings.table).put(
        PROJECT, "0000000000001-first", {
            "stack": "dep1", "bundle_id": "b1", "image_tag": OLD_TAG, "status": "live",
            "executor": "aws-static", "created_at_epoch": time.time() - 60,
            "target_outputs": stack.outputs, "source_upload_id": "up0",
        },
    )  # fmt: skip


def built_site(source: Path, tmp_path: Path) -> dict[str, bytes]:
    """The fixture's own build run with node (what CodeBuild's build phase runs): the
    files the buildspec's ``aws s3 sync dist`` uploads."""
    node = shutil.which("node")
    assert node, "node is needed to build the static fixture (apt-get install nodejs)"
    work = tmp_path / f"build-{secrets.token_hex(3)}"
    shutil.copytree(source, work)
    subprocess.run([node, "build.mjs"], cwd=work, check=True, timeout=60)
    out = work / "dist"
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
