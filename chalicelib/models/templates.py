"""Template generation contracts: the request, the cost estimate, the bundle.

``GeneratedBundle`` is what the pure engine (``chalicelib.generate``) returns;
``BundleRecord`` is what the API stores and answers with (ids, timestamps,
file list) once the files are in S3.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.models.plan import AppPlan

Target = Literal["static", "lambda", "ec2", "ecs-fargate"]
TARGETS: tuple[Target, ...] = ("static", "lambda", "ec2", "ecs-fargate")

_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class TemplateOptions(_Model):
    """Sizes and extras a user may choose; every field has the cheap default."""

    instance_type: Literal["t3.micro", "t4g.micro", "t3.small", "t4g.small"] = "t3.micro"
    root_volume_gb: int = Field(default=20, ge=8, le=200)
    db_instance_class: Literal["db.t4g.micro", "db.t4g.small"] = "db.t4g.micro"
    db_storage_gb: int = Field(default=20, ge=20, le=1000)
    cache_node_type: Literal["cache.t4g.micro", "cache.t4g.small"] = "cache.t4g.micro"
    desired_count: int = Field(default=1, ge=1, le=10)
    task_cpu: Literal[256, 512, 1024, 2048] = 256
    task_memory_mb: Literal[512, 1024, 2048, 4096] = 512
    lambda_memory_mb: int = Field(default=512, ge=128, le=10240)
    log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 180, 365] = 14
    domain: str | None = None

    @field_validator("domain")
    @classmethod
    def _domain_is_hostname(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower().rstrip(".")
        if not _DOMAIN.fullmatch(value):
            raise ValueError("domain must be a DNS name such as app.example.com")
        return value


class TemplateRequest(_Model):
    """``POST /projects/{id}/templates`` body."""

    analysis_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    target: Target | None = None
    region: str = "us-east-1"
    options: TemplateOptions = Field(default_factory=TemplateOptions)

    @field_validator("region")
    @classmethod
    def _region_is_aws_region(cls, value: str) -> str:
        if not _REGION.fullmatch(value):
            raise ValueError("region must be an AWS region name such as us-east-1")
        return value


class CostLine(_Model):
    """One priced resource in a monthly estimate."""

    resource: str  # what the user will see in their bill, e.g. "EC2 t3.micro instance"
    item: str  # price item id in prices.json
    quantity: float  # units a month
    unit: str
    unit_price_usd: float
    monthly_usd: float  # list price
    monthly_free_tier_usd: float  # after always-free allowances
    source: str
    price_date: str
    note: str | None = None  # the usage assumption behind the quantity


class TargetEstimate(_Model):
    target: Target
    fits: bool
    why_not: list[str] = Field(default_factory=list)  # plain reasons when it does not fit
    lines: list[CostLine] = Field(default_factory=list)
    monthly_usd: float
    monthly_free_tier_usd: float


class CostSummary(_Model):
    region: str
    priced_region: str
    currency: str
    prices_as_of: str
    hours_per_month: float
    assumptions: list[str]
    targets: list[TargetEstimate]


class Alternative(_Model):
    target: Target
    fits: bool
    monthly_usd: float
    summary: str


class Recommendation(_Model):
    target: Target
    reasons: list[str]
    alternatives: list[Alternative]


class GeneratedBundle(_Model):
    """The engine's output: every file of the bundle plus the estimate."""

    target: Target
    region: str
    files: dict[str, str]
    plans: list[AppPlan] = Field(default_factory=list)  # one per deployed app, primary first
    recommendation: Recommendation
    cost: CostSummary
    warnings: list[str] = Field(default_factory=list)


class BundleRecord(_Model):
    """What the API stores (files live in S3) and returns."""

    id: str
    project_id: str
    analysis_id: str
    target: Target
    region: str
    options: TemplateOptions
    files: list[str]
    # How each app is built, released and run (the app plans); empty in bundles made before.
    plans: list[AppPlan] = Field(default_factory=list)
    recommendation: Recommendation
    cost: CostSummary
    warnings: list[str] = Field(default_factory=list)
    created_at: str


class BundleOut(BundleRecord):
    """``GET /projects/{id}/templates/{bundle_id}``: the metadata and every file's text."""

    contents: dict[str, str] | None = None


class BundleSummary(_Model):
    id: str
    analysis_id: str
    target: Target
    region: str
    created_at: str
    monthly_usd: float


class BundleList(_Model):
    bundles: list[BundleSummary]


class BundleDownload(_Model):
    """A presigned GET of the bundle's zip."""

    url: str
    expires_at: str
    key: str
    size: int
