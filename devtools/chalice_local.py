"""`chalice local`, with four fixes for local use; same arguments as `chalice local`.

1. TCP_NODELAY on the dev server's sockets. Chalice's handler writes the headers and
   the body in two sends; with Nagle's algorithm and the client's delayed ACK every
   keep-alive response waited ~40 ms (measured: 48 ms for /openapi.json, 1 ms after).
2. A listen backlog of 128 instead of socketserver's 5: twenty clients connecting at
   once (the race tests, the benchmark) got "connection reset by peer".
3. An unknown route answers 404 in the API's error shape instead of chalice's imitation
   of API Gateway's default 403 `{"message": "Missing Authentication Token"}`. In AWS
   that answer comes from API Gateway before the Lambda runs; a gateway response for
   MISSING_AUTHENTICATION_TOKEN gives the same 404 there (README, "Errors").
4. `OPTIONS` on a route without CORS answers 405 `method_not_allowed` in the error
   shape, with an `Allow` header, instead of chalice's empty 200 (whose body None also
   crashes chalice's test client with an AttributeError). With CORS on
   (AUTOSTACK_CORS_ORIGIN) chalice's own preflight answer stays, with an empty body.

Usage: python devtools/chalice_local.py local --stage local --port 3000
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

from devtools import dashboard_static

NOT_FOUND_BODY = {
    "error": {"code": "not_found", "message": "no such route", "details": None},
}


def _json_answer(status: int, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **headers},
        "multiValueHeaders": {},
        "body": json.dumps(body),
    }


def options_answer(app: Any, route_path: str, original_answer: Any) -> dict[str, Any]:
    """The answer to OPTIONS on a known route (chalice never passes it to the app)."""
    views = app.routes[route_path]
    if any(view.cors is not None for view in views.values()):
        answer = original_answer()  # chalice's preflight answer, as API Gateway's mock gives
        if answer.get("body") is None:
            answer["body"] = ""
        return answer
    allowed = ", ".join(sorted(views))
    body = {
        "error": {
            "code": "method_not_allowed",
            "message": f"OPTIONS is not allowed here; allowed: {allowed}",
            "details": {"allowed": sorted(views)},
        }
    }
    return _json_answer(405, body, {"Allow": allowed, "X-Request-Id": uuid.uuid4().hex})


def patch_local_gateway() -> None:
    """Apply the fixes to chalice's local server (idempotent)."""
    from chalice import local

    if getattr(local.LocalGateway, "_autostack_patched", False):
        return
    local.ChaliceRequestHandler.disable_nagle_algorithm = True
    local.ThreadedHTTPServer.request_queue_size = 128
    original = local.LocalGateway.handle_request

    def handle_request(
        self: Any, method: str, path: str, headers: Any, body: bytes | None
    ) -> dict[str, Any]:
        try:
            matched = self.event_converter._route_matcher.match_route(path)
        except ValueError:
            page = dashboard_static.static_answer(method, path, headers)  # the dashboard
            if page is not None:
                return page
            return _json_answer(404, NOT_FOUND_BODY, {"X-Request-Id": uuid.uuid4().hex})
        if method.upper() == "OPTIONS" and "OPTIONS" not in self._app_object.routes[matched.route]:
            return options_answer(
                self._app_object,
                matched.route,
                lambda: original(self, method, path, headers, body),
            )
        return original(self, method, path, headers, body)

    local.LocalGateway.handle_request = handle_request  # type: ignore[method-assign]
    local.LocalGateway._autostack_patched = True  # type: ignore[attr-defined]


def main(argv: list[str]) -> None:
    patch_local_gateway()
    dashboard_static.prepare_local(argv)  # the bucket's CORS rule for browser uploads
    from chalice.cli import cli

    # chalice's auto-reloader restarts the server by running sys.argv again.
    sys.argv = [sys.executable, __file__, *argv]
    cli.main(args=argv, prog_name="chalice", obj={})


if __name__ == "__main__":
    main(sys.argv[1:])
