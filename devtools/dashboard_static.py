"""The dashboard's built files (`dashboard/dist`), served by the local API wrapper.

`devtools/chalice_local.py` asks `static_answer` first for every GET/HEAD that matches no
API route: `/` and unknown extension-less paths a browser navigates to get `index.html`
(the app routes with `#/...`, so a reload never reaches an API path), files under the
build folder get their bytes with their content type, `/config.json` says the API is
this origin, anything else is left to the API's 404. In AWS CloudFront serves the same
files from S3 (`infrastructure/dashboard.tf`, `scripts/publish_dashboard.py`).

`allow_dashboard_uploads` gives the local bucket the CORS rule the browser needs to POST
an archive straight to the presigned URL (S3 is another origin than the dashboard).
"""

from __future__ import annotations

import mimetypes
import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

DIST = Path(__file__).resolve().parent.parent / "dashboard" / "dist"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}
CONFIG_NAME = "config.json"
LOCAL_CONFIG = b'{"api_url": ""}\n'
# Same-origin pages only; the app needs no inline script and no other origin but S3's.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _answer(status: int, content_type: str, body: bytes, cache: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": content_type,
            "Cache-Control": cache,
            "X-Request-Id": uuid.uuid4().hex,
            **SECURITY_HEADERS,
        },
        "multiValueHeaders": {},
        "body": body,
    }


def resolve(root: Path, url_path: str) -> Path | None:
    """The file under `root` that `url_path` names, or None (never outside `root`)."""
    path = unquote(urlparse(url_path).path)
    if "\x00" in path or "\\" in path:
        return None
    parts = [part for part in path.split("/") if part]
    if any(part in (".", "..") or part.startswith(".") for part in parts):
        return None
    if not parts:
        parts = ["index.html"]
    candidate = (root / Path(*parts)).resolve()
    base = root.resolve()
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    return candidate


def static_answer(
    method: str, url_path: str, headers: Any, root: Path = DIST
) -> dict[str, Any] | None:
    """The answer for a path no API route matched, or None to let the API answer 404."""
    if method.upper() not in ("GET", "HEAD"):
        return None
    index = root / "index.html"
    if not index.is_file():
        if urlparse(url_path).path == "/":
            text = b"The dashboard is not built: run `make dashboard` (npm ci && npm run build)."
            return _answer(503, "text/plain; charset=utf-8", text, "no-store")
        return None
    found = resolve(root, url_path)
    if found is None and urlparse(url_path).path == "/" + CONFIG_NAME:
        # Where the page finds the API: in AWS scripts/publish_dashboard.py writes it;
        # here the API is this origin.
        body = b"" if method.upper() == "HEAD" else LOCAL_CONFIG
        return _answer(200, TYPES[".json"], body, "no-cache")
    if found is None:
        # A deep link into the app (a browser asking for a page, not a file): the app.
        path = urlparse(url_path).path
        accept = str(headers.get("accept") or headers.get("Accept") or "")
        if "." in path.rsplit("/", 1)[-1] or "text/html" not in accept:
            return None
        found = index
    suffix = found.suffix.lower()
    content_type = TYPES.get(suffix) or mimetypes.guess_type(found.name)[0]
    content_type = content_type or "application/octet-stream"
    # Vite names assets by content hash: cache them for good; index.html never.
    immutable = found.parent.name == "assets"
    cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
    body = b"" if method.upper() == "HEAD" else found.read_bytes()
    return _answer(200, content_type, body, cache)


def allow_dashboard_uploads(s3: Any, bucket: str, origins: list[str]) -> None:
    """Let pages from `origins` POST archives to the bucket's presigned URLs (local stack)."""
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": origins,
                    "AllowedMethods": ["POST"],
                    "AllowedHeaders": ["*"],
                    "MaxAgeSeconds": 600,
                }
            ]
        },
    )


def local_origins(port: int | str | None = None) -> list[str]:
    """The origins a browser may use for the local dashboard."""
    port = port or os.environ.get("AUTOSTACK_API_PORT", "3000")
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def prepare_local(argv: list[str]) -> None:
    """At `chalice local` start against the emulator: the bucket's CORS rule for the dashboard.

    Only with AUTOSTACK_STAGE=local and AWS_ENDPOINT_URL (the emulator); in AWS the rule is
    Terraform's (`infrastructure/dashboard.tf`).
    """
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    bucket = os.environ.get("AUTOSTACK_BUCKET")
    if os.environ.get("AUTOSTACK_STAGE") != "local" or not endpoint or not bucket:
        return
    port = argv[argv.index("--port") + 1] if "--port" in argv[:-1] else "8000"
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint)
    allow_dashboard_uploads(s3, bucket, local_origins(port))
