"""Per-file content scanners: what the code itself says (imports, env vars, ports, routes).

Each scanner works on the raw bytes of one file (at most ``SCAN_CAP`` bytes), with
precompiled regular expressions guarded by cheap substring checks, and returns ``Hint``
records that carry the file and line. Detectors later read hints instead of files, so
every source file is read once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

SCAN_CAP = 512 * 1024
MAX_HINTS_PER_FILE = 300


@dataclass(frozen=True, slots=True)
class Hint:
    kind: str  # import, env, port, health, app_object, app_factory, main, server, queue_worker
    value: str
    file: str
    line: int
    extra: str | None = None  # env: default; port: env var name; app_object: variable name


def line_of(data: bytes, pos: int) -> int:
    return data.count(b"\n", 0, pos) + 1


class LineIndex:
    """Line numbers of positions in one text; counts incrementally while positions grow (a
    regex's matches do), so many findings in a big file cost one pass, not one each."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.line = 1

    def __call__(self, pos: int) -> int:
        if pos >= self.pos:
            self.line += self.data.count(b"\n", self.pos, pos)
        else:
            self.line = self.data.count(b"\n", 0, pos) + 1
        self.pos = pos
        return self.line


def _s(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "replace")


_LITERAL = re.compile(
    rb"""^\s*(?:int\(|Number\(|parseInt\(|str\()?\s*(["'`]?)([^"'`()\s,]{1,80})\1"""
)


def literal_default(raw: bytes | None) -> str | None:
    """A default value written as a literal (``"8000"``, ``8000``, ``int("8000")``), else None."""
    if raw is None:
        return None
    m = _LITERAL.match(raw)
    if not m:
        return None
    value = m.group(2).decode("utf-8", "replace")
    if not m.group(1) and not re.fullmatch(r"-?\d+(\.\d+)?|true|false|True|False", value):
        return None  # an identifier or expression, not a literal
    return value


# Port env vars: PORT itself or a name that clearly means the HTTP server's port.
_PORT_ENV = re.compile(r"^(?:PORT|HTTP_PORT|SERVER_PORT|APP_PORT|WEB_PORT|LISTEN_PORT|API_PORT)$")


def port_env_var(name: str) -> bool:
    return bool(_PORT_ENV.match(name))


def _valid_port(raw: str | None) -> int | None:
    if raw is None or not raw.isdigit():
        return None
    value = int(raw)
    return value if 1 <= value <= 65535 else None


class _Collector:
    def __init__(self, rel: str, data: bytes) -> None:
        self.rel = rel
        self.data = data
        self.hints: list[Hint] = []
        self.line_of = LineIndex(data)

    @property
    def full(self) -> bool:
        return len(self.hints) >= MAX_HINTS_PER_FILE

    def add(self, kind: str, value: str, pos: int, extra: str | None = None) -> None:
        if len(self.hints) < MAX_HINTS_PER_FILE:  # a hostile file cannot flood memory
            self.hints.append(Hint(kind, value, self.rel, self.line_of(pos), extra))

    def env(
        self, name_raw: bytes, default_raw: bytes | None, pos: int, literal: bool = True
    ) -> None:
        if self.full:
            return
        name = name_raw.decode("ascii", "replace")
        default = literal_default(default_raw) if literal else _s(default_raw)
        self.add("env", name, pos, default)
        if port_env_var(name) and _valid_port(default):
            self.add("port", default or "", pos, name)

    def port(self, raw: bytes | None, pos: int, extra: str | None = None) -> None:
        if self.full:
            return
        value = _valid_port(_s(raw))
        if value is not None:
            self.add("port", str(value), pos, extra)


def _prev_char(data: bytes, pos: int) -> int:
    return data[pos - 1] if pos > 0 else 0x0A


_WORD_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")

# Performance rule for every pattern below: it starts with a literal (sre then skips through
# the data with a fast substring search); word boundaries and alternatives are checked after.

# Health routes, language-agnostic: a string literal that is a health path.
_HEALTH = re.compile(
    rb"""/(?:api/)?(?:v\d+/)?(?:healthz?|health[-_]?check|livez|readyz|ready|ping|status|up)/?["'`]"""
)
_RAILS_UP = re.compile(rb"""get\s+["']up["']\s*=>\s*["']rails/health#show""")


def _health(c: _Collector) -> None:
    data = c.data
    for m in _HEALTH.finditer(data):
        pos = m.start()
        # the literal must start right here: a quote before "/" (or before "/api", "/v1")
        if _prev_char(data, pos) in b"\"'`":
            c.add("health", m.group(0)[:-1].decode().rstrip("/") or "/", pos)
    if b"rails/health" in data:
        for m in _RAILS_UP.finditer(data):
            c.add("health", "/up", m.start())


# --- Python -----------------------------------------------------------------
_PY_IMPORT = re.compile(rb"import[ \t]+([A-Za-z_]\w*)")
_PY_FROM = re.compile(rb"from[ \t]+([A-Za-z_]\w*)[\w.]*[ \t]+import\b")
_ENV_TAIL = (
    rb"""\(\s*["']([A-Za-z_][A-Za-z0-9_]*)["']\s*(?:,\s*(?:default\s*=\s*)?([^\n]{1,80}?))?\s*\)"""
)
_PY_ENVIRON_GET = re.compile(rb"environ\.get" + _ENV_TAIL)
_PY_GETENV = re.compile(rb"getenv" + _ENV_TAIL)
_PY_ENV_SUB = re.compile(rb"""environ\[\s*["']([A-Za-z_][A-Za-z0-9_]*)["']\s*\]""")
_PY_ENV_LIB = re.compile(
    rb"""(?:env(?:\.(?:str|int|bool|float|list|dict|tuple|json|path|url|db|db_url|cache|cache_url|email_url|search_url))?|config)\(\s*["']([A-Z_][A-Z0-9_]*)["']\s*(?:,\s*(?:default\s*=\s*|cast\s*=\s*\w+\s*,\s*default\s*=\s*)?([^\n]{1,80}?))?\s*\)"""
)
_PY_PORT_KW = re.compile(rb"""port\s*=\s*(\d{2,5})\b""")
_PY_RUN_BEFORE = re.compile(rb"""\.(?:run|run_app|launch|serve|listen)\([^()]*$""")
_PY_LISTEN_NUM = re.compile(rb"""\.listen\(\s*(\d{2,5})\s*[,)]""")
_PY_BIND = re.compile(rb"""bind\s*=\s*\[?\s*["'][^"':\n]*:(\d{2,5})["']""")
_PY_APP_OBJ = re.compile(
    rb"""=\s*(?:web\.|tornado\.web\.)?(Flask|FastAPI|Starlette|Litestar|Sanic|Quart|Celery|Application)\("""
)
_PY_ASSIGNED = re.compile(rb"""([A-Za-z_]\w*)[ \t]*(?::[ \t]*[\w.]+[ \t]*)?$""")
_PY_APP_MODULES = frozenset(
    {"flask", "fastapi", "starlette", "litestar", "sanic", "quart", "celery", "aiohttp", "tornado"}
)
_PY_FACTORY = re.compile(rb"""\ndef\s+(create_app|make_app)\(""")
_PY_MAIN = re.compile(rb"""\nif\s+__name__\s*==\s*["']__main__["']""")


def scan_python(c: _Collector) -> None:
    data = c.data
    seen: set[str] = set()
    for pattern in (_PY_IMPORT, _PY_FROM):
        for m in pattern.finditer(data):
            # a statement: only spaces before it on its line (not inside a string or comment)
            line_start = data.rfind(b"\n", 0, m.start()) + 1
            if data[line_start : m.start()].strip(b" \t"):
                continue
            mod = m.group(1).decode()
            if mod not in seen:
                seen.add(mod)
                c.add("import", mod, m.start())
    # Each check below is gated by what the file imports: a substring test is a pass over the
    # file, and most files import none of these.
    if b"environ" in data:
        for m in _PY_ENVIRON_GET.finditer(data):
            c.env(m.group(1), m.group(2), m.start())
        for m in _PY_ENV_SUB.finditer(data):
            c.env(m.group(1), None, m.start())
    if b"getenv" in data:
        for m in _PY_GETENV.finditer(data):
            c.env(m.group(1), m.group(2), m.start())
    if "environ" in seen or "decouple" in seen:
        for m in _PY_ENV_LIB.finditer(data):
            if _prev_char(data, m.start()) not in _WORD_CHARS | {ord(".")}:
                c.env(m.group(1), m.group(2), m.start())
    for m in _PY_PORT_KW.finditer(data):
        # only a port given to a run/launch/serve call on the same statement
        before = data[max(0, m.start() - 300) : m.start()]
        if _PY_RUN_BEFORE.search(before):
            c.port(m.group(1), m.start())
    if "tornado" in seen and b".listen(" in data:
        for m in _PY_LISTEN_NUM.finditer(data):
            c.port(m.group(1), m.start())
    if ("gunicorn" in c.rel or c.rel.endswith("conf.py")) and b"bind" in data:
        for m in _PY_BIND.finditer(data):
            c.port(m.group(1), m.start())
    for m in _PY_APP_OBJ.finditer(data) if seen & _PY_APP_MODULES else ():
        line_start = data.rfind(b"\n", 0, m.start()) + 1
        name = _PY_ASSIGNED.match(data, line_start, m.start())
        if name:
            c.add("app_object", m.group(1).decode(), m.start(), name.group(1).decode())
    if b"_app(" in data:
        for m in _PY_FACTORY.finditer(data):
            c.add("app_factory", m.group(1).decode(), m.start() + 1)
    if ("pydantic_settings" in seen or "pydantic" in seen) and b"BaseSettings" in data:
        _pydantic_settings(c)
    if b"__main__" in data:
        main = _PY_MAIN.search(data)
        if main:
            c.add("main", "python", main.start() + 1)


_PY_SETTINGS_CLASS = re.compile(rb"""\nclass\s+\w+\(\s*(?:[\w.]+\.)?BaseSettings\s*\):[ \t]*\n""")
_PY_FIELD = re.compile(
    rb"""[ \t]+([a-z_][a-z0-9_]*)\s*:\s*[^=\n]+?(?:=\s*([^\n#]+?))?\s*(?:#[^\n]*)?$"""
)
_PY_ENV_PREFIX = re.compile(rb"""env_prefix\s*=\s*["']([A-Za-z0-9_]*)["']""")


def _pydantic_settings(c: _Collector) -> None:
    """pydantic-settings: each field of a BaseSettings class is read from the environment."""
    data = c.data
    prefix_m = _PY_ENV_PREFIX.search(data)
    prefix = prefix_m.group(1).decode().upper() if prefix_m else ""
    for cls in _PY_SETTINGS_CLASS.finditer(b"\n" + data):
        pos = cls.end() - 1  # offset in data (one byte shorter than the padded copy)
        while pos < len(data):
            end = data.find(b"\n", pos)
            end = len(data) if end < 0 else end
            line = data[pos:end]
            if line.strip() and not line.startswith((b" ", b"\t")):
                break  # the class body ended
            m = _PY_FIELD.match(line)
            if m and m.group(1) != b"model_config":
                name = (prefix + m.group(1).decode()).upper()
                c.env(name.encode(), m.group(2), pos)
            pos = end + 1


# --- JavaScript / TypeScript --------------------------------------------------
_JS_IMPORTS = (
    re.compile(rb"""require\(\s*["']([@\w][^"'\s]*)["']"""),
    re.compile(rb"""from\s+["']([@\w][^"'\s]*)["']"""),
    re.compile(rb"""import\s*\(?\s*["']([@\w][^"'\s]*)["']"""),
)
_JS_ENV = re.compile(
    rb"""process\.env(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*["']([A-Za-z_][A-Za-z0-9_]*)["']\s*\])(?:\s*(?:\|\||\?\?)\s*(["'`]?)([\w.:/-]{1,80})\3)?"""
)
_JS_ENV_META = re.compile(rb"""\.env\.([A-Za-z_][A-Za-z0-9_]*)""")
_JS_ENV_DENO = re.compile(rb"""Deno\.env\.get\(\s*["']([A-Za-z_][A-Za-z0-9_]*)["']""")
_JS_PORT_ENV = re.compile(
    rb"""process\.env\.([A-Z_]*PORT)\b[^;\n]{0,25}?(?:\|\||\?\?)\s*["'`]?(\d{2,5})\b"""
)
_JS_LISTEN = re.compile(rb"""\.listen\(\s*(\d{2,5})\b""")
_JS_PORT_ASSIGN = (
    re.compile(rb"""ort\s*(?::\s*\w+\s*)?=\s*(\d{2,5})\b"""),
    re.compile(rb"""ORT\s*(?::\s*\w+\s*)?=\s*(\d{2,5})\b"""),
)
_JS_DECL_BEFORE = re.compile(rb"""(?:const|let|var)\s+(?:PORT|port|httpPort|HTTP_PORT)\s*$""")
_JS_PORT_OBJ = re.compile(rb"""port\s*:\s*(\d{2,5})\b""")
_JS_SERVER = re.compile(rb"""createServer\(|Bun\.serve\(|Deno\.serve\(""")
_JS_WORKER = re.compile(rb"""new\s+Worker\(|\.process\(\s*(?:["'`]|async|function|\()""")
_QUEUE_LIBS = frozenset({"bullmq", "bull", "bee-queue", "agenda", "graphile-worker"})
_DB_PORTS = frozenset({5432, 3306, 6379, 27017, 9200, 5672, 9092, 11211, 1433, 1521})


def scan_js(c: _Collector) -> None:
    data = c.data
    seen: set[str] = set()
    for pattern in _JS_IMPORTS:
        for m in pattern.finditer(data):
            spec = m.group(1).decode("utf-8", "replace")
            parts = spec.split("/")
            pkg = "/".join(parts[:2]) if spec.startswith("@") else parts[0]
            if pkg.startswith("node:"):
                pkg = pkg[5:]
            if pkg not in seen:
                seen.add(pkg)
                c.add("import", pkg, m.start())
    # one substring test per family of idioms: each test is a pass over the file
    has_env = b".env" in data
    if has_env and b"process.env" in data:
        for m in _JS_ENV.finditer(data):
            name = m.group(1) or m.group(2)
            c.env(name, m.group(3) + m.group(4) + m.group(3) if m.group(4) else None, m.start())
        for m in _JS_PORT_ENV.finditer(data):
            c.port(m.group(2), m.start(), m.group(1).decode())
    if has_env and (b"import.meta.env" in data or b"Bun.env" in data):
        for m in _JS_ENV_META.finditer(data):
            before = data[max(0, m.start() - 11) : m.start()]
            if before == b"import.meta" or before.endswith(b"Bun"):
                c.env(m.group(1), None, m.start())
    if has_env and b"Deno.env" in data:
        for m in _JS_ENV_DENO.finditer(data):
            c.env(m.group(1), None, m.start())
    serves = b"serve(" in data
    server = _JS_SERVER.search(data) if (serves or b"createServer(" in data) else None
    if server:
        c.add("server", "node", server.start())
    listens = b"listen" in data
    if listens:
        for m in _JS_LISTEN.finditer(data):
            c.port(m.group(1), m.start())
    for pattern in _JS_PORT_ASSIGN:
        for m in pattern.finditer(data):
            start = m.start() - 1  # the P of PORT / port / httpPort
            line_start = data.rfind(b"\n", 0, start) + 1
            if start >= 0 and _JS_DECL_BEFORE.search(data[line_start : m.start() + 3]):
                c.port(m.group(1), start)
    if server or listens or serves or b".server(" in data:
        for m in _JS_PORT_OBJ.finditer(data):
            if int(m.group(1)) not in _DB_PORTS and _prev_char(data, m.start()) not in _WORD_CHARS:
                c.port(m.group(1), m.start())
    if seen & _QUEUE_LIBS:
        worker = _JS_WORKER.search(data)
        if worker:
            c.add("queue_worker", "node", worker.start())


# --- Go -------------------------------------------------------------------------
_GO_ENV = re.compile(rb"""os\.(?:Getenv|LookupEnv)\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)""")
_GO_PORT_DEFAULT = re.compile(
    rb"""os\.(?:Getenv|LookupEnv)\(\s*"([A-Z_]*PORT)"\s*\)[\s\S]{0,200}?=\s*":?(\d{2,5})\"""",
)
_GO_PORT_LITERAL = re.compile(rb""":(\d{2,5})\"""")
_GO_LISTEN_BEFORE = re.compile(
    rb"""(?:ListenAndServe(?:TLS)?|Run|Start|Listen|ListenTLS|Serve)\(\s*"[^"\n]*$|Addr\s*:\s*"[^"\n]*$"""
)
_GO_IMPORT = re.compile(rb"""^\s*(?:import\s+)?(?:\w+\s+)?"([\w./-]+)"\s*$""", re.M)


def scan_go(c: _Collector) -> None:
    data = c.data
    end = data.find(b"\nfunc ")
    head = data if end < 0 else data[:end]
    if b"import" in head:
        seen: set[str] = set()
        for m in _GO_IMPORT.finditer(head):
            path = m.group(1).decode()
            if path not in seen:
                seen.add(path)
                c.add("import", path, m.start())
    if b"os.Getenv" in data or b"os.LookupEnv" in data:
        for m in _GO_ENV.finditer(data):
            c.env(m.group(1), None, m.start())
        for m in _GO_PORT_DEFAULT.finditer(data):
            c.port(m.group(2), m.start(), m.group(1).decode())
    for m in _GO_PORT_LITERAL.finditer(data):
        line_start = data.rfind(b"\n", 0, m.start()) + 1
        if _GO_LISTEN_BEFORE.search(data, line_start, m.start()):
            c.port(m.group(1), m.start())
    if b"ListenAndServe" in data:
        c.add("server", "go", data.index(b"ListenAndServe"))
    if b"package main" in data:
        pos = data.find(b"\nfunc main()")
        if pos >= 0:
            c.add("main", "go", pos + 1)


# --- JVM (Java, Kotlin, Scala, Groovy) --------------------------------------------
_JAVA_ENV = re.compile(rb"""System\.getenv\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)""")
_JAVA_PORT_DEFAULT = re.compile(
    rb"""getOrDefault\(\s*"(\w*PORT)"\s*,\s*"(\d{2,5})"|getenv\(\s*"(\w*PORT)"\s*\)[^\n]{0,40}?\?:\s*"?(\d{2,5})"""
)
_KTOR_PORT = re.compile(rb"""embeddedServer\([^\n]*?\bport\s*=\s*(\d{2,5})""")


_JAVA_VALUE = re.compile(rb"""@Value\(\s*"\$\{([A-Z][A-Z0-9_]*)(?::([^}"]*))?\}"\s*\)""")


def scan_jvm(c: _Collector) -> None:
    data = c.data
    if b"@Value" in data:
        for m in _JAVA_VALUE.finditer(data):
            c.env(m.group(1), b'"' + m.group(2) + b'"' if m.group(2) else None, m.start())
    if b"getenv" in data:
        for m in _JAVA_ENV.finditer(data):
            c.env(m.group(1), None, m.start())
        for m in _JAVA_PORT_DEFAULT.finditer(data):
            c.port(m.group(2) or m.group(4), m.start(), (m.group(1) or m.group(3)).decode())
    if b"embeddedServer" in data:
        for m in _KTOR_PORT.finditer(data):
            c.port(m.group(1), m.start())
    if b"@SpringBootApplication" in data or b"fun main" in data or b"static void main" in data:
        c.add("main", "jvm", data.find(b"main"))


# --- Ruby ---------------------------------------------------------------------------
_RB_ENV = re.compile(
    rb"""ENV(?:\[\s*["']([A-Za-z_][A-Za-z0-9_]*)["']\s*\]|\.fetch\(\s*["']([A-Za-z_][A-Za-z0-9_]*)["']\s*(?:,\s*([^)\n]{1,80}))?\)(?:\s*\{\s*([^}\n]{1,80}?)\s*\})?)"""
)
_RB_SET_PORT = re.compile(rb"""set\s+:port\s*,\s*(\d{2,5})""")
_RB_PORT_LINE = re.compile(rb"""\n[ \t]*port\s+(\d{2,5})\b""")


def scan_ruby(c: _Collector) -> None:
    data = c.data
    if b"ENV" in data:
        for m in _RB_ENV.finditer(data):
            c.env(m.group(1) or m.group(2), m.group(3) or m.group(4), m.start())
    if b"port" in data:
        for m in _RB_SET_PORT.finditer(data):
            c.port(m.group(1), m.start())
        for m in _RB_PORT_LINE.finditer(b"\n" + data):
            c.port(m.group(1), max(m.start() - 1, 0) + 1)


# --- PHP ----------------------------------------------------------------------------
_PHP_ENV = re.compile(rb"""env\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*(?:,\s*([^)\n]{1,80}))?\)""")
_PHP_ENV_ARRAY = re.compile(rb"""\$_ENV\[\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\]""")


def scan_php(c: _Collector) -> None:
    data = c.data
    if b"env(" in data:
        for m in _PHP_ENV.finditer(data):
            prev = data[max(0, m.start() - 3) : m.start()]
            if prev == b"get" or _prev_char(data, m.start()) not in _WORD_CHARS | {
                ord(">"),
                ord("$"),
                ord(":"),
            }:
                c.env(m.group(1), m.group(2), m.start())
    if b"$_ENV" in data:
        for m in _PHP_ENV_ARRAY.finditer(data):
            c.env(m.group(1), None, m.start())


# --- Rust ---------------------------------------------------------------------------
_RS_ENV = re.compile(
    rb"""env(?:::var(?:_os)?|!)\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)(?:[^;\n]{0,80}?unwrap_or(?:_else)?\([^"\n]{0,30}"([^"\n]{1,60})")?"""
)
_RS_PORT = re.compile(
    rb"""bind\(\s*\(?\s*"[^"\n]*:(\d{2,5})"|bind\(\s*\(\s*"[^"\n]*"\s*,\s*(\d{2,5})\s*\)|SocketAddr::from\(\(\s*\[[\d,\s]+\]\s*,\s*(\d{2,5})\s*\)\)|\.run\(\(\s*\[[\d,\s]+\]\s*,\s*(\d{2,5})\s*\)\)|SocketAddr::new\([^\n]{0,80}?,\s*(\d{2,5})\s*\)"""
)


def scan_rust(c: _Collector) -> None:
    data = c.data
    if b"env" in data:
        for m in _RS_ENV.finditer(data):
            default = m.group(2)
            c.env(m.group(1), b'"' + default + b'"' if default else None, m.start())
    if b"bind(" in data or b"SocketAddr" in data or b".run((" in data:
        for m in _RS_PORT.finditer(data):
            c.port(next(g for g in m.groups() if g), m.start())
    if b"fn main" in data:
        c.add("main", "rust", data.index(b"fn main"))
    if b"#[cfg(test)]" in data:
        c.add("unit_tests", "rust", data.index(b"#[cfg(test)]"))


# --- C# -------------------------------------------------------------------------------
_CS_ENV = re.compile(
    rb"""Environment\.GetEnvironmentVariable\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)(?:\s*\?\?\s*("[^"\n]{1,80}"))?"""
)
_CS_PORT = re.compile(
    rb"""(?:UseUrls|Run|Urls\.Add)\(\s*"[^"\n]*:(\d{2,5})"|Listen(?:Any|Local)IP\(\s*(\d{2,5})"""
)


def scan_csharp(c: _Collector) -> None:
    data = c.data
    if b"GetEnvironmentVariable" in data:
        for m in _CS_ENV.finditer(data):
            c.env(m.group(1), m.group(2), m.start())
    if b'("http' in data or b"IP(" in data:
        for m in _CS_PORT.finditer(data):
            c.port(m.group(1) or m.group(2), m.start())


def scan_erb_config(c: _Collector) -> None:
    """YAML with embedded Ruby (Rails' database.yml): ``<%= ENV['X'] %>``."""
    if b"<%" in c.data and b"ENV" in c.data:
        scan_ruby(c)


SCANNERS: dict[str, Callable[[_Collector], None]] = {
    "yaml": scan_erb_config,
    "python": scan_python,
    "javascript": scan_js,
    "typescript": scan_js,
    "vue": scan_js,
    "svelte": scan_js,
    "astro": scan_js,
    "go": scan_go,
    "java": scan_jvm,
    "kotlin": scan_jvm,
    "scala": scan_jvm,
    "groovy": scan_jvm,
    "ruby": scan_ruby,
    "php": scan_php,
    "rust": scan_rust,
    "csharp": scan_csharp,
}


def scan_code(rel: str, data: bytes, language: str) -> list[Hint]:
    """Hints from one source file (``data`` already capped)."""
    scanner = SCANNERS.get(language)
    if scanner is None:
        return []
    c = _Collector(rel, data)
    scanner(c)
    if language != "yaml":
        _health(c)
    return c.hints
