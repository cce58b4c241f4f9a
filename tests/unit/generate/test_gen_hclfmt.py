"""The `=` alignment pass reproduces terraform fmt's grouping rule."""

from __future__ import annotations

from chalicelib.generate.hclfmt import align_assignments


def test_aligns_consecutive_single_line_attributes() -> None:
    text = 'resource "a" "b" {\n  x = 1\n  longer = "v"\n}\n'
    assert align_assignments(text) == 'resource "a" "b" {\n  x      = 1\n  longer = "v"\n}\n'


def test_multiline_values_blank_lines_and_comments_break_groups() -> None:
    text = "\n".join(
        [
            "  bucket = 1",
            "  tags = {",
            '    "Name" = "x"',
            "    b = 2",
            "  }",
            "  foo = 1",
            "  barbaz = [1, 2]",
            "  # comment",
            "  z = 1",
            "",
            "  qq = jsonencode({ a = 1 })",
            "  env = { A = 1 }",
        ]
    )
    expected = "\n".join(
        [
            "  bucket = 1",
            "  tags = {",
            '    "Name" = "x"',
            "    b      = 2",
            "  }",
            "  foo    = 1",
            "  barbaz = [1, 2]",
            "  # comment",
            "  z = 1",
            "",
            "  qq  = jsonencode({ a = 1 })",
            "  env = { A = 1 }",
        ]
    )
    assert align_assignments(text) == expected


def test_strings_with_brackets_equals_and_interpolation_are_single_line() -> None:
    text = '  a = "x = { [ ("\n  bb = "${join(",", ["}"])}"\n  c = "\\" ="'
    assert (
        align_assignments(text)
        == '  a  = "x = { [ ("\n  bb = "${join(",", ["}"])}"\n  c  = "\\" ="'
    )


def test_comparisons_and_object_lines_are_not_assignments() -> None:
    text = "  condition = var.a == 1\n  { name = 1 },\n  x = 2"
    assert align_assignments(text) == "  condition = var.a == 1\n  { name = 1 },\n  x = 2"
