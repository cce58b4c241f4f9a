"""Secret detection: real-looking credentials found and masked, placeholders ignored."""

from __future__ import annotations

import pytest

from runner.analysis.secrets import is_placeholder, mask, scan_secrets

GH = "ghp_" + "Zq8Lm2Xv9Tp4Kw7Nj3Rb6Yc1Hd5Fg0Sa2Ue8"
AWS = "AKIA" + "Q2R7T4W9Y3U8I1O6"


def kinds(text: str, rel: str = "config.py") -> dict[str, list]:
    out: dict[str, list] = {}
    for s in scan_secrets(rel, text.encode()):
        out.setdefault(s.type, []).append(s)
    return out


def test_known_token_shapes_are_found_with_lines() -> None:
    text = f"a = 1\nTOKEN = '{GH}'\nkey_id = \"{AWS}\"\n"
    found = kinds(text)
    assert [s.line for s in found["github_token"]] == [2]
    assert [s.line for s in found["aws_access_key_id"]] == [3]


def test_values_are_always_masked() -> None:
    for text in (
        f"x='{GH}'",
        f"x='{AWS}'",
        "u = 'mysql://app:Xy7#kL9!pQ@db:3306/x'",
        "API_SECRET = 'q8Zr-4Lm9Xv2Tp7Kw3Nj'",
    ):
        for secret in scan_secrets("f.py", text.encode()):
            for raw in (GH, AWS, "Xy7#kL9!pQ", "q8Zr-4Lm9Xv2Tp7Kw3Nj"):
                assert raw not in secret.masked
            assert "*" in secret.masked
    assert mask(AWS) == "AKIA" + "*" * 12 + "I1O6"


def test_password_in_url_keeps_scheme_user_and_host() -> None:
    (s,) = scan_secrets("db.py", b"DSN = 'postgresql://app:Xy7kL9pQwz@db.internal:5432/x'")
    assert s.type == "password_in_url"
    assert s.masked.startswith("postgresql://app:") and s.masked.endswith("@db.internal")


@pytest.mark.parametrize(
    "text",
    [
        "SECRET_KEY = 'changeme'",
        "API_TOKEN = 'your-api-token-here'",
        "password = 'xxxxxxxxxxxx'",
        "token = os.environ['TOKEN']",
        "secret = get_secret_value()",
        "DB = 'postgres://postgres:postgres@localhost/dev'",
        "AMQP = 'amqp://guest:guest@localhost'",
        "url = 'postgres://user:${DB_PASSWORD}@db/app'",
        "key = 'AKIAIOSFODNN7EXAMPLE'",
        "PASSWORD = '<your password>'",
        "password: hunter2",
        "auth_token = settings.auth_token",
        "this.token = token;",
    ],
)
def test_placeholders_and_references_are_not_secrets(text: str) -> None:
    assert scan_secrets("app.py", text.encode()) == []


def test_example_env_files_skip_the_generic_rule_but_not_real_tokens() -> None:
    text = f"SECRET_KEY=q8Zr-4Lm9Xv2Tp7Kw3Nj\nGITHUB_TOKEN={GH}\n"
    assert set(kinds(text, ".env.example")) == {"github_token"}
    assert set(kinds(text, ".env")) == {"generic_secret", "github_token"}


def test_private_key_header_only() -> None:
    (s,) = scan_secrets("id_rsa", b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n")
    assert s.type == "private_key" and "b3Blbn" not in s.masked


def test_tokens_inside_longer_words_are_ignored() -> None:
    assert scan_secrets("x.py", b"id = 'XAKIAQ2R7T4W9Y3U8I1O6Z'") == []
    assert is_placeholder("${TOKEN}") and is_placeholder("aaaaaaaaaa")


def test_a_file_full_of_keys_is_capped() -> None:
    from runner.analysis.secrets import MAX_PER_FILE

    keys = "\n".join(f"k{i} = 'AKIA{i:016d}'".replace("0", "Q") for i in range(2000))
    found = scan_secrets("keys.py", keys.encode())
    assert len(found) == MAX_PER_FILE
    assert [s.line for s in found] == list(range(1, MAX_PER_FILE + 1))
