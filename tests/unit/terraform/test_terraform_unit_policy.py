"""The bundle policy's rules, on the loader's output shape (pure)."""

from __future__ import annotations

from typing import Any

from runner.terraform_policy import BundlePolicy, PolicyViolation

AWS = "registry.terraform.io/hashicorp/aws"
BUILTIN = "terraform.io/builtin/terraform"


def module(**parts: Any) -> dict[str, Any]:
    return {"dir": ".", "errors": 0, "providers": [], "resources": [], "calls": []} | parts


def resource(address: str, provider: str = BUILTIN, **extra: Any) -> dict[str, Any]:
    mode = "data" if address.startswith("data.") else "managed"
    rtype = address.split(".")[-2]
    return {
        "address": address,
        "mode": mode,
        "type": rtype,
        "provider": provider,
        "provisioners": [],
        "file": "main.tf",
        "line": 3,
    } | extra


def test_a_generated_style_module_passes() -> None:
    clean = module(
        providers=[{"name": "aws", "type": AWS, "file": "versions.tf", "line": 5}],
        resources=[resource("aws_instance.app", AWS), resource("data.aws_ami.base", AWS)],
        calls=[{"name": "net", "source": "./net", "file": "main.tf", "line": 9}],
    )
    assert BundlePolicy().check([clean]) == []


def test_provisioners_are_refused_unless_allowed() -> None:
    mod = module(resources=[resource("terraform_data.x", provisioners=["local-exec"])])
    assert BundlePolicy().check([mod]) == [
        PolicyViolation(
            "main.tf",
            3,
            'terraform_data.x: provisioner "local-exec" is not allowed (it would run commands'
            " on AutoStack's runner)",
        )
    ]
    assert BundlePolicy(allow_provisioners=True).check([mod]) == []


def test_unknown_providers_remote_state_and_remote_modules_are_refused() -> None:
    mod = module(
        providers=[
            {"name": "evil", "type": "registry.terraform.io/x/evil", "file": "v.tf", "line": 2}
        ],
        resources=[
            resource("data.external.run", "registry.terraform.io/hashicorp/external"),
            resource("data.terraform_remote_state.other"),
        ],
        calls=[
            {
                "name": "remote",
                "source": "git::https://x",
                "file": "main.tf",
                "line": 7,
                "problem": "only local module sources (./...) are allowed, not 'git::https://x'",
            }
        ],
    )
    messages = [str(v) for v in BundlePolicy().check([mod])]
    assert messages == [
        "v.tf:2: provider registry.terraform.io/x/evil is not allowed on AutoStack's runner",
        "main.tf:3: data.external.run: provider registry.terraform.io/hashicorp/external is not"
        " allowed on AutoStack's runner",
        "main.tf:3: data.terraform_remote_state.other: reading another Terraform state is not"
        " allowed",
        "main.tf:7: module remote: only local module sources (./...) are allowed, not"
        " 'git::https://x'",
    ]


def test_a_module_with_syntax_errors_is_left_to_terraform() -> None:
    broken = module(errors=2, resources=[resource("terraform_data.x", provisioners=["local-exec"])])
    assert BundlePolicy().check([broken]) == []
