"""Contrast of the dashboard's colour pairs, read from dashboard/src/style.css (WCAG 2.2:
4.5:1 for text, 3:1 for focus rings, bars and control borders). The browser test checks
the rendered page's text too; this one names the pair that broke."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[3] / "dashboard" / "src" / "style.css"
TEXT, NON_TEXT = 4.5, 3.0
BROWSER_LINK = "#0000ee"  # links keep the browser's colour


@cache
def _rules() -> list[tuple[list[str], dict[str, str]]]:
    text = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    rules = []
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", text):
        names = [s.strip() for s in selectors.split(",")]
        props = {}
        for declaration in body.split(";"):
            if ":" in declaration:
                name, value = declaration.split(":", 1)
                props[name.strip()] = value.strip()
        rules.append((names, props))
    return rules


def _var(name: str) -> str:
    return prop(":root", f"--{name}")


def prop(selector: str, name: str) -> str:
    """The last value of `name` in rules naming `selector`, var() resolved."""
    found = [props[name] for names, props in _rules() if selector in names and name in props]
    assert found, f"style.css has no {name} for {selector}"
    value = found[-1]
    return re.sub(r"var\(--([\w-]+)\)", lambda m: _var(m.group(1)), value)


def _colour(value: str) -> str:
    match = re.search(r"#[0-9a-fA-F]{3,6}\b", value)
    assert match, f"not a hex colour: {value!r}"
    return match.group(0)


def luminance(hex_colour: str) -> float:
    digits = hex_colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_formula_matches_wcag_reference_values() -> None:
    assert contrast("#000", "#fff") == pytest.approx(21.0)
    assert contrast("#777", "#fff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#fff", "#fff") == pytest.approx(1.0)


PAGE = ("page", lambda: _colour(prop("body", "background")))
CARD = ("card", lambda: _colour(prop(".card", "background")))
RECOMMENDED = ("recommended row", lambda: _colour(prop(".bar-row.recommended", "background")))
TOP = ("header", lambda: _colour(prop(".top", "background")))
CODE = ("code block", lambda: _colour(prop(".code", "background")))
TIP = ("tooltip", lambda: _colour(prop(".tip", "background")))

PAIRS = [
    ("body text", lambda: _colour(prop("body", "color")), [PAGE, CARD, RECOMMENDED, TIP], TEXT),
    ("muted text", lambda: _colour(prop(".muted", "color")), [PAGE, CARD, RECOMMENDED], TEXT),
    ("error text", lambda: _colour(prop(".error", "color")), [PAGE, CARD], TEXT),
    ("warnings", lambda: _colour(prop(".warnings li", "color")), [CARD], TEXT),
    ("recommended tag", lambda: _colour(prop(".tag", "color")), [CARD, RECOMMENDED], TEXT),
    ("file buttons", lambda: _colour(prop("button.file", "color")), [CARD], TEXT),
    ("links", lambda: BROWSER_LINK, [PAGE, CARD], TEXT),
    ("header text", lambda: _colour(prop(".top", "color")), [TOP], TEXT),
    ("code text", lambda: _colour(prop(".code", "color")), [CODE], TEXT),
    *[
        (f"{kind} tokens", lambda kind=kind: _colour(prop(f".tok-{kind}", "color")), [CODE], TEXT)
        for kind in ("comment", "string", "number", "keyword", "key")
    ],
    ("focus ring", lambda: _colour(prop(":focus-visible", "outline")), [PAGE, CARD, TOP], NON_TEXT),
    (
        "list-price bars",
        lambda: _colour(prop(".bar.list", "background")),
        [CARD, RECOMMENDED],
        NON_TEXT,
    ),
    (
        "free-tier bars",
        lambda: _colour(prop(".bar.free", "background")),
        [CARD, RECOMMENDED],
        NON_TEXT,
    ),
    ("control borders", lambda: _colour(prop("input", "border")), [CARD, PAGE], NON_TEXT),
]


def test_button_text_on_button_colours() -> None:
    text = _colour(prop("button", "color"))
    assert contrast(text, _colour(prop("button", "background"))) >= TEXT
    assert contrast(text, _colour(prop("button.danger", "background"))) >= TEXT


@pytest.mark.parametrize(
    ("name", "foreground", "backgrounds", "minimum"), PAIRS, ids=[p[0] for p in PAIRS]
)
def test_colour_pair_contrast(name, foreground, backgrounds, minimum) -> None:  # type: ignore[no-untyped-def]
    fg = foreground()
    for where, background in backgrounds:
        bg = background()
        ratio = contrast(fg, bg)
        assert ratio >= minimum, f"{name} {fg} on the {where} {bg}: {ratio:.2f}:1 < {minimum}:1"
