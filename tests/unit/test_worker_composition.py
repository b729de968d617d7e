"""The worker's composition root hands it the email channel's mail reader (ARCHITECTURE.md: the
worker never imports a channel)."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest

from channels.email import mail_turn
from intake.model import SHANGHAI, Address, Channel, InboundMessage
from worker import context

MAIL = (
    b"From: =?utf-8?b?5byg5LiJ?= <zhang@example.com>\r\nTo: 12345@hotline.example\r\n"
    b"Subject: =?utf-8?b?6Lev54Gv5LiN5Lqu?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    + "天河区体育西路100号门口的路灯坏了一个星期。".encode()
)


def test_without_the_composition_root_the_worker_says_who_must_hand_the_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(context, "_mail_reader", None)
    with pytest.raises(RuntimeError, match=r"python -m hotline\.worker"):
        context.get_mail_reader()


def test_the_mail_reader_gives_the_dialog_the_sender_and_the_matter() -> None:
    stored = InboundMessage(
        Address(Channel.EMAIL, "zhang@example.com"), "", datetime(2026, 12, 7, tzinfo=SHANGHAI)
    )
    inbound, automated = mail_turn(stored, base64.b64encode(MAIL).decode())
    assert automated == "" and inbound is not None
    assert inbound.address == Address(Channel.EMAIL, "zhang@example.com")
    assert "路灯不亮" in inbound.text and "体育西路100号" in inbound.text
