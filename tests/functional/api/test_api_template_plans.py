"""The app plans in the template API's answers (POST and GET), against the emulator."""

from __future__ import annotations

from chalicelib.context import AppContext
from tests.functional.api.conftest import Api
from tests.functional.api.test_api_templates import _analysis
from tests.golden.plan_profiles import env_var, profile


def test_plans_are_in_the_answer_and_named_after_the_project(
    api: Api, api_context: AppContext
) -> None:
    token = api.user("plans@example.com")
    status, project, _ = api.call("POST", "/projects", {"name": "billing"}, token=token)
    assert status == 201, project
    prof = profile(
        "python",
        name="app",
        framework="django",
        services=("postgres",),
        lockfile="uv.lock",
        lockfile_kind="uv",
        env=[env_var("DJANGO_SECRET_KEY", secret=True)],
    )
    _analysis(api_context, project["id"], "job1", "succeeded", prof)
    status, bundle, _ = api.call(
        "POST",
        f"/projects/{project['id']}/templates",
        {"analysis_id": "job1", "target": "ecs-fargate"},
        token=token,
    )
    assert status == 201, bundle
    (plan,) = bundle["plans"]
    assert plan["name"] == "billing"
    assert plan["install"] == ["uv sync --frozen --no-dev"]
    assert plan["release"] == ["python manage.py migrate --noinput"]
    assert plan["secrets"] == [
        {"name": "DJANGO_SECRET_KEY", "kind": "generated", "generator": "alnum64",
         "source": "app/settings.py"}
    ]  # fmt: skip
    status, read, _ = api.call(
        "GET", f"/projects/{project['id']}/templates/{bundle['id']}", token=token
    )
    assert status == 200 and read["plans"] == bundle["plans"]
    assert 'default     = "billing"' in read["contents"]["infra/variables.tf"]


def test_an_unsupported_runtime_is_refused_with_the_fix(api: Api, api_context: AppContext) -> None:
    token = api.user("plans-old@example.com")
    status, project, _ = api.call("POST", "/projects", {"name": "legacy"}, token=token)
    assert status == 201, project
    prof = profile("python", runtime_version="2.7", runtime_source=".python-version")
    _analysis(api_context, project["id"], "job1", "succeeded", prof)
    status, error, _ = api.call(
        "POST", f"/projects/{project['id']}/templates", {"analysis_id": "job1"}, token=token
    )
    assert status == 422, error
    assert error["error"]["code"] == "generation_refused"
    assert "Fix: declare one of them in" in error["error"]["message"]
