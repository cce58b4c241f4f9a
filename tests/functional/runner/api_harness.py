"""The API in-process (chalice's test client) on fresh emulator resources, for issue 4's routes."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalice.test import Client

from chalicelib.context import AppContext, build_context, reset_context, set_context
from chalicelib.settings import load_settings
from devtools.local_resources import LocalResources

PASSWORD = "correct horse battery"


class ApiClient:
    def __init__(self, client: Client, context: AppContext):
        self.client = client
        self.context = context
        self.token = ""

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = b"" if body is None else json.dumps(body).encode()
        response = self.client.http.request(method, path, headers=headers, body=payload)
        return response.status_code, json.loads(response.body) if response.body else None

    def login_new_user(self) -> str:
        email = f"u{secrets.token_hex(4)}@example.com"
        creds = {"email": email, "password": PASSWORD}
        status, body = self.call("POST", "/auth/signup", creds)
        assert status == 201, body
        status, body = self.call("POST", "/auth/login", creds)
        assert status == 200, body
        self.token = body["access_token"]
        return self.token

    def new_project(self) -> str:
        status, body = self.call("POST", "/projects", {"name": "demo"})
        assert status == 201, body
        return body["id"]


@contextmanager
def api_client(resources: LocalResources, **overrides: Any) -> Iterator[ApiClient]:
    settings = load_settings({**resources.environment(), "AUTOSTACK_STAGE": "test"})
    settings = settings.replace(scrypt_n=2**10, **overrides)
    context = build_context(settings)
    set_context(context)
    try:
        from app import app

        with Client(app, stage_name="test") as client:
            api = ApiClient(client, context)
            api.login_new_user()
            yield api
    finally:
        reset_context()
