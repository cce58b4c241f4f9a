"""The generated ECS command, run by a real /bin/sh: the database URL it composes."""

from __future__ import annotations

import os
import re
import subprocess
from urllib.parse import unquote, urlsplit

from tests.golden import stack_profiles as sp
from tests.golden.helpers import bundle_for, decode_hcl_string


def test_ecs_composes_database_url_with_the_password_percent_encoded() -> None:
    ecs = bundle_for(sp.flask_postgres(), "ecs-fargate").files["infra/ecs.tf"]
    literal = re.search(r'command\s+= \["/bin/sh", "-c", ("(?:[^"\\]|\\.)*")\]', ecs).group(1)
    script = decode_hcl_string(literal)
    assert script.endswith("exec /bin/sh -c 'gunicorn --bind 0.0.0.0:$PORT app:app'")
    password = "p@ss:/w#rd?%& 'é\"$x`"
    probe = script.replace("exec /bin/sh -c 'gunicorn --bind 0.0.0.0:$PORT app:app'",
                           'printf %s "$DATABASE_URL"')  # fmt: skip
    env = {"PATH": os.environ["PATH"], "DB_USER": "app", "DB_PASSWORD": password,
           "DB_HOST": "db.internal", "DB_PORT": "5432", "DB_NAME": "app"}  # fmt: skip
    url = subprocess.run(["/bin/sh", "-c", probe], env=env, capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    parts = urlsplit(url)
    assert parts.scheme == "postgresql" and parts.hostname == "db.internal" and parts.port == 5432
    assert unquote(parts.password) == password and parts.username == "app"
