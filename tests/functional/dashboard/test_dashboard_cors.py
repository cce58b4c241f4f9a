"""The local bucket's CORS rule that lets the dashboard POST archives to presigned URLs."""

from __future__ import annotations

import boto3
import requests

from devtools.dashboard_static import allow_dashboard_uploads, local_origins
from devtools.local_resources import LocalResources


def test_local_bucket_accepts_browser_uploads_from_the_dashboard(
    local_resources: LocalResources,
) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=local_resources.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    allow_dashboard_uploads(s3, local_resources.bucket, local_origins(3123))
    rules = s3.get_bucket_cors(Bucket=local_resources.bucket)["CORSRules"]
    assert rules[0]["AllowedOrigins"] == ["http://127.0.0.1:3123", "http://localhost:3123"]
    assert rules[0]["AllowedMethods"] == ["POST"]
    preflight = requests.options(
        f"{local_resources.endpoint_url}/{local_resources.bucket}",
        headers={"Origin": "http://127.0.0.1:3123", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:3123"
