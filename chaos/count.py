"""The counts after a scenario: the ledger against SQL, and SQL against what the far ends received.

- **stored**: every acknowledged submission is exactly one inbound row (chat, SMS, Telegram, mail
  by their native ids; a phone ticket by the key in its content; a unit's result by its event);
  one that was never acknowledged is there at most once.
- **dispatched**: every ticket that got a number was dispatched exactly once, and none is left
  registered without its dispatch or in a state its events contradict.
- **delivered**: every notice row is ``delivered`` and arrived exactly once at its far end (SMS
  platform by our key, mail sink by the Message-ID minted from our key, Bot API by chat and text,
  back office by event id), or is ``failed``/``uncertain`` (an agent sees it) and arrived at most
  once; nothing is left pending. The web chat has no far end of its own: its rows are counted in
  SQL.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.engine import Engine

from chaos.citizens import Ledger
from intake.crypto import Cipher
from intake.feed import FEED_TYPES
from intake.store.schema import messages_in, messages_out, outbox, ticket_events, tickets

NATIVE_CHANNELS = {"chat": "webchat", "sms": "sms", "telegram": "telegram", "mail": "email"}
FINISHED = {"delivered", "failed", "uncertain"}
MARKED = {"failed", "uncertain"}
# Statuses a ticket of this run may end in, and what each needs to be believable.
NUMBERED = {"registered", "dispatched", "signed", "extended", "completed", "rehandling", "closed"}


@dataclass
class Counts:
    sent: int = 0  # submissions acknowledged by the product
    unacked: int = 0  # given up on without an acknowledgement
    stored: int = 0
    tickets: int = 0
    dispatched: int = 0
    notices: int = 0
    delivered: int = 0  # received once at the far end, row delivered
    marked: int = 0  # failed or uncertain: on the agents' list
    duplicated: int = 0
    lost: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, kind: str, what: str) -> None:
        if len(self.problems) < 40:
            self.problems.append(f"{kind}: {what}")

    @property
    def ok(self) -> bool:
        return self.duplicated == 0 and self.lost == 0 and not self.problems


def mail_token(key: str) -> str:
    """The part of a Message-ID the product derives from the row's idempotency key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def count(engine: Engine, cipher: Cipher, ledger: Ledger, received: dict[str, Counter[str]]) -> Counts:
    c = Counts()
    with engine.connect() as conn:
        inbound = conn.execute(select(messages_in.c.channel, messages_in.c.native_id)).all()
        ticket_rows = conn.execute(
            select(tickets.c.id, tickets.c.number, tickets.c.status, tickets.c.channel, tickets.c.fields_enc)
        ).all()
        events = conn.execute(
            select(ticket_events.c.id, ticket_events.c.ticket_id, ticket_events.c.type, ticket_events.c.at)
        ).all()
        out_rows = conn.execute(
            select(
                messages_out.c.idempotency_key,
                messages_out.c.channel,
                messages_out.c.address_enc,
                messages_out.c.text_enc,
                messages_out.c.state,
            )
        ).all()
        feed_rows = conn.execute(
            select(outbox.c.key, outbox.c.done_at, outbox.c.last_error).where(outbox.c.job == "feed")
        ).all()

    # stored --------------------------------------------------------------------------------------
    stored = Counter((r.channel, r.native_id) for r in inbound if r.native_id)
    phone_keys: Counter[str] = Counter()
    for t in ticket_rows:
        if t.channel == "phone" and t.fields_enc:
            content = str(cipher.decrypt_json(t.fields_enc).get("content", ""))
            if "（来电记录 " in content:
                phone_keys[content.rsplit("（来电记录 ", 1)[1].rstrip("）")] += 1
    per_ticket: dict[int, Counter[str]] = {}
    for e in events:
        per_ticket.setdefault(e.ticket_id, Counter())[e.type] += 1
    number_to_id = {t.number: t.id for t in ticket_rows if t.number}
    for s in ledger.submissions:
        if s.channel in NATIVE_CHANNELS:
            n = stored[(NATIVE_CHANNELS[s.channel], s.key)]
        elif s.channel == "phone":
            n = phone_keys[s.key]
        else:  # a unit's result: one completion event on that ticket
            n = per_ticket.get(number_to_id.get(s.key, -1), Counter())["completed"]
        if s.acked:
            c.sent += 1
            if n == 1:
                c.stored += 1
            elif n == 0:
                c.lost += 1
                c.problem("acknowledged, not stored", f"{s.channel} {s.key}")
            else:
                c.duplicated += 1
                c.problem("stored twice", f"{s.channel} {s.key} ×{n}")
        else:
            c.unacked += 1
            if n > 1:
                c.duplicated += 1
                c.problem("unacknowledged, stored twice", f"{s.channel} {s.key} ×{n}")

    # dispatched ------------------------------------------------------------------------------------
    for t in ticket_rows:
        if not t.number:
            continue
        c.tickets += 1
        kinds = per_ticket.get(t.id, Counter())
        if kinds["dispatched"] == 1:
            c.dispatched += 1
        elif kinds["dispatched"] > 1:
            c.duplicated += 1
            c.problem("dispatched twice", f"{t.number} ×{kinds['dispatched']}")
        elif t.status not in {"rejected", "redirected", "withdrawn"}:
            c.lost += 1
            c.problem("never dispatched", f"{t.number} ({t.status})")
        if t.status not in NUMBERED | {"rejected", "redirected", "withdrawn", "awaiting_supplement"}:
            c.problem("impossible state", f"{t.number} is {t.status} with a number")
        if t.status == "completed" and not kinds["completed"]:
            c.problem("impossible state", f"{t.number} completed without a result")
        if t.status == "dispatched" and kinds["completed"]:
            c.problem("impossible state", f"{t.number} dispatched after its result")
    for t in ticket_rows:
        if not t.number and t.status not in {"collecting", "awaiting_supplement", "rejected", "redirected"}:
            c.problem("impossible state", f"ticket {t.id} is {t.status} without a number")

    # delivered -----------------------------------------------------------------------------------
    sms, mail, bot, feed = received["sms"], received["mail"], received["telegram"], received["feed"]
    mail_by_token: Counter[str] = Counter()
    for message_id, n in mail.items():
        token = message_id.strip("<>").split("@", 1)[0].rsplit(".", 1)[-1]
        mail_by_token[token] += n
    matched_sms = matched_mail = matched_bot = 0
    for row in out_rows:
        c.notices += 1
        if row.channel in ("sms", "phone"):
            got = sms[row.idempotency_key]
            matched_sms += got
        elif row.channel == "email":
            got = mail_by_token[mail_token(row.idempotency_key)]
            matched_mail += got
        elif row.channel == "telegram":
            text = cipher.decrypt(row.text_enc)
            got = bot[f"{cipher.decrypt(row.address_enc)}\x1f{text}"]
            matched_bot += got
        else:  # web chat: the session's list is in our own store
            got = 1 if row.state == "delivered" else 0
        _judge(c, row.state, got, f"{row.channel} {row.idempotency_key}")
    # the same text twice to one Telegram chat counts for each row that carries it
    for name, total, matched in (
        ("sms", sms.total(), matched_sms),
        ("mail", mail.total(), matched_mail),
        ("telegram", bot.total(), matched_bot),
    ):
        if total > matched:
            c.duplicated += total - matched
            c.problem("received without a row", f"{name}: {total - matched}")

    feed_events = {e.id: e for e in events if e.type in FEED_TYPES}
    feed_state = {int(r.key.split(":", 1)[1]): r for r in feed_rows}
    for event_id in feed_events:
        queued = feed_state.get(event_id)
        got = feed[str(event_id)]
        c.notices += 1
        if queued is None:
            _judge(c, "pending", got, f"feed event {event_id} (never queued)")
        else:
            done = queued.done_at is not None
            _judge(c, "delivered" if done else "pending", got, f"feed event {event_id}")
    return c


def _judge(c: Counts, state: str, got: int, what: str) -> None:
    if got > 1:
        c.duplicated += got - 1
        c.problem("received twice", f"{what} ×{got}")
    if state == "delivered":
        if got == 1:
            c.delivered += 1
        elif got == 0:
            c.lost += 1
            c.problem("delivered in our table, never received", what)
    elif state in MARKED:
        c.marked += 1
    else:
        c.lost += 1
        c.problem("left unsent", f"{what} ({state})")
