"""Class 2: the package manager and install follow the lockfile; no lockfile, no ``ci``."""

from __future__ import annotations

import pytest

from tests.golden.plan_profiles import bundle_of, plan_of, profile


@pytest.mark.parametrize(
    ("ecosystem", "fields", "manager", "install"),
    [
        ("node", {"lockfile": "package-lock.json", "lockfile_kind": "npm"}, "npm", ["npm ci"]),
        ("node", {"package_manager": "npm"}, "npm", ["npm install"]),
        ("node", {"lockfile": "yarn.lock", "lockfile_kind": "yarn"}, "yarn",
         ["yarn install --frozen-lockfile"]),
        ("node", {"lockfile": "yarn.lock", "lockfile_kind": "yarn-berry"}, "yarn-berry",
         ["corepack enable", "yarn install --immutable"]),
        ("node", {"lockfile": "pnpm-lock.yaml", "lockfile_kind": "pnpm"}, "pnpm",
         ["corepack enable", "pnpm install --frozen-lockfile"]),
        ("node", {"package_manager": "pnpm"}, "pnpm", ["corepack enable", "pnpm install"]),
        ("node", {"lockfile": "bun.lockb", "lockfile_kind": "bun"}, "bun",
         ["bun install --frozen-lockfile"]),
        ("python", {"lockfile": "uv.lock", "lockfile_kind": "uv"}, "uv",
         ["uv sync --frozen --no-dev"]),
        ("python", {"package_manager": "uv"}, "uv", ["uv sync --no-dev"]),
        ("python", {"lockfile": "poetry.lock", "lockfile_kind": "poetry"}, "poetry",
         ["poetry install --only main --no-root --no-interaction"]),
        ("python", {"package_manager": "pip", "install_command": "pip install -r requirements.txt"},
         "pip", ["pip install -r requirements.txt"]),
        ("ruby", {"lockfile": "Gemfile.lock", "lockfile_kind": "bundler"}, "bundler",
         ["bundle config set --local deployment true",
          "bundle config set --local without 'development test'", "bundle install"]),
        ("ruby", {}, "bundler",
         ["bundle config set --local without 'development test'", "bundle install"]),
    ],
)  # fmt: skip
def test_the_lockfile_picks_the_manager_and_a_frozen_install(
    ecosystem, fields, manager, install
) -> None:
    plan = plan_of(profile(ecosystem, **fields))
    assert (plan.package_manager, plan.install) == (manager, install)
    assert plan.lockfile == fields.get("lockfile")


def test_a_uv_workspace_member_installs_from_the_lock_at_the_root() -> None:
    prof = profile("python", path="services/api", name="api", lockfile="uv.lock",
                   lockfile_kind="uv")  # fmt: skip
    plan = plan_of(prof)
    assert plan.path == "services/api"
    assert plan.install == ["uv sync --frozen --no-dev --package api"]


def test_the_dockerfile_runs_the_plans_install() -> None:
    prof = profile("node", lockfile="pnpm-lock.yaml", lockfile_kind="pnpm",
                   build_command="pnpm run build", start_command="node dist/main.js")  # fmt: skip
    dockerfile = bundle_of(prof, "ec2").files["Dockerfile"]
    # install and build in one RUN (hadolint DL3059), in the plan's order
    steps = "corepack enable && pnpm install --frozen-lockfile && pnpm run build"
    assert f'RUN ["/bin/sh", "-c", "{steps}"]' in dockerfile
    assert "npm ci" not in dockerfile and "npm prune" not in dockerfile


def test_the_ci_test_job_installs_as_the_plan_says() -> None:
    import yaml

    prof = profile("python", lockfile="uv.lock", lockfile_kind="uv")
    workflow = yaml.safe_load(bundle_of(prof, "ec2").files[".github/workflows/deploy.yml"])
    steps = workflow["jobs"]["test"]["steps"]
    assert {"uses": "astral-sh/setup-uv@v7"} in steps
    assert {"name": "Install dependencies", "run": "uv sync --frozen --no-dev"} in steps


def test_a_workspace_member_image_builds_from_the_root_that_holds_the_lock() -> None:
    import yaml

    prof = profile("python", path="services/api", name="api", lockfile="uv.lock",
                   lockfile_kind="uv", framework="fastapi")  # fmt: skip
    plan = plan_of(prof)
    assert (plan.path, plan.context) == ("services/api", ".")
    files = bundle_of(prof, "ec2").files
    dockerfile = files["services/api/Dockerfile"]
    assert dockerfile.count("WORKDIR /app/services/api") == 2  # build and runtime stages
    assert "services/api/Dockerfile.dockerignore" in files
    workflow = yaml.safe_load(files[".github/workflows/deploy.yml"])
    (build,) = [s for s in workflow["jobs"]["build"]["steps"] if s.get("name") == "Build the image"]
    assert build["run"].endswith("-t app:ci -f services/api/Dockerfile .")
    app = yaml.safe_load(files["docker-compose.yml"])["services"]["app"]
    assert app["build"] == {"context": ".", "dockerfile": "services/api/Dockerfile"}


def test_an_app_with_its_own_lock_builds_from_its_folder() -> None:
    prof = profile("node", path="web", name="web", lockfile="web/package-lock.json",
                   lockfile_kind="npm")  # fmt: skip
    assert plan_of(prof).context == "web"
    assert "WORKDIR /app\n" in bundle_of(prof, "ec2").files["web/Dockerfile"]
