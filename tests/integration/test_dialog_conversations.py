"""The conversation table again, through the real stores: IntakeService with SqlStore and Redis,
on SQLite and PostgreSQL (issue 4). Every reply must equal the pure run's reply (numbers aside),
every ticket row must be as the table says, every inbound message must be stored."""

from __future__ import annotations

import re

import pytest

from intake.assembly import EvaluationReplies, HotlinePolicy
from intake.clock import ManualClock
from intake.events import EventService
from intake.model import Address, Channel, InboundMessage, Reply, TicketStatus
from intake.policy import load_profile
from intake.runtime import Runtime
from intake.service import IntakeService
from intake.states import DialogStates
from intake.turn import TurnTaker
from tests.samples.conversations import CONVERSATIONS, Conversation, Say
from tests.samples.conversations_driver import (
    START,
    UNDERSTANDING,
    FakeWorld,
    RowState,
    check_rows,
    knowledge,
    play,
    screening,
)
from worker.timers import expire_drafts

NUMBER = re.compile(r"\d{8}-\d{6}")


def build_intake(runtime: Runtime, profile: str) -> tuple[IntakeService, HotlinePolicy]:
    policy = HotlinePolicy(load_profile(profile), runtime.store)
    turn = TurnTaker(
        runtime.store,
        policy,
        UNDERSTANDING,
        runtime.clock,
        screening=screening(profile),
        evaluations=EvaluationReplies(),
        knowledge=knowledge(),
        repeats=screening(profile),
    )
    service = IntakeService(DialogStates(runtime.redis, runtime.store), turn)
    return service, policy


class ServiceWorld:
    """One citizen address talking to the real IntakeService."""

    def __init__(self, runtime: Runtime, conv: Conversation, index: int) -> None:
        self.runtime = runtime
        self.service, self.policy = build_intake(runtime, conv.profile)
        value = {
            Channel.SMS: f"+86139{index:08d}",
            Channel.EMAIL: f"citizen{index}@example.cn",
        }.get(conv.channel, f"conv-{index}")
        self.address = Address(conv.channel, value)
        self.sent = 0

    def say(self, text: str) -> list[Reply]:
        msg = InboundMessage(self.address, text, self.runtime.clock.now())
        result = self.service.handle(msg)
        self.sent += 1
        stored, _ = self.runtime.store.get_inbound(result.message_id)
        assert stored.text == text  # stored first, exactly as received
        return [Reply(r.text, r.choices) for r in result.replies]

    def agent(self, number: str, kind: str, result: str) -> None:
        t = self.runtime.store.find_ticket(number)
        self.runtime.store.update_ticket(t.id, status=TicketStatus.DISPATCHED)
        EventService(self.runtime.store, self.policy).apply(number, {"type": kind, "result": result}, "agent")

    def expire(self, seconds: int) -> None:
        assert isinstance(self.runtime.clock, ManualClock)
        self.runtime.clock.advance(seconds)
        expire_drafts(self.runtime, self.runtime.clock.now(), 3)

    def rows(self) -> list[RowState]:
        return [
            RowState(
                t.id,
                t.status,
                t.category,
                {**t.contact, **t.fields},
                t.hidden,
                t.anonymous,
                t.number,
                t.reason,
            )
            for t in self.runtime.store.tickets_for(self.address)
        ]


# A place in the hand-off queue depends on the other conversations, as a ticket's number does.
PLACE = re.compile(r"您是第一位，|您前面还有\d+位市民在等待，")


def _texts(heard: list[list[Reply]]) -> list[list[tuple[str, tuple[str, ...]]]]:
    return [
        [
            (PLACE.sub("P", NUMBER.sub("N", r.text)), tuple(NUMBER.sub("N", c) for c in r.choices))
            for r in turn
        ]
        for turn in heard
    ]


@pytest.mark.parametrize("part", range(4))
def test_the_table_through_the_real_stores(runtime: Runtime, clock: ManualClock, part: int) -> None:
    convs = CONVERSATIONS[part::4]
    for index, conv in enumerate(convs):
        clock.set(START)
        world = ServiceWorld(runtime, conv, index)
        real = play(conv, world)
        pure = play(conv, FakeWorld(conv.profile, conv.channel))
        assert _texts(real) == _texts(pure), conv.name
        check_rows(conv, world.rows())
        said = sum(1 for t in conv.turns if isinstance(t, Say))
        assert len(runtime.store.inbound_texts(world.address)) == said  # every message stored
