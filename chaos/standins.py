"""The far ends: the Telegram Bot API stand-in, the mail sink, the SMS platform stand-in and a
unit's back-office receiver (all from tests/support).

They run in a process of their own (``python -m chaos.standins``), so that the load generator
never slows their answers; :class:`FarEnds` starts that process and talks to it over a small
control API on loopback: switch every channel into an outage and back, slow the SMS platform,
read what each far end received.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.support.bot_api import TEST_TOKEN, BotApiStandIn
from tests.support.feed_receiver import FEED_SECRET, FeedReceiver
from tests.support.mail_sink import MailSink
from tests.support.sms_platform import SmsPlatformStandIn


class _LoopThread:
    """An asyncio loop in a daemon thread: run(coro) from any other thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@dataclass
class _Ends:
    """The stand-ins themselves, inside the far-ends process."""

    sms: SmsPlatformStandIn = field(default_factory=SmsPlatformStandIn)
    mail: MailSink = field(default_factory=MailSink)
    feed: FeedReceiver = field(default_factory=FeedReceiver)
    bot: BotApiStandIn = field(default_factory=BotApiStandIn)

    def __post_init__(self) -> None:
        self._bot_loop: _LoopThread | None = None
        self._feed_cm: Any = None

    def start(self) -> _Ends:
        self.sms.__enter__()
        self.mail.__enter__()
        self._feed_cm = self.feed.running()
        self._feed_cm.__enter__()
        self._bot_loop = _LoopThread("bot-api-standin")
        self._bot_loop.run(self.bot.start())
        return self

    def stop(self) -> None:
        if self._bot_loop is not None:
            self._bot_loop.run(self.bot.stop())
            self._bot_loop.close()
        if self._feed_cm is not None:
            self._feed_cm.__exit__(None, None, None)
        self.mail.__exit__(None, None, None)
        self.sms.__exit__(None, None, None)

    def env(self) -> dict[str, str]:
        """What the product's processes need to reach these far ends."""
        return {
            "HOTLINE_SMS": "http",
            "HOTLINE_SMS_API_URL": self.sms.url,
            "HOTLINE_SMTP_RELAY": f"{self.mail.address.host}:{self.mail.address.port}",
            "TELEGRAM_TOKEN": TEST_TOKEN,
            "TELEGRAM_API_BASE": self.bot.api_base,
            "HOTLINE_BACKOFFICE_WEBHOOK": self.feed.url,
            "HOTLINE_BACKOFFICE_SECRET": FEED_SECRET,
        }

    def outage(self, on: bool) -> None:
        """Every delivery channel refuses at once: the SMS platform answers 500, the
        Bot API 429, the mail sink 451, the back office 500; ``on=False`` ends it."""
        self.sms.failing = on
        self.mail.failing = on
        self.feed.failing = on
        self.bot.failing = on

    def slow_sms(self, seconds: float) -> None:
        """The SMS platform records each send, then answers ``seconds`` late (0: at once)."""
        self.sms.delay = seconds

    # what arrived -----------------------------------------------------------------------------
    def received(self) -> dict[str, Counter[str]]:
        sms = Counter(s.out_id for s in list(self.sms.sent))
        mail = Counter(str(r.message["Message-ID"] or "").strip() for r in self.mail.received)
        bot = Counter(f"{m['chat']['id']}\x1f{m['text']}" for m in list(self.bot.messages))
        feed = Counter(str(e["id"]) for e in list(self.feed.events))
        return {"sms": sms, "mail": mail, "telegram": bot, "feed": feed}


class FarEnds:
    """The far-ends process, seen from the chaos driver."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chaos.standins"], stdout=subprocess.PIPE, cwd=Path(__file__).parent.parent
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        if not first:
            raise RuntimeError("the far-ends process did not start")
        hello = json.loads(first)
        self.control = hello["control"]
        self._env: dict[str, str] = hello["env"]

    def start(self) -> FarEnds:
        return self

    def env(self) -> dict[str, str]:
        """What the product's processes need to reach these far ends."""
        return dict(self._env)

    def _post(self, path: str, body: dict[str, Any]) -> None:
        req = urllib.request.Request(self.control + path, data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10):
            pass

    def outage(self, on: bool) -> None:
        """Every delivery channel refuses at once (SMS platform 500, Bot API 429, mail 451, back
        office 500); ``on=False`` ends it."""
        self._post("/outage", {"on": on})

    def slow_sms(self, seconds: float) -> None:
        """The SMS platform records each send, then answers ``seconds`` late (0: at once)."""
        self._post("/slow_sms", {"seconds": seconds})

    def received(self) -> dict[str, Counter[str]]:
        """Per channel, how many times each message arrived, keyed as our rows can be matched:
        SMS by ``out_id`` (our idempotency key), mail by Message-ID, Telegram by chat and text,
        the back office by event id."""
        with urllib.request.urlopen(self.control + "/received", timeout=30) as resp:
            got = json.loads(resp.read())
        return {name: Counter(counts) for name, counts in got.items()}

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def serve() -> None:
    """The far-ends process: start the stand-ins, print where they are, answer the driver."""
    ends = _Ends().start()
    done = threading.Event()

    async def outage(request: web.Request) -> web.Response:
        ends.outage(bool((await request.json())["on"]))
        return web.json_response({})

    async def slow_sms(request: web.Request) -> web.Response:
        ends.slow_sms(float((await request.json())["seconds"]))
        return web.json_response({})

    async def received(request: web.Request) -> web.Response:
        return web.json_response(ends.received())

    app = web.Application()
    app.router.add_post("/outage", outage)
    app.router.add_post("/slow_sms", slow_sms)
    app.router.add_get("/received", received)
    control = _LoopThread("far-ends-control")
    runner = web.AppRunner(app)
    control.run(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    control.run(site.start())
    port = runner.addresses[0][1]
    print(json.dumps({"control": f"http://127.0.0.1:{port}", "env": ends.env()}), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    control.run(runner.cleanup())
    ends.stop()


if __name__ == "__main__":
    serve()
