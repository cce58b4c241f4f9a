"""CORS for one browser origin (``AUTOSTACK_CORS_ORIGIN``; unset: CORS off).

Two halves, both from the same environment variable:

- Preflights (``OPTIONS``) are answered by API Gateway (locally: by chalice's local
  gateway), never by the Lambda, from each route's chalice ``CORSConfig``. Routes are
  declared when ``app`` is imported, so ``route_cors()`` reads the variable then: at
  ``chalice deploy`` (chalice sets the stage's environment variables before importing
  app.py, and writes the preflight answers into API Gateway), at Lambda init and at
  ``chalice local`` start. Changing the origin therefore needs a redeploy.
- Every actual response, errors included (chalice only decorates its views' own
  answers), gets ``cors_headers(settings.cors_origin)`` from the HTTP middleware, read
  lazily with the other settings.
"""

from __future__ import annotations

from functools import cache

from chalice import CORSConfig

from chalicelib.settings import cors_origin_from_environment

# What a browser script may read from our answers, and send to us.
EXPOSE_HEADERS = (
    "X-Request-Id",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Retry-After",
)
ALLOW_HEADERS = ("Authorization", "Content-Type")
PREFLIGHT_MAX_AGE_S = 600


def cors_headers(origin: str) -> dict[str, str]:
    """The headers every answer carries when CORS is on (bearer tokens: no credentials)."""
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": ",".join(EXPOSE_HEADERS),
    }


@cache
def route_cors() -> CORSConfig | None:
    """The CORSConfig of every route (one instance: chalice wants it equal per path)."""
    origin = cors_origin_from_environment()
    if origin is None:
        return None
    return CORSConfig(
        allow_origin=origin,
        allow_headers=list(ALLOW_HEADERS),
        expose_headers=list(EXPOSE_HEADERS),
        max_age=PREFLIGHT_MAX_AGE_S,
        allow_credentials=False,
    )
