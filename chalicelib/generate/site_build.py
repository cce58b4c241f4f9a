"""What CodeBuild runs for a static site: the plan's build, then the upload of one release.

The bundle's buildspec (``templates/terraform/buildspec.yml.j2``, static branch) renders
these steps. The site goes to ``releases/$IMAGE_TAG/`` of the site bucket (the deploy
passes the source's content hash as ``IMAGE_TAG``); the deploy then points CloudFront's
origin path at that prefix (``runner/shipping/aws_static.py``), so a release is switched
(and rolled back) at once and is never half uploaded while it serves.

Cache-Control: a file in a folder that node bundlers fill with content-hashed names
(``assets/`` of Vite, ``_astro/``, ``_next/static/``, ``_app/immutable/``) never changes
under its name, so browsers keep it a year; everything else (``index.html`` first, and
every file of a Hugo, Jekyll or MkDocs site) is ``no-cache``: browsers revalidate it, so a
new release shows on the next visit. (A file a Vite site copies verbatim from
``public/assets/`` gets the year too: rename it when it changes.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.generate import escaping
from chalicelib.generate.stack import StackContext
from chalicelib.models.plan import AppPlan

RELEASE_DESTINATION = '"s3://$SITE_BUCKET/releases/$IMAGE_TAG/"'
HASHED_FOLDERS = ("assets/*", "_astro/*", "_next/static/*", "_app/immutable/*")
LONG_CACHE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
NO_OUTPUT_HINT = "is the plan's static output folder right?"
# The CodeBuild image's runtimes (aws/codebuild/amazonlinux2-x86_64-standard:5.0).
RUNTIMES = {"node": ("nodejs", "22"), "python": ("python", "3.12"), "ruby": ("ruby", "3.3"),
            "hugo": ("golang", "1.23")}  # fmt: skip
# Hugo has no package on the image: go install checks the module against Go's checksum DB.
HUGO_INSTALL = (
    "CGO_ENABLED=0 go install github.com/gohugoio/hugo@v0.139.0 && "
    'ln -sf "$(go env GOPATH)/bin/hugo" /usr/local/bin/hugo'
)


@dataclass(frozen=True)
class SiteBuild:
    """The static buildspec's facts (commands are shell lines, user values quoted)."""

    runtime: tuple[str, str] | None
    folder: str  # cd here first: the app's folder, where the plan's commands run
    install: list[str] = field(default_factory=list)
    build: list[str] = field(default_factory=list)
    upload: list[str] = field(default_factory=list)


def site_build(
    ctx: StackContext, plan: AppPlan, tool: str, never_published: tuple[str, ...]
) -> SiteBuild:
    """The steps for ``plan`` built by ``tool`` (``dockerfiles.static_tool``)."""
    if tool == "python":
        install = [
            "if [ -f requirements.txt ]; then pip install --no-cache-dir -r requirements.txt; "
            "else pip install --no-cache-dir mkdocs==1.6.1; fi"
        ]
    elif tool == "ruby":
        install = ["if [ -f Gemfile ]; then bundle install; else gem install jekyll -v 4.3.4; fi"]
    elif tool == "hugo":
        install = [HUGO_INSTALL]
    elif tool == "node":
        install = list(plan.install)
    else:
        install = []
    build = list(plan.build) if tool != "none" else []
    out = escaping.shell_quote(ctx.static_output_dir or ".")
    excludes = " ".join(f"--exclude {escaping.shell_quote(p)}" for p in never_published)
    sync = f"aws s3 sync {out} {RELEASE_DESTINATION} --delete --only-show-errors"
    upload = [
        f'test -d {out} || {{ echo "the build made no output folder ({NO_OUTPUT_HINT})" >&2; '
        "exit 1; }"
    ]
    # Only node bundlers name files by their content; Jekyll's or Hugo's assets/ do not.
    folders = HASHED_FOLDERS if tool == "node" else ()
    if folders:
        hashed = " ".join(f"--include {escaping.shell_quote(p)}" for p in folders)
        long_cache = escaping.shell_quote(LONG_CACHE)
        upload.append(f"{sync} --exclude '*' {hashed} {excludes} --cache-control {long_cache}")
    not_hashed = " ".join(f"--exclude {escaping.shell_quote(p)}" for p in folders)
    upload.append(" ".join(filter(None, [sync, not_hashed, excludes, "--cache-control", NO_CACHE])))
    folder = '"$CODEBUILD_SRC_DIR"' + (
        "" if ctx.app_dir == "." else "/" + escaping.shell_quote(ctx.app_dir)
    )
    return SiteBuild(
        runtime=RUNTIMES.get(tool), folder=folder, install=install, build=build, upload=upload
    )
