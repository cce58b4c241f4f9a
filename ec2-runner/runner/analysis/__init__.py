"""The code analysis engine: from an archive or a folder to a StackProfile.

Public interface (stable): ``analyze_archive``, ``analyze_directory``, ``ArchiveLimits``,
``AnalysisError``, ``ArchiveRefusedError``.
"""

from runner.analysis.archive import ArchiveLimits
from runner.analysis.engine import analyze_archive, analyze_directory
from runner.analysis.errors import AnalysisError, ArchiveRefusedError

__all__ = [
    "AnalysisError",
    "ArchiveLimits",
    "ArchiveRefusedError",
    "analyze_archive",
    "analyze_directory",
]
