"""The HTTP API described as an OpenAPI 3.1 document, served at ``GET /api/openapi.json``.

(Long because the contract is: one schema or operation after another, data rather than logic.)

Kept as Python data next to the routes it describes, so schemas are shared rather than copied.
``tests/integration/test_openapi.py`` checks that every route the aiohttp app registers is here
and that every request example is accepted by the running app with the documented status, so
the document cannot drift from the code silently.

Conventions: a request example is the ``example`` of its JSON body, query or path parameter;
the lowest 2xx response of an operation is the status its examples get. Operations whose
examples need a particular state (an agent login) carry no request example.
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from channels.email import OUTBOX_ADDRESS
from intake.model import TICKET_NUMBER, Category, Channel, TicketStatus
from intake.routing import Router
from intake.store.schema import MAX_ROW_ID

JSON = "application/json"
_DOC: dict[str, Any] | None = None


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schema": schema}
    if example is not None:
        body["example"] = example
    return {JSON: body}


def _ok(description: str, schema: dict[str, Any] | None = None, example: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = _json(schema, example)
    return out


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json(_ref("Error"))}


def _body(schema: dict[str, Any], example: Any, max_bytes: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"required": True, "content": _json(schema, example)}
    if max_bytes:
        out["description"] = f"At most {max_bytes} bytes; larger bodies get 413."
    return out


def _param(
    name: str,
    where: str,
    description: str,
    example: Any,
    *,
    required: bool = True,
    schema: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "description": description,
        "schema": schema or {"type": "integer" if isinstance(example, int) else "string"},
    }
    if example is not None:
        out["example"] = example
    return out


ERRORS_JSON = {
    "400": _err("Malformed JSON or a field of the wrong shape (`bad_json`, `invalid`)."),
    "413": _err("The body is larger than the route accepts (`too_large`)."),
    "415": _err("The body is not `application/json` (`unsupported_media_type`)."),
}
UNAUTHORIZED = {"401": _err("Missing, wrong or expired bearer token (`unauthorized`).")}
CHAT_AUTH = {  # channels/webchat.py: wrong tokens are counted per address (RELIABILITY.md S4)
    **UNAUTHORIZED,
    "429": _err(
        "A wrong token from an address that has sent too many lately "
        "(HOTLINE_CHAT_TOKEN_FAILURES_PER_ADDRESS in 15 minutes); try again after Retry-After "
        "(`rate_limited`)."
    ),
}
SESSION_ID = _param(
    "session_id", "path", "The chat session, from `POST /api/chat/sessions`.", "q3JrPq1mQ2uQ0bTz4wWl7A"
)
ROW_ID = {"type": "integer", "minimum": 0, "maximum": MAX_ROW_ID}  # channels/http_common.py row_id
NUMBER_SCHEMA = {"type": "string", "pattern": f"^{TICKET_NUMBER}$"}
NUMBER = _param("number", "path", "Ticket number `YYYYMMDD-NNNNNN`.", "20261120-000001", schema=NUMBER_SCHEMA)
CONSOLE_NUMBER = _param("number", "path", "Ticket number `YYYYMMDD-NNNNNN`.", None, schema=NUMBER_SCHEMA)
# Which phone numbers the server takes is libphonenumber's call, more than a pattern can say:
# the document asks for a non-empty string, and a schema-valid number may still get 400
# (tests/integration/schemathesis.toml). An address is the mail outbox's own rule.
PHONE = {
    "type": "string",
    "minLength": 1,
    "description": "A phone number in any common form (+86, spaces, dashes, full-width digits).",
}
EMAIL = {"type": "string", "pattern": f"^{OUTBOX_ADDRESS}$"}
OPTIONAL_TEXT = {"type": ["string", "null"], "maxLength": 5000}  # null: not given
PHONE_CALL = {
    "type": "object",
    "required": ["category", "content"],
    "properties": {
        "channel": {"const": "phone", "default": "phone"},
        "phone": {"type": ["string", "null"]},
        "name": OPTIONAL_TEXT,
        "anonymous": {"type": "boolean"},
        # every word of the regulations; a profile that offers fewer answers 400 to the rest
        "category": {"enum": [c.value for c in Category]},
        "content": OPTIONAL_TEXT,
        "address": OPTIONAL_TEXT,
        "demand": OPTIONAL_TEXT,
        "subject": OPTIONAL_TEXT,
        # missing items: wait for the hotline's call-backs instead of 422 (guangzhou §12.1)
        "await_supplement": {"type": "boolean"},
    },
}
CONSOLE_CHANGE = {  # every console POST but the login
    **UNAUTHORIZED,
    "403": _err("Missing or wrong CSRF token, or a cross-site `Origin`."),
}
AFTER = _param(
    "after",
    "query",
    "Only messages with a larger id.",
    0,
    required=False,
    schema=ROW_ID,
)
BAD_AFTER = {"400": _err("`after` is not a message id.")}
TELEGRAM_UPDATE_EXAMPLE = {
    "update_id": 731245601,
    "message": {
        "message_id": 1201,
        "from": {"id": 5012345678, "is_bot": False, "first_name": "小明"},
        "chat": {"id": 5012345678, "first_name": "小明", "type": "private"},
        "date": 1795226405,
        "text": "请问办理居住证需要带什么材料？",
    },
}
DATE = {"type": "string", "format": "date"}
REASON_BODY = {
    "type": "object",
    "required": ["reason"],
    "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500}},
}
REPORT_PERIOD = [
    _param(
        "from",
        "query",
        "First day, YYYY-MM-DD (default: the month's first).",
        "2026-11-01",
        required=False,
        schema=DATE,
    ),
    _param(
        "to",
        "query",
        "Last day, YYYY-MM-DD, included (default: today).",
        "2026-11-30",
        required=False,
        schema=DATE,
    ),
]
PAGE = {
    "description": "An HTML page.",
    "content": {"text/html": {"schema": {"type": "string"}}},
}
STATIC = {
    "200": {
        "description": "The file.",
        "content": {
            kind: {"schema": {"type": "string"}}
            for kind in (
                "text/html",
                "text/css",
                "application/javascript",
                "text/javascript",
                "image/svg+xml",
            )
        },
    },
    "404": {"description": "No such file."},
}
FOUND = {"302": {"description": "Redirect to the page with a trailing slash."}}


def _schemas() -> dict[str, Any]:
    outbound_message = {
        "type": "object",
        "required": ["id", "text", "at"],
        "properties": {
            "id": {"type": "integer"},
            "text": {"type": "string"},
            "choices": {"type": "array", "items": {"type": "string"}},
            "at": {"type": "string", "format": "date-time"},
        },
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        },
        "Reply": {
            "type": "object",
            "required": ["id", "text"],
            "properties": {
                "id": {"type": "integer"},
                "text": {"type": "string"},
                "choices": {"type": "array", "items": {"type": "string"}},
            },
        },
        "Draft": {
            "type": ["object", "null"],
            "description": "The ticket so far: `collecting` while the dialog asks; null before "
            "any request is understood.",
            "properties": {
                "number": {"type": ["string", "null"]},
                "status": {"type": "string"},
                "category": {"type": ["string", "null"]},
                "deadline": {"type": ["string", "null"], "format": "date-time"},
            },
        },
        "OutboundMessage": outbound_message,
        "Ticket": {
            "type": "object",
            "description": "Personal data masked (`张*`, `138****8000`); absent for anonymous citizens.",
            "required": ["number", "status", "category", "channel", "deadline", "created_at", "events"],
            "properties": {
                "number": {"type": "string"},
                "status": {
                    "enum": [
                        "collecting",
                        "awaiting_supplement",
                        "registered",
                        "dispatched",
                        "signed",
                        "extended",
                        "completed",
                        "rehandling",
                        "closed",
                        "withdrawn",
                        "rejected",
                        "redirected",
                    ]
                },
                "category": {"type": ["string", "null"]},
                "channel": {"enum": ["webchat", "telegram", "email", "sms", "phone"]},
                "unit": {"type": ["string", "null"]},
                "deadline": {"type": ["string", "null"], "format": "date-time"},
                "deadline_provisional": {"type": "boolean"},
                "warning": {"enum": [None, "yellow", "red"]},
                "extensions": {"type": "integer"},
                "created_at": {"type": "string", "format": "date-time"},
                "subject": {"type": ["string", "null"]},
                "address": {"type": ["string", "null"]},
                "content": {"type": ["string", "null"]},
                "demand": {"type": ["string", "null"]},
                "contact": {"type": "object"},
                "events": {"type": "array", "items": {"type": "object"}},
                "evaluation": {
                    "type": "object",
                    "properties": {"level": {"type": "string"}, "round": {"type": "integer"}},
                },
            },
        },
        "TelegramUpdate": {
            "type": "object",
            "description": "A Bot API `Update`, as Telegram sends it.",
            "required": ["update_id"],
            "properties": {"update_id": {"type": "integer"}},
        },
    }


def _paths() -> dict[str, Any]:
    messages = {
        "type": "object",
        "properties": {"messages": {"type": "array", "items": _ref("OutboundMessage")}},
    }
    chat_auth: list[dict[str, list[str]]] = [{"chatToken": []}]
    api_auth: list[dict[str, list[str]]] = [{"apiToken": []}]
    console_auth: list[dict[str, list[str]]] = [{"consoleSession": []}]
    return {
        "/api/chat/sessions": {
            "post": {
                "tags": ["web chat"],
                "summary": "Open a chat session (30 a minute per IP)",
                "operationId": "createChatSession",
                "responses": {
                    "201": _ok(
                        "The session and its bearer token.",
                        {
                            "type": "object",
                            "required": ["session_id", "token"],
                            "properties": {"session_id": {"type": "string"}, "token": {"type": "string"}},
                        },
                    ),
                    "429": _err("Too many new sessions from this address (`rate_limited`)."),
                },
            }
        },
        "/api/chat/sessions/{session_id}/messages": {
            "parameters": [SESSION_ID],
            "post": {
                "tags": ["web chat"],
                "summary": "Say something; the bot's replies come back in the answer",
                "operationId": "postChatMessage",
                "security": chat_auth,
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["text"],
                        "properties": {
                            "text": {
                                "type": "string",
                                "description": "Over 5 000 characters is stored and answered with a "
                                "polite request to send it in parts.",
                            },
                            "client_id": {
                                "type": ["string", "null"],
                                "minLength": 1,
                                "maxLength": 100,
                                "pattern": "^[A-Za-z0-9._:-]+$",
                                "description": "The page's id of this message: sent again in the session, "
                                "it is the same message, stored once, with the same replies.",
                            },
                        },
                    },
                    {"text": "我要投诉，小区楼下烧烤店每晚油烟很大"},
                    256 * 1024,
                ),
                "responses": {
                    "200": _ok(
                        "Stored, then answered.",
                        {
                            "type": "object",
                            "required": ["replies", "ticket"],
                            "properties": {
                                "replies": {"type": "array", "items": _ref("Reply")},
                                "ticket": _ref("Draft"),
                            },
                        },
                    ),
                    **ERRORS_JSON,
                    **CHAT_AUTH,
                },
            },
            "get": {
                "tags": ["web chat"],
                "summary": "Messages sent to this session after `after` (notices that came later)",
                "operationId": "listChatMessages",
                "security": chat_auth,
                "parameters": [AFTER],
                "responses": {"200": _ok("Oldest first.", messages), **BAD_AFTER, **CHAT_AUTH},
            },
        },
        "/api/chat/sessions/{session_id}/history": {
            "parameters": [SESSION_ID],
            "get": {
                "tags": ["web chat"],
                "summary": "Both sides of the conversation, to restore the page after a reload",
                "operationId": "chatHistory",
                "security": chat_auth,
                "responses": {"200": _ok("Oldest first.", {"type": "object"}), **CHAT_AUTH},
            },
        },
        "/api/chat/sessions/{session_id}/stream": {
            "parameters": [SESSION_ID],
            "get": {
                "tags": ["web chat"],
                "summary": "Server-Sent Events: messages after `after`, then live",
                "operationId": "chatStream",
                "security": chat_auth,
                "parameters": [AFTER],
                "x-streaming": True,  # never ends: examples are not run
                "responses": {
                    "200": {
                        "description": "An endless `text/event-stream`.",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    **BAD_AFTER,
                    **UNAUTHORIZED,
                    "429": _err(
                        "Three streams are open for this session, or the process holds its maximum "
                        "(HOTLINE_MAX_STREAMS), or a wrong token from an address that has sent too "
                        "many lately; try again after Retry-After (`rate_limited`)."
                    ),
                },
            },
        },
        "/api/sms/inbound": {
            "post": {
                "tags": ["sms"],
                "summary": "An SMS from a citizen (the gateway's callback)",
                "operationId": "smsInbound",
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["from", "text"],
                        "properties": {
                            "from": PHONE,
                            "text": {"type": "string"},
                            "id": {
                                "type": ["string", "integer", "null"],
                                "description": "The provider's message id: a message resent with "
                                "the same id is stored once.",
                            },
                        },
                    },
                    {"from": "+8613800138000", "text": "请问办理居住证需要带什么材料？"},
                    16 * 1024,
                ),
                "security": [{"smsSignature": [], "smsTimestamp": []}],
                "responses": {
                    "200": _ok("Stored before this answer.", {"type": "object"}, {"accepted": True}),
                    "401": _err("Missing or wrong signature, or a timestamp more than 300 s away."),
                    **ERRORS_JSON,
                },
            }
        },
        "/api/sms/outbox": {
            "get": {
                "tags": ["sms"],
                "summary": "What the stub gateway sent (only with HOTLINE_SMS=stub)",
                "operationId": "smsOutbox",
                "security": api_auth,
                "parameters": [_param("to", "query", "The phone number.", "+8613800138000", schema=PHONE)],
                "responses": {
                    "200": _ok("Oldest first.", {"type": "object"}),
                    "400": _err("Not a phone number."),
                    **UNAUTHORIZED,
                },
            }
        },
        "/api/mail/outbox": {
            "get": {
                "tags": ["email"],
                "summary": "What the stub mail outbox holds (only without HOTLINE_SMTP_RELAY)",
                "operationId": "mailOutbox",
                "security": api_auth,
                "parameters": [
                    _param("to", "query", "The email address.", "citizen@example.com", schema=EMAIL)
                ],
                "responses": {
                    "200": _ok("Oldest first.", {"type": "object"}),
                    "400": _err("Not an address."),
                    **UNAUTHORIZED,
                },
            }
        },
        "/api/telegram/webhook": {
            "post": {
                "tags": ["telegram"],
                "summary": "Telegram's webhook: stored before 200, deduplicated by update_id",
                "operationId": "telegramWebhook",
                "security": [{"telegramSecret": []}],
                "requestBody": _body(_ref("TelegramUpdate"), TELEGRAM_UPDATE_EXAMPLE, 2 * 1024 * 1024),
                "responses": {
                    "200": _ok(
                        "Stored (or a replay of a stored update). A pressed button is answered in "
                        "the body with `answerCallbackQuery`.",
                        {"type": "object"},
                    ),
                    **ERRORS_JSON,
                    "401": _err("Missing or wrong secret header."),
                    "404": _err("Telegram is not configured."),
                },
            }
        },
        "/api/tickets": {
            "get": {
                "tags": ["back office"],
                "summary": "Tickets, newest first, at most 100 a page",
                "operationId": "listTickets",
                "security": api_auth,
                "parameters": [
                    _param(
                        "status",
                        "query",
                        "A status word.",
                        "registered",
                        required=False,
                        schema={"enum": [s.value for s in TicketStatus]},
                    ),
                    _param(
                        "channel",
                        "query",
                        "A channel word.",
                        "phone",
                        required=False,
                        schema={"enum": [c.value for c in Channel]},
                    ),
                    _param(
                        "since",
                        "query",
                        "ISO 8601 with offset.",
                        "2026-11-01T00:00:00+08:00",
                        required=False,
                        schema={"type": "string", "format": "date-time"},
                    ),
                    _param(
                        "before",
                        "query",
                        "The last number of the previous page.",
                        None,
                        required=False,
                        schema=NUMBER_SCHEMA,
                    ),
                ],
                "responses": {
                    "200": _ok(
                        "A page.",
                        {
                            "type": "object",
                            "properties": {"tickets": {"type": "array", "items": _ref("Ticket")}},
                        },
                    ),
                    "400": _err("Unknown filter value."),
                    **UNAUTHORIZED,
                    "404": _err("No ticket with the number given as `before`."),
                },
            },
            "post": {
                "tags": ["back office"],
                "summary": "Register a phone call; the caller's acknowledgement goes by SMS",
                "operationId": "createTicket",
                "security": api_auth,
                "parameters": [
                    _param(
                        "Idempotency-Key",
                        "header",
                        "Any id the caller chooses (1–100 of A-Z a-z 0-9 . _ : -): the same key sent "
                        "again by the same caller returns the ticket the first request made, "
                        "so a request whose answer was lost can be sent again safely.",
                        "call-20261207-0042",
                        required=False,
                        schema={"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,100}$"},
                    )
                ],
                "requestBody": _body(
                    PHONE_CALL,
                    {
                        "channel": "phone",
                        "phone": "13800138000",
                        "name": "张三",
                        "anonymous": False,
                        "category": "投诉",
                        "content": "小区楼下烧烤店每晚油烟很大",
                        "subject": "烧烤店",
                        "address": "幸福小区3栋",
                        "demand": "希望城管处理",
                    },
                ),
                "responses": {
                    "201": _ok("The ticket.", _ref("Ticket")),
                    **ERRORS_JSON,
                    **UNAUTHORIZED,
                    "422": _err("A field the category needs is missing (`missing_fields`)."),
                },
            },
        },
        "/api/tickets/{number}": {
            "parameters": [NUMBER],
            "get": {
                "tags": ["back office"],
                "summary": "One ticket with its events",
                "operationId": "getTicket",
                "security": api_auth,
                "responses": {
                    "200": _ok("The ticket.", _ref("Ticket")),
                    **UNAUTHORIZED,
                    "404": _err("No such ticket."),
                },
            },
        },
        "/api/tickets/{number}/events": {
            "parameters": [NUMBER],
            "post": {
                "tags": ["back office"],
                "summary": "A handling unit's step; the citizen is told on their channel",
                "operationId": "postTicketEvent",
                "security": api_auth,
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["type"],
                        "properties": {
                            "type": {
                                "enum": [
                                    "signed",
                                    "returned",
                                    "extension_approved",
                                    "completed",
                                    "withdrawn",
                                    "objection",
                                    "supervision_answered",
                                    "clock_restarted",
                                ]
                            },
                            "reason": {"type": ["string", "null"]},
                            "new_deadline": {"type": ["string", "null"], "format": "date-time"},
                            "result": {"type": ["string", "null"]},
                        },
                    },
                    {"type": "signed"},
                ),
                "responses": {
                    "200": _ok("The ticket after the step.", _ref("Ticket")),
                    **ERRORS_JSON,
                    **UNAUTHORIZED,
                    "404": _err("No such ticket."),
                    "409": _err("Not allowed in the ticket's status."),
                },
            },
        },
        "/api/tickets/{number}/contact": {
            "parameters": [NUMBER],
            "post": {
                "tags": ["back office"],
                "summary": "The handling unit calls its citizen back: name and phone, once, audited",
                "operationId": "revealContact",
                "security": [{"unitToken": []}],
                "x-needs-state": "a ticket dispatched to the token's unit",
                "responses": {
                    "200": _ok(
                        "The contact.", {"type": "object"}, {"name": "张三", "phone": "+8613800138000"}
                    ),
                    **UNAUTHORIZED,
                    "403": _err(
                        "An anonymous citizen, one who hid an item, or not a unit's token (`forbidden`)."
                    ),
                    "404": _err("No such ticket among the unit's."),
                    "409": _err("Revealed once already."),
                },
            },
        },
        "/api/units/{unit}/tokens": {
            "parameters": [
                _param("unit", "path", "The unit, as in a ticket's `unit`.", "市城市管理和综合执法局")
            ],
            "post": {
                "tags": ["back office"],
                "summary": "A new token for one handling unit (the centre's token only)",
                "operationId": "createUnitToken",
                "security": api_auth,
                "responses": {
                    "201": _ok("Shown once; only its hash is kept.", {"type": "object"}),
                    **UNAUTHORIZED,
                    "400": _err("An empty or unprintable unit name."),
                    "403": _err("Not the centre's token (`forbidden`)."),
                },
            },
        },
        "/api/agents": {
            "post": {
                "tags": ["console"],
                "summary": "A console account (the centre's token only); the password is stored hashed",
                "operationId": "createAgent",
                "security": api_auth,
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["login", "password"],
                        "properties": {
                            "login": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{1,39}$"},
                            "password": {"type": "string", "minLength": 10, "maxLength": 1024},
                            "role": {"enum": ["agent", "supervisor", "admin"]},
                        },
                    },
                    {"login": "a1024", "password": "correct-horse-battery", "role": "agent"},
                    4096,
                ),
                "responses": {
                    "201": _ok("Created.", {"type": "object"}, {"login": "a1024", "role": "agent"}),
                    **ERRORS_JSON,
                    **UNAUTHORIZED,
                    "403": _err("Not the centre's token (`forbidden`)."),
                    "409": _err("The login is taken."),
                },
            }
        },
        "/api/console/login": {
            "post": {
                "tags": ["console"],
                "summary": "Agent login; sets the console session cookie",
                "operationId": "consoleLogin",
                "requestBody": {
                    "required": True,
                    "content": _json(
                        {
                            "type": "object",
                            "required": ["login", "password"],
                            "properties": {
                                "login": {"type": "string", "pattern": "\\S"},
                                "password": {"type": "string", "pattern": "\\S"},
                            },
                        }
                    ),
                },
                "responses": {
                    "200": _ok("Logged in; the CSRF token.", {"type": "object"}),
                    **ERRORS_JSON,
                    "401": _err("Wrong login or password (audited)."),
                    "403": _err("A cross-site `Origin`."),
                    "429": _err("Too many failed logins for this account or address (`rate_limited`)."),
                },
            }
        },
        "/api/console/logout": {
            "post": {
                "tags": ["console"],
                "summary": "End the console session",
                "operationId": "consoleLogout",
                "security": console_auth,
                "responses": {"200": _ok("Logged out.", {"type": "object"}), **CONSOLE_CHANGE},
            }
        },
        "/api/console/me": {
            "get": {
                "tags": ["console"],
                "summary": "The logged-in agent and the CSRF token",
                "operationId": "consoleMe",
                "security": console_auth,
                "responses": {"200": _ok("The agent.", {"type": "object"}), **UNAUTHORIZED},
            }
        },
        "/api/console/queue": {
            "get": {
                "tags": ["console"],
                "summary": "The board: one page of open tickets (red, yellow, then earliest deadline), "
                "counts, hand-offs, drafts waiting, manual routing, failed deliveries and jobs",
                "operationId": "consoleQueue",
                "security": console_auth,
                "parameters": [
                    _param(
                        "page",
                        "query",
                        "Page, from 1 (past the last: the last).",
                        None,
                        required=False,
                        schema={"type": "integer", "minimum": 1},
                    ),
                    _param(
                        "size",
                        "query",
                        "Tickets a page (at most 200).",
                        None,
                        required=False,
                        schema={"type": "integer", "minimum": 1},
                    ),
                    *(
                        _param(name, "query", what, None, required=False)
                        for name, what in (
                            ("unit", "A handling unit."),
                            ("urgent", "A profile's urgent class key."),
                            (
                                "q",
                                "A ticket number or its start, a phone in any form, or words of the summary.",
                            ),
                        )
                    ),
                    *(
                        _param(name, "query", what, None, required=False, schema={"enum": values})
                        for name, what, values in (
                            ("category", "A category word.", [c.value for c in Category]),
                            ("channel", "A channel word.", [c.value for c in Channel]),
                            ("status", "An open status word.", [s.value for s in TicketStatus if s.is_open]),
                        )
                    ),
                    _param(
                        "warning",
                        "query",
                        "red, yellow or none.",
                        None,
                        required=False,
                        schema={"enum": ["red", "yellow", "none"]},
                    ),
                ],
                "responses": {
                    "200": _ok("The board.", {"type": "object"}),
                    "400": _err("A page, size, warning or status that cannot be."),
                    **UNAUTHORIZED,
                },
            }
        },
        "/api/console/stream": {
            "get": {
                "tags": ["console"],
                "summary": "Server-sent events: `changed` whenever something was committed; reload",
                "operationId": "consoleStream",
                "security": console_auth,
                "responses": {
                    "200": {
                        "description": "An endless `text/event-stream`.",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    **UNAUTHORIZED,
                },
            }
        },
        "/api/console/tickets/{number}": {
            "parameters": [CONSOLE_NUMBER],
            "get": {
                "tags": ["console"],
                "summary": "A ticket's page: the conversation (who said what, masked), events, the "
                "deadline's history, the rule that fired, the cluster, failed deliveries",
                "operationId": "consoleTicket",
                "security": console_auth,
                "responses": {
                    "200": _ok("The ticket with its conversation.", {"type": "object"}),
                    **UNAUTHORIZED,
                    "404": _err("No such ticket."),
                },
            },
        },
        "/api/console/tickets/{number}/route": {
            "parameters": [CONSOLE_NUMBER],
            "post": {
                "tags": ["console"],
                "summary": "An agent routes a ticket waiting for routing to a unit (audited)",
                "operationId": "consoleRouteTicket",
                "security": console_auth,
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["unit"],
                        "properties": {"unit": {"enum": list(Router.load().units)}},
                    },
                    None,
                    4096,
                ),
                "responses": {
                    "200": _ok("Routed; the worker dispatches it.", {"type": "object"}),
                    **ERRORS_JSON,
                    **CONSOLE_CHANGE,
                    "404": _err("No such ticket."),
                    "409": _err("Not waiting to be routed (`conflict`)."),
                },
            },
        },
        "/api/console/tickets/{number}/complex": {
            "parameters": [CONSOLE_NUMBER],
            "post": {
                "tags": ["console"],
                "summary": "An open ticket declared complex where the profile gives that longer (audited)",
                "operationId": "consoleMarkComplex",
                "security": console_auth,
                "responses": {
                    "200": _ok("The new deadline.", {"type": "object"}),
                    **CONSOLE_CHANGE,
                    "404": _err("No such ticket."),
                    "409": _err("No complex limit in this profile, or the ticket is closed (`conflict`)."),
                },
            },
        },
        "/api/console/tickets/{number}/merge": {
            "parameters": [CONSOLE_NUMBER],
            "post": {
                "tags": ["console"],
                "summary": "A repeat joined to the cluster of the ticket it repeats (audited)",
                "operationId": "consoleMergeTicket",
                "security": console_auth,
                "requestBody": _body(
                    {"type": "object", "required": ["into"], "properties": {"into": NUMBER_SCHEMA}},
                    None,
                    4096,
                ),
                "responses": {
                    "200": _ok("Merged.", {"type": "object"}),
                    **ERRORS_JSON,
                    **CONSOLE_CHANGE,
                    "404": _err("No such ticket."),
                    "409": _err("Itself, or already in that cluster (`conflict`)."),
                },
            },
        },
        "/api/console/tickets/{number}/reveal": {
            "parameters": [CONSOLE_NUMBER],
            "post": {
                "tags": ["console"],
                "summary": "A supervisor sees one personal item in full, with a reason (audited; "
                "never an anonymous citizen's)",
                "operationId": "consoleReveal",
                "security": console_auth,
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["field", "reason"],
                        "properties": {
                            "field": {"enum": ["name", "phone", "id_number", "home_address"]},
                            "reason": {"type": "string", "minLength": 4},
                        },
                    },
                    None,
                    4096,
                ),
                "responses": {
                    "200": _ok("The item.", {"type": "object"}),
                    **ERRORS_JSON,
                    **CONSOLE_CHANGE,
                    "404": _err("No such ticket."),
                },
            },
        },
        "/api/console/outbox/{oid}/retry": {
            "parameters": [_param("oid", "path", "The outbound message id.", None, schema=ROW_ID)],
            "post": {
                "tags": ["console"],
                "summary": "A failed or uncertain message sent again (audited)",
                "operationId": "consoleRetryDelivery",
                "security": console_auth,
                "responses": {
                    "200": _ok("Queued for delivery.", {"type": "object"}),
                    "400": _err("Not a message id."),
                    **CONSOLE_CHANGE,
                    "404": _err("No such failed message."),
                },
            },
        },
        "/api/console/tickets": {
            "post": {
                "tags": ["console"],
                "summary": "An agent registers a phone call from the console",
                "operationId": "consoleCreateTicket",
                "security": console_auth,
                "requestBody": _body(PHONE_CALL, None),
                "responses": {
                    "201": _ok("The ticket.", _ref("Ticket")),
                    **ERRORS_JSON,
                    **CONSOLE_CHANGE,
                    "422": _err("A field the category needs is missing (`missing_fields`)."),
                },
            }
        },
        "/api/console/restrictions/{rid}/lift": {
            "parameters": [
                _param(
                    "rid",
                    "path",
                    "The restriction id.",
                    1,
                    schema=ROW_ID,
                )
            ],
            "post": {
                "tags": ["console"],
                "summary": "A supervisor lifts an intake restriction",
                "operationId": "consoleLiftRestriction",
                "security": console_auth,
                "responses": {
                    "200": _ok("Whether it was lifted.", {"type": "object"}),
                    "400": _err("Not a restriction id."),
                    **CONSOLE_CHANGE,
                },
            },
        },
        "/api/console/jobs/requeue": {
            "post": {
                "tags": ["console"],
                "summary": "A supervisor puts a failed queue job back on its queue (audited)",
                "operationId": "consoleRequeueJob",
                "security": console_auth,
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["queue", "job_id"],
                        "properties": {
                            "queue": {"enum": ["intake", "dispatch", "notify", "default"]},
                            "job_id": {"type": "string", "minLength": 1, "maxLength": 200},
                        },
                    },
                    None,
                    4096,
                ),
                "responses": {
                    "200": _ok("Requeued.", {"type": "object"}),
                    **ERRORS_JSON,
                    **CONSOLE_CHANGE,
                    "404": _err("No such failed job."),
                },
            },
        },
        "/api/console/outbox/requeue": {
            "post": {
                "tags": ["console"],
                "summary": "A supervisor gives an abandoned outbox job its attempts back (audited)",
                "operationId": "consoleRequeueOutbox",
                "security": console_auth,
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["key"],
                        "properties": {"key": {"type": "string", "minLength": 1, "maxLength": 200}},
                    },
                    None,
                    4096,
                ),
                "responses": {
                    "200": _ok("Requeued.", {"type": "object"}),
                    **ERRORS_JSON,
                    **CONSOLE_CHANGE,
                    "404": _err("No such abandoned job."),
                },
            },
        },
        "/api/console/handoffs": {
            "get": {
                "tags": ["console"],
                "summary": "Conversations waiting for a person, oldest first (personal data masked)",
                "operationId": "consoleHandoffs",
                "security": console_auth,
                "responses": {
                    "200": _ok(
                        "The hand-off queue.",
                        {
                            "type": "object",
                            "required": ["handoffs"],
                            "properties": {"handoffs": {"type": "array", "items": {"type": "object"}}},
                        },
                    ),
                    **UNAUTHORIZED,
                },
            }
        },
        "/api/console/handoffs/{hid}/reply": {
            "parameters": [_param("hid", "path", "The hand-off id.", 1, schema=ROW_ID)],
            "post": {
                "tags": ["console"],
                "summary": "An agent answers the citizen on their channel, marked as a person's (audited)",
                "operationId": "consoleHandoffReply",
                "security": console_auth,
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["text"],
                        "properties": {
                            "text": {"type": "string", "minLength": 1, "maxLength": 2000},
                            "client_id": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,100}$"},
                        },
                    },
                    {"text": "您好，我是人工客服，请问补办社保卡时遇到了什么问题？"},
                    16 * 1024,
                ),
                "responses": {
                    "200": _ok("The answer, queued for delivery.", {"type": "object"}),
                    **ERRORS_JSON,
                    **CONSOLE_CHANGE,
                    "404": _err("No such open hand-off."),
                },
            },
        },
        "/api/console/handoffs/{hid}/release": {
            "parameters": [_param("hid", "path", "The hand-off id.", 1, schema=ROW_ID)],
            "post": {
                "tags": ["console"],
                "summary": "The bot takes the conversation back (audited)",
                "operationId": "consoleHandoffRelease",
                "security": console_auth,
                "responses": {
                    "200": _ok("Released.", {"type": "object"}),
                    "400": _err("Not a hand-off id."),
                    **CONSOLE_CHANGE,
                    "404": _err("No such open hand-off."),
                },
            },
        },
        "/api/console/tickets/{number}/supervise": {
            "parameters": [CONSOLE_NUMBER],
            "post": {
                "tags": ["console"],
                "summary": "An agent opens supervision (督办) with the profile's limit (audited)",
                "operationId": "consoleSupervise",
                "security": console_auth,
                "requestBody": _body(REASON_BODY, {"reason": "群众反复投诉，长期得不到解决"}, 4096),
                "responses": {
                    "200": _ok("The supervision's due time.", {"type": "object"}),
                    **ERRORS_JSON,
                    **CONSOLE_CHANGE,
                    "404": _err("No such ticket."),
                    "409": _err("No supervision in this profile, or one is open already (`conflict`)."),
                },
            },
        },
        "/api/console/tickets/{number}/supervision/extend": {
            "parameters": [CONSOLE_NUMBER],
            "post": {
                "tags": ["console"],
                "summary": "The one extension of a supervision where the profile allows it (audited)",
                "operationId": "consoleExtendSupervision",
                "security": console_auth,
                "requestBody": _body(REASON_BODY, {"reason": "情况复杂，需协调多个部门"}, 4096),
                "responses": {
                    "200": _ok("The new due time.", {"type": "object"}),
                    **ERRORS_JSON,
                    **CONSOLE_CHANGE,
                    "404": _err("No such ticket."),
                    "409": _err("No extension in this profile, none open, or extended already (`conflict`)."),
                },
            },
        },
        "/api/console/tickets/{number}/review": {
            "parameters": [CONSOLE_NUMBER],
            "post": {
                "tags": ["console"],
                "summary": "The review a ticket waits for, decided: re-handle or close after the call-back "
                "(回访), or a unit's objection (甄别) upheld or rejected (audited)",
                "operationId": "consoleDecideReview",
                "security": console_auth,
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["decision"],
                        "properties": {
                            "decision": {"enum": ["rehandle", "close", "upheld", "rejected"]},
                            "callback": {"type": "string", "maxLength": 1000},
                            "reason": {"type": "string", "maxLength": 1000},
                            "skip_case": {"type": "string", "maxLength": 40},
                        },
                    },
                    {"decision": "rehandle", "callback": "已电话回访，市民反映问题仍未解决"},
                    8192,
                ),
                "responses": {
                    "200": _ok("The ticket's status after the decision.", {"type": "object"}),
                    **ERRORS_JSON,
                    **CONSOLE_CHANGE,
                    "404": _err("No such ticket."),
                    "409": _err("The ticket is not waiting for a review (`conflict`)."),
                },
            },
        },
        "/api/console/calls": {
            "get": {
                "tags": ["console"],
                "summary": "Phone requests waiting for a call-back for what they left out (guangzhou §12.1)",
                "operationId": "consolePhoneTasks",
                "security": console_auth,
                "responses": {
                    "200": _ok("The call-back tasks, oldest first.", {"type": "object"}),
                    "401": _err("Not logged in."),
                },
            },
        },
        "/api/console/calls/{tid}/attempt": {
            "parameters": [_param("tid", "path", "The waiting request's id.", None, schema=ROW_ID)],
            "post": {
                "tags": ["console"],
                "summary": "One call-back: no answer (15 min apart; the third closes it), refused, or the "
                "missing items supplied (registered when complete) (audited)",
                "operationId": "consolePhoneCallBack",
                "security": console_auth,
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["outcome"],
                        "properties": {
                            "outcome": {"enum": ["no_answer", "refused", "supplied"]},
                            **{
                                f: {"type": "string", "maxLength": 2000}
                                for f in ("subject", "address", "content", "demand", "name")
                            },
                        },
                    },
                    {"outcome": "no_answer"},
                    8192,
                ),
                "responses": {
                    "200": _ok("The request after the call.", {"type": "object"}),
                    **ERRORS_JSON,
                    **CONSOLE_CHANGE,
                    "404": _err("No such request."),
                    "409": _err(
                        "Not waiting for a call-back, or called less than 15 minutes ago (`conflict`)."
                    ),
                },
            },
        },
        "/api/console/reports": {
            "get": {
                "tags": ["console"],
                "summary": "The indicators for the console's report view (as /api/reports/indicators)",
                "operationId": "consoleReports",
                "security": console_auth,
                "parameters": REPORT_PERIOD,
                "responses": {
                    "200": _ok("The indicators.", {"type": "object"}),
                    **ERRORS_JSON,
                    "401": _err("Not logged in."),
                },
            },
        },
        "/api/console/reports/daily.svg": {
            "get": {
                "tags": ["console"],
                "summary": "Received and finished per day with the on-time rate, as an SVG chart",
                "operationId": "consoleReportChart",
                "security": console_auth,
                "parameters": REPORT_PERIOD,
                "responses": {
                    "200": {
                        "description": "The chart.",
                        "content": {"image/svg+xml": {"schema": {"type": "string"}}},
                    },
                    **ERRORS_JSON,
                    "401": _err("Not logged in."),
                },
            },
        },
        "/api/reports/indicators": {
            "get": {
                "tags": ["reports"],
                "summary": "Indicators of a period per category, channel, unit, day and month (centre only)",
                "operationId": "reportIndicators",
                "security": api_auth,
                "parameters": REPORT_PERIOD,
                "responses": {
                    "200": _ok("The indicators; rates are fractions 0-1 or null.", {"type": "object"}),
                    **ERRORS_JSON,
                    **UNAUTHORIZED,
                    "403": _err("A unit's token (`forbidden`)."),
                },
            },
        },
        "/api/reports/tickets.csv": {
            "get": {
                "tags": ["reports"],
                "summary": "One row per ticket of the period, without personal data (centre only)",
                "operationId": "reportTicketsCsv",
                "security": api_auth,
                "parameters": REPORT_PERIOD,
                "responses": {
                    "200": {
                        "description": "The CSV.",
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    },
                    **ERRORS_JSON,
                    **UNAUTHORIZED,
                    "403": _err("A unit's token (`forbidden`)."),
                },
            },
        },
        "/api/dev/clock": {
            "post": {
                "tags": ["operations"],
                "summary": "Move every process's clock forward (HOTLINE_DEV_CLOCK=1 only; 404 otherwise)",
                "operationId": "devClock",
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["advance_seconds"],
                        "properties": {
                            "advance_seconds": {"type": "number", "minimum": 0, "maximum": 315360000}
                        },
                    },
                    {"advance_seconds": 60},
                ),
                "responses": {
                    "200": _ok("The new time.", {"type": "object"}, {"now": "2026-11-20T10:01:00+08:00"}),
                    **ERRORS_JSON,
                    "404": _err("The dev clock is off."),
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "tags": ["operations"],
                "summary": "This document",
                "operationId": "openapi",
                "responses": {"200": _ok("OpenAPI 3.1.", {"type": "object"})},
            }
        },
        "/healthz": {
            "get": {
                "tags": ["operations"],
                "summary": "Liveness of Redis and the database",
                "operationId": "healthz",
                "responses": {
                    "200": _ok("All parts ok.", {"type": "object"}, {"ok": True, "redis": "ok", "db": "ok"}),
                    "503": _ok("The failing part named.", {"type": "object"}),
                },
            }
        },
        "/metrics": {
            "get": {
                "tags": ["operations"],
                "summary": "Prometheus metrics",
                "operationId": "metrics",
                "responses": {
                    "200": {
                        "description": "Text format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/chat": {
            "get": {
                "tags": ["pages"],
                "summary": "Redirect to /chat/",
                "operationId": "chatRedirect",
                "responses": FOUND,
            }
        },
        "/chat/": {
            "get": {
                "tags": ["pages"],
                "summary": "The chat page",
                "operationId": "chatPage",
                "responses": {"200": PAGE},
            }
        },
        "/chat/{filename}": {
            "parameters": [_param("filename", "path", "A static file, e.g. widget.js.", "widget.js")],
            "get": {
                "tags": ["pages"],
                "summary": "Chat page files and the embed script",
                "operationId": "chatFiles",
                "responses": STATIC,
            },
        },
        "/console": {
            "get": {
                "tags": ["pages"],
                "summary": "Redirect to /console/",
                "operationId": "consoleRedirect",
                "responses": FOUND,
            }
        },
        "/console/": {
            "get": {
                "tags": ["pages"],
                "summary": "The agent console (login required)",
                "operationId": "consolePage",
                "responses": {"200": PAGE},
            }
        },
        "/console/static/{filename}": {
            "parameters": [_param("filename", "path", "A static file of the console.", None)],
            "get": {
                "tags": ["pages"],
                "summary": "Console files",
                "operationId": "consoleFiles",
                "responses": STATIC,
            },
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI document (a fresh copy; built once per process)."""
    global _DOC
    if _DOC is None:
        _DOC = {
            "openapi": "3.1.0",
            "info": {
                "title": "Hotline Gateway",
                "version": "1",
                "description": "Multi-channel intake for the 12345 government-service hotline. Every "
                'error is `{"error": {"code", "message"}}` with a 4xx/5xx status.',
            },
            "servers": [{"url": "/"}],
            "paths": _paths(),
            "components": {
                "schemas": _schemas(),
                "securitySchemes": {
                    "chatToken": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "Bound to one chat session.",
                    },
                    "apiToken": {"type": "http", "scheme": "bearer", "description": "HOTLINE_API_TOKEN."},
                    "unitToken": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "A handling unit's own token (POST /api/units/{unit}/tokens).",
                    },
                    "smsSignature": {
                        "type": "apiKey",
                        "in": "header",
                        "name": "X-Hotline-Signature",
                        "description": "Lowercase hex HMAC-SHA256(HOTLINE_SMS_SECRET, "
                        '"<X-Hotline-Timestamp>." + raw body).',
                    },
                    "smsTimestamp": {
                        "type": "apiKey",
                        "in": "header",
                        "name": "X-Hotline-Timestamp",
                        "description": "Unix seconds; refused when more than 300 s from the server's clock.",
                    },
                    "telegramSecret": {
                        "type": "apiKey",
                        "in": "header",
                        "name": "X-Telegram-Bot-Api-Secret-Token",
                        "description": "TELEGRAM_WEBHOOK_SECRET, as set with setWebhook.",
                    },
                    "consoleSession": {"type": "apiKey", "in": "cookie", "name": "__Host-hotline_console"},
                },
            },
        }
    return copy.deepcopy(_DOC)


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(document())
