"""Upload the built dashboard (`dashboard/dist`) to AutoStack's bucket, where CloudFront
serves it (infrastructure/dashboard.tf).

    make dashboard
    terraform -chdir=infrastructure output -json > /tmp/autostack-outputs.json
    .venv/bin/python scripts/publish_dashboard.py --outputs /tmp/autostack-outputs.json

The page calls the API on its own origin (`api_url`, CloudFront's /api/* in front of the
HTTP API: infrastructure/api.tf, dashboard.tf), so no call is preflighted; `--api-url`
names another address instead (then the API needs AUTOSTACK_CORS_ORIGIN).

Each file gets its content type and a cache header: `assets/*` (named by content hash
by Vite) are cached for a year as immutable, everything else is `no-cache` (CloudFront
keeps it 1 s, the managed policy's minimum, so a publish shows at once without an
invalidation). `config.json` tells the page where the API is. Order: assets first,
then the other files, `index.html` last, so a page never names an asset not yet there;
then keys under the prefix that the new build does not have are deleted (the bucket's
versioning keeps them for `noncurrent_versions_expire_days`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DIST = REPO_ROOT / "dashboard" / "dist"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
CONFIG_NAME = "config.json"
_PREFIX = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_API_URL = re.compile(
    r"^(https://[A-Za-z0-9.-]+(:\d+)?|http://(127\.0\.0\.1|localhost)(:\d+)?)(/[\w./-]*)?$"
)
_MAX_FILES = 500


class PublishError(RuntimeError):
    """The build, the arguments or the outputs are not something this script publishes."""


@dataclass(frozen=True)
class DashboardFile:
    key: str  # relative to the prefix, "/"-separated
    body: bytes
    content_type: str
    cache_control: str


@dataclass
class PublishResult:
    uploaded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def check_api_url(url: str) -> str:
    """The API's base URL without a trailing slash; https (loopback http for local tests)."""
    clean = url.strip().rstrip("/")
    if not _API_URL.match(clean):
        raise PublishError(
            f"--api-url must be the API's https:// address (e.g. "
            f"https://abc123.execute-api.us-east-1.amazonaws.com/api), got {url!r}"
        )
    return clean


def collect(dist: Path, api_url: str) -> list[DashboardFile]:
    """The files to upload, in upload order (assets, others, config.json, index.html)."""
    if not (dist / "index.html").is_file():
        raise PublishError(f"{dist}/index.html is missing: build the dashboard (make dashboard)")
    root = dist.resolve()
    files: list[DashboardFile] = []
    for path in sorted(dist.rglob("*")):
        relative = path.relative_to(dist)
        if any(part.startswith(".") for part in relative.parts):
            continue  # build stamps such as .built
        if path.is_symlink():
            raise PublishError(f"{relative} is a symlink: the build folder must hold plain files")
        if path.is_dir():
            continue
        if not path.resolve().is_relative_to(root):
            raise PublishError(f"{relative} resolves outside {dist}")
        key = relative.as_posix()
        if key == CONFIG_NAME:
            continue  # written from --api-url below
        content_type = CONTENT_TYPES.get(path.suffix.lower())
        if content_type is None:
            raise PublishError(f"{relative}: no content type known for {path.suffix!r} files")
        immutable = relative.parts[0] == "assets"
        files.append(
            DashboardFile(
                key, path.read_bytes(), content_type, IMMUTABLE if immutable else REVALIDATE
            )
        )
    if len(files) > _MAX_FILES:
        raise PublishError(f"{dist} has {len(files)} files; a dashboard build has a handful")
    config = json.dumps({"api_url": check_api_url(api_url)}, indent=2).encode() + b"\n"
    files.append(DashboardFile(CONFIG_NAME, config, CONTENT_TYPES[".json"], REVALIDATE))

    def order(item: DashboardFile) -> tuple[int, str]:
        if item.key == "index.html":
            return (3, item.key)
        if item.key == CONFIG_NAME:
            return (2, item.key)
        return (0 if item.key.startswith("assets/") else 1, item.key)

    return sorted(files, key=order)


def publish(s3: Any, bucket: str, prefix: str, files: list[DashboardFile]) -> PublishResult:
    """Upload `files` under `prefix/`, then delete the keys there that are not among them."""
    if not _PREFIX.match(prefix):
        raise PublishError(f"prefix {prefix!r} must be one lower-case path segment")
    result = PublishResult()
    for item in files:
        key = f"{prefix}/{item.key}"
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=item.body,
            ContentType=item.content_type,
            CacheControl=item.cache_control,
        )
        result.uploaded.append(key)
    keep = set(result.uploaded)
    stale: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        stale.extend(obj["Key"] for obj in page.get("Contents", []) if obj["Key"] not in keep)
    for start in range(0, len(stale), 1000):
        chunk = stale[start : start + 1000]
        s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
        )
    result.deleted = stale
    return result


def _output(outputs: Mapping[str, Any], name: str) -> str:
    raw = outputs.get(name)
    value = raw.get("value") if isinstance(raw, Mapping) else raw
    if not isinstance(value, str) or not value:
        raise PublishError(f"terraform output {name!r} is missing (apply infrastructure/ first)")
    return value


def main(argv: list[str] | None = None, s3: Any = None) -> int:
    parser = argparse.ArgumentParser(description="Upload dashboard/dist to AutoStack's bucket.")
    parser.add_argument("--outputs", help="`terraform output -json` file (bucket and prefix)")
    parser.add_argument("--bucket", help="the bucket (instead of --outputs)")
    parser.add_argument("--prefix", help="key prefix (default: the output, or 'dashboard')")
    parser.add_argument(
        "--api-url",
        help="the API's address (default: the api_url output, the dashboard's own /api)",
    )
    parser.add_argument("--dist", type=Path, default=DIST)
    parser.add_argument("--dry-run", action="store_true", help="list the files, upload nothing")
    args = parser.parse_args(argv)
    try:
        outputs: Mapping[str, Any] = {}
        if args.outputs:
            outputs = json.loads(Path(args.outputs).read_text())
        bucket = args.bucket or _output(outputs, "bucket_name")
        prefix = args.prefix or (_output(outputs, "dashboard_prefix") if outputs else "dashboard")
        if args.api_url is None and not outputs:
            raise PublishError("--api-url or --outputs (its api_url) is needed")
        api_url = args.api_url or _output(outputs, "api_url")
        files = collect(args.dist, api_url)
        if args.dry_run:
            for item in files:
                print(f"{prefix}/{item.key}\t{item.content_type}\t{item.cache_control}")
            return 0
        if s3 is None:
            import boto3

            s3 = boto3.client("s3")
        result = publish(s3, bucket, prefix, files)
    except (PublishError, OSError, json.JSONDecodeError) as exc:
        print(f"publish_dashboard: {exc}", file=sys.stderr)
        return 2
    summary = {"bucket": bucket, "uploaded": len(result.uploaded), "deleted": result.deleted}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
