"""The analysis engine's errors: one base, and the refusal of a hostile or broken archive."""

from __future__ import annotations


class AnalysisError(Exception):
    """Analysis could not run (missing folder, unreadable input). Base of the engine's errors."""


class ArchiveRefusedError(AnalysisError):
    """The archive is refused: a permanent error, retrying will not help.

    ``reason`` is a stable code (``absolute_path``, ``path_traversal``, ``link_escape``,
    ``special_file``, ``too_many_files``, ``too_large``, ``compression_ratio``,
    ``archive_too_large``, ``corrupt``, ``not_an_archive``, ``encrypted``, ``unwritable``);
    ``entry`` names the archive member at fault when there is one.
    """

    def __init__(self, reason: str, entry: str | None = None, detail: str | None = None) -> None:
        self.reason = reason
        self.entry = entry
        self.detail = detail
        message = f"archive refused ({reason})"
        if entry is not None:
            message += f": entry {entry!r}"
        if detail:
            message += f": {detail}"
        super().__init__(message)
