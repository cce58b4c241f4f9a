"""What each Dockerfile recipe needs: pinned base images, the start command, build facts.

The analysis reports start commands as a developer runs them from the source tree
(``./app``, ``java -jar target/*.jar``, ``php artisan serve``). Inside the generated
images the build output lives elsewhere and dev servers have no place, so those
commands are rewritten here to the image's own paths and servers; anything else
the user wrote is kept as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from chalicelib.generate import escaping
from chalicelib.generate.stack import StackContext, safe_relative_path

COMPOSER_IMAGE = "composer:2.8.12"

_GO_ARTIFACT = re.compile(r"^\s*(?:exec\s+)?(?:\./[\w.-]+|go\s+run\s+\S+)(?=\s|$)")
_JAR = re.compile(r"^\s*(?:exec\s+)?java\s(?P<opts>.*?)-jar\s+\S+\.jar(?=\s|$)")
_RUST_BIN = re.compile(r"^\s*(?:exec\s+)?(?:\./)?target/release/(?P<bin>[A-Za-z0-9_-]+)(?=\s|$)")
_DOTNET_DLL = re.compile(r"^\s*(?:exec\s+)?dotnet\s+\S+\.dll(?=\s|$)")
_PHP_DEV_SERVER = re.compile(
    r"^\s*(?:php\s+artisan\s+serve|php\s+-S\s|symfony\s+(?:serve|server:start)"
    r"|(?:vendor/bin/)?heroku-php-\w+)"
)
_PHP_DOCROOT = re.compile(r"(?:\s-t\s+|heroku-php-\w+\s+)(?P<root>[^\s-]\S*)")
_GO_BUILD = re.compile(r"^\s*(?:CGO_ENABLED=\d\s+)?go\s+build\b.*?\s(?P<pkg>\.(?:/[\w./-]*)?)\s*$")
# Build commands the recipe's own build step replaces (it builds to the image's paths).
_OWN_BUILD = {
    "rust": re.compile(r"^\s*cargo\s+build\b"),
    "dotnet": re.compile(r"^\s*dotnet\s+(?:publish|build)\b"),
    "php": re.compile(r""),  # PHP build steps run when the container starts
}
_SAFE_BIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")
# PHP extensions every generated image gets, and the ones a detected service needs.
_PHP_BASE_EXTENSIONS = ("opcache", "intl", "zip")
_PHP_SERVICE_EXTENSIONS = {"postgres": "pdo_pgsql", "mysql": "pdo_mysql", "redis": "redis"}


@dataclass
class DockerRecipe:
    """The facts one Dockerfile template needs beyond the stack context."""

    images: dict[str, str]
    version: str
    start_command: str
    server_package: str | None = None  # a Python WSGI/ASGI server to add
    php_docroot: str = "."
    php_extensions: list[str] = field(default_factory=list)
    rust_binary: str | None = None  # None: the first binary cargo builds
    java_build: str = ""  # the build step when the analysis gave none
    go_package: str = "."  # the main package go builds
    run_build_command: bool = True  # False when the recipe's own step does the same build
    roll_forward: bool = False  # .NET: let an app built for an older runtime run on this one
    warnings: list[str] = field(default_factory=list)


def static_tool(ctx: StackContext) -> str:
    """What builds a static site: node, hugo, python (MkDocs), ruby (Jekyll), or none."""
    if not ctx.build_command:
        return "none"
    if ctx.framework == "hugo":
        return "hugo"
    if ctx.framework == "mkdocs" or ctx.language in ("python", "markdown"):
        return "python"
    if ctx.framework == "jekyll" or ctx.language == "ruby":
        return "ruby"
    return "node"


def _images(ctx: StackContext) -> tuple[dict[str, str], str]:
    """The base images and the runtime version they carry (see ``toolchains``)."""
    from chalicelib.generate.toolchains import resolve_toolchain

    toolchain, _ = resolve_toolchain(ctx)
    build = toolchain.image
    return {"build": build, "runtime": toolchain.runtime_image or build}, toolchain.version


def _php_recipe(ctx: StackContext, recipe: DockerRecipe) -> None:
    start = ctx.start_command
    docroot = "public" if ctx.framework in ("laravel", "symfony", "slim") else "."
    found = _PHP_DOCROOT.search(start or "")
    if found and ctx.framework not in ("laravel", "symfony", "slim"):
        docroot = safe_relative_path(found.group("root")) or "."
    recipe.php_docroot = docroot
    recipe.php_extensions = [
        *_PHP_BASE_EXTENSIONS,
        *(_PHP_SERVICE_EXTENSIONS[s] for s in ctx.services if s in _PHP_SERVICE_EXTENSIONS),
    ]
    if start and not _PHP_DEV_SERVER.match(start):
        recipe.start_command = start
        return
    if start:
        recipe.warnings.append(
            f"The start command {start!r} is a development server; the image serves the app "
            "with FrankenPHP instead."
        )
    server = (
        f"exec frankenphp php-server --listen 0.0.0.0:$PORT --root {escaping.shell_quote(docroot)}"
    )
    # PHP "build" steps (config and route caches) read the environment, which only
    # exists when the container starts: run them then, not at image build time.
    recipe.start_command = f"{ctx.build_command} && {server}" if ctx.build_command else server


def _compiled_start(ctx: StackContext, recipe: DockerRecipe) -> None:
    """Start commands of compiled apps pointed at the artifact inside the image."""
    start = ctx.start_command
    family = ctx.family
    if family == "go":
        entry = "exec /usr/local/bin/server"
        recipe.start_command = _GO_ARTIFACT.sub(entry, start, count=1) if start else entry
    elif family == "java":
        entry = "exec java -jar /app/app.jar"
        if start:
            recipe.start_command = _JAR.sub(
                lambda m: f"exec java {m.group('opts')}-jar /app/app.jar", start, count=1
            )
        else:
            recipe.start_command = entry
    elif family == "rust":
        entry = "exec /usr/local/bin/server"
        found = _RUST_BIN.match(start or "")
        if found:
            recipe.rust_binary = found.group("bin")
            recipe.start_command = _RUST_BIN.sub(entry, start or "", count=1)
        else:
            name = ctx.app.name
            recipe.rust_binary = name if _SAFE_BIN.match(name) else None
            recipe.start_command = start or entry
    elif family == "dotnet":
        entry = 'exec dotnet "/app/$(cat /app/.entrypoint)"'
        recipe.start_command = _DOTNET_DLL.sub(entry, start, count=1) if start else entry


def _java_build(ctx: StackContext) -> str:
    """The jar build step: the analysis' own command, or one that makes a runnable (fat) jar."""
    gradle = ctx.package_manager == "gradle"
    if ctx.framework == "quarkus":  # the default fast-jar needs its lib/ folder: one uber-jar
        default = "gradle --no-daemon -x test build" if gradle else "mvn -q -DskipTests package"
        return f"{ctx.build_command or default} -Dquarkus.package.jar.type=uber-jar"
    if ctx.build_command:
        return ctx.build_command
    if gradle:
        task = "buildFatJar" if ctx.framework == "ktor" else "build"
        return f"gradle --no-daemon -x test {task}"
    return "mvn -q -DskipTests package"


