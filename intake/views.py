"""What leaves the system about a ticket: personal data masked (张*, 138****8000), and absent
altogether for an anonymous citizen or a hidden item (guangzhou §9, shaoyang §23)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from intake.extract import said_name
from intake.masking import (
    HIDDEN,
    anonymise,
    mask_address,
    mask_id,
    mask_name,
    mask_own_home,
    mask_phone,
    redact,
)
from intake.model import Field, StoredEvent, StoredTicket
from intake.policy import DeadlineView

_MASKERS = {
    Field.NAME: mask_name,
    Field.PHONE: mask_phone,
    Field.ID_NUMBER: mask_id,
    Field.HOME_ADDRESS: mask_address,
}
_PUBLIC_EVENT_DATA = (
    "reason",
    "new_deadline",
    "previous_deadline",
    "unit",
    "helpers",
    "queue",
    "difficult",
    "review",
    "return_rejected",
    "level",
    "round",
    "due",
    "deadline",
    "kind",
    "decision",
    "by",
    "silence",
    "callback",
    "skip_case",
)


def scrub_said(text: str, t: StoredTicket) -> str:
    """A message as the citizen said it, for the console's conversation: ``scrub``, and a name
    they gave in it masked even where the ticket did not keep it ("我叫王小明" when only a phone
    was asked for)."""
    name = said_name(text)
    if name and len(name) >= 2:
        text = text.replace(name, HIDDEN if (t.anonymous or Field.NAME in t.hidden) else mask_name(name))
    return scrub(text, t)


def scrub(text: str, t: StoredTicket) -> str:
    """Free text with every personal value of this citizen removed, then any phone/ID pattern
    masked; for an anonymous citizen also their own name, home and flat as the text states them,
    and every number whole (intake.masking.anonymise); for a named one their own home and flat
    masked as an address is (intake.masking.mask_own_home)."""
    for f, value in t.contact.items():
        if value and len(value) >= 2:
            text = text.replace(value, "***" if (t.anonymous or f in t.hidden) else _MASKERS[f](value))
    return anonymise(text) if t.anonymous else redact(mask_own_home(text))


def ticket_json(
    t: StoredTicket,
    events: Sequence[StoredEvent] = (),
    evaluation: tuple[str | None, int] | None = None,
    view: DeadlineView | None = None,
) -> dict[str, Any]:
    """The ticket as the back office and the console see it. With ``view`` (the policy's pure
    deadline function), deadline, provisional flag and warning colour are as of now."""
    deadline = (view.handling_deadline if view else None) or t.deadline
    provisional = view.provisional if view is not None else t.deadline_provisional
    warning = str(view.warning) if view is not None and view.warning is not None else t.warning
    out: dict[str, Any] = {
        "number": t.number,
        "status": t.status.value,
        "category": t.category,
        "channel": t.channel.value,
        "unit": t.unit,
        "helper_units": list(t.helper_units),
        "deadline": deadline.isoformat() if deadline else None,
        "deadline_provisional": provisional,
        "warning": warning,
        "overdue": bool(view.overdue) if view is not None else False,
        "extensions": t.extensions,
        "rehandling_round": t.rehandling_round,
        "anonymous": t.anonymous,
        "cluster": t.cluster,
        "created_at": t.created_at.isoformat(),
        "registered_at": t.registered_at.isoformat() if t.registered_at else None,
        "subject": scrub(t.fields.get(Field.SUBJECT, ""), t) or None,
        "address": scrub(t.fields.get(Field.ADDRESS, ""), t) or None,
        "content": scrub(t.fields.get(Field.CONTENT, ""), t) or None,
        "demand": scrub(t.fields.get(Field.DEMAND, ""), t) or None,
        # what the citizen added after registration, as the unit reads it (CONTRACT.md)
        "supplements": [
            {"text": scrub(str(e.data.get("text", "")), t), "at": e.at.isoformat()}
            for e in events
            if e.type == "supplemented"
        ],
        "events": [
            {
                "type": e.type,
                "actor": e.actor,
                "at": e.at.isoformat(),
                # a unit's or an agent's own words, scrubbed as the citizen's are
                **{
                    k: scrub(str(e.data[k]), t) if k in ("reason", "callback") else e.data[k]
                    for k in _PUBLIC_EVENT_DATA
                    if k in e.data
                },
            }
            for e in events
        ],
    }
    s = t.supervision
    out["supervision"] = (
        None
        if s is None
        else {
            "opened_at": s.opened_at.isoformat(),
            "due": s.due.isoformat(),
            "reason": scrub(s.reason, t),
            "by": "system" if s.by == "system" else "agent",
            "extended": s.extended,
            "answered_at": s.answered_at.isoformat() if s.answered_at else None,
        }
    )
    out["review"] = t.review
    if not t.anonymous:
        contact = {f.value: _MASKERS[f](v) for f, v in t.contact.items() if v and f not in t.hidden}
        if contact:
            out["contact"] = contact
    if evaluation is not None:
        out["evaluation"] = {"level": evaluation[0], "round": evaluation[1]}
    return out
