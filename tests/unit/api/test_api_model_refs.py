"""Routes name their models by reference ("module:Class", imported on first use): every
reference resolves to a pydantic model, and a malformed one fails naming itself."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

import app  # noqa: F401 - registers every route's operation
from chalicelib.openapi import operations, resolve_model


def test_every_declared_model_reference_resolves_to_a_model() -> None:
    refs = [
        ref
        for op in operations()
        for ref in (op.request_ref, op.query_ref, op.response_ref)
        if ref is not None
    ]
    assert len(refs) >= 30
    for ref in refs:
        model = resolve_model(ref)
        assert isinstance(model, type) and issubclass(model, BaseModel), ref
        if isinstance(ref, str):
            assert ref.endswith(":" + model.__name__)


def test_a_malformed_reference_names_itself() -> None:
    with pytest.raises(ValueError, match=r"chalicelib\.models\.api\.ProjectOut"):
        resolve_model("chalicelib.models.api.ProjectOut")
