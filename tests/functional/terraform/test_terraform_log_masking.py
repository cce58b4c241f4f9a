"""Log lines never carry the runner's credentials or a sensitive variable's value."""

from __future__ import annotations

import secrets
from pathlib import Path

from devtools.local_resources import LocalResources
from runner.masking import MASK
from tests.functional.terraform.bundles import SECRETS, write_bundle
from tests.functional.terraform.harness import LogSink, make_harness


def test_injected_secrets_never_reach_the_log(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    secret_key = "sk-" + secrets.token_hex(16)  # the emulator accepts any key
    session_token = "tok-" + secrets.token_hex(16)
    jwt_key = "jwt-" + secrets.token_hex(16)
    db_password = "pw-" + secrets.token_hex(12)
    harness = make_harness(
        local_resources,
        tmp_path,
        extra_env={
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_SESSION_TOKEN": session_token,
            "AUTOSTACK_JWT_KEY": jwt_key,  # a runner setting: must not even reach Terraform
        },
    )
    source = write_bundle(
        tmp_path / "bundle",
        SECRETS.replace(
            'echo token=$AWS_SESSION_TOKEN"',
            'echo token=$AWS_SESSION_TOKEN; echo jwt=[$AUTOSTACK_JWT_KEY]"',
        ),
    )
    ws = harness.runner.workspace("dep4", source, harness.backend("dep4"))
    run = harness.context(secrets=(db_password,), db_password=db_password)
    harness.runner.init(ws, run)
    harness.runner.plan(ws, run)
    harness.runner.apply(ws, run)
    outputs = harness.runner.outputs(ws, run)

    sink = run.on_line
    assert isinstance(sink, LogSink)
    log = sink.text()
    for secret in (secret_key, session_token, jwt_key, db_password):
        assert secret not in log
    # The values were really printed (and masked), not merely absent.
    assert f"key={MASK}" in log
    assert f"token={MASK}" in log
    assert f'input  = "{MASK}"' in log  # nonsensitive() made Terraform print the password
    assert "jwt=[]" in log  # the runner's own settings are not in Terraform's environment
    assert outputs["password"].sensitive and outputs["password"].value is None
