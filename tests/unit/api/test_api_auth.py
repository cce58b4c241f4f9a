import base64
import json

import jwt
import pytest

from chalicelib.auth.passwords import hash_password, verify_password
from chalicelib.auth.tokens import TokenSigner, hash_refresh_token, key_id, new_refresh_token
from chalicelib.errors import UnauthorizedError

KEY = "s" * 48
NOW = 1_800_000_000


def signer(**kw: object) -> TokenSigner:
    args = {"key": KEY, "issuer": "autostack", "audience": "autostack-api", "ttl_s": 900}
    args.update(kw)
    return TokenSigner(**args)  # type: ignore[arg-type]


def test_password_round_trip_and_format() -> None:
    stored = hash_password("correct horse battery", n=2**14)
    assert stored.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert hash_password("same", n=2**10) != hash_password("same", n=2**10)  # salted


@pytest.mark.parametrize("stored", ["", "bcrypt$x", "scrypt$a$b$c$d$e", "scrypt$1024$8$1$!!$??"])
def test_malformed_hashes_never_verify(stored: str) -> None:
    assert verify_password("anything", stored) is False


def test_access_token_claims_and_kid() -> None:
    token = signer().issue("user-1", NOW)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "typ": "JWT", "kid": key_id(KEY)}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == "autostack" and claims["aud"] == "autostack-api"
    assert claims["exp"] - claims["iat"] == 900
    assert signer().verify(token, NOW + 899).user_id == "user-1"


def _forge(claims: dict, header: dict, key: str = KEY, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg, headers=header)


def _claims(**kw: object) -> dict:
    base = {"iss": "autostack", "aud": "autostack-api", "sub": "u", "iat": NOW, "exp": NOW + 900}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


def _alg_none(claims: dict) -> str:
    def part(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': key_id(KEY)})}.{part(claims)}."


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda: signer().issue("u", NOW - 900), id="expired"),
        pytest.param(lambda: signer(key="x" * 48).issue("u", NOW), id="other-key"),
        pytest.param(lambda: signer(audience="other").issue("u", NOW), id="wrong-audience"),
        pytest.param(lambda: signer(issuer="evil").issue("u", NOW), id="wrong-issuer"),
        pytest.param(lambda: _alg_none(_claims()), id="alg-none"),
        pytest.param(lambda: _forge(_claims(sub=None), {"kid": key_id(KEY)}), id="no-sub"),
        pytest.param(lambda: _forge(_claims(exp=None), {"kid": key_id(KEY)}), id="no-exp"),
        pytest.param(lambda: _forge(_claims(iat=None), {"kid": key_id(KEY)}), id="no-iat"),
        pytest.param(lambda: _forge(_claims(aud=None), {"kid": key_id(KEY)}), id="no-aud"),
        pytest.param(lambda: _forge(_claims(), {}), id="no-kid"),
        pytest.param(lambda: _forge(_claims(), {"kid": "other"}), id="wrong-kid"),
        pytest.param(
            lambda: _forge(_claims(), {"kid": key_id(KEY)}, alg="HS512"),
            id="other-alg",
            marks=pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
        ),
        pytest.param(lambda: _forge(_claims(sub=5), {"kid": key_id(KEY)}), id="sub-not-string"),
        pytest.param(lambda: "not.a.jwt", id="garbage"),
        pytest.param(lambda: signer().issue("u", NOW)[:-2] + "xx", id="bad-signature"),
    ],
)
def test_bad_tokens_are_refused(make_token) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnauthorizedError):
        signer().verify(make_token(), NOW)


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError):
        signer(key="short")


def test_refresh_tokens_are_random_and_hashed() -> None:
    a, b = new_refresh_token(), new_refresh_token()
    assert a != b and len(a) >= 43
    assert hash_refresh_token(a) != a and len(hash_refresh_token(a)) == 64
