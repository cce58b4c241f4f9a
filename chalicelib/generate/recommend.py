"""Which targets fit the app, what each costs a month, and which one to pick."""

from __future__ import annotations

from chalicelib.generate.pricing import PriceTable
from chalicelib.generate.stack import StackContext
from chalicelib.models.templates import (
    TARGETS,
    Alternative,
    CostLine,
    CostSummary,
    Recommendation,
    Target,
    TargetEstimate,
)

_LAMBDA_LANGUAGES = {"python", "javascript", "typescript", "node", "go", "java", "kotlin", "ruby"}


def internet_needs(ctx: StackContext) -> list[str]:
    """What the app reaches outside the VPC besides its database (then a function in the
    VPC would need a NAT gateway); empty when it reaches only the database."""
    from chalicelib.generate.plan import GENERATED_SECRET_NAMES

    needs = []
    if ctx.object_storage:
        needs.append("uses an S3 bucket")
    if ctx.external:
        needs.append("uses " + ", ".join(e.label for e in ctx.external))
    third_party = [n for n in ctx.secrets if n not in GENERATED_SECRET_NAMES]
    if third_party:
        needs.append("holds keys of outside services (" + ", ".join(third_party[:3]) + ")")
    return needs


def why_not(target: Target, ctx: StackContext) -> list[str]:
    """Plain reasons why ``target`` does not fit the app; empty when it fits."""
    reasons: list[str] = []
    kind = ctx.app.kind
    if target == "static":
        if kind != "static":
            reasons.append(f"the app is a {kind} app that runs a server, not a static site")
        if [s for s in ctx.services if s != "object_storage"]:
            reasons.append("a static site cannot use a database or cache")
    elif target == "lambda":
        if kind == "static":
            reasons.append("a static site needs no function: S3 and CloudFront serve it")
        elif kind != "web":
            reasons.append(f"the app is a {kind}, not an HTTP app")
        if ctx.workers:
            reasons.append("it has background workers, which need a process that keeps running")
        if ctx.uses_sqlite:
            reasons.append("it keeps data in a local SQLite file; a function's disk is temporary")
        if ctx.long_connections:
            reasons.append(
                f"{ctx.framework} holds long-lived connections (WebSockets), "
                "which a function behind an HTTP API cannot keep"
            )
        if ctx.redis:
            reasons.append(
                "reaching the cache puts the function in a VPC, where it needs a NAT "
                "gateway (about $33 a month) or VPC endpoints to call AWS"
            )
        elif ctx.database and internet_needs(ctx):
            reasons.append(
                "it reaches the database inside a VPC and also "
                + " and ".join(internet_needs(ctx))
                + ", which from a VPC needs a NAT gateway (about $33 a month)"
            )
        if ctx.language not in _LAMBDA_LANGUAGES and kind != "static":
            reasons.append(f"{ctx.language} apps are not generated for Lambda")
    if target in ("static", "lambda") and ctx.companions:
        reasons.append(
            f"the repository has {len(ctx.companions) + 1} apps to run side by side; "
            f"{target} bundles deploy one"
        )
    elif target == "ecs-fargate":
        if ctx.uses_sqlite:
            reasons.append(
                "it keeps data in a local SQLite file; a Fargate task's disk is lost on restart"
            )
    elif target == "ec2" and kind not in ("web", "worker", "static"):
        reasons.append(f"the app is a {kind}")
    return reasons


def _data_lines(ctx: StackContext, prices: PriceTable) -> list[CostLine]:
    lines: list[CostLine] = []
    opts = ctx.options
    db = ctx.database
    if db:
        label = "PostgreSQL" if db == "postgres" else "MySQL"
        item = f"rds.{opts.db_instance_class}.{db}"
        if item not in prices.items:  # larger classes: scale the micro price by size
            item = f"rds.db.t4g.micro.{db}"
        factor = 2.0 if opts.db_instance_class.endswith("small") else 1.0
        lines.append(prices.hourly_line(f"RDS {label} {opts.db_instance_class}", item, factor))
        lines.append(
            prices.line(
                f"RDS storage ({opts.db_storage_gb} GB gp3)",
                "rds.storage.gp3",
                opts.db_storage_gb,
                note="backups up to the database size are free",
            )
        )
        lines.append(
            prices.line("Secrets Manager secret (database password)", "secretsmanager.secret", 1)
        )
    if ctx.redis:
        factor = 2.0 if ctx.options.cache_node_type.endswith("small") else 1.0
        lines.append(
            prices.hourly_line(
                f"ElastiCache Redis {opts.cache_node_type}", "elasticache.cache.t4g.micro", factor
            )
        )
    if ctx.object_storage:
        gb = prices.assumption("object_storage_gb")
        lines.append(
            prices.line(
                f"S3 bucket for files ({gb:g} GB)",
                "s3.standard.storage",
                gb,
                note="assumed stored volume",
            )
        )
    return lines


