"""Static sites: CodeBuild builds the site into its own prefix, CloudFront's origin moves there.

Each release lives under ``releases/<tag>/`` of the site bucket (the tag is the source's
content hash) and CloudFront's origin path says which one is served. Moving the origin
path is what switches a release, so a rollback is one ``UpdateDistribution`` to a prefix
that is still there: nothing is rebuilt or uploaded again, and no visitor ever sees half
of one release and half of another (re-syncing the previous release over the live files
would be neither instant nor atomic).

- build: ``releases/<tag>.complete`` (a marker outside every served prefix, written here
  once a build's output was checked) -> the same source was built already, no build.
  Otherwise ``aws_build.CodeBuildImages.build_source``: the source zipped to
  ``sources/<tag>.zip``, ``StartBuild`` with ``IMAGE_TAG=<tag>``, followed to its end; the
  buildspec runs the plan's install and build commands and ``aws s3 sync``s the output
  folder to ``releases/<tag>/``. Then the output is checked: the health path's file
  (``index.html`` for ``/``) must be under the prefix, else ``building`` fails.
- release: a static site has no release command.
- roll out: ``GetDistributionConfig`` + ``UpdateDistribution`` (its ETag) with the site
  origin's ``OriginPath`` = ``/releases/<tag>``, waited until ``Deployed``; then
  ``CreateInvalidation`` of ``/*``, waited until completed (the edges cache by the
  viewer's path, which does not change). The pipeline's verify then GETs the site's URL.
- discard / put back: the origin path of the previous release, and an invalidation.

The bundle's Terraform sets the same origin path from ``var.image_tag`` (later plans pass
the live release's tag), so an apply does not move the site back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from runner.shipping.aws_build import CodeBuildImages, error_code
from runner.shipping.aws_target import AwsClients, AwsTarget, Waiter
from runner.shipping.executor import Candidate, LogLine, PhaseFailedError, ReleaseSpec

SITE_ORIGIN_ID = "site-bucket"  # static.tf.j2's origin
INVALIDATE_PATHS = ["/*"]


def release_prefix(tag: str) -> str:
    """Where the build of ``tag`` puts the site (no leading or trailing slash)."""
    return f"releases/{tag}"


def origin_path(tag: str) -> str:
    return "/" + release_prefix(tag)


def marker_key(tag: str) -> str:
    """Beside the release's prefix, not in it: CloudFront never serves it."""
    return release_prefix(tag) + ".complete"


def entry_key(tag: str, health_path: str) -> str:
    """The object CloudFront serves for the plan's health path (``index.html`` for ``/``)."""
    path = health_path.split("?", 1)[0].lstrip("/")
    if not path or path.endswith("/"):
        path += "index.html"
    return f"{release_prefix(tag)}/{path}"


@dataclass
class StaticRollout:
    origin_path: str
    files: int = 0
    previous_origin_path: str | None = None
    """The origin path before the switch; None until the distribution was changed."""


