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
# The chat page may be framed by any site (widget.js embeds it); the agents' console by none
# (clickjacking: a framing page could make an agent press buttons they do not see).
CONSOLE_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": SECURITY_HEADERS["Content-Security-Policy"].replace(
        "frame-ancestors *", "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
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
    add_files(app, "/chat/", STATIC / "chat")


def add_files(app: web.Application, prefix: str, folder: Path) -> None:
    """The files of ``folder`` under ``prefix`` + name. The set is read once at start-up and a
    name is looked up in it, never joined to a path: nothing else on disk can be reached, and a
    hostile name is a plain 404 (aiohttp's static route answered 500 to a name over 255 bytes,
    found by schemathesis)."""
    files = {p.name: p for p in folder.iterdir() if p.is_file()}

    async def serve(request: web.Request) -> web.StreamResponse:
        path = files.get(request.match_info["filename"])
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"X-Content-Type-Options": "nosniff"})

    app.router.add_get(prefix + "{filename}", serve)
