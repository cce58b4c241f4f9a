"""Secret masking for log lines shipped to users.

Every line Terraform prints passes through a ``SecretMasker`` before it is
logged, stored or shown. Two mechanisms:

- known values: the secrets the runner itself hands to Terraform (credentials
  from its environment, sensitive variable values) are replaced wherever they
  appear, also in the escaped forms Terraform prints strings in;
- patterns: things that look like credentials even when we did not know them
  (AWS access key ids, private key blocks).

Masking is per line: a multi-line secret is also registered line by line, and
the lines of a PEM private key block are masked from its BEGIN to its END line.
Values shorter than ``MIN_SECRET_LENGTH`` are ignored, because masking every
occurrence of "ab" would make logs unreadable without hiding anything real.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

MASK = "****"
MIN_SECRET_LENGTH = 4

# Environment variables whose values are credentials, whatever their value looks like.
SECRET_ENV_NAMES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AUTOSTACK_JWT_KEY",
)
# Any other variable whose name says it holds a secret.
_SECRET_NAME = re.compile(r"(SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE_KEY|CREDENTIAL)", re.I)

_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
_PEM_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY-----")

_PATTERNS = (
    # AWS access key ids (long-term AKIA, temporary ASIA, and the other documented prefixes).
    re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z0-9]{16}\b"),
    # `aws_secret_access_key = xxx` style assignments (e.g. a credentials file echoed).
    re.compile(r"(?i)(?<=aws_secret_access_key)(\s*[=:]\s*)\S+"),
)


def _variants(secret: str) -> set[str]:
    """The forms in which a value can show up in Terraform's output."""
    forms = {secret}
    escaped = json.dumps(secret)[1:-1]  # how HCL/JSON print a quoted string
    for form in (secret, escaped):  # HCL also escapes template sequences
        forms.add(form)
        forms.add(form.replace("${", "$${").replace("%{", "%%{"))
    for part in secret.splitlines():  # a multi-line secret leaks line by line
        forms.add(part.strip())
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class SecretMasker:
    """Replaces known secret values and credential-looking text in log lines."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._regex: re.Pattern[str] | None = None
        self._in_private_key = False  # inside a PEM private key block spanning lines
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Register a value to hide; short or empty values are ignored (see module doc)."""
        if not secret:
            return
        new = _variants(secret) - self._values
        if new:
            self._values |= new
            # Longest first, so that a secret containing another is masked whole.
            alternatives = sorted(self._values, key=len, reverse=True)
            self._regex = re.compile("|".join(re.escape(value) for value in alternatives))

    def add_environment(self, environ: Mapping[str, str]) -> None:
        """Register the credential values found in an environment."""
        for name, value in environ.items():
            if name in SECRET_ENV_NAMES or _SECRET_NAME.search(name):
                self.add(value)

    def mask(self, line: str) -> str:
        """Mask one line. Stateful only for PEM private key blocks, which span lines."""
        if self._in_private_key or _PEM_BEGIN.search(line):
            self._in_private_key = not _PEM_END.search(line)
            return MASK
        if self._regex is not None:
            line = self._regex.sub(MASK, line)
        for pattern in _PATTERNS:
            line = pattern.sub(_pattern_replacement, line)
        return line

    def __len__(self) -> int:
        return len(self._values)


def _pattern_replacement(match: re.Match[str]) -> str:
    # Keep an assignment's "= " so that the line still reads as what it was.
    if match.lastindex:
        return match.group(1) + MASK
    return MASK
