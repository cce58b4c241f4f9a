"""Request models: email normalization, password policy, project names."""

import pytest
from pydantic import ValidationError

from chalicelib.models.api import ProjectCreate, ProjectUpdate, SignupRequest, normalize_email


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ada@Example.COM ", "ada@example.com"),
        ("a.b+tag@sub.example.io", "a.b+tag@sub.example.io"),
        ("no-at-sign", None),
        ("a@b", None),
        ("a@@b.io", None),
        ("a@b..io", None),
        ("a\x00b@c.io", None),
        ("a" * 65 + "@b.io", None),
        ("a@" + "b" * 250 + ".io", None),
    ],
)
def test_email_normalization(raw: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            normalize_email(raw)
    else:
        assert normalize_email(raw) == expected


def test_password_policy() -> None:
    ok = SignupRequest.model_validate({"email": "a@b.io", "password": "x" * 12})
    assert ok.password == "x" * 12
    for bad in ("x" * 11, "x" * 257, "A@B.io", "a"):
        with pytest.raises(ValidationError):
            SignupRequest.model_validate({"email": "a@b.io", "password": bad})
    with pytest.raises(ValidationError):  # the local part as a password
        SignupRequest.model_validate({"email": "longlocalpart@b.io", "password": "LongLocalPart"})


def test_project_names() -> None:
    assert ProjectCreate.model_validate({"name": " shop-api_v2.1 "}).name == "shop-api_v2.1"
    for bad in ("", " ", "-x", "a/b", "a" * 65, "é", "a\nb"):
        with pytest.raises(ValidationError):
            ProjectCreate.model_validate({"name": bad})
    with pytest.raises(ValidationError):
        ProjectCreate.model_validate({"name": "ok", "description": "bell\x07"})
    with pytest.raises(ValidationError):
        ProjectUpdate.model_validate({})
    with pytest.raises(ValidationError):  # strict: no coercion
        ProjectCreate.model_validate({"name": 5})
