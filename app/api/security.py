"""Who is calling: the bearer token of patient calls."""

from flask import g, request

from app.services import auth

BEARER = {"bearerAuth": []}


def current_account():
    """The caller's account, from ``Authorization: Bearer <token>``; 401 without a valid one."""
    if "account" not in g:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        g.account = auth.authenticate(token.strip() if scheme.lower() == "bearer" else None)
    return g.account
