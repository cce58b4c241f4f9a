"""Secret masking of log lines."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from runner.masking import MASK, MIN_SECRET_LENGTH, SecretMasker


def test_known_values_are_masked_wherever_they_appear() -> None:
    masker = SecretMasker(["hunter2-secret"])
    assert masker.mask('password = "hunter2-secret" and hunter2-secret') == (
        f'password = "{MASK}" and {MASK}'
    )


def test_escaped_forms_terraform_prints_are_masked_too() -> None:
    secret = 'a"b\\c${x}'
    masker = SecretMasker([secret])
    assert masker.mask('input = "a\\"b\\\\c$${x}"') == f'input = "{MASK}"'
    assert masker.mask('value: "a\\"b\\\\c${x}"') == f'value: "{MASK}"'


def test_a_multi_line_secret_is_masked_line_by_line() -> None:
    masker = SecretMasker(["first-line-of-it\nsecond-line-of-it"])
    assert masker.mask("> first-line-of-it") == f"> {MASK}"
    assert masker.mask("second-line-of-it <") == f"{MASK} <"


def test_the_longest_secret_wins_when_one_contains_another() -> None:
    masker = SecretMasker(["abcd", "abcdefgh"])
    assert masker.mask("xabcdefghx") == f"x{MASK}x"


def test_short_values_are_ignored() -> None:
    masker = SecretMasker(["x" * (MIN_SECRET_LENGTH - 1), ""])
    masker.add(None)
    assert len(masker) == 0
    assert masker.mask("xxx and more") == "xxx and more"


def test_credentials_from_the_environment_are_masked_by_name() -> None:
    masker = SecretMasker()
    masker.add_environment(
        {
            "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG",
            "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEJr",
            "GITHUB_TOKEN": "ghp_abcdefghijkl",
            "DB_PASSWORD": "p4ssw0rd!",
            "PATH": "/usr/bin:/bin",
        }
    )
    line = "wJalrXUtnFEMI/K7MDENG FwoGZXIvYXdzEJr ghp_abcdefghijkl p4ssw0rd! /usr/bin:/bin"
    assert masker.mask(line) == f"{MASK} {MASK} {MASK} {MASK} /usr/bin:/bin"


def test_credential_patterns_are_masked_without_being_known() -> None:
    masker = SecretMasker()
    assert masker.mask("key AKIAIOSFODNN7EXAMPLE used") == f"key {MASK} used"
    assert masker.mask("aws_secret_access_key = abc/def+ghi") == f"aws_secret_access_key = {MASK}"
    assert masker.mask("role arn:aws:iam::123456789012:role/x") == (
        "role arn:aws:iam::123456789012:role/x"
    )


def test_a_private_key_block_is_masked_from_begin_to_end() -> None:
    masker = SecretMasker()
    lines = [
        "before",
        "-----BEGIN RSA PRIVATE KEY-----",
        "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2Q",
        "-----END RSA PRIVATE KEY-----",
        "after",
    ]
    assert [masker.mask(line) for line in lines] == ["before", MASK, MASK, MASK, "after"]


@given(
    secret=st.text(min_size=MIN_SECRET_LENGTH, max_size=40).filter(lambda s: "\n" not in s),
    prefix=st.text(max_size=20),
    suffix=st.text(max_size=20),
)
def test_a_registered_secret_never_survives_masking(secret: str, prefix: str, suffix: str) -> None:
    masker = SecretMasker([secret])
    assert secret not in masker.mask(prefix + secret + suffix)
