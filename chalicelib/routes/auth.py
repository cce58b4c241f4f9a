"""Identity routes: signup, login, refresh, logout, and /me."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.routes.endpoint import ApiRequest, endpoint
from chalicelib.store.records import UserRecord

if TYPE_CHECKING:
    from chalicelib.models.api import (
        TokenResponse,
        UserOut,
    )
    from chalicelib.services import users


bp = Blueprint(__name__)


def user_out(user: UserRecord) -> UserOut:
    from chalicelib.models.api import UserOut

    return UserOut(
        id=user.user_id,
        email=user.email,
        created_at=user.created_at,
        project_count=user.project_count,
    )


def token_response(session: users.Session) -> TokenResponse:
    from chalicelib.models.api import TokenResponse

    return TokenResponse(
        access_token=session.access_token,
        expires_in=session.access_expires_in,
        refresh_token=session.refresh_token,
        refresh_expires_in=session.refresh_expires_in,
    )


@endpoint(
    bp,
    "/auth/signup",
    "POST",
    summary=(
        "Create an account (403 when the user limit is reached or the email domain is not"
        " allowed, 409 for a taken email, 429 after too many signups from one address)"
    ),
    body="chalicelib.models.api:SignupRequest",
    response="chalicelib.models.api:UserOut",
    status=201,
    auth=False,
    tags=("auth",),
    errors=(403, 409, 429),
)
def signup(req: ApiRequest) -> UserOut:
    from chalicelib.services import users

    return user_out(users.signup(req.ctx, req.body.email, req.body.password, req.client_ip))


@endpoint(
    bp,
    "/auth/login",
    "POST",
    summary="Exchange email and password for an access and a refresh token",
    body="chalicelib.models.api:LoginRequest",
    response="chalicelib.models.api:TokenResponse",
    auth=False,
    tags=("auth",),
    errors=(401, 429),
)
def login(req: ApiRequest) -> TokenResponse:
    from chalicelib.services import users

    session = users.login(req.ctx, req.body.email, req.body.password, req.client_ip)
    return token_response(session)


@endpoint(
    bp,
    "/auth/refresh",
    "POST",
    summary="Rotate a refresh token (reusing an old one revokes the whole login)",
    body="chalicelib.models.api:RefreshRequest",
    response="chalicelib.models.api:TokenResponse",
    auth=False,
    tags=("auth",),
    errors=(401,),
)
def refresh(req: ApiRequest) -> TokenResponse:
    from chalicelib.services import users

    return token_response(users.refresh(req.ctx, req.body.refresh_token))


@endpoint(
    bp,
    "/auth/logout",
    "POST",
    summary="Revoke a refresh token and every token rotated from the same login",
    body="chalicelib.models.api:RefreshRequest",
    status=204,
    auth=False,
    tags=("auth",),
)
def logout(req: ApiRequest) -> None:
    from chalicelib.services import users

    users.logout(req.ctx, req.body.refresh_token)


@endpoint(
    bp,
    "/me",
    "GET",
    summary="The current user",
    response="chalicelib.models.api:UserOut",
    tags=("auth",),
)
def me(req: ApiRequest) -> UserOut:
    from chalicelib.services import users

    return user_out(users.get_user(req.ctx, req.user_id))
