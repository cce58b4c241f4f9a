"""Static sites without a package manager: Hugo, MkDocs, Jekyll (no Gemfile), plain HTML."""

from __future__ import annotations

import re

from chalicelib.models.profile import Evidence
from runner.analysis.context import Candidate, Context, Dep, Draft, join

_HUGO_CONFIGS = ("hugo.toml", "hugo.yaml", "hugo.yml", "hugo.json")


def discover(ctx: Context, directory: str) -> Candidate | None:
    names = set(ctx.names(directory))
    name = ctx.root_name if directory == "." else directory.rsplit("/", 1)[-1]
    hugo = next((n for n in _HUGO_CONFIGS if n in names), None)
    legacy = next((n for n in ("config.toml", "config.yaml", "config.yml") if n in names), None)
    if (
        hugo is None
        and legacy
        and (
            ctx.is_dir(join(directory, "content"))
            or ctx.is_dir(join(directory, "layouts"))
            or ctx.is_dir(join(directory, "themes"))
            or ctx.is_dir(join(directory, "archetypes"))
        )
    ):
        hugo = legacy
    if hugo:
        cand = Candidate(
            directory, "static", "html", name, join(directory, hugo), package_manager=None
        )
        cand.data["framework"] = "hugo"
        return cand
    if "mkdocs.yml" in names or "mkdocs.yaml" in names:
        manifest = "mkdocs.yml" if "mkdocs.yml" in names else "mkdocs.yaml"
        cand = Candidate(
            directory, "static", "markdown", name, join(directory, manifest), package_manager="pip"
        )
        cand.data["framework"] = "mkdocs"
        return cand
    if (
        "_config.yml" in names
        and "Gemfile" not in names
        and (
            ctx.is_dir(join(directory, "_posts"))
            or ctx.is_dir(join(directory, "_layouts"))
            or "index.md" in names
            or "index.html" in names
        )
    ):
        cand = Candidate(directory, "static", "html", name, join(directory, "_config.yml"))
        cand.data["framework"] = "jekyll"
        return cand
    return None


def html_candidate(ctx: Context, directory: str) -> Candidate:
    name = ctx.root_name if directory == "." else directory.rsplit("/", 1)[-1]
    cand = Candidate(directory, "static", "html", name, join(directory, "index.html"))
    cand.data["framework"] = "html"
    return cand


def complete(ctx: Context, draft: Draft) -> None:
    cand = draft.cand
    fw = cand.data["framework"]
    version = None
    text = ctx.read(cand.manifest) or ""
    if fw == "hugo":
        m = re.search(r"""min(?:imum)?_?[Vv]ersion\s*[=:]\s*["']?([\d.]+)""", text)
        version = m.group(1) if m else None
        draft.build_command, draft.static_output_dir = "hugo --minify", "public"
    elif fw == "mkdocs":
        req = ctx.read(draft.rel("requirements.txt")) or ""
        m = re.search(r"^mkdocs(?:-material)?\s*[=~>]=\s*([\d.]+)", req, re.M)
        version = (
            m.group(1)
            if (m and m.group(0).startswith("mkdocs=")) or (m and "material" not in m.group(0))
            else None
        )
        draft.install_command = "pip install -r requirements.txt" if req else "pip install mkdocs"
        draft.build_command, draft.static_output_dir = "mkdocs build", "site"
    elif fw == "jekyll":
        draft.build_command, draft.static_output_dir = "jekyll build", "_site"
    else:
        draft.static_output_dir = "."  # served as is, from the app folder
    draft.set_framework(fw, version, [Evidence(file=cand.manifest)])
    draft.kind = "static"
    cand.deps.setdefault(fw, Dep(fw, version, cand.manifest))
