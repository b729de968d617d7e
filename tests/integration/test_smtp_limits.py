"""The smtp process under hostile clients, over real SMTP on loopback (RELIABILITY.md M1, M3, M4,
M5): smuggling, size, recipients, command loops, long commands and lines, many messages on one
connection, the connection cap, and a SIGKILL right after 250."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from channels.email.smtp import COMMAND_CALL_LIMIT, LINE_LENGTH_LIMIT, MAX_MESSAGE_BYTES, MAX_RECIPIENTS
from intake.runtime import Runtime
from tests.conftest import TEST_KEY
from tests.support.journey import drain
from tests.support.mail_sink import HotlineSmtp, free_port

MAILBOX = "12345@hotline.local"
CITIZEN = "lisi@example.cn"


def mail(text: str, *, msgid: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = CITIZEN
    msg["To"] = MAILBOX
    msg["Subject"] = "投诉"
    msg["Message-ID"] = msgid or make_msgid(domain="example.cn")
    msg.set_content(text)
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def read_reply(sock: socket.socket, buf: bytearray) -> bytes:
    """One complete (possibly multi-line) SMTP reply."""
    while True:
        lines = bytes(buf).split(b"\r\n")
        for i, line in enumerate(lines[:-1]):
            if len(line) >= 4 and line[3:4] == b" ":
                reply = b"\r\n".join(lines[: i + 1])
                del buf[: len(reply) + 2]
                return reply
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(buf)
        buf += chunk


def read_all(sock: socket.socket) -> bytes:
    out = bytearray()
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        out += chunk
    return bytes(out)


# The smtpsmug list (SEC Consult, CVE-2023-51766 family): endings other than <CRLF>.<CRLF>.
SMUGGLING_ENDINGS = [
    b"\n.\n",
    b"\n.\r\n",
    b"\r.\r",
    b"\r.\n",
    b"\r\n.\r",
    b"\r\n.\n",
    b"\n.\r",
    b"\r.\r\n",
    b"\r\n\x00.\r\n",
]
SMUGGLED = (
    b"MAIL FROM:<admin@hotline.local>\r\nRCPT TO:<12345@hotline.local>\r\nDATA\r\n"
    b"From: admin@hotline.local\r\nSubject: smuggled\r\n\r\n" + "请删除工单".encode() + b"\r\n"
)


def smuggle(port: int, ending: bytes, *, pipelined: bool) -> bytes:
    head = [
        b"EHLO client.example.cn\r\n",
        f"MAIL FROM:<{CITIZEN}>\r\n".encode(),
        f"RCPT TO:<{MAILBOX}>\r\n".encode(),
        b"DATA\r\n",
    ]
    body = (
        f"From: {CITIZEN}\r\nTo: {MAILBOX}\r\nSubject: hello\r\nMessage-ID: {make_msgid()}\r\n\r\n".encode()
        + b"legit text"
        + ending
        + SMUGGLED
        + b"\r\n.\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.settimeout(2)
        buf = bytearray()
        transcript = read_reply(sock, buf)
        if pipelined:
            sock.sendall(b"".join(head) + body + b"QUIT\r\n")
        else:
            for cmd in head:
                sock.sendall(cmd)
                transcript += b"\n" + read_reply(sock, buf)
            sock.sendall(body)
            transcript += b"\n" + read_reply(sock, buf)
            sock.sendall(b"QUIT\r\n")
        return transcript + b"\n" + bytes(buf) + read_all(sock)


@pytest.mark.parametrize("pipelined", [False, True], ids=["plain", "pipelined"])
async def test_smuggling_endings_never_make_a_second_message(
    sqlite_runtime: Runtime, pipelined: bool
) -> None:
    """M1: each session stores exactly one message; the smuggled one stays content."""
    rt = sqlite_runtime
    async with HotlineSmtp(rt) as smtp:
        for i, ending in enumerate(SMUGGLING_ENDINGS, 1):
            transcript = await asyncio.to_thread(smuggle, smtp.port, ending, pipelined=pipelined)
            assert transcript.count(b"250 2.0.0 Message accepted") == 1, (ending, transcript)
            assert rt.store.count_inbound() == i, ending
            _msg, raw = rt.store.get_inbound(i)
            assert b"Subject: smuggled" in base64.b64decode(raw or "")  # content, not a message


async def test_size_limit_552_past_ten_megabytes(sqlite_runtime: Runtime) -> None:
    """M3: 10 MiB − 1 KiB is accepted and stored; 10 MiB + 1 KiB gets 552 in DATA and at MAIL."""
    rt = sqlite_runtime
    head = mail("大附件").split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    line = b"x" * 76 + b"\r\n"

    def sized(total: int) -> bytes:
        body = line * ((total - len(head)) // len(line))
        raw = head + body
        return raw + b"y" * (total - len(raw) - 2) + b"\r\n"

    under, over = sized(MAX_MESSAGE_BYTES - 1024), sized(MAX_MESSAGE_BYTES + 1024)
    assert len(under) == MAX_MESSAGE_BYTES - 1024 and len(over) == MAX_MESSAGE_BYTES + 1024

    def session(port: int) -> tuple[int, int, int]:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as c:
            c.ehlo()
            c.mail(CITIZEN)  # no SIZE= parameter: the limit must hold in DATA itself
            c.rcpt(MAILBOX)
            code_over = c.data(over)[0]
            c.mail(CITIZEN)
            c.rcpt(MAILBOX)
            code_under = c.data(under)[0]
            code_declared = c.mail(CITIZEN, [f"SIZE={len(over)}"])[0]
            return code_over, code_under, code_declared

    async with HotlineSmtp(rt) as smtp:
        code_over, code_under, code_declared = await asyncio.to_thread(session, smtp.port)
    assert (code_over, code_under, code_declared) == (552, 250, 552)
    assert rt.store.count_inbound() == 1
    _msg, raw = rt.store.get_inbound(1)
    assert base64.b64decode(raw or "") == under.removesuffix(b"\r\n") + b"\r\n"


async def test_recipients_commands_and_lines_are_limited(sqlite_runtime: Runtime) -> None:
    """M3: 1 000 RCPT → 452 after 100; a NOOP loop → 421 and closed; 513-byte command → 500;
    a 1 500-character line is accepted and stored (our long-line policy); a line past 64 KiB
    gets 500 and nothing is stored."""
    rt = sqlite_runtime
    long_line = "长" * 500  # 1 500 bytes of UTF-8 on one line
    ok_raw = mail("x").split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n" + long_line.encode() + b"\r\n"
    too_long = ok_raw.replace(long_line.encode(), b"z" * (LINE_LENGTH_LIMIT + 10)).replace(
        b"Message-ID: <", b"Message-ID: <b"
    )

    def session(port: int) -> dict[str, object]:
        out: dict[str, object] = {}
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
            c.ehlo()
            c.mail(CITIZEN)
            out["rcpt"] = [c.rcpt(MAILBOX)[0] for _ in range(1000)]
            c.rset()
            out["cmd512"] = c.docmd("NOOP", "a" * (512 - 5))[0]
            out["cmd513"] = c.docmd("NOOP", "a" * (513 - 5))[0]
            c.mail(CITIZEN)
            c.rcpt(MAILBOX)
            out["long_line"] = c.data(ok_raw)[0]
            c.mail(CITIZEN)
            c.rcpt(MAILBOX)
            out["too_long"] = c.data(too_long)[0]
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
            codes = []
            try:
                for _ in range(50):
                    codes.append(c.noop()[0])
            except smtplib.SMTPServerDisconnected:
                codes.append(-1)  # closed by the server
            out["noop"] = codes
        return out

    async with HotlineSmtp(rt) as smtp:
        out = await asyncio.to_thread(session, smtp.port)
    rcpt = out["rcpt"]
    assert isinstance(rcpt, list)
    assert rcpt[:MAX_RECIPIENTS] == [250] * MAX_RECIPIENTS
    assert set(rcpt[MAX_RECIPIENTS:]) == {452}
    noop = out["noop"]
    assert isinstance(noop, list)
    allowed = COMMAND_CALL_LIMIT["NOOP"]
    assert noop[:allowed] == [250] * allowed and 421 in noop and len(noop) < 50
    assert out["cmd513"] == 500 and out["cmd512"] != 500
    assert out["long_line"] == 250 and out["too_long"] == 500
    assert rt.store.count_inbound() == 1
    _msg, raw = rt.store.get_inbound(1)
    assert long_line.encode() in base64.b64decode(raw or "")


async def test_two_hundred_messages_on_one_connection(sqlite_runtime: Runtime) -> None:
    """M3: a client that keeps its connection open for a batch is not cut off."""
    rt = sqlite_runtime

    def session(port: int) -> int:
        accepted = 0
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
            for i in range(200):
                c.sendmail(CITIZEN, [MAILBOX], mail(f"第{i}封"))
                accepted += 1
        return accepted

    async with HotlineSmtp(rt) as smtp:
        assert await asyncio.to_thread(session, smtp.port) == 200
    assert rt.store.count_inbound() == 200


async def test_connections_beyond_the_cap_get_421_and_idle_ones_are_closed(sqlite_runtime: Runtime) -> None:
    """M4 in small: the cap holds for the whole server, a freed slot is reusable, an idle session
    is closed at the timeout."""

    def greet(port: int) -> tuple[socket.socket, bytes]:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        return sock, sock.recv(1024)

    async with HotlineSmtp(sqlite_runtime, max_connections=3, timeout=1.0) as smtp:
        held = [await asyncio.to_thread(greet, smtp.port) for _ in range(3)]
        assert all(g.startswith(b"220 ") for _, g in held)
        extra, greeting = await asyncio.to_thread(greet, smtp.port)
        assert greeting.startswith(b"421 ")
        extra.close()
        started = time.monotonic()
        # the idle sessions are closed by the server within the timeout (+ margin)
        for sock, _ in held:
            sock.settimeout(5)
            assert await asyncio.to_thread(read_all, sock) == b""
            sock.close()
        assert time.monotonic() - started < 4
        again, greeting = await asyncio.to_thread(greet, smtp.port)
        again.close()
        assert greeting.startswith(b"220 ")


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"smtp process exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("smtp process did not listen in time")


def test_sigkill_right_after_250_loses_nothing(sqlite_runtime: Runtime, tmp_path: Path) -> None:
    """M5: the real smtp process is killed the moment 250 arrives; the message is in SQL with its
    processing job, and the worker answers it afterwards."""
    rt = sqlite_runtime
    port = free_port()
    env = {
        **os.environ,
        "HOTLINE_SMTP": f"127.0.0.1:{port}",
        "HOTLINE_DATA": str(tmp_path / "smtpdata"),
        "DATABASE_URL": rt.settings.database_url,
        "REDIS_URL": rt.settings.redis_url,
        "HOTLINE_SECRET_KEY": TEST_KEY,
        "HOTLINE_API_TOKEN": rt.settings.api_token,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "channels.email.smtp"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_port(port, proc)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
            c.ehlo()
            c.mail(CITIZEN)
            c.rcpt(MAILBOX)
            code = c.data(mail("我要投诉，小区楼下烧烤店每晚油烟很大。"))[0]
            proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
    assert code == 250
    assert rt.store.count_inbound() == 1
    drain(rt)
    replies = rt.store.outbound_for(rt.store.get_inbound(1)[0].address)
    assert len(replies) == 1 and "联系电话" in replies[0].text


async def test_one_sender_gets_its_hourly_quota_and_others_still_get_through(sqlite_runtime: Runtime) -> None:
    """Issue 18: four 10 MB mails from one sender in 1.4 s grew the database by 202 MB. Past its
    hour's quota (mails, and 40 MiB) a sender gets 452 (temporary: a real client tries again
    later) and nothing is stored; another sender is not held up; a nearly full data disk refuses
    everything with 452."""
    settings = dataclasses.replace(sqlite_runtime.settings, mail_quota=10)
    rt = dataclasses.replace(sqlite_runtime, settings=settings)
    bigs = [mail(f"附件{i}" + "x" * (8 * 1024 * 1024)) for i in range(5)]  # about 8.7 MB each encoded

    def session(port: int, sender: str, bodies: list[bytes]) -> list[int]:
        codes = []
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as c:
            for body in bodies:
                try:
                    c.sendmail(sender, [MAILBOX], body)
                    codes.append(250)
                except smtplib.SMTPDataError as exc:
                    codes.append(exc.smtp_code)
                    c.rset()
        return codes

    async with HotlineSmtp(rt) as smtp:
        codes = await asyncio.to_thread(session, smtp.port, CITIZEN, [mail(f"第{i}封") for i in range(12)])
        assert codes == [250] * 10 + [452] * 2
        other = await asyncio.to_thread(session, smtp.port, "wangwu@example.cn", [mail("路灯坏了")])
        assert other == [250]
        heavy = await asyncio.to_thread(session, smtp.port, "zhaoliu@example.cn", bigs)
        assert heavy == [250] * 4 + [452]  # 40 MiB an hour
        stored = rt.store.count_inbound()
        assert stored == 10 + 1 + 4
        smtp.handler.min_free = 1 << 62  # the data disk is "full"
        full = await asyncio.to_thread(session, smtp.port, "qianqi@example.cn", [mail("停水了")])
        assert full == [452]
    assert rt.store.count_inbound() == stored
