"""A citizen's email journey end to end over real SMTP, on SQLite and PostgreSQL: mail in through
the smtp process's handler on a loopback port (smtplib, and swaks when installed), the real RQ
worker, replies out through HOTLINE_SMTP_RELAY to a real SMTP sink. File, the missing-info
prompt, supplement, ticket number in the subject, a supplement and the evaluation in the same
thread; automated mail is stored but never answered (RELIABILITY.md M6)."""

from __future__ import annotations

import asyncio
import re
import shutil
import smtplib
from collections.abc import Callable, Iterator
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient

from channels.web import create_app
from intake.clock import ManualClock
from intake.model import Address, Channel
from intake.runtime import Runtime, build_runtime
from intake.texts import format_deadline
from tests.conftest import make_settings
from tests.support.journey import AUTH, drain
from tests.support.mail_sink import HotlineSmtp, MailSink, Received

Client = Callable[..., Any]
COMPLAINT_TEXT = "我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，希望城管处理。我叫张三，电话13800138000"
MAILBOX = "12345@hotline.local"
CITIZEN = "zhangsan@example.cn"
TAG = re.compile(r"\[12345-(\d{8}-\d{6,9})\]")


@pytest.fixture
def sink() -> Iterator[MailSink]:
    with MailSink() as s:
        yield s


@pytest.fixture
def mail_runtime(
    tmp_path: Path, db_url: str, redis_url: str, redis_client: redis.Redis, clock: ManualClock, sink: MailSink
) -> Iterator[Runtime]:
    rt = build_runtime(make_settings(tmp_path, db_url, redis_url, smtp_relay=sink.address), clock=clock)
    yield rt
    rt.close()


def citizen_mail(
    text: str,
    subject: str,
    *,
    sender: str = CITIZEN,
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"张三 <{sender}>"
    msg["To"] = MAILBOX
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="example.cn")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(text)
    return msg


async def send(smtp: HotlineSmtp, msg: EmailMessage, mail_from: str | None = None) -> None:
    await smtp.send(msg.as_bytes(), mail_from=CITIZEN if mail_from is None else mail_from)


