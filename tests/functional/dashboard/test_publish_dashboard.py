"""scripts/publish_dashboard.py against the emulator's bucket: types, cache headers, the
API address in config.json, index.html last, stale files removed, bad input refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.local_resources import LocalResources
from scripts.publish_dashboard import (
    IMMUTABLE,
    REVALIDATE,
    PublishError,
    collect,
    main,
    publish,
)

API = "https://abc123defg.execute-api.us-east-1.amazonaws.com/api"


def _s3(resources: LocalResources) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=resources.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _dist(root: Path, asset: str = "index-abc") -> Path:
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(f'<script src="/assets/{asset}.js"></script>')
    (root / "assets" / f"{asset}.js").write_text("console.log(1)")
    (root / "assets" / f"{asset}.css").write_text("body{}")
    (root / ".built").write_text("")
    return root


def test_publish_puts_each_file_with_its_type_and_cache_header(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    s3 = _s3(local_resources)
    bucket = local_resources.bucket
    s3.put_object(Bucket=bucket, Key="uploads/p/u.zip", Body=b"not the dashboard's")
    files = collect(_dist(tmp_path / "v1"), API + "/")
    assert [f.key for f in files] == [
        "assets/index-abc.css",
        "assets/index-abc.js",
        "config.json",
        "index.html",
    ]  # assets first, the page that names them last; no build stamp
    publish(s3, bucket, "dashboard", files)

    def head(key: str) -> dict[str, Any]:
        return s3.head_object(Bucket=bucket, Key=f"dashboard/{key}")

    assert head("index.html")["ContentType"] == "text/html; charset=utf-8"
    assert head("index.html")["CacheControl"] == REVALIDATE
    assert head("assets/index-abc.js")["ContentType"] == "text/javascript; charset=utf-8"
    assert head("assets/index-abc.js")["CacheControl"] == IMMUTABLE
    assert head("assets/index-abc.css")["ContentType"] == "text/css; charset=utf-8"
    config = s3.get_object(Bucket=bucket, Key="dashboard/config.json")
    assert config["ContentType"] == "application/json"
    assert config["CacheControl"] == REVALIDATE
    assert json.loads(config["Body"].read()) == {"api_url": API}

    # A new build: its files replace the old ones, which are deleted; nothing else is.
    result = publish(s3, bucket, "dashboard", collect(_dist(tmp_path / "v2", "index-def"), API))
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert sorted(result.deleted) == [
        "dashboard/assets/index-abc.css",
        "dashboard/assets/index-abc.js",
    ]
    assert keys == {
        "uploads/p/u.zip",
        "dashboard/assets/index-def.css",
        "dashboard/assets/index-def.js",
        "dashboard/config.json",
        "dashboard/index.html",
    }


def test_command_line_reads_the_terraform_outputs(
    local_resources: LocalResources, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "bucket_name": {"value": local_resources.bucket},
                "dashboard_prefix": {"value": "dashboard"},
            }
        )
    )
    dist = _dist(tmp_path / "dist")
    code = main(
        ["--outputs", str(outputs), "--api-url", API, "--dist", str(dist)],
        s3=_s3(local_resources),
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["uploaded"] == 4
    body = _s3(local_resources).get_object(
        Bucket=local_resources.bucket, Key="dashboard/index.html"
    )
    assert body["Body"].read() == (dist / "index.html").read_bytes()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--bucket", "b", "--api-url", "http://api.example.com"], "--api-url"),
        (["--bucket", "b", "--api-url", "javascript:alert(1)"], "--api-url"),
        (["--bucket", "b", "--api-url", API, "--prefix", "../x"], "prefix"),
        (["--api-url", API], "bucket_name"),
    ],
)
def test_bad_arguments_are_refused_before_any_upload(
    local_resources: LocalResources,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    s3 = _s3(local_resources)
    code = main([*argv, "--dist", str(_dist(tmp_path / "dist"))], s3=s3)
    assert code == 2
    assert message in capsys.readouterr().err
    assert s3.list_objects_v2(Bucket=local_resources.bucket).get("KeyCount", 0) == 0


def test_a_build_folder_without_index_or_with_a_symlink_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PublishError, match="make dashboard"):
        collect(tmp_path, API)
    dist = _dist(tmp_path / "dist")
    (dist / "assets" / "leak.js").symlink_to("/etc/passwd")
    with pytest.raises(PublishError, match="symlink"):
        collect(dist, API)
    (dist / "assets" / "leak.js").unlink()
    (dist / "notes.exe").write_bytes(b"MZ")
    with pytest.raises(PublishError, match="content type"):
        collect(dist, API)
