"""Infrastructure generation: StackProfile + TemplateRequest -> GeneratedBundle.

A pure engine (no AWS, no clock): ``generate_bundle`` renders every file of a
bundle and prices every candidate target. The API's service stores the result.
"""

from __future__ import annotations

from chalicelib.generate.dockerfiles import docker_warnings
from chalicelib.generate.plan import plans_of
from chalicelib.generate.pricing import PriceTable, load_prices
from chalicelib.generate.recommend import cost_summary, recommend
from chalicelib.generate.render import render_files
from chalicelib.generate.stack import NoDeployableAppError, build_context
from chalicelib.generate.toolchains import ToolchainVersionError
from chalicelib.models.profile import StackProfile
from chalicelib.models.templates import GeneratedBundle, TemplateRequest

__all__ = [
    "NoDeployableAppError",
    "TargetNotSuitableError",
    "ToolchainVersionError",
    "generate_bundle",
    "load_prices",
]


class TargetNotSuitableError(Exception):
    """The requested target cannot run this app; the message says why."""


def generate_bundle(
    profile: StackProfile,
    request: TemplateRequest,
    prices: PriceTable | None = None,
    project: str | None = None,
) -> GeneratedBundle:
    """The bundle; ``project`` (the project's name) prefixes every resource name."""
    ctx = build_context(profile, request.options, request.region, project)
    plans = plans_of(ctx, profile)  # raises ToolchainVersionError before anything is priced
    cost = cost_summary(ctx, prices or load_prices())
    recommendation = recommend(ctx, cost)
    target = request.target or recommendation.target
    chosen = next(e for e in cost.targets if e.target == target)
    if not chosen.fits:
        raise TargetNotSuitableError(
            f"target {target!r} does not fit this app: " + "; ".join(chosen.why_not)
        )
    warnings = [*ctx.warnings, *docker_warnings(ctx)]
    if target == "ec2" and ctx.companions:
        warnings.append(
            f"{len(ctx.companions) + 1 + len(ctx.workers)} containers share one "
            f"{ctx.options.instance_type}; choose a larger instance_type if they run short "
            "of memory."
        )
    if request.options.domain and target == "ecs-fargate" and ctx.app.kind == "worker":
        warnings.append("A background worker has no URL, so the domain is not used.")
    files = render_files(ctx, plans, target, recommendation, cost, warnings)
    return GeneratedBundle(
        target=target,
        region=request.region,
        files=files,
        plans=plans,
        recommendation=recommendation,
        cost=cost,
        warnings=warnings,
    )
