"""JVM: Maven (pom.xml) and Gradle (build.gradle[.kts]): Spring Boot, Quarkus, Micronaut, Ktor."""

from __future__ import annotations

import re

from chalicelib.models.profile import Evidence
from runner.analysis.context import (
    Candidate,
    Context,
    Dep,
    Draft,
    PortFinding,
    ServiceFinding,
    join,
    line_in,
)
from runner.analysis.frameworks import detect_framework

_POM_DEP = re.compile(
    r"<(dependency|parent|plugin)>\s*(?:<!--.*?-->\s*)?<groupId>\s*([^<\s]+)\s*</groupId>\s*<artifactId>\s*([^<\s]+)\s*</artifactId>(?:\s*<version>\s*([^<\s]+)\s*</version>)?",
    re.S,
)
_GRADLE_DEP = re.compile(
    r"""\b(?:implementation|api|compileOnly|runtimeOnly|testImplementation|kapt|annotationProcessor|ksp)\s*\(?\s*(?:platform\()?\s*["']([\w.\-]+):([\w.\-]+)(?::([\w.\-${}]+))?["']"""
)
_GRADLE_PLUGIN = re.compile(
    r"""\bid\s*\(?\s*["']([\w.\-]+)["']\s*\)?\s*(?:version\s*\(?\s*["']([\w.\-]+)["'])?"""
)
_JAVA_VERSION = re.compile(
    r"<(?:java\.version|maven\.compiler\.release|maven\.compiler\.source|release)>\s*(\d+)\s*<|"
    r"JavaLanguageVersion\.of\(\s*(\d+)\s*\)|jvmToolchain\(\s*(\d+)\s*\)|"
    r"sourceCompatibility\s*=\s*(?:JavaVersion\.VERSION_)?['\"]?(\d+(?:\.\d+)?)|VERSION_(\d+)"
)


def discover(ctx: Context, directory: str) -> Candidate | None:
    names = set(ctx.names(directory))
    if "pom.xml" in names:
        manifest, pm = "pom.xml", "maven"
    elif "build.gradle.kts" in names:
        manifest, pm = "build.gradle.kts", "gradle"
    elif "build.gradle" in names:
        manifest, pm = "build.gradle", "gradle"
    else:
        return None
    rel = join(directory, manifest)
    text = ctx.read(rel) or ""
    kotlin = (
        any(f.endswith(".kt") for f in ctx.names(join(directory, "src/main/kotlin")))
        or "kotlin" in text
    )
    name = directory.rsplit("/", 1)[-1] if directory != "." else ctx.root_name
    if pm == "maven":
        own = re.sub(
            r"<(parent|dependencies|dependencyManagement|build|profiles)>.*?</\1>",
            "",
            text,
            flags=re.S,
        )
        m = re.search(r"<artifactId>\s*([^<\s]+)\s*</artifactId>", own)
        if m:
            name = m.group(1)
    cand = Candidate(
        directory, "jvm", "kotlin" if kotlin else "java", name, rel, package_manager=pm
    )
    props = dict(re.findall(r"<([\w.\-]+)>([^<]+)</\1>", text)) if pm == "maven" else {}
    gprops = ctx.read(join(directory, "gradle.properties")) or ""
    for key, value in re.findall(r"^\s*([\w.\-]+)\s*=\s*(\S+)", gprops, re.M):
        props.setdefault(key, value)
    if pm == "maven":
        for m in _POM_DEP.finditer(text):
            version = _resolve(m.group(4), props)
            key = f"{m.group(2)}:{m.group(3)}"
            cand.deps.setdefault(key, Dep(key, version, rel, line_in(text, m.start())))
        cand.workspace_root = "<modules>" in text
    else:
        for m in _GRADLE_PLUGIN.finditer(text):
            key = f"{m.group(1)}:plugin"
            cand.deps.setdefault(
                key, Dep(key, _resolve(m.group(2), props), rel, line_in(text, m.start()))
            )
        for m in _GRADLE_DEP.finditer(text):
            key = f"{m.group(1)}:{m.group(2)}"
            cand.deps.setdefault(
                key, Dep(key, _resolve(m.group(3), props), rel, line_in(text, m.start()))
            )
        settings = (
            ctx.read(join(directory, "settings.gradle"))
            or ctx.read(join(directory, "settings.gradle.kts"))
            or ""
        )
        cand.workspace_root = bool(re.search(r"^\s*include\b", settings, re.M)) and not (
            ctx.exists(join(directory, "src/main"))
        )
    m = _JAVA_VERSION.search(text)
    if m:
        cand.runtime_version = next(g for g in m.groups() if g)
        cand.runtime_evidence = Evidence(file=rel, line=line_in(text, m.start()))
    cand.data["wrapper"] = "mvnw" in names or "gradlew" in names
    return cand


def _resolve(version: str | None, props: dict[str, str]) -> str | None:
    if version and version.startswith("$"):
        return props.get(version.lstrip("$").strip("{}"))
    return version


def _boot_version(draft: Draft) -> str | None:
    for key in (
        "org.springframework.boot:spring-boot-starter-parent",
        "org.springframework.boot:plugin",
        "org.springframework.boot:spring-boot-dependencies",
    ):
        dep = draft.cand.deps.get(key)
        if dep and dep.version:
            return dep.version
    return None


