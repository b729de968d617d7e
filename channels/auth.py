"""Who is calling an HTTP route: the bearer tokens of CONTRACT.md's back office."""

from __future__ import annotations

import hmac

from aiohttp import web

from intake.errors import Unauthorized

__all__ = ["bearer", "require_token"]


def bearer(request: web.Request) -> str:
    """The bearer token of the request, or "" (any other scheme, or none)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def require_token(request: web.Request, token: str) -> None:
    """401 unless the request carries ``token`` (compared in constant time; never an empty one)."""
    given = bearer(request)
    if not token or not given or not hmac.compare_digest(given.encode(), token.encode()):
        raise Unauthorized("需要有效的接口令牌。A valid bearer token is required.")
