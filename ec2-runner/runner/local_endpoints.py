"""The local stage: point a bundle's AWS provider at the emulator, bundle unchanged.

In the local stage (``AUTOSTACK_STAGE=local``) there is no AWS account: every AWS
call goes to the emulator at ``AWS_ENDPOINT_URL``. The runner copies the bundle
into its workspace, then writes ``autostack_local_override.tf`` beside it. By
Terraform's override-file rules (files named ``override.tf`` or ``*_override.tf``
are merged into the configuration after the others, argument by argument, and a
nested block such as ``endpoints`` replaces the bundle's own) this gives each
``provider "aws"`` configuration of the root module (the default one and every
alias):

- ``endpoints`` for every AWS service generated bundles use, all at the emulator;
- ``s3_use_path_style`` (the emulator serves ``<endpoint>/<bucket>``, no DNS names);
- ``skip_credentials_validation``, ``skip_requesting_account_id``,
  ``skip_metadata_api_check``, ``skip_region_validation`` (calls only real AWS
  answers, and no instance metadata service).

The bundle's own ``assume_role { role_arn, external_id }`` stays: it is sent to the
emulator's STS (``endpoints.sts``), so the deploy role is assumed as in AWS. The
same bundle plans and applies in AWS without the file.

A bundle with no ``provider "aws"`` block of its own but AWS resources (the
provider's implied empty configuration) gets the settings as a plain provider
block in ``autostack_local_provider.tf`` instead: an override needs a block to
override. Both names are reserved: a bundle carrying either is refused, and so is
a bundle with an override file of its own (it would be merged after ours in
lexical order; the runner's bundle policy refuses user override files anyway).

Provider blocks inside a bundle's nested modules are not overridden (generated
bundles have none; a user bundle relying on them would reach real AWS endpoints
and fail for want of credentials, since the runner has only the emulator's).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

OVERRIDE_FILE = "autostack_local_override.tf"
PROVIDER_FILE = "autostack_local_provider.tf"
RESERVED_FILES = (OVERRIDE_FILE, PROVIDER_FILE)

# Endpoint names of the provider's ``endpoints`` block that exist in both 5.100 and 6.x
# (the canonical names; 6.0 dropped some aliases). They cover every service of the
# generated targets (static, lambda, ec2, ecs-fargate, domains) and what a shipping step
# adds (CodeBuild, EventBridge, Secrets Manager, KMS, SQS, SNS, DynamoDB).
SERVICES = (
    "acm",
    "apigateway",
    "apigatewayv2",
    "autoscaling",
    "cloudfront",
    "cloudwatch",
    "codebuild",
    "dynamodb",
    "ec2",
    "ecr",
    "ecs",
    "elasticache",
    "elbv2",
    "events",
    "iam",
    "kms",
    "lambda",
    "logs",
    "rds",
    "route53",
    "s3",
    "secretsmanager",
    "sns",
    "sqs",
    "ssm",
    "sts",
)

_SKIPS = (
    "skip_credentials_validation",
    "skip_metadata_api_check",
    "skip_region_validation",
    "skip_requesting_account_id",
)
_PROVIDER_AWS = re.compile(r'^[ \t]*provider[ \t]+"?aws"?[ \t]*\{', re.MULTILINE)
_ALIAS = re.compile(r'^[ \t]*alias[ \t]*=[ \t]*"([A-Za-z_][A-Za-z0-9_-]*)"[ \t]*$', re.MULTILINE)
_USES_AWS = re.compile(r'(?:resource|data)[ \t]+"aws_|"hashicorp/aws"|"aws_[a-z0-9_]+"[ \t]*:')
_OVERRIDE_NAME = re.compile(r"^(?:override|.*_override)\.tf(?:\.json)?$")
_ALIAS_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")


class LocalEndpointsError(ValueError):
    """A setting is missing or invalid, or a bundle cannot be pointed at the emulator."""


@dataclass(frozen=True)
class LocalEndpoints:
    """The emulator every AWS provider configuration of a local-stage bundle talks to."""

    endpoint_url: str

    def __post_init__(self) -> None:
        parts = urlsplit(self.endpoint_url)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.query
            or parts.fragment
            or not re.fullmatch(r"[A-Za-z0-9.:/_\[\]-]+", self.endpoint_url)
        ):
            raise LocalEndpointsError(
                f"AWS_ENDPOINT_URL: {self.endpoint_url!r} is not an http(s) URL of the emulator"
            )

    def provider_settings(self) -> str:
        """The body of one ``provider "aws"`` block (without ``alias``)."""
        width = max(len(name) for name in (*_SKIPS, "s3_use_path_style"))
        lines = [f"  {'s3_use_path_style'.ljust(width)} = true"]
        lines += [f"  {name.ljust(width)} = true" for name in _SKIPS]
        lines += ["", "  endpoints {"]
        service_width = max(len(name) for name in SERVICES)
        lines += [f'    {name.ljust(service_width)} = "{self.endpoint_url}"' for name in SERVICES]
        lines.append("  }")
        return "\n".join(lines)

    def render(self, aliases: list[str | None]) -> str:
        """Provider blocks for the given configurations (None = the default one)."""
        blocks = ["# Written by the AutoStack runner (local stage): AWS is the emulator."]
        for alias in aliases:
            head = 'provider "aws" {'
            if alias is not None:
                head += f'\n  alias = "{alias}"\n'
            blocks.append(f"{head}\n{self.provider_settings()}\n}}")
        return "\n\n".join(blocks) + "\n"

    def write(self, workspace: Path) -> list[Path]:
        """Write the override (and, if needed, the provider) file into a copied bundle.

        Returns the files written: none for a bundle that does not use AWS."""
        for path in workspace.iterdir():
            if path.name in RESERVED_FILES:
                raise LocalEndpointsError(
                    f"{path.name}: this file name is reserved for the local stage's endpoints"
                )
            if _OVERRIDE_NAME.match(path.name):
                raise LocalEndpointsError(
                    f"{path.name}: override files are not allowed in a bundle (in the local "
                    "stage AutoStack writes its own)"
                )
        configured, uses_aws = aws_provider_configs(workspace)
        if not configured and not uses_aws:
            return []
        written = []
        overridden = sorted(configured, key=lambda alias: (alias is not None, alias or ""))
        if None not in configured:
            # The implied default configuration: an override needs a base block.
            (workspace / PROVIDER_FILE).write_text(self.render([None]), encoding="utf-8")
            written.append(workspace / PROVIDER_FILE)
        if overridden:
            (workspace / OVERRIDE_FILE).write_text(self.render(overridden), encoding="utf-8")
            written.append(workspace / OVERRIDE_FILE)
        return written


def aws_provider_configs(module_dir: Path) -> tuple[set[str | None], bool]:
    """The ``provider "aws"`` configurations a module declares (alias, None = default)
    and whether it uses AWS at all (resources, data sources, the provider's source)."""
    configured: set[str | None] = set()
    uses_aws = False
    for path in sorted(module_dir.iterdir()):
        if not path.is_file():
            continue
        if path.name.endswith(".tf"):
            text = path.read_text(encoding="utf-8", errors="replace")
            configured |= _hcl_provider_aliases(text)
        elif path.name.endswith(".tf.json"):
            text = path.read_text(encoding="utf-8", errors="replace")
            configured |= _json_provider_aliases(text, path.name)
        else:
            continue
        uses_aws = uses_aws or bool(_USES_AWS.search(text))
    return configured, uses_aws or bool(configured)


def _hcl_provider_aliases(text: str) -> set[str | None]:
    found: set[str | None] = set()
    for match in _PROVIDER_AWS.finditer(text):
        body = _block_body(text, match.end())
        alias = _ALIAS.search(_top_level(body))
        found.add(alias.group(1) if alias else None)
    return found


def _block_body(text: str, start: int) -> str:
    """The text up to the brace closing the block opened just before ``start``
    (strings and comments are skipped; an unclosed block runs to the end)."""
    depth, i, n = 1, start, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif char == "#" or text.startswith("//", i):
            i = text.find("\n", i)
            if i < 0:
                break
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 1
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
        i += 1
    return text[start:]


def _top_level(body: str) -> str:
    """The lines of a block body outside its nested blocks (``alias`` is top level)."""
    out, depth = [], 0
    for line in body.splitlines():
        if depth == 0:
            out.append(line)
        depth += line.count("{") - line.count("}")
        depth = max(depth, 0)
    return "\n".join(out)


def _json_provider_aliases(text: str, name: str) -> set[str | None]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise LocalEndpointsError(f"{name}: not valid JSON: {exc}") from None
    found: set[str | None] = set()
    providers = document.get("provider") if isinstance(document, dict) else None
    for entry in providers if isinstance(providers, list) else [providers]:
        if not isinstance(entry, dict):
            continue
        configs = entry.get("aws")
        for config in configs if isinstance(configs, list) else [configs]:
            if isinstance(config, dict):
                alias = config.get("alias")
                if alias is not None and not (isinstance(alias, str) and _ALIAS_NAME.match(alias)):
                    raise LocalEndpointsError(f"{name}: provider alias {alias!r} is not a name")
                found.add(alias)
    return found


def local_endpoints_from_environ(environ: Mapping[str, str]) -> LocalEndpoints | None:
    """In the local stage (``AUTOSTACK_STAGE=local``), the emulator at ``AWS_ENDPOINT_URL``
    (required there); in any other stage None: bundles talk to AWS itself."""
    if (environ.get("AUTOSTACK_STAGE") or "").strip() != "local":
        return None
    url = (environ.get("AWS_ENDPOINT_URL") or "").strip()
    if not url:
        raise LocalEndpointsError(
            "AWS_ENDPOINT_URL: required in the local stage (Terraform's AWS provider is "
            "pointed at the emulator there)"
        )
    return LocalEndpoints(url.rstrip("/"))
