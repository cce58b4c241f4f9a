"""The HTTP API's routes (infrastructure/api_routes.json), written from the Chalice app.

    .venv/bin/python scripts/api_routes.py            # rewrite the file
    .venv/bin/python scripts/api_routes.py --check    # exit 1 when it differs from the app

An HTTP API with payload format 1.0 puts the matched route's path in
requestContext.resourcePath, which is what Chalice routes on: a catch-all `/{proxy+}`
route would reach no Chalice view, so infrastructure/api.tf declares one route per
method and path of ``app.app.routes`` (Chalice's `{name}` parameters are the HTTP API's
syntax too).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
ROUTES_FILE = REPO_ROOT / "infrastructure" / "api_routes.json"


class ApiRoutesError(RuntimeError):
    """app.py cannot be loaded, or the routes file is not what this script writes."""


def load_app(repo_root: Path = REPO_ROOT) -> Any:
    """The Chalice app of app.py (loaded once: its blueprints register on import)."""
    module = sys.modules.get("app")
    if module is None:
        spec = importlib.util.spec_from_file_location("app", repo_root / "app.py")
        if spec is None or spec.loader is None:
            raise ApiRoutesError(f"{repo_root / 'app.py'}: not loadable")
        module = importlib.util.module_from_spec(spec)
        sys.modules["app"] = module
        spec.loader.exec_module(module)
    return module.app


def route_keys(routes: dict[str, dict[str, Any]]) -> list[str]:
    """HTTP API route keys ("GET /projects/{project_id}") for Chalice's route table."""
    return sorted(f"{method} {path}" for path, methods in routes.items() for method in methods)


def document(keys: list[str]) -> str:
    body = {
        "_comment": "Written by scripts/api_routes.py from app.app.routes; do not edit.",
        "routes": keys,
    }
    return json.dumps(body, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    parser.add_argument("--path", type=Path, default=ROUTES_FILE)
    args = parser.parse_args(argv)
    wanted = document(route_keys(load_app().routes))
    current = args.path.read_text() if args.path.exists() else ""
    if args.check:
        if current != wanted:
            print(f"{args.path} differs from app.py's routes: run scripts/api_routes.py")
            return 1
        print(f"{args.path} matches app.py ({wanted.count(' /')} routes)")
        return 0
    if current != wanted:
        args.path.write_text(wanted)
    print(f"{'updated' if current != wanted else 'unchanged'} {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
