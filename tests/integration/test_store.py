"""The same assertions on SQLite and PostgreSQL (the db_url fixture runs each test on both)."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

import psycopg
import pytest

from intake.clock import ManualClock
from intake.model import Address, Channel, DeliveryState, Field, InboundMessage, TicketDraft, TicketStatus
from intake.runtime import Runtime

PHONE = "13912345678"
NAME = "欧阳春花"
ID_NUMBER = "11010519491231002X"


def _inbound(
    rt: Runtime, text: str, native_id: str | None = None, value: str = "+8613912345678"
) -> InboundMessage:
    return InboundMessage(Address(Channel.SMS, value), text, rt.clock.now(), native_id=native_id)


def _draft(rt: Runtime, **values: str) -> TicketDraft:
    return TicketDraft(
        channel=Channel.SMS,
        address=Address(Channel.SMS, "+86" + PHONE),
        policy="guangzhou",
        category="投诉",
        values={Field(k): v for k, v in values.items()},
    )


def test_inbound_messages_are_stored_once_per_native_id(runtime: Runtime) -> None:
    first, new1 = runtime.store.save_inbound(_inbound(runtime, "路灯坏了", native_id="u-1"))
    again, new2 = runtime.store.save_inbound(_inbound(runtime, "路灯坏了", native_id="u-1"))
    other, new3 = runtime.store.save_inbound(_inbound(runtime, "路灯坏了"))
    assert (new1, new2, new3) == (True, False, True)
    assert first == again != other
    assert runtime.store.count_inbound() == 2
    msg, _ = runtime.store.get_inbound(first)
    assert msg.text == "路灯坏了" and msg.address.value == "+8613912345678"


def test_registration_gives_sortable_unique_numbers_and_a_dispatch_outbox_row(
    runtime: Runtime, clock: ManualClock
) -> None:
    ids = [runtime.store.create_ticket(_draft(runtime, content=f"第{i}件")) for i in range(3)]
    numbers = [runtime.store.register(i, deadline=None, deadline_provisional=False) for i in ids]
    assert numbers == sorted(numbers)
    assert numbers[0] == "20261120-000001" and numbers[2] == "20261120-000003"
    # registering twice is a no-op and keeps the number
    assert runtime.store.register(ids[0], deadline=None, deadline_provisional=False) == numbers[0]
    clock.advance(86400)
    nid = runtime.store.create_ticket(_draft(runtime, content="次日"))
    assert runtime.store.register(nid, deadline=None, deadline_provisional=False) == "20261121-000001"
    jobs = runtime.store.outbox_to_enqueue(clock.now(), timedelta(seconds=60))
    assert [j.key for j in jobs] == [f"dispatch:{i}" for i in [*ids, nid]]
    t = runtime.store.find_ticket(numbers[1])
    assert t.status is TicketStatus.REGISTERED and t.fields[Field.CONTENT] == "第1件"
    assert [e.type for e in runtime.store.events(t.id)] == ["registered"]


def test_numbers_stay_unique_when_many_threads_register_at_once(runtime: Runtime) -> None:
    ids = [runtime.store.create_ticket(_draft(runtime, content=str(i))) for i in range(40)]
    numbers: list[str] = []
    lock = threading.Lock()

    def work(chunk: list[int]) -> None:
        for i in chunk:
            n = runtime.store.register(i, deadline=None, deadline_provisional=False)
            with lock:
                numbers.append(n)

    threads = [threading.Thread(target=work, args=(ids[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(numbers)) == 40
    assert sorted(int(n.split("-")[1]) for n in numbers) == list(range(1, 41))


def test_outbound_is_idempotent_and_settles_once(runtime: Runtime) -> None:
    addr = Address(Channel.SMS, "+8613912345678")
    oid, new = runtime.store.record_outbound(addr, "您的工单已受理", key="ack:1", kind="ack")
    oid2, new2 = runtime.store.record_outbound(addr, "您的工单已受理", key="ack:1", kind="ack")
    assert (oid, new) == (oid2, True) and new2 is False
    assert runtime.store.outbox_payload(f"deliver:{oid}") == {"outbound_id": oid}  # its job, once
    assert runtime.store.mark_delivery(oid, DeliveryState.DELIVERED, provider_id="p-1")
    assert not runtime.store.mark_delivery(oid, DeliveryState.FAILED, error="late")  # settled already
    out = runtime.store.get_outbound(oid)
    assert out.state is DeliveryState.DELIVERED and out.attempts == 1 and out.text == "您的工单已受理"
    assert [m.id for m in runtime.store.outbound_for(addr)] == [oid]
    assert runtime.store.outbound_for(addr, after_id=oid) == []


def test_outbox_rows_come_back_when_their_job_was_lost(runtime: Runtime, clock: ManualClock) -> None:
    tid = runtime.store.create_ticket(_draft(runtime, content="x"))
    runtime.store.register(tid, deadline=None, deadline_provisional=False)
    jobs = runtime.store.outbox_to_enqueue(clock.now(), timedelta(seconds=60))
    runtime.store.mark_enqueued([j.id for j in jobs])
    assert runtime.store.outbox_to_enqueue(clock.now(), timedelta(seconds=60)) == []
    clock.advance(61)  # enqueued a minute ago and still not done: Redis lost it
    assert [j.key for j in runtime.store.outbox_to_enqueue(clock.now(), timedelta(seconds=60))] == [
        f"dispatch:{tid}"
    ]
    runtime.store.mark_done(f"dispatch:{tid}")
    clock.advance(3600)
    assert runtime.store.outbox_to_enqueue(clock.now(), timedelta(seconds=60)) == []


def _all_rows_as_text(runtime: Runtime) -> str:
    """What a plain client shows: every row of every table, and for SQLite the file bytes."""
    url = runtime.settings.database_url
    tables = ["tickets", "messages_in", "messages_out", "ticket_events", "outbox", "audit_log", "evaluations"]
    chunks: list[str] = []
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        con = sqlite3.connect(path)
        chunks.extend(con.iterdump())
        con.close()
        for suffix in ("", "-wal"):
            try:
                with open(path + suffix, "rb") as fh:
                    chunks.append(fh.read().decode("utf-8", "replace"))
            except FileNotFoundError:
                pass
    else:
        plain = "postgresql://" + url.split("://", 1)[1]
        with psycopg.connect(plain) as con:
            for t in tables:
                chunks.extend(str(r[0]) for r in con.execute(f"SELECT t::text FROM {t} t"))
    return "\n".join(chunks)


def test_a_plain_client_sees_no_phone_name_or_id_in_clear(runtime: Runtime) -> None:
    """RELIABILITY.md P1: full value, last 8 digits, ID without its check digit."""
    tid = runtime.store.create_ticket(
        _draft(runtime, name=NAME, phone=PHONE, id_number=ID_NUMBER, content=f"我是{NAME}，电话{PHONE}")
    )
    number = runtime.store.register(tid, deadline=None, deadline_provisional=False)
    runtime.store.save_inbound(_inbound(runtime, f"我叫{NAME}，手机{PHONE}，身份证{ID_NUMBER}"))
    runtime.store.record_outbound(
        Address(Channel.SMS, "+86" + PHONE), f"{NAME}您好，工单{number}已受理", key="k", kind="ack"
    )
    dump = _all_rows_as_text(runtime)
    assert number in dump  # the dump is real: the ticket number is there in clear
    for needle in (PHONE, PHONE[-8:], NAME, ID_NUMBER[:17], "春花"):
        assert needle not in dump, needle


@pytest.mark.parametrize("status", ["registered"])
def test_listing_filters_and_pages_newest_first(runtime: Runtime, status: str) -> None:
    ids = [runtime.store.create_ticket(_draft(runtime, content=str(i))) for i in range(5)]
    for i in ids:
        runtime.store.register(i, deadline=None, deadline_provisional=False)
    page = runtime.store.list_tickets(status=status, limit=3)
    assert [t.id for t in page] == ids[::-1][:3]
    rest = runtime.store.list_tickets(status=status, before_id=page[-1].id)
    assert [t.id for t in rest] == ids[::-1][3:]
    assert runtime.store.list_tickets(channel="email") == []


def test_a_status_is_claimed_once_and_due_tickets_are_found_by_their_deadline(
    runtime: Runtime, clock: ManualClock
) -> None:
    """What the timers (worker/timers.py) ask of the store: the tickets whose supplement window
    passed, and a move that only one of several workers wins."""
    due = runtime.store.create_ticket(_draft(runtime))
    later = runtime.store.create_ticket(_draft(runtime))
    runtime.store.update_ticket(due, supplement_due_at=clock.now() - timedelta(minutes=1))
    runtime.store.update_ticket(later, supplement_due_at=clock.now() + timedelta(days=1))
    assert runtime.store.ticket_ids(TicketStatus.COLLECTING, due="supplement_due_at") == [due]
    assert runtime.store.ticket_ids([TicketStatus.COLLECTING, TicketStatus.CLOSED]) == [due, later]
    claims = [
        runtime.store.claim_status(due, TicketStatus.COLLECTING, TicketStatus.CLOSED, reason="x")
        for _ in range(2)
    ]
    assert claims == [True, False]
    closed = runtime.store.get_ticket(due)
    assert (closed.status, closed.reason) == (TicketStatus.CLOSED, "x")
    assert runtime.store.ticket_ids(TicketStatus.COLLECTING, due="supplement_due_at") == []


def test_sqlite_acknowledges_only_what_is_on_disk(sqlite_runtime: Runtime) -> None:
    """Issue 18: WAL with synchronous=NORMAL can lose the last commits on power loss."""
    with sqlite_runtime.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
