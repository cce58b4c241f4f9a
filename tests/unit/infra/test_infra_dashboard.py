"""infrastructure/dashboard.tf: the dashboard behind CloudFront, read from the private
bucket through an origin access control, with exactly the checkov skips written down."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.unit.infra.infra_support import INFRA_DIR, REPO_ROOT, load_hcl, single

# Every checkov skip of the dashboard, each one a cost or no-domain trade-off explained
# beside the resource. A new skip must be argued here too.
DASHBOARD_SKIPS = {
    ("aws_cloudfront_distribution.dashboard", "CKV_AWS_68"),  # WAF: $5+/month
    ("aws_cloudfront_distribution.dashboard", "CKV2_AWS_47"),  # WAF's Log4j rules
    ("aws_cloudfront_distribution.dashboard", "CKV_AWS_86"),  # access logs bucket
    ("aws_cloudfront_distribution.dashboard", "CKV_AWS_310"),  # failover origin
    ("aws_cloudfront_distribution.dashboard", "CKV_AWS_374"),  # geo restriction
    ("aws_cloudfront_distribution.dashboard", "CKV_AWS_174"),  # TLS 1.2 needs own domain
    ("aws_cloudfront_distribution.dashboard", "CKV2_AWS_42"),  # own certificate
}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return load_hcl()


def _skips(text: str) -> set[tuple[str, str]]:
    found, block = set(), ""
    for line in text.splitlines():
        opening = re.match(r'^resource "(\w+)" "(\w+)" \{', line)
        if opening:
            block = f"{opening.group(1)}.{opening.group(2)}"
        match = re.search(r"#checkov:skip=(CKV2?_AWS_\d+):", line)
        if match:
            found.add((block, match.group(1)))
    return found


def test_dashboard_skips_are_exactly_the_allowed_ones() -> None:
    assert _skips((INFRA_DIR / "dashboard.tf").read_text()) == DASHBOARD_SKIPS


def test_distribution_serves_the_private_bucket_prefix_over_https_only(
    config: dict[str, Any],
) -> None:
    dist = config["resource"]["aws_cloudfront_distribution"]["dashboard"]
    origins = {o["origin_id"]: o for o in dist["origin"]}
    assert set(origins) == {"${local.dashboard_origin}", "${local.api_origin}"}
    origin = origins["${local.dashboard_origin}"]
    assert origin["domain_name"] == "${aws_s3_bucket.main.bucket_regional_domain_name}"
    assert origin["origin_path"] == "/${local.dashboard_prefix}"
    assert config["locals"]["dashboard_prefix"] == "dashboard"
    assert "aws_cloudfront_origin_access_control.dashboard" in origin["origin_access_control_id"]
    oac = config["resource"]["aws_cloudfront_origin_access_control"]["dashboard"]
    assert (oac["signing_behavior"], oac["signing_protocol"]) == ("always", "sigv4")
    behaviour = single(dist["default_cache_behavior"])
    assert behaviour["viewer_protocol_policy"] == "redirect-to-https"
    assert behaviour["allowed_methods"] == ["GET", "HEAD"]
    assert "response_headers_policy_id" in behaviour
    assert dist["default_root_object"] == "index.html"
    # A custom error page would turn the bucket's 403 for a missing file into the app.
    assert "custom_error_response" not in dist
    assert config["variable"]["dashboard_price_class"]["default"] == "PriceClass_100"
    # The bucket itself stays private: the public access block is untouched.
    block = config["resource"]["aws_s3_bucket_public_access_block"]["main"]
    assert block["block_public_policy"] is True and block["restrict_public_buckets"] is True


def test_only_this_distribution_reads_only_the_dashboard_prefix(config: dict[str, Any]) -> None:
    doc = config["data"]["aws_iam_policy_document"]["dashboard_read"]
    statement = single(doc["statement"])
    assert statement["effect"] == "Allow"
    assert statement["actions"] == ["s3:GetObject"]
    assert statement["resources"] == ["${aws_s3_bucket.main.arn}/${local.dashboard_prefix}/*"]
    principal = single(statement["principals"])
    assert (principal["type"], principal["identifiers"]) == (
        "Service",
        ["cloudfront.amazonaws.com"],
    )
    condition = single(statement["condition"])
    assert condition["variable"] == "AWS:SourceArn"
    assert condition["values"] == ["${aws_cloudfront_distribution.dashboard.arn}"]
    bucket_doc = config["data"]["aws_iam_policy_document"]["bucket"]
    assert bucket_doc["source_policy_documents"] == [
        "${data.aws_iam_policy_document.dashboard_read.json}"
    ]


def test_uploads_from_the_dashboard_origin_only(config: dict[str, Any]) -> None:
    rule = single(config["resource"]["aws_s3_bucket_cors_configuration"]["main"]["cors_rule"])
    assert rule["allowed_origins"] == [
        "https://${aws_cloudfront_distribution.dashboard.domain_name}"
    ]
    assert rule["allowed_methods"] == ["POST"]
    outputs = config["output"]
    assert outputs["dashboard_url"]["value"] == (
        "https://${aws_cloudfront_distribution.dashboard.domain_name}"
    )
    assert "dashboard_prefix" in outputs


def _directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def test_header_csp_is_the_page_csp_without_loopback(config: dict[str, Any]) -> None:
    """The CloudFront header narrows the page's <meta> policy: no loopback API, no frames."""
    html = (REPO_ROOT / "dashboard" / "index.html").read_text()
    meta = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert meta
    page = _directives(meta.group(1))
    joined = config["locals"]["dashboard_csp"]  # ${join("; ", ["a", "b", ...])}
    parts = re.findall(r'"([^"]+)"', joined.split("[", 1)[1])
    header = _directives("; ".join(parts))
    assert header["connect-src"] == ["'self'", "https://*.amazonaws.com"]
    assert header["frame-ancestors"] == ["'none'"]
    for name, values in page.items():
        allowed = [v for v in values if not v.startswith(("http://127.0.0.1", "http://localhost"))]
        assert header[name] == allowed, name


