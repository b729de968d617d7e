"""The ticket's life after registration (intake/lifecycle.py): what the profile decides."""

from __future__ import annotations

import pytest

from intake.errors import InvalidTransition
from intake.lifecycle import transition
from intake.model import TicketStatus as S
from intake.policy import PROFILE_NAMES, load_profile

GUANGZHOU = {"difficult_after": 3, "rehandling_extendable": False}  # guangzhou §18, §29


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_every_profile_says_when_returns_go_to_coordination(name: str) -> None:
    returns = load_profile(name).returns
    assert returns.difficult_after >= 1
    assert returns.basis.source == "guangzhou §18" or returns.basis.fallback == "guangzhou §18"
    assert returns.reviewed  # the hotline reviews a return first (guangzhou §17, huizhou §16, shaoyang §13)


def test_the_profiles_count_of_returns_sends_a_ticket_to_coordination() -> None:
    assert not transition(S.DISPATCHED, "returned", returns=1, **GUANGZHOU).difficult
    assert transition(S.DISPATCHED, "returned", returns=2, **GUANGZHOU).difficult  # the third
    stricter = {**GUANGZHOU, "difficult_after": 2}
    assert transition(S.DISPATCHED, "returned", returns=1, **stricter).difficult  # the second


def test_a_rehandling_round_takes_no_return_unless_the_profile_allows_it() -> None:
    with pytest.raises(InvalidTransition, match="re-handling"):
        transition(S.SIGNED, "returned", rehandling=True, **GUANGZHOU)
    allowed = {**GUANGZHOU, "rehandling_extendable": True}
    assert transition(S.SIGNED, "returned", rehandling=True, **allowed).status is S.REGISTERED
