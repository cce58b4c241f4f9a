"""Where the client keeps the user's profile: the API URL, the email and the tokens.

One file, ``profile.json``, in the user's config directory (XDG: ``$XDG_CONFIG_HOME/autostack``
or ``~/.config/autostack``; ``AUTOSTACK_CONFIG_DIR`` overrides it), written with mode 0600
through a temporary file and a rename, so a reader never sees half a file. Refreshes of
the tokens take ``profile.lock`` (see ``autostack.session``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROFILE_FILE = "profile.json"
LOCK_FILE = "profile.lock"


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    override = env.get("AUTOSTACK_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("autostack", appauthor=False))


@dataclass
class Profile:
    api: str | None = None
    email: str | None = None
    access_token: str | None = None
    access_expires_at: float = 0.0
    refresh_token: str | None = None
    refresh_expires_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def signed_in(self) -> bool:
        return bool(self.refresh_token)

    def forget_tokens(self) -> None:
        self.access_token = self.refresh_token = None
        self.access_expires_at = self.refresh_expires_at = 0.0


class ProfileStore:
    """Reads and writes ``profile.json`` in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def path(self) -> Path:
        return self.directory / PROFILE_FILE

    @property
    def lock_path(self) -> Path:
        return self.directory / LOCK_FILE

    def load(self) -> Profile:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return Profile()
        except (OSError, ValueError):
            return Profile()  # unreadable: as if signed out (login writes a good one)
        known = {k: v for k, v in data.items() if k in Profile.__dataclass_fields__}
        return Profile(**known)

    def save(self, profile: Profile) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = self.directory / f".{PROFILE_FILE}.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(asdict(profile), handle, indent=2)
            os.chmod(temporary, 0o600)  # an existing file keeps its mode with O_CREAT
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise


def resolve_api(option: str | None, environ: Mapping[str, str], profile: Profile) -> str | None:
    """The API URL: ``--api``, else ``AUTOSTACK_API``, else the saved profile's."""
    for candidate in (option, environ.get("AUTOSTACK_API"), profile.api):
        if candidate:
            return candidate.rstrip("/")
    return None