def _log_line(prices: PriceTable) -> CostLine:
    gb = prices.assumption("log_ingestion_gb_month")
    return prices.line(
        "CloudWatch Logs ingestion",
        "cloudwatch.logs.ingestion",
        gb,
        note=f"assumed {gb:g} GB of logs a month",
    )


def _transfer_line(prices: PriceTable) -> CostLine:
    gb = prices.assumption("data_transfer_out_gb_month")
    return prices.line(
        "Data transfer out to the internet",
        "data_transfer.out",
        gb,
        note=f"assumed {gb:g} GB a month",
    )


def _zone_line(prices: PriceTable) -> CostLine:
    return prices.line(
        "Route 53 hosted zone of the domain",
        "route53.hosted_zone",
        1,
        note="an existing zone; already paid if it serves other records (alias queries are free)",
    )


def _ecr_line(prices: PriceTable, images: int = 1) -> CostLine:
    gb = prices.assumption("container_image_gb") * images
    what = f"{images} images" if images > 1 else "images"
    return prices.line("ECR image storage", "ecr.storage", gb, note=f"assumed {gb:g} GB of {what}")


def estimate_lines(target: Target, ctx: StackContext, prices: PriceTable) -> list[CostLine]:
    opts = ctx.options
    requests_m = prices.assumption("requests_per_month") / 1_000_000
    if target == "static":
        gb = prices.assumption("static_site_storage_gb")
        out_gb = prices.assumption("data_transfer_out_gb_month")
        site = [
            prices.line(f"S3 storage for the site ({gb:g} GB)", "s3.standard.storage", gb),
            prices.line(
                "CloudFront data out",
                "cloudfront.data_out",
                out_gb,
                note=f"assumed {out_gb:g} GB a month",
            ),
            prices.line(
                "CloudFront HTTPS requests",
                "cloudfront.https_requests",
                requests_m * 100,
                note=f"assumed {requests_m:g}M requests a month",
            ),
            prices.line(
                "S3 GET requests from CloudFront (cache misses)",
                "s3.requests.get",
                requests_m * 100,
                note="assumed 10% of requests miss the cache",
            ),
        ]
        return [_zone_line(prices), *site] if opts.domain else site
    lines: list[CostLine] = []
    if target == "lambda":
        seconds = prices.assumption("lambda_avg_duration_ms") / 1000
        gb_s = requests_m * 1_000_000 * seconds * opts.lambda_memory_mb / 1024
        lines += [
            prices.line(
                "Lambda requests",
                "lambda.requests",
                requests_m,
                note=f"assumed {requests_m:g}M requests a month",
            ),
            prices.line(
                "Lambda compute",
                "lambda.duration",
                gb_s,
                note=f"{seconds * 1000:g} ms average at {opts.lambda_memory_mb} MB",
            ),
            prices.line("API Gateway HTTP API requests", "apigateway.http.requests", requests_m),
            prices.line(
                "X-Ray traces (active tracing)",
                "xray.traces.recorded",
                requests_m,
                note="default sampling records the first request each second and 5% of the "
                "rest: at this volume nearly every request",
            ),
            _ecr_line(prices),
        ]
    elif target == "ec2":
        item = f"ec2.{opts.instance_type}"
        factor = 1.0
        if item not in prices.items:  # .small is twice .micro
            item, factor = item.replace("small", "micro"), 2.0
        lines += [
            prices.hourly_line(f"EC2 {opts.instance_type} instance", item, factor),
            prices.line(
                f"EBS gp3 root volume ({opts.root_volume_gb} GB)", "ebs.gp3", opts.root_volume_gb
            ),
            prices.hourly_line("Public IPv4 address (Elastic IP)", "vpc.public_ipv4"),
            _ecr_line(prices, 1 + len(ctx.companions)),
        ]
    elif target == "ecs-fargate":
        tasks = opts.desired_count * (1 + len(ctx.workers) + len(ctx.companions))
        vcpu = opts.task_cpu / 1024 * tasks
        mem_gb = opts.task_memory_mb / 1024 * tasks
        lcu = prices.assumption("alb_lcu")
        lines += [
            prices.hourly_line(
                f"Fargate vCPU ({tasks} task(s) x {opts.task_cpu / 1024:g} vCPU)",
                "fargate.x86.vcpu",
                vcpu,
            ),
            prices.hourly_line(
                f"Fargate memory ({tasks} task(s) x {opts.task_memory_mb / 1024:g} GB)",
                "fargate.x86.memory",
                mem_gb,
            ),
        ]
        if ctx.app.kind != "worker":  # a worker gets no load balancer
            lines += [
                prices.hourly_line("Application Load Balancer", "alb.hour"),
                prices.hourly_line(
                    "ALB capacity units", "alb.lcu", lcu, note=f"assumed {lcu:g} LCU"
                ),
                prices.hourly_line(
                    "Public IPv4 addresses of the ALB (2 zones)", "vpc.public_ipv4", 2
                ),
            ]
        lines += [
            prices.hourly_line(
                f"Public IPv4 addresses of the tasks ({tasks})",
                "vpc.public_ipv4",
                tasks,
                note="tasks run in public subnets instead of behind a NAT gateway",
            ),
            _ecr_line(prices, 1 + len(ctx.companions)),
        ]
    lines.append(_log_line(prices))
    lines.append(_transfer_line(prices))
    lines += _data_lines(ctx, prices)
    if opts.domain:
        lines.append(_zone_line(prices))
    return lines