@dataclass
class StaticExecutor:
    clients: AwsClients
    target: AwsTarget
    waiter: Waiter
    name: str = "aws-static"

    # ------------------------------------------------------------------ build

    def build(self, spec: ReleaseSpec, log: LogLine) -> Candidate:
        bucket, tag = self.target.site_bucket, spec.image_tag
        entry = entry_key(tag, spec.plan.health_path)
        if self._exists(marker_key(tag)) and self._exists(entry):
            log(f"s3://{bucket}/{release_prefix(tag)}/ is already built (the same source): "
                "no build")  # fmt: skip
        else:
            CodeBuildImages(self.clients, self.target, self.waiter).build_source(spec, log)
        files = self._count(release_prefix(tag) + "/")
        if not self._exists(entry):
            raise PhaseFailedError(
                "building",
                f"the build left no {entry.rsplit('/', 1)[-1]} at s3://{bucket}/{entry} "
                f"({files} files under the release's prefix): does the plan's build write the "
                f"site to {spec.plan.static_output or 'its output folder'!r}?",
            )
        self.clients.s3.put_object(
            Bucket=bucket, Key=marker_key(tag), ServerSideEncryption="AES256",
            Body=json.dumps({"release_id": spec.release_id, "files": files}).encode(),
            ContentType="application/json",
        )  # fmt: skip
        log(f"s3://{bucket}/{release_prefix(tag)}/ holds the site ({files} files)")
        rollout = StaticRollout(origin_path(tag), files=files)
        return Candidate(spec.release_id, self.target.app_url, handle=rollout)

    def _exists(self, key: str) -> bool:
        try:
            self.clients.s3.head_object(Bucket=self.target.site_bucket, Key=key)
        except Exception as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise PhaseFailedError(
                "building", f"S3 HeadObject of s3://{self.target.site_bucket}/{key} failed: {exc}"
            ) from None
        return True

    def _count(self, prefix: str) -> int:
        """The objects under ``prefix`` (bounded: 10 pages)."""
        count, token = 0, None
        for _ in range(10):
            args: dict[str, Any] = {"Bucket": self.target.site_bucket, "Prefix": prefix}
            if token:
                args["ContinuationToken"] = token
            page = self.clients.s3.list_objects_v2(**args)
            count += int(page.get("KeyCount") or len(page.get("Contents") or []))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
        return count

    # ------------------------------------------------------------------ release

    def run_release(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None:
        log("a static site has no release command")

    # ------------------------------------------------------------------ roll out

    def roll_out(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> str:
        rollout: StaticRollout = candidate.handle
        self._switch(rollout, spec.release_id, log)
        return self.target.app_url

    def put_back(self, image_tag: str, log: LogLine) -> None:
        """Serve ``image_tag``'s release again (a release cut off after its roll-out)."""
        self._switch(StaticRollout(origin_path(image_tag)), f"put-back-{image_tag}", log)

    def _switch(self, rollout: StaticRollout, reference: str, log: LogLine) -> None:
        self._point_origin(rollout, log)
        self._invalidate(reference, log)

    def _point_origin(self, rollout: StaticRollout, log: LogLine) -> None:
        """Set the site origin's path to the rollout's (waited until deployed), noting the
        path it had before the change is asked for (a discard after a timeout needs it)."""
        path = rollout.origin_path
        cloudfront, distribution = self.clients.cloudfront, self.target.distribution_id
        answer = cloudfront.get_distribution_config(Id=distribution)
        config, etag = answer["DistributionConfig"], answer["ETag"]
        origins = (config.get("Origins") or {}).get("Items") or []
        origin = next((o for o in origins if o.get("Id") == SITE_ORIGIN_ID), None)
        if origin is None:
            raise PhaseFailedError(
                "verifying",
                f"CloudFront distribution {distribution} has no {SITE_ORIGIN_ID!r} origin "
                "(was it changed outside the bundle?)",
            )
        previous = str(origin.get("OriginPath") or "")
        rollout.previous_origin_path = previous
        if previous == path:
            log(f"CloudFront {distribution} already serves {path}")
            return
        origin["OriginPath"] = path
        try:
            cloudfront.update_distribution(Id=distribution, IfMatch=etag, DistributionConfig=config)
        except Exception as exc:  # PreconditionFailed: someone changed it meanwhile
            raise PhaseFailedError(
                "verifying", f"CloudFront UpdateDistribution of {distribution} failed: {exc}"
            ) from None
        log(f"CloudFront {distribution}: origin path {previous or '/'} -> {path}")

        def deployed() -> bool | None:
            status = cloudfront.get_distribution(Id=distribution)["Distribution"].get("Status")
            return True if str(status).lower() == "deployed" else None

        self.waiter.until("verifying", f"the deployment of CloudFront {distribution}", deployed)
        log(f"CloudFront {distribution} is deployed")

    def _invalidate(self, reference: str, log: LogLine) -> None:
        cloudfront, distribution = self.clients.cloudfront, self.target.distribution_id
        answer = cloudfront.create_invalidation(
            DistributionId=distribution,
            InvalidationBatch={
                "Paths": {"Quantity": len(INVALIDATE_PATHS), "Items": list(INVALIDATE_PATHS)},
                "CallerReference": f"autostack-{reference}-{self.waiter.clock():.0f}",
            },
        )
        invalidation = answer["Invalidation"]["Id"]
        log(f"CloudFront invalidation {invalidation} of {' '.join(INVALIDATE_PATHS)} created")

        def completed() -> bool | None:
            got = cloudfront.get_invalidation(DistributionId=distribution, Id=invalidation)
            status = str(got["Invalidation"].get("Status", ""))
            return True if status.lower() == "completed" else None

        self.waiter.until("verifying", f"the CloudFront invalidation {invalidation}", completed)
        log(f"CloudFront invalidation {invalidation} completed")

    # ------------------------------------------------------------------ outcome

    def keep(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None:
        log(f"CloudFront serves {candidate.handle.origin_path}; earlier releases stay in "
            "the bucket for rollbacks")  # fmt: skip

    def discard(self, spec: ReleaseSpec, candidate: Candidate, log: LogLine) -> None:
        rollout = candidate.handle
        if not isinstance(rollout, StaticRollout) or rollout.previous_origin_path is None:
            return  # the distribution was never touched
        if rollout.previous_origin_path == rollout.origin_path:
            return
        back = StaticRollout(rollout.previous_origin_path)
        self._switch(back, f"discard-{spec.release_id}", log)
        log(f"CloudFront is back on {rollout.previous_origin_path or '/'}")
