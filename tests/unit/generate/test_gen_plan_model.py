"""The app plan contract: built from a profile, one plan per deployed app."""

from __future__ import annotations

from chalicelib.generate.plan import build_app_plans
from chalicelib.models.plan import AppPlan
from chalicelib.models.profile import App, Framework, Languages, Port, StackProfile
from chalicelib.models.templates import TemplateRequest


def _profile() -> StackProfile:
    return StackProfile(
        languages=Languages(primary="python"),
        apps=[
            App(
                path=".",
                name="shop",
                language="python",
                kind="web",
                ecosystem="python",
                package_manager="pip",
                install_command="pip install -r requirements.txt",
                framework=Framework(name="flask"),
                port=Port(value=5000, source="code"),
            )
        ],
    )


def test_a_profile_gives_one_plan_per_app_that_round_trips() -> None:
    plans = build_app_plans(_profile(), TemplateRequest(analysis_id="a1"))
    assert len(plans) == 1
    plan = plans[0]
    assert (plan.path, plan.package_manager, plan.port) == (".", "pip", 5000)
    # no start command: the plan serves the Flask app with gunicorn, and installs it
    assert plan.install == ["pip install -r requirements.txt", "pip install gunicorn==23.0.0"]
    assert plan.start == "gunicorn --bind 0.0.0.0:$PORT app:app"
    assert plan.toolchain.language == "python"
    assert AppPlan.model_validate(plan.model_dump(mode="json")) == plan