def estimate(target: Target, ctx: StackContext, prices: PriceTable) -> TargetEstimate:
    lines = estimate_lines(target, ctx, prices)
    reasons = why_not(target, ctx)
    return TargetEstimate(
        target=target,
        fits=not reasons,
        why_not=reasons,
        lines=lines,
        monthly_usd=round(sum(line.monthly_usd for line in lines), 2),
        monthly_free_tier_usd=round(sum(line.monthly_free_tier_usd for line in lines), 2),
    )


def cost_summary(ctx: StackContext, prices: PriceTable) -> CostSummary:
    assumptions = [f"{a.value:,g} {a.unit}: {a.why}" for a in prices.assumptions.values()]
    assumptions.insert(
        0, f"{prices.hours_per_month:g} hours a month, {prices.pricing_model} list prices"
    )
    for service in ctx.external:
        assumptions.append(
            f"{service.label} is not provisioned by this bundle and not priced here "
            f"(bring your own: {service.alternative})"
        )
    if ctx.region != prices.region:
        assumptions.insert(0, f"priced for {prices.region}; prices in {ctx.region} may differ")
    return CostSummary(
        region=ctx.region,
        priced_region=prices.region,
        currency=prices.currency,
        prices_as_of=prices.as_of,
        hours_per_month=prices.hours_per_month,
        assumptions=assumptions,
        targets=[estimate(t, ctx, prices) for t in TARGETS],
    )


def _server_reasons(ctx: StackContext) -> list[str]:
    """Why the app needs a server that keeps running, in plain words."""
    reasons = []
    if ctx.uses_sqlite:
        reasons.append("It keeps data in a local SQLite file, which needs a disk that lasts.")
    if ctx.workers:
        reasons.append("It runs background workers, which need processes that keep running.")
    if ctx.long_connections:
        reasons.append(
            "It holds long-lived connections (WebSockets), which a function cannot keep."
        )
    if ctx.database or ctx.redis:
        reasons.append(
            "It uses a database or cache in a private network; a Lambda function there "
            "would need a NAT gateway (about $33 a month) to reach AWS, "
            "more than a small server costs."
        )
    if ctx.app.kind == "worker":
        reasons.append("It is a background worker, not an HTTP app.")
    return reasons or ["It runs as a long-lived server process."]


def recommend(ctx: StackContext, cost: CostSummary) -> Recommendation:
    by_target = {e.target: e for e in cost.targets}
    fitting = [e for e in cost.targets if e.fits]
    if not fitting:  # ec2 fits every app the context accepts; keep a clear answer anyway
        fitting = [by_target["ec2"]]
    best = min(fitting, key=lambda e: (e.monthly_usd, TARGETS.index(e.target)))
    usd = f"${best.monthly_usd:.2f}"
    reasons: list[str]
    if best.target == "static":
        reasons = [
            "The app is a static site: a private S3 bucket behind CloudFront serves it with no "
            "server to run or patch.",
            f"It costs about {usd} a month at list price "
            f"(${best.monthly_free_tier_usd:.2f} within CloudFront's always-free allowance).",
        ]
    elif best.target == "lambda":
        reasons = [
            "The app is a stateless HTTP app with no background workers, local files or "
            "long-lived connections, so it fits a Lambda function behind an HTTP API.",
            f"It costs about {usd} a month at the assumed traffic and nothing while idle; a "
            "server would cost the same whether used or not.",
        ]
    elif best.target == "ec2":
        reasons = _server_reasons(ctx)
        fargate = by_target["ecs-fargate"]
        compare = (
            f" (Fargate with a load balancer: ${fargate.monthly_usd:.2f})" if fargate.fits else ""
        )
        reasons.append(
            f"One {ctx.options.instance_type} running the app with Docker costs about {usd} "
            f"a month, the cheapest target that fits{compare}."
        )
        if ctx.uses_sqlite:
            reasons.append("The SQLite file lives on the instance's encrypted EBS volume.")
    else:
        reasons = [
            *_server_reasons(ctx),
            f"Fargate runs it without a server to manage, for about {usd} a month.",
        ]
    alternatives = []
    for est in cost.targets:
        if est.target == best.target:
            continue
        if est.fits:
            diff = est.monthly_usd - best.monthly_usd
            summary = f"fits; about ${est.monthly_usd:.2f} a month (${diff:+.2f})"
        else:
            summary = "does not fit: " + "; ".join(est.why_not)
        alternatives.append(
            Alternative(
                target=est.target, fits=est.fits, monthly_usd=est.monthly_usd, summary=summary
            )
        )
    return Recommendation(target=best.target, reasons=reasons, alternatives=alternatives)
