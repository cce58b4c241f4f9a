"""Test helpers for the template generator: decoding literals, rendering bundle trees."""

from __future__ import annotations

from pathlib import Path

from chalicelib.generate import TargetNotSuitableError, generate_bundle
from chalicelib.models.profile import StackProfile
from chalicelib.models.templates import TARGETS, GeneratedBundle, TemplateOptions, TemplateRequest
from tests.golden.stack_profiles import PROFILES

_SIMPLE = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}


def decode_hcl_string(literal: str) -> str:
    """The value of a quoted HCL string literal, scanned left to right as HCL does.

    Fails on a live ``${`` or ``%{`` (an interpolation or directive is code, not data).
    Checked against Terraform itself in test_gen_terraform_eval.py.
    """
    assert literal.startswith('"') and literal.endswith('"'), literal
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        if body.startswith(("$${", "%%{"), i):
            out.append(body[i + 1 : i + 3])
            i += 3
        elif body.startswith(("${", "%{"), i):
            raise AssertionError(f"live template sequence in {literal}")
        elif body[i] == "\\":
            code = body[i + 1]
            if code in "uU":
                width = 4 if code == "u" else 8
                out.append(chr(int(body[i + 2 : i + 2 + width], 16)))
                i += 2 + width
            else:
                out.append(_SIMPLE[code])
                i += 2
        else:
            assert body[i] != '"', f"unescaped quote in {literal}"
            out.append(body[i])
            i += 1
    return "".join(out)


def all_bundles() -> dict[tuple[str, str], GeneratedBundle]:
    """Every fixture stack x every target that fits it."""
    bundles: dict[tuple[str, str], GeneratedBundle] = {}
    for name, factory in PROFILES.items():
        for target in TARGETS:
            try:
                bundles[(name, target)] = generate_bundle(
                    factory(), TemplateRequest(analysis_id="fixture", target=target)
                )
            except TargetNotSuitableError:
                continue
    return bundles


DOMAIN_CASES = (
    ("static_site", "static"),
    ("fastapi_stateless", "lambda"),
    ("go_api", "ec2"),
    ("flask_postgres", "ecs-fargate"),
)


def domain_bundles(domain: str = "app.example.com") -> dict[tuple[str, str], GeneratedBundle]:
    """Representative bundles with a custom domain (certificate, DNS, HTTPS listener)."""
    return {
        (f"{name}-domain", target): generate_bundle(
            PROFILES[name](),
            TemplateRequest(
                analysis_id="fixture", target=target, options=TemplateOptions(domain=domain)
            ),
        )
        for name, target in DOMAIN_CASES
    }


def write_bundle(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        dest = root / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text)


def bundle_for(profile: StackProfile, target: str | None = None) -> GeneratedBundle:
    return generate_bundle(profile, TemplateRequest(analysis_id="fixture", target=target))
