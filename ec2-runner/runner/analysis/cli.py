"""``python -m runner analyze PATH [--summary]`` (and ``python -m runner.analysis``).

Prints the stack profile as JSON (or a short human summary). Exit codes: 0 done,
2 usage error or missing path, 3 archive refused, 4 analysis failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from runner.analysis.errors import AnalysisError, ArchiveRefusedError

if TYPE_CHECKING:
    from chalicelib.models.profile import StackProfile

EXIT_OK, EXIT_USAGE, EXIT_REFUSED, EXIT_FAILED = 0, 2, 3, 4


def profile_json(profile: StackProfile) -> str:
    """The canonical, deterministic JSON form (sorted keys, no timestamps)."""
    import json

    return json.dumps(profile.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False)


def summary(profile: StackProfile) -> str:
    lines = []
    langs = ", ".join(f"{s.name} {s.lines} lines" for s in profile.languages.stats[:4])
    lines.append(f"primary language: {profile.languages.primary or 'none'} ({langs or 'no code'})")
    if not profile.apps:
        lines.append("apps: none found")
    for app in profile.apps:
        fw = (
            f"{app.framework.name} {app.framework.version or ''}".strip()
            if app.framework
            else "no framework"
        )
        port = f", port {app.port.value} ({app.port.source})" if app.port else ""
        lines.append(
            f"app {app.path}: {app.language} {app.runtime_version or ''}".rstrip()
            + f", {fw}, {app.kind}{port}"
        )
        if app.start_command:
            lines.append(f"  start: {app.start_command}")
        if app.build_command:
            lines.append(f"  build: {app.build_command}")
        if app.static_output_dir:
            lines.append(f"  static output: {app.static_output_dir}")
    if profile.services:
        lines.append(
            "services: "
            + ", ".join(s.kind + (f" {s.version}" if s.version else "") for s in profile.services)
        )
    for svc in profile.possible_services:
        lines.append(f"possible service: {svc.kind} ({svc.reason}); to add it: {svc.add_command}")
    if profile.workers:
        lines.append("workers: " + ", ".join(f"{w.name} ({w.system})" for w in profile.workers))
    if profile.env_vars:
        secret = sum(1 for e in profile.env_vars if e.is_secret)
        lines.append(f"env vars: {len(profile.env_vars)} ({secret} secret-looking)")
    if profile.secrets:
        lines.append(f"committed secrets: {len(profile.secrets)}")
        lines.extend(f"  {s.type} at {s.file}:{s.line} ({s.masked})" for s in profile.secrets[:10])
    if profile.existing:
        lines.append(
            "existing infrastructure: " + ", ".join(sorted({e.type for e in profile.existing}))
        )
    lines.append(
        f"tests: {'yes' if profile.tests.present else 'none found'}"
        + (f" ({profile.tests.command})" if profile.tests.command else "")
    )
    lines.extend(f"warning: {w}" for w in profile.warnings)
    return "\n".join(lines)


def main(
    argv: list[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    # Pydantic looks for plugins in every installed distribution's metadata when the profile
    # model is first built: a cost of each command run, and the profile uses none.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    out = out or sys.stdout
    err = err or sys.stderr
    parser = argparse.ArgumentParser(
        prog="python -m runner analyze",
        description="Analyze a folder or a .zip/.tar.gz archive and print its stack profile.",
    )
    parser.add_argument("path", help="a folder, or a .zip / .tar.gz / .tgz archive (at most 10 MB)")
    parser.add_argument("--summary", action="store_true", help="print a short human summary")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    path = Path(args.path)
    # the engine loads after the arguments are checked: --help and usage errors stay instant
    from runner.analysis.engine import analyze_archive, analyze_directory

    try:
        if path.is_dir():
            profile = analyze_directory(path)
        elif path.is_file():
            profile = analyze_archive(path)
        else:
            print(f"error: no such file or folder: {path}", file=err)
            return EXIT_USAGE
    except ArchiveRefusedError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_REFUSED
    except AnalysisError as exc:
        print(f"error: analysis failed: {exc}", file=err)
        return EXIT_FAILED
    print(summary(profile) if args.summary else profile_json(profile), file=out)
    return EXIT_OK
