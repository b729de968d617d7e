"""Group commit in the smtp process: mails that finish DATA together are stored in one
transaction, each answered 250 only once its own row is committed; a mail that cannot be stored
gets its own 451 and costs the others nothing (RELIABILITY.md "nothing lost": 250 after the
durable write). Real SMTP over loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import smtplib
import threading
from typing import Any

import pytest

from channels.email.smtp import InboundMailHandler, native_id_of
from intake.runtime import Runtime
from intake.store.schema import outbox
from tests.integration.test_smtp_limits import MAILBOX, mail
from tests.support.mail_sink import HotlineSmtp

CLIENTS = 12


def send_together(port: int, raws: list[bytes]) -> list[Any]:
    """Each raw mail on its own connection, all DATA commands released at once; returns the
    DATA reply code of each, or the exception smtplib raised."""
    ready = threading.Barrier(len(raws))
    out: list[Any] = [None] * len(raws)

    def one(i: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            c.ehlo()
            c.mail(f"citizen{i}@example.cn")
            c.rcpt(MAILBOX)
            ready.wait()
            try:
                out[i] = c.data(raws[i])[0]
            except smtplib.SMTPResponseException as exc:
                out[i] = exc.smtp_code

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(raws))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def stored_jobs(rt: Runtime) -> list[str]:
    with rt.engine.connect() as conn:
        return [str(k) for k in conn.execute(outbox.select().with_only_columns(outbox.c.key)).scalars()]


async def test_mails_arriving_together_are_stored_together_each_once(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups: list[int] = []
    real = InboundMailHandler._store

    def counting(self: InboundMailHandler, mails: list[Any]) -> Any:
        groups.append(len(mails))
        return real(self, mails)

    monkeypatch.setattr(InboundMailHandler, "_store", counting)
    raws = [mail(f"我要投诉，第{i}栋楼下烧烤店油烟很大") for i in range(CLIENTS)]
    async with HotlineSmtp(runtime) as smtp:
        codes = await asyncio.to_thread(send_together, smtp.port, raws)
        assert codes == [250] * CLIENTS
        assert sum(groups) == CLIENTS and max(groups) > 1, groups
        # the same mails again (clients that lost our 250): stored once all the same (M5)
        assert await asyncio.to_thread(send_together, smtp.port, raws) == [250] * CLIENTS
    assert runtime.store.count_inbound() == CLIENTS
    jobs = stored_jobs(runtime)
    assert len(jobs) == len(set(jobs)) == CLIENTS and all(j.startswith("mail_inbound:") for j in jobs)


async def test_a_mail_that_cannot_be_stored_gets_451_and_the_others_250(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    raws = [mail(f"路灯不亮，第{i}号") for i in range(CLIENTS)]
    bad = native_id_of(raws[3])
    real = runtime.store.save_inbound_mails

    def failing(mails: Any, **kw: Any) -> Any:
        if any(msg.native_id == bad for msg, _ in mails):
            raise RuntimeError("disk full, for this one mail")
        return real(mails, **kw)

    monkeypatch.setattr(runtime.store, "save_inbound_mails", failing)
    async with HotlineSmtp(runtime) as smtp:
        codes = await asyncio.to_thread(send_together, smtp.port, raws)
    assert codes[3] == 451
    assert codes[:3] + codes[4:] == [250] * (CLIENTS - 1)
    assert runtime.store.count_inbound() == CLIENTS - 1  # every 250 is stored, the 451 is not
    assert len(stored_jobs(runtime)) == CLIENTS - 1
