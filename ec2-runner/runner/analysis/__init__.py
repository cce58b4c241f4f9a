"""The code analysis engine: from an archive or a folder to a StackProfile.

Public interface (stable): ``analyze_archive``, ``analyze_directory``, ``ArchiveLimits``,
``AnalysisError``, ``ArchiveRefusedError``.

The names load on first use (PEP 562): ``python -m runner.analysis`` and the CLI then pay
only for what they run, and ``__main__`` can put the shared contracts on the path first.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.analysis.archive import ArchiveLimits
    from runner.analysis.engine import analyze_archive, analyze_directory
    from runner.analysis.errors import AnalysisError, ArchiveRefusedError

_WHERE = {
    "AnalysisError": "runner.analysis.errors",
    "ArchiveRefusedError": "runner.analysis.errors",
    "ArchiveLimits": "runner.analysis.archive",
    "analyze_archive": "runner.analysis.engine",
    "analyze_directory": "runner.analysis.engine",
}

__all__ = [
    "AnalysisError",
    "ArchiveLimits",
    "ArchiveRefusedError",
    "analyze_archive",
    "analyze_directory",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'runner.analysis' has no attribute {name!r}")
    return getattr(import_module(module), name)
