"""Class 9: static sites build for their own URL, with submodules and their lockfile."""

from __future__ import annotations

import yaml

from tests.golden.plan_profiles import bundle_of, plan_of, profile


def _hugo(**fields):
    return profile("static", framework="hugo", kind="static", language="html",
                   build_command="hugo --minify", static_output_dir="public", **fields)  # fmt: skip


def test_hugo_builds_for_the_sites_own_url() -> None:
    plan = plan_of(_hugo())
    assert plan.build == ['hugo --minify --baseURL "${SITE_URL:-/}"']
    files = bundle_of(_hugo(), "static").files
    assert "ARG SITE_URL=/" in files["Dockerfile"]
    steps = yaml.safe_load(files[".github/workflows/deploy.yml"])["jobs"]["deploy"]["steps"]
    (build,) = [s for s in steps if s.get("name") == "Build the site"]
    assert '--build-arg SITE_URL="$(terraform -chdir=infra output -raw app_url)/"' in build["run"]
    names = [s.get("name") or s.get("uses") for s in steps]
    assert names.index("Terraform apply") < names.index("Build the site")  # the URL exists


def test_submodules_are_checked_out() -> None:
    files = bundle_of(_hugo(submodules=True), "static").files
    workflow = yaml.safe_load(files[".github/workflows/deploy.yml"])
    for job in workflow["jobs"].values():
        checkout = next(s for s in job["steps"] if s.get("uses") == "actions/checkout@v5")
        assert checkout["with"] == {"submodules": "recursive"}
    plain = yaml.safe_load(bundle_of(_hugo(), "static").files[".github/workflows/deploy.yml"])
    assert "with" not in plain["jobs"]["deploy"]["steps"][0]


def test_a_node_site_installs_from_its_lockfile() -> None:
    prof = profile("static", framework="vite", kind="static", language="javascript",
                   build_command="yarn build", static_output_dir="dist", lockfile="yarn.lock",
                   lockfile_kind="yarn")  # fmt: skip
    plan = plan_of(prof)
    assert (plan.package_manager, plan.install) == ("yarn", ["yarn install --frozen-lockfile"])
    assert (
        'RUN ["/bin/sh", "-c", "yarn install --frozen-lockfile && yarn build"]'
        in bundle_of(prof, "static").files["Dockerfile"]
    )