def complete(ctx: Context, draft: Draft) -> None:
    cand = draft.cand
    spec = detect_framework(draft)
    if spec and spec.id == "spring-boot":
        draft.framework_version = _boot_version(draft) or draft.framework_version
    elif spec and spec.id == "quarkus" and draft.framework_version is None:
        for key in (
            "io.quarkus.platform:quarkus-bom",
            "io.quarkus:quarkus-bom",
            "io.quarkus:plugin",
        ):
            dep = cand.deps.get(key)
            if dep and dep.version:
                draft.framework_version = dep.version
                break
    if spec and spec.id == "micronaut" and draft.framework_version is None:
        draft.framework_version = _prop(ctx, cand, "micronautVersion")
    maven = cand.package_manager == "maven"
    wrapper = cand.data["wrapper"]
    tool = ("./mvnw" if wrapper else "mvn") if maven else ("./gradlew" if wrapper else "gradle")
    if maven:
        draft.build_command = f"{tool} -B package -DskipTests"
        draft.start_command = "java -jar target/*.jar"
        if spec and spec.id == "quarkus":
            draft.start_command = "java -jar target/quarkus-app/quarkus-run.jar"
    else:
        draft.build_command = f"{tool} build -x test"
        draft.start_command = "java -jar build/libs/*.jar"
        if spec and spec.id == "quarkus":
            draft.start_command = "java -jar build/quarkus-app/quarkus-run.jar"
        if spec and spec.id == "ktor":
            draft.build_command = f"{tool} buildFatJar"
    draft.kind = "web" if spec else ("cli" if draft.hints_of("main") else None)
    _config(ctx, draft, spec.id if spec else None)
    if spec and spec.default_port:
        draft.add_default_port(spec.default_port, f"{spec.id} default")
    if any(k.endswith(":spring-boot-starter-actuator") for k in cand.deps):
        dep = next(d for k, d in cand.deps.items() if k.endswith(":spring-boot-starter-actuator"))
        draft.health = ("/actuator/health", dep.evidence())
    tests = [f for f in draft.owned if "/src/test/" in f"/{f}"]
    if tests:
        draft.test_command = f"{tool} test"
        draft.tests_evidence = [Evidence(file=sorted(tests)[0])]


def _prop(ctx: Context, cand: Candidate, key: str) -> str | None:
    text = ctx.read(join(cand.path, "gradle.properties")) or ""
    m = re.search(rf"^\s*{re.escape(key)}\s*=\s*(\S+)", text, re.M)
    return m.group(1) if m else None


_PORT_KEYS = {
    "spring-boot": "server.port",
    "quarkus": "quarkus.http.port",
    "micronaut": "micronaut.server.port",
    "ktor": "ktor.deployment.port",
}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][\w.]*)(?::([^}]*))?\}")


def _flatten_yaml(text: str) -> list[tuple[str, str, int]]:
    """Dotted keys of a simple YAML file (indentation based; enough for application.yml)."""
    out: list[tuple[str, str, int]] = []
    stack: list[tuple[int, str]] = []
    for i, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith(("#", "-")):
            continue
        m = re.match(r"^(\s*)([\w.\-\[\]\"']+)\s*:\s*(.*?)\s*$", raw)
        if not m:
            continue
        indent = len(m.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = ".".join([s[1] for s in stack] + [m.group(2).strip("\"'")])
        value = m.group(3)
        if value and not value.startswith("#"):
            out.append((key, value.split(" #")[0].strip().strip("\"'"), i))
        else:
            stack.append((indent, m.group(2).strip("\"'")))
    return out


def _config(ctx: Context, draft: Draft, framework: str | None) -> None:
    port_key = _PORT_KEYS.get(framework or "", "server.port")
    for rel in sorted(draft.owned):
        name = rel.rsplit("/", 1)[-1]
        if "/src/test/" in f"/{rel}":
            continue
        if name in ("application.properties",) or re.fullmatch(
            r"application(-\w+)?\.properties", name
        ):
            text = ctx.read(rel) or ""
            pairs = [
                (m.group(1), m.group(2).strip(), line_in(text, m.start()))
                for m in re.finditer(r"^\s*([\w.\-\[\]]+)\s*[=:]\s*(.*)$", text, re.M)
            ]
        elif re.fullmatch(r"application(-\w+)?\.ya?ml", name):
            pairs = _flatten_yaml(ctx.read(rel) or "")
        elif name == "application.conf":
            text = ctx.read(rel) or ""
            pairs = [
                ("ktor.deployment.port", m.group(1), line_in(text, m.start()))
                for m in re.finditer(r"\bport\s*=\s*(\S+)", text)
            ]
        else:
            continue
        profile_file = name.startswith("application-")
        for key, value, line in pairs:
            for pm in _PLACEHOLDER.finditer(value):
                if pm.group(1).isupper() or "_" in pm.group(1):
                    draft.env.append((pm.group(1), pm.group(2), Evidence(file=rel, line=line)))
            if key == port_key and not profile_file:
                ph = _PLACEHOLDER.fullmatch(value)
                raw = ph.group(2) if ph else value
                env_var = ph.group(1) if ph else None
                if raw and raw.isdigit():
                    draft.ports.append(
                        PortFinding(
                            int(raw), "config", Evidence(file=rel, line=line, detail=key), env_var
                        )
                    )
            if (
                key.endswith("datasource.url")
                or key.endswith("datasource.jdbc.url")
                or key == "quarkus.datasource.db-kind"
            ):
                for svc, needle in (
                    ("postgres", "postgres"),
                    ("mysql", "mysql"),
                    ("mysql", "mariadb"),
                    ("sqlite", "sqlite"),
                ):
                    if needle in value:
                        draft.services.append(
                            ServiceFinding(svc, Evidence(file=rel, line=line, detail=key))
                        )
                        break
            if key in ("spring.data.redis.host", "spring.redis.host"):
                draft.services.append(
                    ServiceFinding("redis", Evidence(file=rel, line=line, detail=key))
                )
