"""Unit tests are pure: a guard fails any test that opens a network socket (STYLE.md)."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def guard(*args: object, **kwargs: object) -> None:
        raise AssertionError("unit tests must not open sockets; move this test to tests/integration/")

    monkeypatch.setattr(socket.socket, "connect", guard)
    monkeypatch.setattr(socket, "create_connection", guard)


# The policy tests' shared fixtures (the five profiles, the calendar).
from tests.unit.policy_support import cal, p  # noqa: E402, F401
