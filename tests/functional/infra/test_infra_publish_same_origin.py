"""scripts/publish_dashboard.py: by default the page's config.json names the API on the
dashboard's own origin (the api_url output, CloudFront's /api/*), so its calls are
same-origin and never preflighted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.local_resources import LocalResources
from scripts.publish_dashboard import main

DASHBOARD = "https://d111111abcdef8.cloudfront.net"


def _s3(resources: LocalResources) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=resources.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _dist(root: Path) -> Path:
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text('<script src="/assets/index-abc.js"></script>')
    (root / "assets" / "index-abc.js").write_text("console.log(1)")
    return root


def _outputs(tmp_path: Path, resources: LocalResources, **extra: str) -> Path:
    outputs = tmp_path / "outputs.json"
    values = {"bucket_name": resources.bucket, "dashboard_prefix": "dashboard", **extra}
    outputs.write_text(json.dumps({name: {"value": v} for name, v in values.items()}))
    return outputs


def test_config_json_points_the_page_at_its_own_origins_api(
    local_resources: LocalResources, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = _s3(local_resources)
    outputs = _outputs(tmp_path, local_resources, api_url=f"{DASHBOARD}/api")
    code = main(["--outputs", str(outputs), "--dist", str(_dist(tmp_path / "d"))], s3=s3)
    assert code == 0, capsys.readouterr().err
    config = json.loads(
        s3.get_object(Bucket=local_resources.bucket, Key="dashboard/config.json")["Body"].read()
    )
    assert config == {"api_url": f"{DASHBOARD}/api"}
    # Same scheme, host and port as the page: a same-origin call.
    assert config["api_url"].startswith(DASHBOARD + "/")


def test_without_an_api_url_output_or_argument_nothing_is_uploaded(
    local_resources: LocalResources, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = _s3(local_resources)
    outputs = _outputs(tmp_path, local_resources)
    code = main(["--outputs", str(outputs), "--dist", str(_dist(tmp_path / "d"))], s3=s3)
    assert code == 2
    assert "api_url" in capsys.readouterr().err
    code = main(["--bucket", local_resources.bucket, "--dist", str(_dist(tmp_path / "e"))], s3=s3)
    assert code == 2
    assert "--api-url or --outputs" in capsys.readouterr().err
    assert s3.list_objects_v2(Bucket=local_resources.bucket).get("KeyCount", 0) == 0
