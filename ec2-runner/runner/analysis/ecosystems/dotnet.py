"""C# / .NET: *.csproj (SDK, TargetFramework, PackageReference), Kestrel settings."""

from __future__ import annotations

import posixpath
import re

from chalicelib.models.profile import Evidence
from runner.analysis.context import Candidate, Context, Dep, Draft, PortFinding, join, line_in
from runner.analysis.frameworks import detect_framework

_PKG = re.compile(r"""<PackageReference\s+Include\s*=\s*"([^"]+)"(?:\s+Version\s*=\s*"([^"]+)")?""")
_TEST_SDK = re.compile(r'Include="(xunit|NUnit|MSTest\.TestFramework|Microsoft\.NET\.Test\.Sdk)"')
_URL_PORT = re.compile(r"https?://[^:;\s\"]+:(\d{2,5})")


def discover(ctx: Context, directory: str) -> Candidate | None:
    projects = sorted(n for n in ctx.names(directory) if n.endswith((".csproj", ".fsproj")))
    if not projects:
        return None
    rel = join(directory, projects[0])
    text = ctx.read(rel) or ""
    name = re.search(r"<AssemblyName>([^<]+)</AssemblyName>", text)
    cand = Candidate(
        directory,
        "dotnet",
        "fsharp" if rel.endswith(".fsproj") else "csharp",
        name.group(1) if name else projects[0].rsplit(".", 1)[0],
        rel,
        package_manager="dotnet",
    )
    sdk = re.search(r'<Project\s+Sdk\s*=\s*"([^"]+)"', text)
    if sdk:
        cand.deps[sdk.group(1)] = Dep(sdk.group(1), None, rel, line_in(text, sdk.start()))
    for m in _PKG.finditer(text):
        cand.deps.setdefault(m.group(1), Dep(m.group(1), m.group(2), rel, line_in(text, m.start())))
    tf = re.search(r"<TargetFrameworks?>\s*net(?:coreapp)?(\d+\.\d+)", text)
    if tf:
        cand.runtime_version = tf.group(1)
        cand.runtime_evidence = Evidence(
            file=rel, line=line_in(text, tf.start()), detail="TargetFramework"
        )
    cand.data["is_test"] = any(
        k in cand.deps for k in ("xunit", "NUnit", "MSTest.TestFramework", "Microsoft.NET.Test.Sdk")
    )
    return cand


def complete(ctx: Context, draft: Draft) -> None:
    cand = draft.cand
    spec = detect_framework(draft)
    if spec:
        draft.framework_version = cand.runtime_version
    draft.build_command = "dotnet publish -c Release -o out"
    draft.start_command = f"dotnet out/{cand.name}.dll"
    draft.install_command = "dotnet restore"
    draft.kind = "web" if spec else "cli"
    # launchSettings.json only drives `dotnet run` locally; the deployed port comes from
    # Kestrel settings or ASPNETCORE_URLS / ASPNETCORE_HTTP_PORTS (read from Dockerfiles too).
    for name in ("appsettings.json", "appsettings.Production.json"):
        rel = draft.rel(name)
        text = ctx.read(rel) or ""
        m = re.search(r'"Url"\s*:\s*"https?://[^":]+:(\d{2,5})"', text)
        if m and spec:
            draft.ports.append(
                PortFinding(
                    int(m.group(1)),
                    "config",
                    Evidence(file=rel, line=line_in(text, m.start()), detail="Kestrel endpoint"),
                )
            )
    if ("dotnet-tests",) not in ctx.memo:
        ctx.memo[("dotnet-tests",)] = sorted(
            f.rel
            for f in ctx.files
            if f.rel.endswith((".csproj", ".fsproj")) and _TEST_SDK.search(ctx.read(f.rel) or "")
        )
    test_projects: list[str] = ctx.memo[("dotnet-tests",)]  # type: ignore[assignment]
    if test_projects:
        # run from the app folder: point at the test project (often a sibling folder)
        target = posixpath.relpath(test_projects[0], draft.cand.path)
        draft.test_command = f"dotnet test {target}"
        draft.tests_evidence = [Evidence(file=test_projects[0])]
    if spec and spec.default_port:
        draft.add_default_port(spec.default_port, "aspnetcore default (.NET 8+ containers)")