# A literal port in a server's bind flags (the analysis writes the port it found): the
# plan's port is ``$PORT`` (set by the image, the task definition and the local runtime).
_BIND_FLAG = re.compile(
    r"(?P<flag>(?:--bind|--listen|-b)(?:=|\s+))(?P<host>(?:[\w.-]*|\[[0-9a-fA-F:]*\]):)?\d{2,5}\b"
)
_PORT_FLAG = re.compile(r"(?P<flag>(?:--port|--server\.port|-p)(?:=|\s+))\d{2,5}\b")
_HOST_PORT = re.compile(r"(?<![\w:/.])(?P<host>0\.0\.0\.0|\[::\]):\d{2,5}\b")
_SERVERS = re.compile(
    r"(?:^|[\s/])(?:gunicorn|uvicorn|hypercorn|daphne|granian|sanic|streamlit|"
    r"waitress-serve|python\s+manage\.py\s+runserver|rails\s+s(?:erver)?|rackup|puma|"
    r"next\s+start|nuxt\s+start|astro\s+preview|vite\s+preview|serve|http-server|"
    r"php\s+(?:artisan\s+serve|-S)|frankenphp)\b"
)


def _all_interfaces(host: str | None) -> str:
    """A loopback bind is unreachable from outside a container: all interfaces instead."""
    if host in ("127.0.0.1:", "localhost:"):
        return "0.0.0.0:"  # a server in a container listens on all interfaces
    return host or ""


