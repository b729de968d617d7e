"""SqlStore: the one gateway to the system of record.

Personal data is encrypted here and nowhere else; callers hand in and get back plain values.
Every write that must reach the queue writes its outbox row in the same transaction
(ARCHITECTURE.md "Stores").

One class, one module per family of tables it keeps, each reading only what it needs of the ones
below it:

- ``unit.py``: the one unit of work, ``tx()``: every store call of the thread joins the open one,
  and there is no other way in (no connection is handed out, no method takes one). Behind it,
  private: group commit (``buffer.py``), the statements run without Core's per-statement
  machinery (``prepared.py``) and the few caches;
- ``outbox.py``: the outbox the relay drains onto the queue;
- ``messages.py``: messages in and out;
- ``tickets.py``: tickets, numbers, events, evaluations;
- ``admin.py``: restrictions and the audit log;
- ``accounts.py``: units' tokens and the console's accounts;
- ``handoffs.py``: conversations waiting for a person;
- ``held.py``: registration notices held a moment for their dispatch;
- ``dispatch.py``: what the dispatch job reads and writes in its unit of work;
- ``console.py``: the agents' queue, search and ticket page, and their actions;
- ``duties.py``: the back-office feed, supervision and the review queue;
- ``reports.py``: the indicators and the CSV export;
- ``statements.py``: the SQL prepared once.
"""

from __future__ import annotations

from intake.store.accounts import AccountStore
from intake.store.admin import AdminStore
from intake.store.console import ConsoleStore
from intake.store.dispatch import DispatchStore
from intake.store.duties import DutyStore
from intake.store.handoffs import HandoffStore
from intake.store.held import HeldNoticeStore
from intake.store.outbox import OUTBOX_MAX_ATTEMPTS
from intake.store.reports import ReportStore

__all__ = ["OUTBOX_MAX_ATTEMPTS", "SqlStore"]


class SqlStore(
    DispatchStore,
    ConsoleStore,
    DutyStore,
    ReportStore,
    AdminStore,
    AccountStore,
    HandoffStore,
    HeldNoticeStore,
):
    """The store: every SQL statement of the product goes through it."""
