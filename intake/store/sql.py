"""SqlStore: the one gateway to the system of record.

Personal data is encrypted here and nowhere else; callers hand in and get back plain values.
Every write that must reach the queue writes its outbox row in the same transaction
(ARCHITECTURE.md "Stores").

One class, one module per family of tables it keeps, each reading only what it needs of the ones
below it:

- ``unit.py``: the unit of work (``tx``, ``batch`` with group commit, reads that see the open
  transaction, the fast path of prepared statements, and ``raw_tx`` on the pooled DBAPI
  connection for the dispatch job and a mail stored as it arrives);
- ``outbox.py``: the outbox the relay drains onto the queue;
- ``messages.py``: messages in and out;
- ``tickets.py``: tickets, numbers, events, evaluations;
- ``admin.py``: restrictions and the audit log;
- ``dispatch.py``: what the dispatch job writes inside its ``raw_tx``;
- ``statements.py``: the SQL prepared once.
"""

from __future__ import annotations

from intake.store.admin import AdminStore
from intake.store.dispatch import DispatchStore
from intake.store.outbox import OUTBOX_MAX_ATTEMPTS

__all__ = ["OUTBOX_MAX_ATTEMPTS", "SqlStore"]


class SqlStore(DispatchStore, AdminStore):
    """The store: every SQL statement of the product goes through it."""
