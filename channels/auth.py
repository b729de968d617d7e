"""Who is calling an HTTP route: the bearer tokens of CONTRACT.md's back office."""

from __future__ import annotations

import hmac

from aiohttp import web

from intake.errors import Unauthorized

__all__ = ["bearer", "is_token", "require_token"]


def bearer(request: web.Request) -> str:
    """The bearer token of the request, or "" (any other scheme, or none)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token.isascii() and len(token) <= 200 else ""


def require_token(request: web.Request, token: str) -> None:
    """401 unless the request carries ``token`` (compared in constant time; never an empty one)."""
    if not is_token(request, token):
        raise Unauthorized("需要有效的接口令牌。A valid bearer token is required.")


def is_token(request: web.Request, token: str) -> bool:
    """Whether the request's bearer token is ``token`` (compared in constant time; an empty or
    non-ASCII token is nobody's)."""
    given = bearer(request)
    return bool(token and given.isascii() and given and hmac.compare_digest(given.encode(), token.encode()))
