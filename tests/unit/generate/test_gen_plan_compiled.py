"""Class 4: compiled apps ship the folders they read at run time and start the built binary."""

from __future__ import annotations

import json
import re

from tests.golden.plan_profiles import bundle_of, plan_of, profile


def test_go_copies_templates_static_and_config_beside_the_binary() -> None:
    prof = profile("go", framework="gin", runtime_dirs=["templates", "static", "config"],
                   start_command="./shop")  # fmt: skip
    plan = plan_of(prof)
    assert plan.runtime_files == ["bin/server", "templates", "static", "config"]
    assert plan.build == ["CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/server ."]
    assert plan.start == "exec ./bin/server"
    dockerfile = bundle_of(prof, "ec2").files["Dockerfile"]
    copies = re.findall(r"^COPY --from=build --chown=app:app (.*)$", dockerfile, re.M)
    assert [json.loads(c) for c in copies] == [
        ["/app/bin/server", "/app/bin/server"],
        ["/app/templates", "/app/templates"],
        ["/app/static", "/app/static"],
        ["/app/config", "/app/config"],
    ]
    assert dockerfile.rstrip().endswith('CMD ["/bin/sh", "-c", "exec ./bin/server"]')


def test_a_procfile_naming_the_installed_binary_is_rewritten_to_the_built_one() -> None:
    plan = plan_of(profile("go", name="shop", start_command="shop serve --port $PORT"))
    assert plan.start == "exec ./bin/server serve --port $PORT"
    rust = plan_of(profile("rust", name="edge", start_command="target/release/edge --prod"))
    assert rust.start == "exec ./bin/server --prod"
    assert rust.build[-1] == "mkdir -p bin && cp target/release/edge bin/server"


def test_a_start_command_of_another_program_is_kept() -> None:
    plan = plan_of(profile("go", name="shop", start_command="sh ./run.sh"))
    assert plan.start == "sh ./run.sh"


def test_rust_builds_locked_when_cargo_lock_exists() -> None:
    plan = plan_of(profile("rust", name="edge", lockfile="Cargo.lock", lockfile_kind="cargo",
                           runtime_dirs=["templates"]))  # fmt: skip
    assert plan.install == ["cargo fetch --locked"]
    assert plan.build[0] == "cargo build --release --locked --bin edge"
    assert plan.runtime_files == ["bin/server", "templates"]
