"""Who is calling: the bearer token of patient calls."""

from flask import g, request

from app.services import auth

BEARER = {"bearerAuth": []}


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization`` header's value ``Bearer <token>``, else None."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _bearer():
    return bearer_token(request.headers.get("Authorization"))


def current_account():
    """The caller's account, from ``Authorization: Bearer <token>``; 401 without a valid one."""
    if "account" not in g:
        g.account = auth.authenticate(_bearer())
    return g.account


def signed_caller():
    """Who the token was signed for, not yet checked against revocation: for a service that
    checks it itself once it is past its fast refusals (see holds.hold_slot)."""
    return auth.verify_signature(_bearer())