def bind_to_port(start: str) -> str:
    """The start command listening on ``$PORT`` instead of a literal port.

    Only a known server's own flags are rewritten (``--bind 0.0.0.0:8000``, ``--port
    8000``, ``-p 3000``, ``runserver 0.0.0.0:8000``); uvicorn, which does not read
    ``PORT`` itself, also gets ``--host 0.0.0.0 --port $PORT`` when it names neither.
    """
    if not _SERVERS.search(start):
        return start
    out = _BIND_FLAG.sub(lambda m: f"{m['flag']}{_all_interfaces(m['host'])}$PORT", start)
    out = _PORT_FLAG.sub(lambda m: f"{m['flag']}$PORT", out)
    out = _HOST_PORT.sub(lambda m: f"{m['host']}:$PORT", out)
    if re.search(r"(?:^|[\s/])uvicorn\s", out):
        if not re.search(r"\s--port[=\s]", out):
            out += " --port $PORT"
        if not re.search(r"\s--host[=\s]", out):
            out += " --host 0.0.0.0"
    return out


def docker_recipe(ctx: StackContext) -> DockerRecipe:
    images, version = _images(ctx)
    recipe = DockerRecipe(images=images, version=version or "stable", start_command="")
    family, fw = ctx.family, ctx.framework
    if family == "php":
        _php_recipe(ctx, recipe)
    elif family in ("go", "java", "rust", "dotnet"):
        _compiled_start(ctx, recipe)
        if family == "java":
            recipe.java_build = _java_build(ctx)
            recipe.run_build_command = False  # java_build is the build step
    elif ctx.start_command:
        recipe.start_command = ctx.start_command
    elif family == "python":
        if fw == "flask":
            recipe.start_command = "gunicorn --bind 0.0.0.0:$PORT app:app"
            recipe.server_package = "gunicorn==23.0.0"
        elif fw == "fastapi":
            recipe.start_command = "uvicorn main:app --host 0.0.0.0 --port $PORT"
            recipe.server_package = "uvicorn==0.32.1"
        elif fw == "django":
            recipe.start_command = (
                'gunicorn --bind 0.0.0.0:$PORT "$(basename "$(dirname "$(find . -maxdepth 2 '
                '-name wsgi.py | head -n 1)")")".wsgi'
            )
            recipe.server_package = "gunicorn==23.0.0"
        else:
            recipe.start_command = "python main.py"
    elif family == "node":
        recipe.start_command = "npm start"
    elif family == "ruby":
        recipe.start_command = (
            "bundle exec rails server -b 0.0.0.0 -p $PORT"
            if fw == "rails"
            else "bundle exec rackup -o 0.0.0.0 -p $PORT"
        )
    else:
        recipe.start_command = "./start"
    if family not in ("java", "dotnet"):  # those listen through SERVER_PORT / ASPNETCORE_URLS
        recipe.start_command = bind_to_port(recipe.start_command)
    _build_step(ctx, recipe)
    return recipe


def _build_step(ctx: StackContext, recipe: DockerRecipe) -> None:
    """Whether the analysis' build command runs, or the recipe's own step replaces it."""
    build = ctx.build_command or ""
    if ctx.family == "go":
        found = _GO_BUILD.match(build)
        if found:
            recipe.go_package = found.group("pkg").rstrip("/") or "."
            recipe.run_build_command = False
    elif ctx.family in _OWN_BUILD and _OWN_BUILD[ctx.family].match(build):
        recipe.run_build_command = False


def docker_warnings(ctx: StackContext) -> list[str]:
    """What the user should know about how the image runs the app."""
    return docker_recipe(ctx).warnings
