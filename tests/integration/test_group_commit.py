"""Group commit (IntakeService.handle_many, intake/store/buffer.py; issue 5's hot path): many
citizens' turns stored together must give each citizen exactly the conversation they would have
had alone, on SQLite and PostgreSQL; a failing turn costs the others nothing; the web chat's
concurrent turns are grouped and each answered."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from channels.web import create_app
from intake.clock import ManualClock
from intake.model import Address, Channel, InboundMessage, Reply, TicketDraft, TicketStatus
from intake.runtime import Runtime
from intake.service import IntakeResult, IntakeService, TurnInput
from intake.turn import TurnTaker
from tests.integration.test_dialog_conversations import NUMBER, ServiceWorld, _texts, build_intake
from tests.samples.conversations import CONVERSATIONS, Say
from tests.samples.conversations_driver import START, FakeWorld, _fill, check_rows, play

Client = Callable[..., Any]
# Conversations of citizens only (no agent, no clock): they can run side by side, turn k of each
# in one group.
SAY_ONLY = [c for c in CONVERSATIONS if all(isinstance(t, Say) for t in c.turns)]


def _result(out: IntakeResult | Exception) -> IntakeResult:
    assert isinstance(out, IntakeResult), repr(out)
    return out


@pytest.mark.parametrize("profile", sorted({c.profile for c in SAY_ONLY}))
def test_conversations_side_by_side_in_groups_are_each_as_alone(
    runtime: Runtime, clock: ManualClock, profile: str
) -> None:
    clock.set(START)
    convs = [c for c in SAY_ONLY if c.profile == profile]
    assert len(convs) >= 3
    service, _ = build_intake(runtime, profile)
    worlds = [ServiceWorld(runtime, conv, 1000 + i) for i, conv in enumerate(convs)]
    heard: list[list[list[Reply]]] = [[] for _ in convs]
    numbers: list[list[str]] = [[] for _ in convs]
    for k in range(max(len(c.turns) for c in convs)):
        group = [(i, c.turns[k]) for i, c in enumerate(convs) if k < len(c.turns)]
        items = []
        for i, turn in group:
            assert isinstance(turn, Say)
            text = _fill(turn.text, numbers[i])
            items.append(TurnInput(InboundMessage(worlds[i].address, text, clock.now())))
        # Web chat and the other channels in one group: each turn's channel says where its
        # replies go.
        outs = service.handle_many(items)
        for (i, _), item, out in zip(group, items, outs, strict=True):
            result = _result(out)
            stored, _ = runtime.store.get_inbound(result.message_id)
            assert stored.text == item.msg.text  # stored, exactly as received
            heard[i].append([Reply(r.text, r.choices) for r in result.replies])
        for i, _ in group:
            numbers[i][:] = [r.number for r in worlds[i].rows() if r.number]
    for i, conv in enumerate(convs):
        pure = play(conv, FakeWorld(conv.profile, conv.channel))
        assert _texts(heard[i]) == _texts(pure), conv.name
        check_rows(conv, worlds[i].rows())
        assert len(runtime.store.inbound_texts(worlds[i].address)) == len(conv.turns)


def test_two_messages_of_one_sender_in_one_group_are_taken_in_order(runtime: Runtime) -> None:
    service, _ = build_intake(runtime, "guangzhou")
    me = Address(Channel.WEBCHAT, "in-order")
    other = Address(Channel.WEBCHAT, "someone-else")
    now = runtime.clock.now()
    outs = service.handle_many(
        [
            TurnInput(InboundMessage(me, "我要投诉，小区楼下烧烤店每晚油烟很大", now)),
            TurnInput(InboundMessage(other, "你好", now)),
            TurnInput(InboundMessage(me, "电话13800138000，地址：幸福小区3栋，希望城管处理", now)),
        ],
    )
    first, _, second = (_result(o) for o in outs)
    assert first.ticket is not None and first.ticket.status is TicketStatus.COLLECTING
    # The second message supplemented the draft the first one opened: the ticket is registered.
    assert second.ticket is not None and second.ticket.number and NUMBER.fullmatch(second.ticket.number)
    assert [t.status for t in runtime.store.tickets_for(me)] == [TicketStatus.REGISTERED]


def test_a_sender_another_process_holds_waits_alone_and_the_others_go_on(runtime: Runtime) -> None:
    """One script locks the whole group: a sender whose lock another process holds is left out
    of it, waits for that lock on its own, and the lock is never taken from its holder."""
    service, _ = build_intake(runtime, "guangzhou")
    held = Address(Channel.WEBCHAT, "held-elsewhere")
    free = [Address(Channel.WEBCHAT, f"free-{i}") for i in range(3)]
    lock = f"hotline:lock:{runtime.store.address_key(held)}"
    runtime.redis.set(lock, "another-process", px=30_000)
    released: list[float] = []

    def release_later() -> None:
        time.sleep(0.5)
        # the others' turns are done by now, and their release left this lock alone
        assert runtime.redis.get(lock) == b"another-process"
        released.append(time.monotonic())
        runtime.redis.delete(lock)

    releaser = threading.Thread(target=release_later)
    releaser.start()
    now = runtime.clock.now()
    text = "我要投诉，小区楼下烧烤店每晚油烟很大"
    outs = service.handle_many([TurnInput(InboundMessage(a, text, now)) for a in [*free, held]])
    done = time.monotonic()
    releaser.join()
    assert released and done >= released[0]  # the held sender waited for the lock
    for out, address in zip(outs, [*free, held], strict=True):
        result = _result(out)
        assert result.ticket is not None and result.ticket.status is TicketStatus.COLLECTING
        assert [t.status for t in runtime.store.tickets_for(address)] == [TicketStatus.COLLECTING]
        state = runtime.redis.get(f"hotline:dialog:{runtime.store.address_key(address)}")
        assert state is not None and state != b"idle"  # each sender's collecting state is kept
        assert runtime.redis.get(f"hotline:lock:{runtime.store.address_key(address)}") is None


def test_a_turn_that_fails_costs_the_others_nothing_and_is_kept(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, _ = build_intake(runtime, "guangzhou")
    bad = Address(Channel.WEBCHAT, "breaks-the-store")
    real_apply = TurnTaker._apply

    def apply(self: TurnTaker, address: Address, result: Any, now: Any, *more: Any) -> Any:
        if address == bad:
            raise RuntimeError("disk full")  # stands for any failure inside one turn's writes
        return real_apply(self, address, result, now, *more)

    monkeypatch.setattr(TurnTaker, "_apply", apply)
    now = runtime.clock.now()
    good = [Address(Channel.WEBCHAT, f"fine-{i}") for i in range(5)]
    items = [TurnInput(InboundMessage(a, "我要投诉，小区楼下烧烤店每晚油烟很大", now)) for a in good]
    items.insert(2, TurnInput(InboundMessage(bad, "我要投诉，小区楼下烧烤店每晚油烟很大", now)))
    outs = service.handle_many(items)
    assert isinstance(outs[2], RuntimeError)
    for out, address in zip(outs[:2] + outs[3:], good, strict=True):
        result = _result(out)
        assert result.replies and result.ticket is not None
        assert [t.status for t in runtime.store.tickets_for(address)] == [TicketStatus.COLLECTING]
    # The failed citizen's message is stored, marked, and not lost.
    (kept,) = runtime.store.inbound_texts(bad)
    assert kept[1] == "我要投诉，小区楼下烧烤店每晚油烟很大"
    assert runtime.store.tickets_for(bad) == []


def test_held_rows_are_written_before_any_read_and_in_id_order(runtime: Runtime) -> None:
    store = runtime.store
    address = Address(Channel.WEBCHAT, "held")
    with store.tx():
        a = store.create_ticket(TicketDraft(Channel.WEBCHAT, address, "guangzhou", reason="first"))
        b = store.create_ticket(TicketDraft(Channel.WEBCHAT, address, "guangzhou", reason="second"))
        assert b > a
        assert store.get_ticket(a).reason == "first"  # a read inside sees what was held
        # A row inserted the ordinary way in between takes an id after the held ones.
        _, new = store.save_inbound(InboundMessage(address, "x", runtime.clock.now(), native_id="n-1"))
        c = store.create_ticket(TicketDraft(Channel.WEBCHAT, address, "guangzhou", reason="third"))
        assert new and c > b
    assert [t.reason for t in store.tickets_for(address)] == ["first", "second", "third"]

    # An update of a held row changes the held row: written once, as if inserted then updated.
    with store.tx():
        d = store.create_ticket(TicketDraft(Channel.WEBCHAT, address, "guangzhou", reason="draft"))
        store.update_ticket(d, reason="updated", category="投诉")
        store.update_ticket(d, status=TicketStatus.CLOSED)
    t = store.get_ticket(d)
    assert (t.reason, t.category, t.status, t.version) == ("updated", "投诉", TicketStatus.CLOSED, 3)
    assert t.updated_at >= t.created_at

    # A transaction that fails writes none of what it held.
    def fails() -> None:
        with store.tx():
            store.create_ticket(TicketDraft(Channel.WEBCHAT, address, "guangzhou", reason="lost"))
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        fails()
    assert [t.reason for t in store.tickets_for(address)] == ["first", "second", "third", "updated"]


def test_an_evaluation_given_twice_in_one_group_keeps_the_turns_messages(runtime: Runtime) -> None:
    """The second answer for a round is refused, and refusing it must not undo what the same
    unit of work holds (a SAVEPOINT rolled back around it once took held rows with it)."""
    store = runtime.store
    address = Address(Channel.SMS, "+8613900000011")
    ticket = store.create_ticket(TicketDraft(Channel.SMS, address, "guangzhou", reason="done"))
    with store.tx():
        store.save_inbound(InboundMessage(address, "1", runtime.clock.now()))
        assert store.record_evaluation(ticket, 1, "满意", "citizen")
        store.save_inbound(InboundMessage(address, "2", runtime.clock.now()))
        assert not store.record_evaluation(ticket, 1, "不满意", "citizen")
    assert store.evaluation(ticket) == ("满意", 1)
    assert [text for _, text, _ in store.inbound_texts(address)] == ["1", "2"]


async def test_concurrent_web_chat_turns_are_grouped_and_each_answered(
    runtime: Runtime, aiohttp_client: Client
) -> None:
    groups: list[int] = []
    real = IntakeService.handle_many

    def counting(self: IntakeService, items: Any) -> Any:
        groups.append(len(items))
        return real(self, items)

    IntakeService.handle_many = counting  # type: ignore[method-assign]
    try:
        client: TestClient[Any, Any] = await aiohttp_client(create_app(runtime))
        sessions = []
        for _ in range(20):
            resp = await client.post("/api/chat/sessions")
            sessions.append(await resp.json())

        async def say(s: dict[str, str], text: str) -> dict[str, Any]:
            resp = await client.post(
                f"/api/chat/sessions/{s['session_id']}/messages",
                json={"text": text},
                headers={"Authorization": f"Bearer {s['token']}"},
            )
            assert resp.status == 200
            body: dict[str, Any] = await resp.json()
            return body

        first = await asyncio.gather(*(say(s, "我要投诉，小区楼下烧烤店每晚油烟很大") for s in sessions))
        supplements = [f"电话1380013{i:04d}，地址：幸福小区{i}栋，希望城管处理" for i in range(len(sessions))]
        second = await asyncio.gather(*(say(s, text) for s, text in zip(sessions, supplements, strict=True)))
    finally:
        IntakeService.handle_many = real  # type: ignore[method-assign]
    assert all(b["ticket"]["status"] == "collecting" for b in first)
    numbers = [b["ticket"]["number"] for b in second]
    assert all(n and NUMBER.fullmatch(n) for n in numbers) and len(set(numbers)) == 20
    assert max(groups) > 1  # turns that came together were stored together
    assert sum(groups) == 40
