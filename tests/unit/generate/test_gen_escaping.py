"""Per-language escaping: every hostile string survives as data, never as code."""

from __future__ import annotations

import json
import shlex

import hcl2
import yaml
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.generate import escaping
from tests.golden.helpers import decode_hcl_string
from tests.golden.stack_profiles import HOSTILE

HOSTILE_VALUES = [
    HOSTILE,
    "${var.secret}",
    "%{ for x in y }x%{ endfor }",
    '"\n}\nresource "x" "y" {\n',
    "$${already}",
    "\\${x}",
    "line1\r\nline2\ttab\x00nul\x1besc\x7f",
    "${{ github.token }}",
    "$HOME $(id) `id` ; rm -rf /",
    "ünïcødé ☃ \u2028 \u2029",
]
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)


def test_hcl_string_round_trips_hostile_values() -> None:
    for value in HOSTILE_VALUES:
        literal = escaping.hcl_string(value)
        assert "\n" not in literal and "\r" not in literal
        assert decode_hcl_string(literal) == value


@given(texts)
def test_hcl_string_round_trips_any_text(value: str) -> None:
    assert decode_hcl_string(escaping.hcl_string(value)) == value


def test_hcl_string_parses_as_one_attribute() -> None:
    for value in HOSTILE_VALUES:
        doc = hcl2.loads(f"locals {{\n  v = {escaping.hcl_string(value)}\n}}\n")
        (block,) = doc["locals"]
        assert set(block) - {"__is_block__"} == {"v"}
        assert decode_hcl_string(block["v"]) == value


@given(texts)
def test_yaml_string_round_trips(value: str) -> None:
    assert yaml.safe_load(f"key: {escaping.yaml_string(value)}\n") == {"key": value}


def test_gha_string_neutralizes_expressions() -> None:
    value = "echo ${{ secrets.GITHUB_TOKEN }} and ${{github.event.issue.title}}"
    loaded = yaml.safe_load(f"run: {escaping.gha_string(value)}\n")["run"]
    # Actions evaluates ${{ '${{' }} to the literal text "${{"; nothing else is an expression.
    assert loaded.replace("${{ '${{' }}", "${{") == value
    assert "${{ secrets" not in loaded


def test_compose_string_doubles_dollars() -> None:
    loaded = yaml.safe_load(f"v: {escaping.compose_string('a$HOME${X}')}\n")["v"]
    assert loaded == "a$$HOME$${X}"


@given(texts)
def test_shell_quote_is_one_word(value: str) -> None:
    if "\x00" in value:
        return
    assert shlex.split(f"cmd {escaping.shell_quote(value)}") == ["cmd", value]


def test_dockerfile_exec_is_a_json_array_on_one_line() -> None:
    text = escaping.dockerfile_exec(["/bin/sh", "-c", HOSTILE])
    assert "\n" not in text and "\r" not in text
    assert json.loads(text) == ["/bin/sh", "-c", HOSTILE]


def test_tftpl_escape_makes_template_sequences_literal() -> None:
    assert escaping.tftpl_escape("a ${b} %{ if c }") == "a $${b} %%{ if c }"


@given(texts)
def test_identifier_and_slug_are_safe(value: str) -> None:
    ident = escaping.identifier(value)
    assert ident[0].isalpha() and all(c.isalnum() or c == "_" for c in ident)
    assert ident.isascii() and len(ident) <= 63
    name = escaping.slug(value, max_len=20)
    assert name[0].isalpha() and all(c.isalnum() or c == "-" for c in name)
    assert name.isascii() and len(name) <= 20 and not name.endswith("-")


def test_env_name_repairs_invalid_names() -> None:
    assert escaping.env_name("DATABASE_URL") == "DATABASE_URL"
    assert escaping.env_name('A"B\n${C}') == "A_B___C_"
    assert escaping.env_name("1ST") == "_1ST"
    assert escaping.is_env_name(escaping.env_name(HOSTILE))


def test_url_path_accepts_only_plain_paths() -> None:
    assert escaping.url_path("/health") == "/health"
    assert escaping.url_path("/actuator/health") == "/actuator/health"
    assert escaping.url_path('/h"; rm') == "/"
    assert escaping.url_path("health") == "/"
    assert escaping.url_path(None) == "/"
