"""Listing the files of a source tree: exclusions, language by name, no links followed."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# Dependency, build output, VCS, cache and virtualenv folders: never analyzed.
EXCLUDED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "bower_components",
        "jspm_packages",
        "vendor",
        "dist",
        "build",
        "out",
        "target",
        "bin",
        "obj",
        ".venv",
        "venv",
        ".virtualenv",
        "virtualenv",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".eggs",
        ".next",
        ".nuxt",
        ".svelte-kit",
        ".output",
        ".astro",
        ".angular",
        ".turbo",
        ".parcel-cache",
        ".cache",
        ".gradle",
        ".m2",
        ".terraform",
        ".idea",
        ".vscode",
        "coverage",
        "htmlcov",
        ".serverless",
        ".vercel",
        ".netlify",
        "Pods",
        ".bundle",
        ".dart_tool",
        "site-packages",
        "_site",
        ".docusaurus",
        "__MACOSX",
    }
)

# Files counted nowhere (lock files and generated code): still readable by detectors.
LOCKFILES = frozenset(
    {
        "package-lock.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "bun.lock",
        "npm-shrinkwrap.json",
        "poetry.lock",
        "uv.lock",
        "Pipfile.lock",
        "pdm.lock",
        "Gemfile.lock",
        "composer.lock",
        "Cargo.lock",
        "go.sum",
        "packages.lock.json",
        "gradle.lockfile",
    }
)
_GENERATED_SUFFIXES = (
    ".min.js",
    ".min.css",
    ".map",
    ".pb.go",
    "_pb2.py",
    "_pb2_grpc.py",
    ".designer.cs",
    ".g.cs",
    ".bundle.js",
    ".chunk.js",
)

LANGUAGE_BY_EXT = {
    ".py": "python",
    ".pyi": "python",
    ".pyw": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".tsx": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".vue": "vue",
    ".svelte": "svelte",
    ".astro": "astro",
    ".go": "go",
    ".java": "java",
    ".kt": "kotlin",
    ".kts": "kotlin",
    ".scala": "scala",
    ".groovy": "groovy",
    ".gradle": "groovy",
    ".clj": "clojure",
    ".rb": "ruby",
    ".rake": "ruby",
    ".ru": "ruby",
    ".erb": "erb",
    ".php": "php",
    ".phtml": "php",
    ".twig": "twig",
    ".blade": "php",
    ".rs": "rust",
    ".cs": "csharp",
    ".fs": "fsharp",
    ".vb": "vbnet",
    ".cshtml": "razor",
    ".razor": "razor",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".m": "objective-c",
    ".swift": "swift",
    ".dart": "dart",
    ".ex": "elixir",
    ".exs": "elixir",
    ".erl": "erlang",
    ".hs": "haskell",
    ".lua": "lua",
    ".pl": "perl",
    ".pm": "perl",
    ".r": "r",
    ".R": "r",
    ".jl": "julia",
    ".zig": "zig",
    ".sh": "shell",
    ".bash": "shell",
    ".zsh": "shell",
    ".ps1": "powershell",
    ".sql": "sql",
    ".html": "html",
    ".htm": "html",
    ".css": "css",
    ".scss": "scss",
    ".sass": "sass",
    ".less": "less",
    ".md": "markdown",
    ".mdx": "markdown",
    ".rst": "rst",
    ".json": "json",
    ".yml": "yaml",
    ".yaml": "yaml",
    ".toml": "toml",
    ".xml": "xml",
    ".tf": "hcl",
    ".hcl": "hcl",
    ".proto": "protobuf",
    ".graphql": "graphql",
    ".gql": "graphql",
    ".ipynb": "jupyter",
}
LANGUAGE_BY_NAME = {
    "Dockerfile": "dockerfile",
    "Makefile": "make",
    "Rakefile": "ruby",
    "Gemfile": "ruby",
    "Jenkinsfile": "groovy",
    "Vagrantfile": "ruby",
}

# Languages that say what the code is written in (the primary language comes from these).
PROGRAMMING_LANGUAGES = frozenset(
    {
        "python",
        "javascript",
        "typescript",
        "go",
        "java",
        "kotlin",
        "scala",
        "groovy",
        "clojure",
        "ruby",
        "php",
        "rust",
        "csharp",
        "fsharp",
        "vbnet",
        "c",
        "cpp",
        "objective-c",
        "swift",
        "dart",
        "elixir",
        "erlang",
        "haskell",
        "lua",
        "perl",
        "r",
        "julia",
        "zig",
        "vue",
        "svelte",
        "astro",
    }
)
MARKUP_LANGUAGES = frozenset({"html", "css", "scss", "sass", "less", "markdown"})


@dataclass(slots=True)
class SourceFile:
    rel: str  # posix path from the root
    size: int
    language: str | None  # None: not counted (unknown type, lock file, generated)


@dataclass
class FileList:
    root: Path | None
    files: list[SourceFile] = field(default_factory=list)
    excluded_dirs: int = 0
    links_skipped: int = 0
    contents: dict[str, bytes | Path] | None = None  # in-memory tree (archives)
    unreadable_names: int = 0

    def read(self, rel: str, limit: int | None = None) -> bytes | None:
        """The bytes of one file (at most ``limit``), None when it cannot be read."""
        if self.contents is not None:
            content = self.contents.get(rel)
            if content is None:
                return None
            if isinstance(content, bytes):
                return content if limit is None else content[:limit]
            path: str | Path = content
        else:
            path = os.path.join(self.root or ".", rel)
        try:
            with open(path, "rb") as fh:
                return fh.read() if limit is None else fh.read(limit)
        except OSError:
            return None


def language_of(name: str) -> str | None:
    if name in LOCKFILES or name.endswith(_GENERATED_SUFFIXES):
        return None
    lang = LANGUAGE_BY_NAME.get(name)
    if lang:
        return lang
    if name.startswith("Dockerfile") or name.endswith(".dockerfile"):
        return "dockerfile"
    dot = name.rfind(".")
    if dot <= 0:
        return None
    return LANGUAGE_BY_EXT.get(name[dot:])


def list_files(root: Path) -> FileList:
    """Every regular file under ``root`` outside the excluded folders, sorted by path."""
    result = FileList(root=root)
    stack = [("", str(root))]
    while stack:
        prefix, path = stack.pop()
        try:
            entries = list(os.scandir(path))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            rel = prefix + name
            if not _printable_name(name):  # undecodable bytes in a file name: not analyzable
                result.unreadable_names += 1
                continue
            try:
                if entry.is_symlink():
                    result.links_skipped += 1
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if (
                        name in EXCLUDED_DIRS
                        or name.endswith(".egg-info")
                        or _is_virtualenv(entry.path)
                    ):
                        result.excluded_dirs += 1
                        continue
                    stack.append((rel + "/", entry.path))
                elif entry.is_file(follow_symlinks=False):
                    size = entry.stat(follow_symlinks=False).st_size
                    result.files.append(SourceFile(rel, size, language_of(name)))
            except OSError:
                continue
    result.files.sort(key=lambda f: f.rel)
    return result


def excluded_dir_name(name: str) -> bool:
    return name in EXCLUDED_DIRS or name.endswith(".egg-info")


def wanted_member(rel: str) -> bool:
    """Whether an archive member can matter to the analysis (outside excluded folders)."""
    parts = rel.split("/")
    return not any(excluded_dir_name(p) for p in parts[:-1])


def list_contents(contents: dict[str, bytes | Path]) -> FileList:
    """The same listing as ``list_files`` for an in-memory tree (paths -> bytes or file)."""
    result = FileList(root=None, contents=contents)
    venvs = {rel.rsplit("/", 1)[0] + "/" for rel in contents if rel.endswith("/pyvenv.cfg")}
    excluded: set[str] = set()
    for rel, content in contents.items():
        parts = rel.split("/")
        skip = None
        for i, part in enumerate(parts[:-1]):
            prefix = "/".join(parts[: i + 1]) + "/"
            if excluded_dir_name(part) or prefix in venvs:
                skip = prefix
                break
        if skip is not None:
            excluded.add(skip)
            continue
        size = len(content) if isinstance(content, bytes) else _size(content)
        result.files.append(SourceFile(rel, size, language_of(parts[-1])))
    result.excluded_dirs = len(excluded)
    result.files.sort(key=lambda f: f.rel)
    return result


def _printable_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _is_virtualenv(path: str) -> bool:
    return os.path.exists(os.path.join(path, "pyvenv.cfg"))
