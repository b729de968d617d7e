"""The chat page, its embed script and the console's files (channels/static/)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).resolve().parent / "static"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors *; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def add_static_routes(app: web.Application) -> None:
    async def chat_index(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(
            STATIC / "chat" / "index.html",
            headers={**SECURITY_HEADERS, "Content-Type": "text/html; charset=utf-8"},
        )

    async def chat_redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/chat/")

    app.router.add_get("/chat", chat_redirect)
    app.router.add_get("/chat/", chat_index)
    app.router.add_static("/chat/", STATIC / "chat", show_index=False, append_version=False)
