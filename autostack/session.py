"""Talking to the API: one httpx client, the access token kept fresh, errors made clear.

Tokens: an access token lives 15 minutes, so every call first checks that the saved one
has more than ``REFRESH_MARGIN_S`` left, and refreshes it otherwise (or after a 401).
A refresh is safe:

- one in flight: a thread lock in this process and a file lock (``profile.lock``) across
  processes; inside them the profile is read again, and if another thread or process
  already refreshed, its tokens are used instead of spending the refresh token again;
- a lost answer (connection dropped) is retried with the *same* refresh token: the server
  answers the same successor within its grace window instead of revoking the login;
- a refused refresh (revoked, expired, reused) forgets the tokens and says to log in.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
from filelock import FileLock

from autostack.config import Profile, ProfileStore
from autostack.errors import ApiError, AuthError, CliError

REFRESH_MARGIN_S = 60
REFRESH_ATTEMPTS = 3
DEFAULT_TIMEOUT_S = 30.0


class Session:
    def __init__(
        self,
        store: ProfileStore,
        api_url: str,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.api_url = api_url.rstrip("/")
        self.http = http or httpx.Client(timeout=DEFAULT_TIMEOUT_S)
        self.clock = clock
        self.sleep = sleep
        self.profile = store.load()
        self._lock = threading.Lock()
        # What this process sent: ("read" | "change" | "auth") -> count.
        self.sent: Counter[str] = Counter()

    # -- tokens ---------------------------------------------------------------------------

    def sign_in(self, email: str, answer: dict[str, Any]) -> Profile:
        """Save a login's tokens (and the API URL they belong to)."""
        now = self.clock()
        with self._lock, FileLock(str(self._lock_file())):
            profile = self.store.load()
            profile.api = self.api_url
            profile.email = email
            self._take(profile, answer, now)
            self.store.save(profile)
            self.profile = profile
        return profile

    def sign_out(self) -> str | None:
        """Forget the tokens; the refresh token to revoke (None when not signed in)."""
        with self._lock, FileLock(str(self._lock_file())):
            profile = self.store.load()
            token = profile.refresh_token
            profile.forget_tokens()
            self.store.save(profile)
            self.profile = profile
        return token

    def access_token(self) -> str:
        profile = self.profile
        if not profile.signed_in:
            profile = self.profile = self.store.load()
        if not profile.signed_in:
            raise AuthError("not signed in", hint="run `autostack login` (or `autostack signup`)")
        if profile.access_token and profile.access_expires_at - REFRESH_MARGIN_S > self.clock():
            return profile.access_token
        return self.refresh(stale=profile.access_token)

    def refresh(self, stale: str | None) -> str:
        """A fresh access token; ``stale`` is the one the caller saw expire or refused."""
        with self._lock, FileLock(str(self._lock_file())):
            current = self.store.load()
            fresh = current.access_expires_at - REFRESH_MARGIN_S > self.clock()
            if current.access_token and current.access_token != stale and fresh:
                self.profile = current  # another thread or process refreshed meanwhile
                return current.access_token
            if not current.refresh_token:
                self.profile = current
                raise AuthError("not signed in", hint="run `autostack login`")
            answer = self._post_refresh(current)
            self._take(current, answer, self.clock())
            self.store.save(current)
            self.profile = current
            assert current.access_token is not None
            return current.access_token

    def _post_refresh(self, profile: Profile) -> dict[str, Any]:
        body = {"refresh_token": profile.refresh_token}
        for attempt in range(REFRESH_ATTEMPTS):
            try:
                self.sent["auth"] += 1
                response = self.http.post(f"{self.api_url}/auth/refresh", json=body)
            except httpx.TransportError:
                # The answer may be lost after the server rotated: the same token again is
                # answered with the same successor (the server's grace window).
                if attempt == REFRESH_ATTEMPTS - 1:
                    raise self._unreachable() from None
                self.sleep(0.5 * (attempt + 1))
                continue
            if response.status_code == 200:
                return dict(response.json())
            if response.status_code == 401:
                profile.forget_tokens()
                self.store.save(profile)
                raise AuthError(
                    "your session has ended (signed out, expired or revoked)",
                    hint="run `autostack login`",
                )
            raise _api_error(response)
        raise self._unreachable()

    def _take(self, profile: Profile, answer: dict[str, Any], now: float) -> None:
        profile.access_token = answer["access_token"]
        profile.access_expires_at = now + float(answer["expires_in"])
        profile.refresh_token = answer["refresh_token"]
        profile.refresh_expires_at = now + float(answer["refresh_expires_in"])

    def _lock_file(self) -> Any:
        self.store.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.store.lock_path

    # -- requests -------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> Any:
        """The JSON answer (None for 204); ApiError in the API's words otherwise."""
        response = self._send(method, path, body, params, auth, timeout_s)
        if response.status_code == 401 and auth:
            stale = self.profile.access_token
            self.refresh(stale=stale)
            response = self._send(method, path, body, params, auth, timeout_s)
        if response.status_code >= 400:
            raise _api_error(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        params: dict[str, Any] | None,
        auth: bool,
        timeout_s: float,
    ) -> httpx.Response:
        headers = {}
        if auth:
            headers["Authorization"] = f"Bearer {self.access_token()}"
            self.sent["read" if method == "GET" else "change"] += 1
        else:
            self.sent["auth"] += 1
        try:
            return self.http.request(
                method,
                f"{self.api_url}{path}",
                json=body,
                params=params,
                headers=headers,
                timeout=timeout_s,
            )
        except httpx.TransportError:
            raise self._unreachable() from None

    def _unreachable(self) -> CliError:
        return CliError(
            f"cannot reach the API at {self.api_url}",
            hint="is it running? `make run` starts it locally; or pass --api",
        )

    def post_file(self, post: dict[str, Any], filename: str, data: bytes) -> None:
        """Send a file with a presigned POST (every field, then the file)."""
        try:
            response = self.http.post(
                post["url"],
                data=post["fields"],
                files={"file": (filename, data, post.get("content_type", "application/zip"))},
                timeout=120,
            )
        except httpx.TransportError as exc:
            raise CliError(f"the upload did not go through: {exc}", hint="try again") from None
        if response.status_code not in (200, 201, 204):
            raise CliError(
                f"the storage refused the upload ({response.status_code}): {response.text[:200]}",
                hint="try again; if it keeps failing, the upload link may have expired",
            )

    def get_bytes(self, url: str) -> bytes:
        try:
            response = self.http.get(url, timeout=120)
        except httpx.TransportError as exc:
            raise CliError(f"the download did not go through: {exc}") from None
        if response.status_code != 200:
            raise CliError(f"the download failed ({response.status_code})", hint="try again")
        return response.content


def _api_error(response: httpx.Response) -> ApiError:
    try:
        error = response.json()["error"]
        return ApiError(
            response.status_code, str(error["code"]), str(error["message"]), error.get("details")
        )
    except (ValueError, KeyError, TypeError):
        text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        return ApiError(response.status_code, "http_error", f"HTTP {response.status_code} {text}")
