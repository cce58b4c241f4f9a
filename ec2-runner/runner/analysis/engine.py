"""The analysis entry points: a folder or an archive in, a StackProfile out."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from chalicelib.models.profile import Languages, LanguageStat, SecretFinding, StackProfile
from runner.analysis import apps as app_finder
from runner.analysis import assemble
from runner.analysis.archive import ArchiveLimits, read_archive
from runner.analysis.context import Context
from runner.analysis.errors import AnalysisError
from runner.analysis.infra import detect_infra
from runner.analysis.scanpass import ScanResult, scan_files
from runner.analysis.secrets import Secret
from runner.analysis.walk import (
    MARKUP_LANGUAGES,
    PROGRAMMING_LANGUAGES,
    FileList,
    list_contents,
    list_files,
    wanted_member,
)


def analyze_directory(
    root: Path, *, extra_stats: dict[str, int] | None = None, root_name: str | None = None
) -> StackProfile:
    """Analyze a local folder. Links are never followed; nothing is written."""
    root = Path(root)
    if not root.is_dir():
        raise AnalysisError(f"not a folder: {root}")
    return _analyze(list_files(root), extra_stats, root_name)


def _analyze(
    listing: FileList, extra_stats: dict[str, int] | None, root_name: str | None
) -> StackProfile:
    scan = scan_files(listing)
    ctx = Context(listing, scan.hints, root_name)
    infra = detect_infra(ctx)
    languages = _languages(scan)
    candidates = app_finder.discover(ctx, infra, languages.primary)
    chosen = app_finder.select(ctx, candidates)
    finished = app_finder.build_apps(ctx, infra, chosen)
    services, possible = assemble.services(ctx, infra, finished)
    warnings: set[str] = set(ctx.warnings)
    for fin in finished:
        warnings.update(fin.draft.warnings)
    for svc in services:
        if svc.kind == "sqlite":
            where = f" (app '{svc.app_path}')" if svc.app_path else ""
            warnings.add(f"SQLite needs a persistent disk{where}; consider a managed database")
    if not finished:
        warnings.add("no application found")
    env_names = {h.value for h in scan.hints if h.kind == "env"}
    if len(env_names) > assemble.MAX_ENV_VARS:
        warnings.add(
            f"{len(env_names)} env var names found; the first {assemble.MAX_ENV_VARS} are listed"
        )
    if scan.secrets:
        warnings.add(
            f"{len(scan.secrets)} committed secret(s) found: "
            "rotate them and remove them from the repository"
        )
    stats = {
        "files_total": len(listing.files),
        "files_scanned": scan.files_scanned,
        "bytes_scanned": scan.bytes_scanned,
        "binary_files": scan.binary_files,
        "minified_files": scan.minified_files,
        "excluded_dirs": listing.excluded_dirs,
        "links_skipped": listing.links_skipped,
        "unreadable_names": listing.unreadable_names,
    }
    if extra_stats:
        stats.update(extra_stats)
    return StackProfile(
        languages=languages,
        apps=[f.app for f in finished],
        services=services,
        possible_services=possible,
        workers=assemble.workers(ctx, infra, finished),
        env_vars=assemble.env_vars(ctx, finished),
        secrets=[_secret(s) for s in sorted(scan.secrets, key=lambda s: (s.file, s.line, s.type))],
        existing=infra.existing,
        tests=assemble.tests(finished, ctx),
        warnings=sorted(warnings),
        stats=dict(sorted(stats.items())),
    )


def _secret(s: Secret) -> SecretFinding:
    return SecretFinding(type=s.type, file=s.file, line=s.line, masked=s.masked)


def _languages(scan: ScanResult) -> Languages:
    stats = [
        LanguageStat(name=name, bytes=c.bytes, lines=c.lines, files=c.files)
        for name, c in scan.languages.items()
    ]
    stats.sort(key=lambda s: (-s.bytes, s.name))
    primary = next((s.name for s in stats if s.name in PROGRAMMING_LANGUAGES), None) or next(
        (s.name for s in stats if s.name in MARKUP_LANGUAGES), None
    )
    return Languages(primary=primary, stats=stats)


def analyze_archive(
    archive_path: Path, *, limits: ArchiveLimits | None = None, work_root: Path | None = None
) -> StackProfile:
    """Extract ``archive_path`` into a private temporary folder (always removed) and analyze it.

    Raises ArchiveRefusedError for hostile, oversized, truncated or non-archive input.
    ``work_root`` chooses where the temporary folder is made (default: the system temp dir).
    """
    tmp = Path(tempfile.mkdtemp(prefix="autostack-analysis-", dir=work_root))
    try:
        tmp.chmod(0o700)
        contents = read_archive(Path(archive_path), tmp, limits, keep=wanted_member)
        files, root_name = _strip_single_top_folder(contents.files)
        return _analyze(
            list_contents(files),
            {"archive_links_skipped": contents.stats.links_skipped},
            root_name,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _strip_single_top_folder(files: dict) -> tuple[dict, str]:
    """Archives of a repository often wrap everything in one folder (``repo-main/``): enter it,
    so that paths in the profile are relative to the project root."""
    tops = {rel.split("/", 1)[0] for rel in files}
    if len(tops) == 1 and all("/" in rel for rel in files):
        top = tops.pop()
        return {rel[len(top) + 1 :]: c for rel, c in files.items()}, top
    return files, "app"