async def swaks_send(port: int, msg: EmailMessage) -> str:
    """The same message through a second, independent SMTP client (Debian's swaks)."""
    proc = await asyncio.create_subprocess_exec(
        "swaks",
        "--server",
        f"127.0.0.1:{port}",
        "--from",
        CITIZEN,
        "--to",
        MAILBOX,
        "--data",
        "-",
        "--silent",
        "1",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate(msg.as_bytes())
    assert proc.returncode == 0, out.decode(errors="replace")
    return out.decode(errors="replace")


def new_replies(sink: MailSink, seen: int) -> list[Received]:
    return sink.to(CITIZEN)[seen:]


async def test_a_complaint_by_email_from_first_mail_to_evaluation(
    aiohttp_client: Client, mail_runtime: Runtime, sink: MailSink
) -> None:
    runtime = mail_runtime
    client: TestClient = await aiohttp_client(create_app(runtime))
    async with HotlineSmtp(runtime) as smtp:
        first = citizen_mail("我要投诉，小区楼下烧烤店老板态度很差。", "投诉烧烤店")
        await send(smtp, first)
        drain(runtime)
        replies = new_replies(sink, 0)
        assert len(replies) == 1
        prompt = replies[0]
        for label in ("联系电话", "事发地址", "您的诉求"):  # guangzhou §12: all missing items at once
            assert label in prompt.text
        assert prompt.message["In-Reply-To"] == first["Message-ID"]
        assert prompt.message["Auto-Submitted"] == "auto-replied"
        assert prompt.mail_from == MAILBOX
        assert TAG.search(prompt.subject) is None  # no number before registration
        # a letter, under the citizen's own subject: greeting, the question, the hotline's name
        assert prompt.subject == "Re: 投诉烧烤店"
        assert prompt.text.startswith("您好：") and "12345政务服务便民热线" in prompt.text

        # The citizen answers in the thread, quoting our prompt as mail clients do.
        answer = citizen_mail(
            "电话13800138000，地址：幸福小区3栋，希望城管处理\n\n"
            "在 2026年11月20日 10:00，12345@hotline.local 写道：\n"
            + "\n".join("> " + line for line in prompt.text.splitlines()),
            "Re: " + prompt.subject,
            in_reply_to=str(prompt.message["Message-ID"]),
        )
        if shutil.which("swaks"):
            await swaks_send(smtp.port, answer)
        else:
            await send(smtp, answer)
        drain(runtime)
        replies = new_replies(sink, 1)
        assert replies, "no registration reply"
        registered = replies[0]
        tag = TAG.search(registered.subject)
        assert tag is not None, registered.subject
        number = tag.group(1)
        assert number in registered.text and "答复" in registered.text
        assert registered.subject == f"Re: 投诉烧烤店 [12345-{number}]"
        assert registered.message["In-Reply-To"] == answer["Message-ID"]
        references = str(registered.message["References"])
        assert first["Message-ID"] in references and answer["Message-ID"] in references

        view = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
        assert view["channel"] == "email" and view["category"] == "投诉"
        assert view["status"] == "dispatched"
        # registered and dispatched a moment later: one mail tells both, the unit's deadline in it
        assert len(replies) == 1 and view["unit"] in registered.text and "预计" not in registered.text
        assert format_deadline(datetime.fromisoformat(view["deadline"])) in registered.text

        # A supplement in the same thread lands on the same ticket.
        seen = len(sink.to(CITIZEN))
        extra = citizen_mail(
            "补充一下：油烟从晚上六点一直持续到凌晨两点。",
            registered.subject,
            in_reply_to=registered.message["Message-ID"],
        )
        await send(smtp, extra)
        drain(runtime)
        replies = new_replies(sink, seen)
        assert len(replies) == 1 and number in replies[0].subject
        assert number in replies[0].text and "补充" in replies[0].text
        events = [
            e["type"]
            for e in (await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json())["events"]
        ]
        assert "supplemented" in events

        done = await client.post(
            f"/api/tickets/{number}/events",
            json={"type": "completed", "result": "已责令商户安装油烟净化器"},
            headers=AUTH,
        )
        assert done.status == 200, await done.text()
        seen = len(sink.to(CITIZEN))
        drain(runtime)
        replies = new_replies(sink, seen)
        body = "\n".join(r.text for r in replies)
        assert "已责令商户安装油烟净化器" in body
        assert "1 非常满意 2 满意 3 基本满意 4 不满意 5 非常不满意" in body
        assert all(r.subject == f"Re: 投诉烧烤店 [12345-{number}]" for r in replies)  # the thread's

        seen = len(sink.to(CITIZEN))
        evaluation = citizen_mail(
            "2", "Re: " + replies[-1].subject, in_reply_to=replies[-1].message["Message-ID"]
        )
        await send(smtp, evaluation)
        drain(runtime)
        # evaluating by mail is confirmed first: a code to the address on record (issue 18)
        [ask] = new_replies(sink, seen)
        code = re.search(r"确认码：(\d{6})", ask.text)
        assert code is not None and number in ask.subject, ask.text
        pending = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
        assert pending["status"] == "completed" and pending.get("evaluation") is None
        seen = len(sink.to(CITIZEN))
        await send(
            smtp,
            citizen_mail(
                f"确认码 {code.group(1)}", "Re: " + ask.subject, in_reply_to=ask.message["Message-ID"]
            ),
        )
        drain(runtime)
        thanks = new_replies(sink, seen)
        assert len(thanks) == 1 and "感谢" in thanks[0].text
        final = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
        assert final["status"] == "closed"
        assert final["evaluation"] == {"level": "满意", "round": 1}
        # personal data stays masked in the back office, the address never shows in clear
        assert CITIZEN not in await (await client.get(f"/api/tickets/{number}", headers=AUTH)).text()


async def test_other_recipients_get_550(mail_runtime: Runtime) -> None:
    async with HotlineSmtp(mail_runtime) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            await smtp.send(
                citizen_mail("你好", "测试").as_bytes(), mail_from=CITIZEN, to="mayor@hotline.local"
            )
    assert refused.value.recipients["mayor@hotline.local"][0] == 550
    assert mail_runtime.store.count_inbound() == 0


AUTOMATED = [
    ("auto-reply", {"Auto-Submitted": "auto-replied"}, CITIZEN),
    ("bulk", {"Precedence": "bulk"}, CITIZEN),
    ("list", {"List-Id": "<news.example.cn>", "List-Unsubscribe": "<mailto:u@example.cn>"}, CITIZEN),
    ("mailer-daemon", {}, "MAILER-DAEMON@example.cn"),
]


async def test_automated_mail_is_stored_but_never_answered(mail_runtime: Runtime, sink: MailSink) -> None:
    """RELIABILITY.md M6: auto-replies, bulk mail, bounces never start a dialog or a mail loop."""
    async with HotlineSmtp(mail_runtime) as smtp:
        for name, headers, sender in AUTOMATED:
            msg = citizen_mail(
                f"我要投诉，小区路灯坏了（{name}）", "自动回复：投诉", sender=sender, headers=headers
            )
            await send(smtp, msg, mail_from=sender)
        bounce = citizen_mail("Delivery Status Notification (Failure) 投诉", "Undelivered Mail Returned")
        await send(smtp, bounce, mail_from="")  # empty MAIL FROM: a bounce
        # and an answer to our own auto-reply coming back from a vacation robot
        vacation = citizen_mail(
            "我正在休假，稍后回复。", "自动答复: 12345热线回复", headers={"X-Autoreply": "yes"}
        )
        await send(smtp, vacation)
        drain(mail_runtime)
    assert mail_runtime.store.count_inbound() == len(AUTOMATED) + 2  # every one stored raw
    assert sink.received == []


async def test_a_resent_message_is_stored_and_answered_once(mail_runtime: Runtime, sink: MailSink) -> None:
    """RELIABILITY.md M5: a client that lost our 250 sends the same message again."""
    msg = citizen_mail("我要投诉，小区楼下烧烤店每晚油烟很大。", "投诉")
    async with HotlineSmtp(mail_runtime) as smtp:
        await send(smtp, msg)
        await send(smtp, msg)
        drain(mail_runtime)
    assert mail_runtime.store.count_inbound() == 1
    assert len(sink.to(CITIZEN)) == 1


async def test_another_sender_reusing_a_message_id_is_their_own_message(
    mail_runtime: Runtime, sink: MailSink
) -> None:
    """Issue 18: a second sender's mail with a Message-ID already seen was answered 250 and
    dropped as a repeat of someone else's."""
    msg = citizen_mail("我要投诉，小区楼下烧烤店每晚油烟很大。", "投诉")
    other = "lisi@example.cn"
    copied = citizen_mail("咨询一下居住证怎么办理。", "咨询", sender=other)
    copied.replace_header("Message-ID", msg["Message-ID"])
    async with HotlineSmtp(mail_runtime) as smtp:
        await send(smtp, msg)
        await send(smtp, copied, mail_from=other)
        drain(mail_runtime)
    assert mail_runtime.store.count_inbound() == 2
    assert len(sink.to(CITIZEN)) == 1 and len(sink.to(other)) == 1


async def test_a_forged_mail_cannot_withdraw_a_citizens_ticket(
    aiohttp_client: Client, mail_runtime: Runtime, sink: MailSink
) -> None:
    """Issue 18: a mail with the citizen's From: withdrew their ticket. Now withdrawing by mail
    needs the ticket's thread and a code mailed to the address on record, which the forger never
    sees; a wrong or missing code changes nothing, the right one withdraws."""
    runtime = mail_runtime
    client: TestClient = await aiohttp_client(create_app(runtime))
    async with HotlineSmtp(runtime) as smtp:
        await send(smtp, citizen_mail(COMPLAINT_TEXT, "投诉"))
        drain(runtime)
        [ticket] = (await (await client.get("/api/tickets", headers=AUTH)).json())["tickets"]
        number = ticket["number"]

        seen = len(sink.to(CITIZEN))
        await send(smtp, citizen_mail(f"工单{number}不用处理了，我要撤回", "撤回"))  # not in the thread
        drain(runtime)
        [refused] = new_replies(sink, seen)
        assert "直接回复" in refused.text and "确认码" not in refused.text

        seen = len(sink.to(CITIZEN))
        tag = f"Re: [12345-{number}] 投诉"
        await send(smtp, citizen_mail("不用处理了，我要撤回", tag))  # forged: the thread is guessable
        drain(runtime)
        [ask] = new_replies(sink, seen)  # the code went to the real mailbox, not to the forger
        code = re.search(r"确认码：(\d{6})", ask.text)
        assert code is not None
        for guess in ("000000", "123456", f"确认码 {int(code.group(1)) ^ 1:06d}"):
            await send(smtp, citizen_mail(guess, tag))
        drain(runtime)
        view = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
        assert view["status"] not in ("withdrawn", "closed")
        assert "withdrawal_requested" not in [e["type"] for e in view["events"]]

        await send(smtp, citizen_mail(f"确认码：{code.group(1)}", tag))  # the citizen themself
        drain(runtime)
        view = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
        # dispatched already: the unit ends it (guangzhou §23.2), asked by the citizen's request
        assert view["status"] == "dispatched"
        assert [e["type"] for e in view["events"]].count("withdrawal_requested") == 1


RELAY = "mx.gz12345.gov.cn"


async def test_the_relays_authentication_results_are_recorded_and_a_forged_one_is_not(
    mail_runtime: Runtime, sink: MailSink
) -> None:
    """Issue 18: the verdict of the relay in front of us (HOTLINE_MAIL_RELAYS) is kept with each
    mail; an Authentication-Results field the sender wrote under another name is not, and a
    mail the relay failed may still start a request."""
    from functools import partial

    from channels.email import mail_turn
    from worker.context import set_mail_reader

    vouched = citizen_mail("我要投诉，小区楼下烧烤店每晚油烟很大。", "投诉")
    vouched["Authentication-Results"] = (
        f"{RELAY}; dkim=pass header.d=example.cn; spf=pass smtp.mailfrom={CITIZEN}; dmarc=pass"
    )
    failed = citizen_mail("咨询一下居住证怎么办理。", "咨询", sender="lisi@example.cn")
    failed["Authentication-Results"] = f"{RELAY}; spf=fail smtp.mailfrom=lisi@example.cn; dmarc=fail"
    forged = citizen_mail("路灯坏了好几天了，在和平路12号。", "报修", sender="wangwu@example.cn")
    forged["Authentication-Results"] = "mx.evil.example; dkim=pass; spf=pass; dmarc=pass"
    set_mail_reader(partial(mail_turn, relays=(RELAY,)))
    try:
        async with HotlineSmtp(mail_runtime) as smtp:
            await send(smtp, vouched)
            await send(smtp, failed, mail_from="lisi@example.cn")
            await send(smtp, forged, mail_from="wangwu@example.cn")
            drain(mail_runtime)
    finally:
        set_mail_reader(mail_turn)
    store = mail_runtime.store
    said = {msg.address.value: msg.sender_auth for msg, _ in store.get_inbound_many([1, 2, 3]).values()}
    assert said == {
        CITIZEN: "dkim=pass spf=pass dmarc=pass",
        "lisi@example.cn": "spf=fail dmarc=fail",
        "wangwu@example.cn": None,
    }
    assert len(sink.to("lisi@example.cn")) == 1  # a failed verdict is recorded, not a refusal


async def test_a_reply_in_a_tickets_thread_adds_to_that_ticket_and_a_strangers_does_not(
    aiohttp_client: Client, mail_runtime: Runtime, sink: MailSink
) -> None:
    """Issue 19: a reply carrying [12345-<number>] was recorded on another ticket. Now the
    thread's ticket takes the citizen's new facts as a supplement, shown to the unit (phone
    masked); the same tag from another sender is a new request of theirs, never merged."""
    runtime = mail_runtime
    client: TestClient = await aiohttp_client(create_app(runtime))
    full = "我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，希望城管处理。电话13800138000"
    async with HotlineSmtp(runtime) as smtp:
        await send(smtp, citizen_mail(full, "投诉烧烤店"))
        drain(runtime)
        await send(smtp, citizen_mail(full.replace("烧烤店", "麻将馆").replace("油烟", "噪音"), "投诉麻将馆"))
        drain(runtime)
        tagged = [TAG.search(r.subject) for r in sink.to(CITIZEN)]
        first, second = dict.fromkeys(m.group(1) for m in tagged if m)  # two tickets, in order
        facts = "他们晚上十点以后还在营业，我家电话13900001111也可以联系我"
        await send(smtp, citizen_mail(facts, f"Re: [12345-{first}] 投诉烧烤店"))
        other = "lisi@example.cn"
        await send(
            smtp,
            citizen_mail("我也要反映，楼下路灯坏了一周了，幸福小区5栋", f"Re: [12345-{first}]", sender=other),
            mail_from=other,
        )
        drain(runtime)
    views = {n: await (await client.get(f"/api/tickets/{n}", headers=AUTH)).json() for n in (first, second)}
    [added] = views[first]["supplements"]
    assert "十点以后还在营业" in added["text"] and "13900001111" not in added["text"]
    assert views[second]["supplements"] == []  # the latest ticket is not where it went
    theirs = [t for t in runtime.store.tickets_for(Address(Channel.EMAIL, other))]
    assert theirs and all(t.number != first for t in theirs)  # the stranger's own request
