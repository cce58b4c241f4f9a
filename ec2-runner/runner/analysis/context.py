"""What the detectors share: the file index, cached reads of small files, and their results."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from chalicelib.models.profile import Evidence
from runner.analysis.hints import Hint
from runner.analysis.walk import FileList

_READ_CAP = 4 * 1024 * 1024
_VERSION = re.compile(r"\d+(?:\.\d+)*")


def clean_version(spec: str | None) -> str | None:
    """``^4.18.2`` -> ``4.18.2``, ``==2.3`` -> ``2.3``, ``v1.9.1`` -> ``1.9.1``; ranges kept."""
    if spec is None:
        return None
    s = spec.strip().strip("\"'")
    if not s or s in ("*", "latest", "x"):
        return None
    s2 = re.sub(r"^(?:\^|~>|~=|~|==|=|>=|v)\s*", "", s)
    if _VERSION.fullmatch(s2) or re.fullmatch(r"\d+(?:\.\d+)*[-+.\w]*", s2):
        return s2
    return s


def first_version(spec: str | None) -> str | None:
    """The first version number in a constraint: ``>=3.11,<4`` -> ``3.11``."""
    if not spec:
        return None
    m = _VERSION.search(spec)
    return m.group(0) if m else None


@dataclass
class Dep:
    name: str
    version: str | None
    file: str
    line: int | None = None
    transitive: bool = False  # pulled in by another dependency (go.mod ``// indirect``)

    def evidence(self) -> Evidence:
        return Evidence(
            file=self.file,
            line=self.line,
            detail=f"dependency {self.name}",
            kind="transitive" if self.transitive else "direct_dependency",
        )


@dataclass
class Candidate:
    """A folder that looks like one application of one ecosystem."""

    path: str  # "." for the root
    ecosystem: str  # python, node, go, jvm, ruby, php, rust, dotnet, static, docker
    language: str
    name: str
    manifest: str  # the file that made it a candidate
    deps: dict[str, Dep] = field(default_factory=dict)
    package_manager: str | None = None
    runtime_version: str | None = None
    runtime_evidence: Evidence | None = None
    workspace_root: bool = False
    data: dict = field(default_factory=dict)  # ecosystem-specific facts


# Folders whose files are fixtures, examples or test harnesses, not the project's own app or
# infrastructure.
FIXTURE_DIRS = frozenset(
    {
        "test",
        "tests",
        "__tests__",
        "fixtures",
        "testdata",
        "spec",
        "e2e",
        "cypress",
        "examples",
        "example",
        "samples",
        "sample",
        "__mocks__",
        "playwright",
        "docs_src",
        "golden",
        "snapshots",
        "__snapshots__",
    }
)


def in_fixture_dir(directory: str) -> bool:
    return directory != "." and any(p in FIXTURE_DIRS for p in directory.split("/"))


def join(directory: str, name: str) -> str:
    return name if directory == "." else f"{directory}/{name}"


def parent_dir(rel: str) -> str:
    i = rel.rfind("/")
    return "." if i < 0 else rel[:i]


def nearest_dir(directory: str, dirs: set[str] | frozenset[str]) -> str | None:
    """``directory`` or its nearest parent that is in ``dirs`` ("." is the root), or None."""
    d = directory
    while True:
        if d in dirs:
            return d
        if d == ".":
            return None
        d = parent_dir(d)


def owning_dir(rel: str, dirs: set[str] | frozenset[str]) -> str | None:
    """The nearest folder of ``dirs`` holding file ``rel``, or None."""
    return nearest_dir(parent_dir(rel), dirs)


class Context:
    def __init__(self, listing: FileList, hints: list[Hint], root_name: str | None = None) -> None:
        self.listing = listing
        self.root_name = root_name or (listing.root.name if listing.root else "") or "app"
        self.files = listing.files
        self.paths = {f.rel for f in listing.files}
        self.sizes = {f.rel: f.size for f in listing.files}
        self.by_dir: dict[str, list[str]] = defaultdict(list)
        for f in listing.files:
            self.by_dir[parent_dir(f.rel)].append(f.rel.rsplit("/", 1)[-1])
        self.dirs = set(self.by_dir)
        for d in list(self.dirs):
            while d != ".":
                d = parent_dir(d)
                self.dirs.add(d)
        self.hints = hints
        self._text: dict[str, str | None] = {}
        self.warnings: list[str] = []
        self.memo: dict[tuple, object] = {}  # detector results shared between apps

    def unreadable(self, rel: str, exc: Exception) -> None:
        """A detector failed on a malformed file: say so and carry on without it."""
        self.warnings.append(f"could not interpret {rel}: {type(exc).__name__}")

    def exists(self, rel: str) -> bool:
        return rel in self.paths

    def is_dir(self, rel: str) -> bool:
        return rel in self.dirs

    def names(self, directory: str) -> list[str]:
        return self.by_dir.get(directory, [])

    def read(self, rel: str) -> str | None:
        """The text of a small file (decoded leniently), cached; None when absent or binary."""
        if rel in self._text:
            return self._text[rel]
        text = None
        if rel in self.paths and self.sizes.get(rel, 0) <= _READ_CAP:
            raw = self.listing.read(rel, _READ_CAP)
            if raw is not None and b"\x00" not in raw[:8192]:
                text = raw.decode("utf-8", "replace")
        self._text[rel] = text
        return text

    def files_under(self, directory: str) -> list[str]:
        if directory == ".":
            return [f.rel for f in self.files]
        prefix = directory + "/"
        return [f.rel for f in self.files if f.rel.startswith(prefix)]


def line_in(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def find_line(text: str, needle: str) -> int | None:
    pos = text.find(needle)
    return None if pos < 0 else line_in(text, pos)


@dataclass
class PortFinding:
    value: int
    source: str  # a profile ValueSource
    evidence: Evidence
    env_var: str | None = None


@dataclass
class ServiceFinding:
    kind: str
    evidence: Evidence
    version: str | None = None


@dataclass
class WorkerFinding:
    name: str
    system: str
    command: str | None
    evidence: Evidence


@dataclass
class Draft:
    """One app being assembled: the ecosystem fills it, the assembler finishes it."""

    cand: Candidate
    owned: list[str] = field(default_factory=list)  # files of this app, not of a nested one
    hints: list[Hint] = field(default_factory=list)
    framework: str | None = None
    framework_version: str | None = None
    framework_evidence: list[Evidence] = field(default_factory=list)
    kind: str | None = None
    build_command: str | None = None
    start_command: str | None = None
    install_command: str | None = None
    test_command: str | None = None
    tests_evidence: list[Evidence] = field(default_factory=list)
    static_output_dir: str | None = None
    ports: list[PortFinding] = field(default_factory=list)
    health: tuple[str, Evidence] | None = None
    services: list[ServiceFinding] = field(default_factory=list)
    workers: list[WorkerFinding] = field(default_factory=list)
    env: list[tuple[str, str | None, Evidence]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def imports(self) -> dict[str, Hint]:
        out: dict[str, Hint] = {}
        for h in self.hints:
            if h.kind == "import" and h.value not in out:
                out[h.value] = h
        return out

    def hints_of(self, kind: str) -> list[Hint]:
        return [h for h in self.hints if h.kind == kind]

    def set_framework(self, name: str, version: str | None, evidence: list[Evidence]) -> None:
        self.framework, self.framework_version, self.framework_evidence = name, version, evidence

    def rel(self, name: str) -> str:
        return join(self.cand.path, name)

    def add_default_port(self, port: int, detail: str, file: str | None = None) -> None:
        """The framework's (or platform's) default port, evidenced by the manifest."""
        evidence = Evidence(file=file or self.cand.manifest, detail=detail)
        self.ports.append(PortFinding(port, "framework_default", evidence))
