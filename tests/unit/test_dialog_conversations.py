"""The conversation table (tests/samples/conversations.py) on the pure dialog: step() with the
state passed in, no Redis and no SQL (issue 4)."""

from __future__ import annotations

from collections import Counter

import pytest

from intake.model import Category
from tests.samples.conversations import CONVERSATIONS, Conversation, Say
from tests.samples.conversations_driver import FakeWorld, play


@pytest.mark.parametrize("conv", CONVERSATIONS, ids=[c.name for c in CONVERSATIONS])
def test_conversation(conv: Conversation) -> None:
    world = FakeWorld(conv.profile, conv.channel)
    play(conv, world)
    assert len(world.inbound) == sum(1 for t in conv.turns if isinstance(t, Say))  # every message stored


def test_the_table_covers_what_issue_4_asks() -> None:
    assert len(CONVERSATIONS) >= 60
    assert {c.profile for c in CONVERSATIONS} == {"guangzhou", "huizhou", "shaoyang", "guangxi", "quxian"}
    categories = Counter(row.category for c in CONVERSATIONS for row in c.tickets)
    assert {cat.value for cat in Category} <= set(categories)
    assert len({c.name for c in CONVERSATIONS}) == len(CONVERSATIONS)
