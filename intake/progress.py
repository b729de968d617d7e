"""Progress by number from anywhere (issue 19, CONTRACT.md "Web chat"): what the dialog may see of
a ticket the asker's account did not file, and the count of wrong answers that keeps a stranger
from trying all ten thousand phone tails."""

from __future__ import annotations

from datetime import datetime, timedelta

from intake.dialog import NamedTicket, TicketSummary
from intake.errors import NotFound
from intake.model import Address, Field
from intake.store.sql import SqlStore

FAILED_CHECK = "progress_check_failed"  # the audit log's action for a wrong phone tail
FAILED_CHECKS_A_DAY = 10  # for one ticket, before its check is refused until tomorrow


def named_ticket(store: SqlStore, number: str, now: datetime) -> NamedTicket | None:
    """The ticket's summary and the last four digits of the phone it carries (compared by the
    dialog, never shown); None when there is no such ticket."""
    try:
        t = store.find_ticket(number)
    except NotFound:
        return None
    digits = "".join(c for c in t.contact.get(Field.PHONE, "") if c.isdigit())
    locked = store.audit_count(FAILED_CHECK, number, now - timedelta(days=1)) >= FAILED_CHECKS_A_DAY
    summary = TicketSummary(number, t.status, t.category, t.deadline)
    return NamedTicket(summary, digits[-4:] if len(digits) >= 4 else None, locked)


def note_failed_check(store: SqlStore, address: Address, number: str) -> None:
    """One wrong phone tail for ``number``, audited under the channel (the asker's address is
    personal data and stays out of the log)."""
    store.audit(f"citizen:{address.channel.value}", FAILED_CHECK, target=number)
