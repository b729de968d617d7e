"""The dispatch step in its unit of work (prepared statements), on SQLite and PostgreSQL:
what it writes reads back through the ordinary store exactly as Core would have written it, a
repeat changes nothing, and an error leaves nothing behind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, insert, select

from intake.assembly import build_services
from intake.model import (
    Address,
    Channel,
    DeliveryState,
    Field,
    InboundMessage,
    StoredEvent,
    TicketDraft,
    TicketStatus,
)
from intake.runtime import Runtime
from intake.store.prepared import Prepared
from intake.store.schema import messages_out, outbox, ticket_events
from worker.context import get_services, set_runtime
from worker.dispatch import dispatch_ticket, router


@pytest.fixture
def wired(runtime: Runtime) -> Iterator[Runtime]:
    set_runtime(runtime, build_services(runtime))
    yield runtime
    set_runtime(None)


def registered(rt: Runtime, content: str, phone: str = "+8613900000001", subject: str = "烧烤店") -> int:
    tid = rt.store.create_ticket(
        TicketDraft(
            Channel.SMS,
            Address(Channel.SMS, phone),
            "guangzhou",
            category="投诉",
            values={Field.CONTENT: content, Field.SUBJECT: subject, Field.ADDRESS: "幸福路1号"},
        )
    )
    rt.store.register(tid, deadline=None, deadline_provisional=False)
    return tid


def rows(rt: Runtime, ticket_id: int) -> tuple[int, int, int, int]:
    """(dispatched events, notices, their delivery jobs, open dispatch steps) of one ticket."""
    with rt.engine.connect() as conn:
        events = conn.execute(
            select(func.count()).where(
                ticket_events.c.ticket_id == ticket_id, ticket_events.c.type == "dispatched"
            )
        ).scalar_one()
        notices = list(
            conn.execute(
                select(messages_out.c.id).where(
                    messages_out.c.ticket_id == ticket_id, messages_out.c.kind == "dispatched"
                )
            ).scalars()
        )
        jobs = conn.execute(
            select(func.count()).where(outbox.c.key.in_([f"deliver:{i}" for i in notices]))
        ).scalar_one()
        open_steps = conn.execute(
            select(func.count()).where(outbox.c.key == f"dispatch:{ticket_id}", outbox.c.done_at.is_(None))
        ).scalar_one()
    return int(events), len(notices), int(jobs), int(open_steps)


def test_dispatch_writes_what_the_store_reads_back_and_a_repeat_changes_nothing(wired: Runtime) -> None:
    rt = wired
    tid = registered(rt, "幸福路1号烧烤油烟扰民，还停水了")
    before = rt.store.get_ticket(tid)
    now = rt.clock.now()

    assert dispatch_ticket(rt, tid) == "dispatched"

    t = rt.store.get_ticket(tid)
    assert t.status is TicketStatus.DISPATCHED
    assert t.unit == "市城市管理和综合执法局" and t.helper_units == ("市自来水公司",)
    assert t.version == before.version + 1 and t.updated_at == now
    # the exact deadline is the policy function's, for a dispatch at "now"
    view = get_services().policy.view(before, [StoredEvent(0, "dispatched", "system", now, {})], now)
    assert view is not None and t.deadline == view.handling_deadline and t.deadline is not None
    assert t.deadline.utcoffset() is not None and t.deadline_provisional == view.provisional
    event = [e for e in rt.store.events(tid) if e.type == "dispatched"]
    assert len(event) == 1 and event[0].at == now
    assert event[0].data == {
        "unit": "市城市管理和综合执法局",
        "helpers": ["市自来水公司"],
        "matched": ["油烟", "烧烤", "停水"],
    }
    (notice,) = rt.store.outbound_for(Address(Channel.SMS, "+8613900000001"))
    assert notice.idempotency_key == f"notice:dispatch:{tid}" and notice.kind == "dispatched"
    assert notice.state is DeliveryState.PENDING and notice.attempts == 0 and notice.choices == ()
    assert t.number is not None and t.number in notice.text and "市城市管理和综合执法局" in notice.text
    assert notice.created_at == now and notice.next_attempt_at == now and notice.ticket_id == tid
    assert rt.store.outbox_payload(f"deliver:{notice.id}") == {"outbound_id": notice.id}
    assert rows(rt, tid) == (1, 1, 1, 0)

    assert dispatch_ticket(rt, tid) == "already"  # a duplicate job, or a relay racing a restart
    assert rows(rt, tid) == (1, 1, 1, 0)
    assert rt.store.get_ticket(tid).version == t.version


def test_an_unroutable_ticket_waits_in_the_manual_queue(wired: Runtime) -> None:
    tid = registered(wired, "想问一下办理流程", phone="+8613900000002", subject="咨询")
    assert dispatch_ticket(wired, tid) == "manual"
    t = wired.store.get_ticket(tid)
    assert t.status is TicketStatus.REGISTERED and t.unit == router().manual_queue
    assert [e.data for e in wired.store.events(tid) if e.type == "manual_routing"] == [
        {"queue": router().manual_queue}
    ]
    assert rows(wired, tid) == (0, 0, 0, 0)


def test_an_error_inside_the_transaction_leaves_nothing(wired: Runtime) -> None:
    rt = wired
    tid = registered(rt, "烧烤油烟扰民", phone="+8613900000003")
    now = rt.clock.now()

    def step_then_fail() -> None:
        with rt.store.tx():
            assert rt.store.lock_ticket(tid) is not None
            rt.store.record_dispatch(
                tid,
                step_key=f"dispatch:{tid}",
                now=now,
                unit="市城市管理和综合执法局",
                helpers=(),
                deadline=None,
                deadline_provisional=False,
                event={},
                notice=(Address(Channel.SMS, "+8613900000003"), "t", f"notice:dispatch:{tid}", "dispatched"),
            )
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        step_then_fail()
    assert rt.store.get_ticket(tid).status is TicketStatus.REGISTERED
    assert rows(rt, tid) == (0, 0, 0, 1)
    assert dispatch_ticket(rt, tid) == "dispatched"  # the connection went back to the pool usable
    assert rows(rt, tid) == (1, 1, 1, 0)


def test_mails_stored_on_their_own_path_refuse_to_run_inside_a_unit_of_work(wired: Runtime) -> None:
    """save_inbound_mails has a transaction of its own: inside tx() it would wait for its lock."""
    msg = InboundMessage(Address(Channel.EMAIL, "a@example.org"), "路灯坏了", wired.clock.now())
    with wired.store.tx(), pytest.raises(RuntimeError):
        wired.store.save_inbound_mails([(msg, "raw")], flags="unparsed", job="mail_inbound")
    assert wired.store.count_inbound() == 0


def test_a_statement_relying_on_a_python_side_default_is_refused(wired: Runtime) -> None:
    stmt = insert(messages_out).values(idempotency_key="k")  # attempts has default=0
    with pytest.raises(ValueError, match="attempts"):
        Prepared(stmt, wired.engine.dialect)
