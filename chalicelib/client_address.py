"""The caller's address, for the per-IP signup and login limits.

Called directly (API Gateway's execute-api address), it is API Gateway's ``sourceIp``.
Behind the dashboard's CloudFront (``/api/*``, infrastructure/dashboard.tf) that is an
edge's address, shared by everyone near it: CloudFront then sends the viewer's address
in ``CloudFront-Viewer-Address`` ("ip:port", IPv6 unbracketed) and proves itself with
``X-AutoStack-Origin-Token`` (a per-deployment value, AUTOSTACK_ORIGIN_TOKEN). The header
is believed only with the right token: anyone can send it to the execute-api address.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping

VIEWER_ADDRESS_HEADER = "cloudfront-viewer-address"
ORIGIN_TOKEN_HEADER = "x-autostack-origin-token"  # noqa: S105 - a header name


def viewer_ip(viewer_address: str) -> str | None:
    """The IP of a CloudFront-Viewer-Address value; None when it is not "ip:port"."""
    host, sep, port = viewer_address.strip().rpartition(":")
    if not sep or not port.isdigit():
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def client_ip(source_ip: str | None, headers: Mapping[str, str], origin_token: str | None) -> str:
    """The address the limits count against (at most 64 characters)."""
    if origin_token:
        sent = headers.get(ORIGIN_TOKEN_HEADER) or ""
        if sent and hmac.compare_digest(sent.encode(), origin_token.encode()):
            viewer = viewer_ip(headers.get(VIEWER_ADDRESS_HEADER) or "")
            if viewer is not None:
                return viewer
    return str(source_ip or "unknown")[:64]
