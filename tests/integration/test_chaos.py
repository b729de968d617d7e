"""The short version of `make chaos` (issue 22) that `make test` runs: two scenarios, each with
the real processes started as `make run` starts them, a mixed crowd on every channel, one fault at
a random moment, and the counts taken at the far ends (the SMS platform stand-in, the mail sink,
the Bot API stand-in, the back-office receiver) and in SQL. Full size: `make chaos`."""

from __future__ import annotations

import argparse

import pytest

from chaos.__main__ import run_one
from chaos.cluster import postgres_reachable
from chaos.faults import SCENARIOS

pytestmark = pytest.mark.slow
BY_NAME = {s.name: s for s in SCENARIOS}
SHORT = argparse.Namespace(conversations=120, seconds=6.0, short=True)


def check(name: str, db: str) -> None:
    result = run_one(BY_NAME[name], db, SHORT, seed=22)
    c = result.counts
    assert c.problems == [], "\n".join(c.problems)
    assert c.duplicated == 0 and c.lost == 0
    # the crowd got through and its work reached the far ends: the scenario measured something
    assert c.sent >= 150 and c.stored == c.sent
    assert c.tickets >= 60 and c.dispatched == c.tickets
    assert c.delivered + c.marked == c.notices >= 2 * c.tickets


def test_chaos_worker_killed_between_the_providers_accept_and_our_record() -> None:
    check("kill-worker", "sqlite")


def test_chaos_web_killed_mid_request() -> None:
    check("kill-web", "postgresql" if postgres_reachable() else "sqlite")
