"""Class 13: SQLite data lives on the persistent volume, mounted and pointed at."""

from __future__ import annotations

from tests.golden.plan_profiles import bundle_of, env_var, plan_of, profile


def test_the_apps_sqlite_setting_points_at_the_volume() -> None:
    prof = profile("python", framework="flask", services=("sqlite",),
                   env=[env_var("DATABASE_URL", default="sqlite:///dev.db"),
                        env_var("UPLOAD_DIR")])  # fmt: skip
    plan = plan_of(prof)
    (binding,) = plan.services
    assert (binding.kind, binding.env) == (
        "sqlite",
        {"DATABASE_URL": "sqlite:////data/app.sqlite3"},
    )
    assert plan.data_dir == "/data"
    assert "DATABASE_URL" not in {e.name for e in plan.env}  # the service sets it


def test_ec2_mounts_the_volume_and_sets_the_path() -> None:
    prof = profile("python", framework="flask", services=("sqlite",),
                   env=[env_var("SQLITE_PATH", default="./dev.db")])  # fmt: skip
    files = bundle_of(prof, "ec2").files
    assert '"SQLITE_PATH" = "/data/app.sqlite3"' in files["infra/environment.tf"]
    user_data = files["infra/user_data.sh.tftpl"]
    assert "install -d -m 0750 -o 10001 -g 10001 /var/lib/autostack/data" in user_data
    assert 'STATE_DIR + "/data:/data"' in user_data
    assert "app-data:/data" in files["docker-compose.yml"]
