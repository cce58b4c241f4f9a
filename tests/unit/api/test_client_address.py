"""chalicelib/client_address.py: CloudFront-Viewer-Address is believed only with
CloudFront's origin token; DynamoDB throttling is a 503 `unavailable` (errors.py)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from chalicelib.client_address import client_ip, viewer_ip
from chalicelib.errors import unavailable_from

TOKEN = "a" * 40


def test_viewer_ip_reads_ipv4_and_unbracketed_ipv6_with_their_port() -> None:
    assert viewer_ip("203.0.113.7:46532") == "203.0.113.7"
    assert viewer_ip("2001:db8::7334:46532") == "2001:db8::7334"
    assert viewer_ip("203.0.113.7") is None  # no port
    assert viewer_ip("evil:80") is None
    assert viewer_ip("") is None


def test_the_viewer_header_counts_only_with_the_right_token() -> None:
    viewer = {"cloudfront-viewer-address": "198.51.100.23:1234"}
    with_token = {**viewer, "x-autostack-origin-token": TOKEN}
    assert client_ip("130.176.1.10", with_token, TOKEN) == "198.51.100.23"
    assert client_ip("130.176.1.10", viewer, TOKEN) == "130.176.1.10"
    wrong = {**viewer, "x-autostack-origin-token": "b" * 40}
    assert client_ip("130.176.1.10", wrong, TOKEN) == "130.176.1.10"
    # No token configured (no CloudFront in front): the header is never believed.
    assert client_ip("130.176.1.10", with_token, None) == "130.176.1.10"
    # A malformed header with the right token falls back to the source address.
    bad = {"cloudfront-viewer-address": "not an address", "x-autostack-origin-token": TOKEN}
    assert client_ip("130.176.1.10", bad, TOKEN) == "130.176.1.10"
    assert client_ip(None, {}, TOKEN) == "unknown"


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "slow down"}}, "PutItem")


def test_throttling_after_the_sdks_retries_is_503_unavailable() -> None:
    for code in ("ProvisionedThroughputExceededException", "ThrottlingException"):
        error = unavailable_from(_client_error(code))
        assert error is not None and error.status == 503 and error.code == "unavailable"
    assert unavailable_from(_client_error("ConditionalCheckFailedException")) is None
    assert unavailable_from(ValueError("x")) is None
