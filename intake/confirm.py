"""Withdrawing or evaluating by mail, confirmed (issue 18, CONTRACT.md "Email").

A mail's From: proves nothing: anyone can write it. A withdrawal or an evaluation asked for by mail
is therefore done only (1) in the ticket's thread (our tag in the subject) and (2) once a code we
mail to the address on record comes back in that thread within a day. A forger never sees the
code; the citizen answers it in one reply. The pending request waits in the sender's dialog state.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from intake import texts
from intake.dialog import DialogState, Evaluate, StepResult, Withdraw
from intake.model import Address, InboundMessage, Reply

__all__ = ["MAIL_CODE_VALID", "ask_for_code", "needs_code", "with_mail_code"]

MAIL_CODE_VALID = timedelta(hours=24)


def needs_code(address: Address, action: Withdraw | Evaluate) -> bool:
    return not address.channel.sender_proven and not action.confirmed


def with_mail_code(
    msg: InboundMessage, state: DialogState | None, now: datetime, dialog: Callable[[], StepResult]
) -> StepResult:
    """The turn of ``msg``: the confirmed action when it brings back the code a mail asked for,
    else the ``dialog``'s step, with a code still waiting kept whatever else is said meanwhile."""
    confirmed = _confirmed_by_code(msg, state, now)
    if confirmed is not None:
        return confirmed
    result = dialog()
    if state is not None and state.mail_code and not result.state.mail_code:
        result = replace(result, state=replace(result.state, mail_code=state.mail_code))
    return result


def _confirmed_by_code(msg: InboundMessage, state: DialogState | None, now: datetime) -> StepResult | None:
    """The withdrawal or evaluation a mail asked for, when this mail in the same thread brings
    back its code in time: the action, confirmed. Anything else goes to the dialog as usual."""
    pending = state.mail_code if state is not None else None
    if pending is None or msg.address.channel.sender_proven or msg.thread_ticket != pending["number"]:
        return None
    if now > datetime.fromisoformat(pending["until"]) or not re.search(
        rf"(?<!\d){pending['code']}(?!\d)", msg.text
    ):
        return None
    number = pending["number"]
    action: Withdraw | Evaluate = (
        Withdraw(number, confirmed=True)
        if pending["kind"] == "withdraw"
        else Evaluate(number, pending["level"] or None, confirmed=True)
    )
    assert state is not None
    return StepResult(replace(state, mail_code=None), (), (action,))


def ask_for_code(
    action: Withdraw | Evaluate, thread: str | None, state: DialogState, now: datetime
) -> tuple[Reply, DialogState]:
    """A withdrawal or evaluation by mail: in the ticket's thread only, and done once a code
    mailed to the address on record comes back (a forged From: never sees it)."""
    if thread != action.number:
        return Reply(texts.MAIL_NEEDS_THREAD), state
    kind = "withdraw" if isinstance(action, Withdraw) else "evaluate"
    code = f"{secrets.randbelow(1_000_000):06d}"
    pending = {
        "code": code,
        "kind": kind,
        "number": action.number,
        "level": (action.level if isinstance(action, Evaluate) else None) or "",
        "until": (now + MAIL_CODE_VALID).isoformat(),
    }
    what = texts.MAIL_CONFIRM_WHAT[kind]
    reply = Reply(texts.MAIL_CONFIRM_CODE.format(what=what, number=action.number, code=code))
    return reply, replace(state, mail_code=pending)