def test_api_behaviour_sends_api_paths_to_the_http_api_uncached_with_the_origin_token(
    config: dict[str, Any],
) -> None:
    dist = config["resource"]["aws_cloudfront_distribution"]["dashboard"]
    origin = next(o for o in dist["origin"] if o["origin_id"] == "${local.api_origin}")
    assert "aws_apigatewayv2_api.http.api_endpoint" in origin["domain_name"]
    custom = single(origin["custom_origin_config"])
    assert custom["origin_protocol_policy"] == "https-only"
    assert custom["origin_ssl_protocols"] == ["TLSv1.2"]
    header = single(origin["custom_header"])
    assert header == {
        "name": "X-AutoStack-Origin-Token",
        "value": "${random_password.api_origin_token.result}",
    }
    behaviour = single(dist["ordered_cache_behavior"])
    # The stage is named like the prefix: CloudFront forwards the path as it is.
    assert behaviour["path_pattern"] == "/${var.api_stage_name}/*"
    assert config["variable"]["api_stage_name"]["default"] == "api"
    assert behaviour["target_origin_id"] == "${local.api_origin}"
    assert behaviour["viewer_protocol_policy"] == "https-only"
    assert set(behaviour["allowed_methods"]) == {
        "GET",
        "HEAD",
        "OPTIONS",
        "PUT",
        "POST",
        "PATCH",
        "DELETE",
    }
    assert "data.aws_cloudfront_cache_policy.disabled" in behaviour["cache_policy_id"]
    policies = config["data"]
    assert policies["aws_cloudfront_cache_policy"]["disabled"]["name"] == "Managed-CachingDisabled"
    # All of the viewer's headers but Host (Authorization, cookies; API Gateway routes on
    # its own Host), and CloudFront's CloudFront-Viewer-Address.
    assert (
        policies["aws_cloudfront_origin_request_policy"]["all_but_host"]["name"]
        == "Managed-AllViewerExceptHostHeader"
    )
    assert "all_but_host" in behaviour["origin_request_policy_id"]
