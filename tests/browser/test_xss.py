"""RELIABILITY.md S1: 50 XSS payloads through every channel, rendered in real headless Chromium.

Each payload, were it ever parsed as markup or evaluated as script, calls ``window.__xss(N)`` (or
``alert(N)``). They go in through the web chat (typed into the real chat page), email over SMTP
(Subject, body, attachment filename, From display name), the Telegram webhook (message text,
``first_name``) and a signed SMS webhook, each wrapped in an ordinary complaint so that it becomes a
ticket. The agents' console (logged in) then shows those tickets in its queue, and the chat page
shows the citizen's own messages, before and after a reload. Expected: not one call of
``__xss``, not one dialog, no CSP refusal (an injected inline handler would be refused by the CSP
and reported), no element made from citizen text, and the payloads visible literally as text.

The mail display name, the attachment filename and Telegram's ``first_name`` are carried into
the product but no page shows them; for those the test holds the "never runs" half only.
"""

from __future__ import annotations

import asyncio
import json
import re
import smtplib
import threading
import time
import unicodedata
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

import pytest

from channels.signing import signed_headers
from tests.browser.conftest import (
    AGENT_LOGIN,
    AGENT_PASSWORD,
    API_TOKEN,
    CHROMIUM,
    Product,
    Watched,
    launched_product,
    new_phone,
    watch,
)
from tests.support.bot_api import TEST_TOKEN, BotApiStandIn

if not CHROMIUM.exists():
    pytest.skip("no /usr/bin/chromium (the Makefile installs it with apt)", allow_module_level=True)

from playwright.sync_api import BrowserContext, Page, expect

pytestmark = pytest.mark.browser

SMS_SECRET = "browser-xss-sms-secret-0123456789"
TELEGRAM_SECRET = "browser-xss-telegram-secret-0123"
MAILBOX = "12345@hotline.local"
DESK = {"width": 1280, "height": 900}
HOTLINE = ".row-hotline:not(.typing) .bubble"
CITIZEN = ".row-citizen .bubble"

# 50 distinct payloads, by the field that carries them. Payload N calls __xss(N) or alert(N).
CHAT = [
    "<script>__xss(1)</script>",
    "<img src=x onerror=__xss(2)>",
    '<a href="javascript:__xss(3)">点此查看照片</a>',
    "'-__xss(4)-'",
    "{{constructor.constructor('__xss(5)')()}}",
    "<math><mtext><table><mglyph><style><img src=x onerror=__xss(6)>",
    "&lt;img src=x onerror=__xss(7)&gt;照片",  # entities: shown as typed, never decoded
    "<details open ontoggle=alert(8)>",
    "</textarea><script>__xss(9)</script>",
    "＜script＞__xss(10)＜/script＞",  # fullwidth brackets
]
MAIL_SUBJECT = [
    "<svg onload=__xss(11)>",
    '"><img src=x onerror=__xss(12)>',
    "${__xss(13)}",
    '<iframe srcdoc="<script>parent.__xss(14)</script>"></iframe>',
    "</title><script>__xss(15)</script>",
    "<img src=x onerror=alert(16)>",
    "%3Cscript%3E__xss(17)%3C%2Fscript%3E",
]
MAIL_BODY = [
    "<ScRiPt>__xss(18)</sCrIpT>",
    "<body onload=__xss(19)>",
    "<input autofocus onfocus=__xss(20)>",
    '<a href="jav&#x09;ascript:__xss(21)">链接</a>',
    '<noscript><p title="</noscript><img src=x onerror=__xss(22)>">',
    "<svg><animate onbegin=__xss(23) attributeName=x dur=1s>",
    "<img src=x onerror=eval(atob('X194c3MoMjQp'))>",  # base64 of __xss(24)
]
MAIL_FILENAME = [
    "<img src=x onerror=__xss(25)>.jpg",
    '"><svg onload=__xss(26)>.png',
    "<script>__xss(27)</script>.pdf",
    "'-__xss(28)-'.doc",
    "{{constructor.constructor('__xss(29)')()}}.txt",
    "<iframe src=javascript:parent.__xss(30)>.jpg",
]
MAIL_NAME = [
    "<img src=x onerror=__xss(31)>",
    '"><script>__xss(32)</script>',
    "<svg/onload=alert(33)>",
    "${__xss(34)}",
    "</script><script>__xss(35)</script>",
    "'-__xss(36)-'",
]
TELEGRAM_TEXT = [
    "<img src=x:x onerror=window['__x'+'ss'](37)>",
    "<video><source onerror=__xss(38)></video>",
    '<object data="javascript:__xss(39)"></object>',
    "<svg><script>__xss(40)</script></svg>",
    "<scr<script>ipt>__xss(41)</scr</script>ipt>",
    r"<img src=x onerror=\u005f\u005fxss(42)>",  # a JS identifier escape, typed literally
]
TELEGRAM_NAME = [
    "<marquee onstart=__xss(43)>",
    "<script>__xss(44)</script>",
    '"><svg onload=alert(45)>',
    "{{constructor.constructor('__xss(46)')()}}",
]
SMS = [
    "<audio src=x onerror=__xss(47)>",
    "<svg><foreignObject><img src=x onerror=__xss(48)></foreignObject></svg>",
    '<embed src="javascript:__xss(49)">',
    '<img src="x" onerror="&#95;&#95;xss(50)">',
]
FIELDS = {
    "chat": CHAT,
    "mail subject": MAIL_SUBJECT,
    "mail body": MAIL_BODY,
    "mail filename": MAIL_FILENAME,
    "mail display name": MAIL_NAME,
    "telegram text": TELEGRAM_TEXT,
    "telegram first_name": TELEGRAM_NAME,
    "sms": SMS,
}
PAYLOADS = [p for field in FIELDS.values() for p in field]
# the fields some page shows: the ticket's subject and content come from these
SHOWN = CHAT + MAIL_SUBJECT + MAIL_BODY + TELEGRAM_TEXT + SMS

# (matter, short topic for a mail subject, place, who should handle it): ordinary complaints the
# dialog registers from one message
MATTERS = [
    ("小区楼下烧烤店每晚油烟很大", "烧烤油烟", "幸福小区3栋", "城管"),
    ("隔壁工地夜间施工噪音扰民", "工地噪音", "和平路8号", "城管"),
    ("便利店卖过期食品", "过期食品", "人民路22号", "市场监管部门"),
    ("垃圾站三天没有清运臭味很大", "垃圾清运", "青年路菜市场", "环卫部门"),
    ("商铺占道经营堵塞消防通道", "占道经营", "光明街12号", "城管"),
    ("物业私自提高停车费", "停车收费", "阳光花园5栋", "住建部门"),
    ("宠物店排放污水气味难闻", "宠物店污水", "新华路88号", "环保部门"),
    ("KTV每天半夜音乐声很大", "KTV噪音", "东风路6号", "城管"),
    ("快递驿站包裹堆在楼道里占用消防通道", "快递堆放", "翠园小区2栋", "消防部门"),
    ("理发店办卡后关门不退费", "理发店退费", "解放路101号", "市场监管部门"),
]
CHAT_PHONE = "13800138000"

# The page-side trap: every frame gets window.__xss, which reports to the test through a binding.
TRAP = """
window.__xss = function (n) {
  window.__xssSeen(String(n));
};
"""


def complaint(i: int, payload: str, phone: str | None) -> str:
    matter, _, place, unit = MATTERS[i % len(MATTERS)]
    contact = f"电话{phone}，" if phone else ""
    return f"我要投诉，{matter} {payload}。{contact}地址：{place}，希望{unit}处理"


def shown_as(payload: str) -> str:
    """The product keeps text NFKC-normalised (fullwidth ＜ becomes <): still text, never markup."""
    return unicodedata.normalize("NFKC", payload)


def test_the_payloads_are_fifty_distinct_ones_each_field_carrying_several() -> None:
    assert len(PAYLOADS) == len(set(PAYLOADS)) == 50
    assert all(len(f) >= 4 for f in FIELDS.values())
    for n, payload in enumerate(PAYLOADS, start=1):  # each one would call something observable
        assert re.search(rf"(__xss|alert|x'\+'ss'\]|005fxss|&#95;xss)\({n}\)", payload) or (
            "atob" in payload and n == 24
        ), (n, payload)


# -- the product, with Telegram wired to a Bot API stand-in and a known SMS key --------------------
@pytest.fixture(scope="module")
def bot_api() -> Iterator[BotApiStandIn]:
    """The Bot API stand-in (tests/support/bot_api.py) on its own event loop in a thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    api = BotApiStandIn()
    asyncio.run_coroutine_threadsafe(api.start(), loop).result(10)
    try:
        yield api
    finally:
        asyncio.run_coroutine_threadsafe(api.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture(scope="module")
def product(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory, bot_api: BotApiStandIn
) -> Iterator[Product]:
    with launched_product(
        tmp_path_factory.mktemp("hotline-xss"),
        redis_url,
        HOTLINE_SMS_SECRET=SMS_SECRET,
        TELEGRAM_TOKEN=TEST_TOKEN,
        TELEGRAM_WEBHOOK_SECRET=TELEGRAM_SECRET,
        TELEGRAM_API_BASE=bot_api.api_base,
    ) as p:
        yield p


def smtp_port(product: Product) -> int:
    """The SMTP address as the launcher prints it at start ("SMTP 127.0.0.1:NNNN (mail to ...)")."""
    m = re.search(r"SMTP\s+127\.0\.0\.1:(\d+) \(mail to", product.log_path.read_text(errors="replace"))
    assert m, product.log_tail()
    return int(m.group(1))


def post(product: Product, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    req = urllib.request.Request(
        product.base_url + path,
        data=body,
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


# -- the channels ---------------------------------------------------------------------------------
def send_mails(product: Product) -> int:
    """One mail per MAIL_SUBJECT payload, each from its own citizen; the other mail fields ride
    along (body, attachment filename, From display name)."""
    with smtplib.SMTP("127.0.0.1", smtp_port(product), timeout=15) as client:
        for i, subject in enumerate(MAIL_SUBJECT):
            msg = EmailMessage()
            address = f"citizen{i}@example.com"
            name = MAIL_NAME[i] if i < len(MAIL_NAME) else ""
            msg["From"] = Address(display_name=name, addr_spec=address)
            msg["To"] = MAILBOX
            msg["Subject"] = f"投诉{MATTERS[i][1]} {subject}"
            msg.set_content(complaint(i, MAIL_BODY[i], f"1391234{i:04d}"))
            if i < len(MAIL_FILENAME):
                msg.add_attachment(
                    b"\xff\xd8\xff\xe0 not really a photo",
                    maintype="application",
                    subtype="octet-stream",
                    filename=MAIL_FILENAME[i],
                )
            refused = client.send_message(msg, from_addr=address, to_addrs=[MAILBOX])
            assert refused == {}, refused
    return len(MAIL_SUBJECT)


def send_telegram(product: Product) -> int:
    """Updates through the webhook, with its secret header, from one private chat each."""
    for i, text in enumerate(TELEGRAM_TEXT):
        user: dict[str, Any] = {"id": 8_100_000 + i, "is_bot": False, "language_code": "zh-hans"}
        user["first_name"] = TELEGRAM_NAME[i] if i < len(TELEGRAM_NAME) else "王"
        update = {
            "update_id": 610_000 + i,
            "message": {
                "message_id": 10 + i,
                "date": int(time.time()),
                "chat": {**user, "type": "private"},
                "from": user,
                "text": complaint(i + 3, text, f"1371234{i:04d}"),
            },
        }
        status, answer = post(
            product,
            "/api/telegram/webhook",
            json.dumps(update, ensure_ascii=False).encode(),
            {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        )
        assert status == 200, answer
    return len(TELEGRAM_TEXT)


def send_sms(product: Product) -> int:
    """Signed like the gateway signs them (CONTRACT.md "SMS"); the number is the sender's."""
    for i, text in enumerate(SMS):
        body = json.dumps(
            {"from": f"+86136{i:08d}", "text": complaint(i + 6, text, None), "id": f"xss-{i}"},
            ensure_ascii=False,
        ).encode()
        status, answer = post(product, "/api/sms/inbound", body, signed_headers(SMS_SECRET, body))
        assert status == 200 and answer == {"accepted": True}, answer
    return len(SMS)


def numbered_tickets(product: Product) -> list[dict[str, Any]]:
    req = urllib.request.Request(
        product.base_url + "/api/tickets", headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    with urllib.request.urlopen(req, timeout=15) as resp:
        tickets: list[dict[str, Any]] = json.loads(resp.read())["tickets"]
    return [t for t in tickets if t.get("number")]


def wait_for_tickets(product: Product, expected: Counter[str]) -> list[dict[str, Any]]:
    """The worker turns mail, Telegram and SMS into tickets in the background."""
    deadline = time.monotonic() + 45
    tickets: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        tickets = numbered_tickets(product)
        if Counter(t["channel"] for t in tickets) == expected:
            return tickets
        time.sleep(0.5)
    got = Counter(t["channel"] for t in tickets)
    raise AssertionError(f"tickets by channel {dict(got)}, expected {dict(expected)}\n{product.log_tail()}")


# -- the browser ----------------------------------------------------------------------------------
def trapped(context: BrowserContext, calls: list[str]) -> BrowserContext:
    """Every page and frame of ``context`` reports a call of window.__xss into ``calls``."""
    context.expose_binding(
        "__xssSeen", lambda source, n: calls.append(f"__xss({n}) in {source['frame'].url}")
    )
    context.add_init_script(TRAP)
    return context


def check_the_trap(page: Page, calls: list[str], seen: Watched) -> None:
    """The detectors work in this very page: a call of __xss and an alert are both seen."""
    page.evaluate("() => { window.__xss(0); window.alert('0'); }")
    assert calls == [f"__xss(0) in {page.url}"], calls
    assert seen.dialogs == ["alert: 0"], seen.dialogs
    calls.clear()
    seen.dialogs.clear()


def say(page: Page, text: str) -> None:
    """Type ``text`` into the chat page and press Enter, as a citizen does."""
    box = page.locator("#input")
    box.fill(text)
    box.press("Enter")
    expect(page.locator(CITIZEN).last).to_have_text(text)
    expect(page.locator("#send")).to_be_enabled()


def assert_chat_shows_literally(page: Page, typed: list[str]) -> None:
    expect(page.locator(CITIZEN)).to_have_count(len(typed))
    assert page.locator(CITIZEN).all_text_contents() == typed
    # no element was made of citizen text: bubbles hold text only
    assert page.locator(f"{CITIZEN} *, {HOTLINE} *:not(a.call)").count() == 0  # tap-to-call links aside
    assert page.locator("#log :is(img, script, svg, iframe, object, embed, video, audio, style)").count() == 0


def assert_nothing_ran(calls: list[str], seen: Watched) -> None:
    assert calls == [], calls
    assert seen.dialogs == [], seen.dialogs
    assert seen.csp == [], seen.csp  # an injected inline handler is refused and reported here
    assert seen.errors == [], seen.errors


def test_fifty_xss_payloads_from_every_channel_show_literally_and_never_run(
    browser: Any, product: Product, watched: Watched
) -> None:
    calls: list[str] = []
    # mail, Telegram and SMS first: the worker registers them while the chat page is used
    expected = Counter(
        {"email": send_mails(product), "telegram": send_telegram(product), "sms": send_sms(product)}
    )

    phone = trapped(new_phone(browser), calls)
    desk = trapped(browser.new_context(viewport=DESK, locale="zh-CN", timezone_id="Asia/Shanghai"), calls)
    desk.set_default_timeout(15_000)
    try:
        # the citizen's chat page: one session, one complaint per payload
        chat = watch(phone.new_page(), watched)
        chat.goto(product.base_url + "/chat/")
        expect(chat.locator("h1")).to_have_text("12345 政务服务便民热线")
        check_the_trap(chat, calls, watched)
        typed = [complaint(i, payload, CHAT_PHONE) for i, payload in enumerate(CHAT)]
        registered = chat.locator(HOTLINE).filter(has_text="您的诉求已登记")
        for n, text in enumerate(typed, start=1):
            say(chat, text)
            expect(registered).to_have_count(n)  # each complaint is a ticket of its own
        assert_chat_shows_literally(chat, typed)
        expected["webchat"] = len(CHAT)
        tickets = wait_for_tickets(product, expected)

        # the agents' console: every ticket in the live queue, its summary as plain text
        console = watch(desk.new_page(), watched)
        console.goto(product.base_url + "/console/")
        check_the_trap(console, calls, watched)
        console.get_by_label("登录名").fill(AGENT_LOGIN)
        console.get_by_label("密码").fill(AGENT_PASSWORD)
        console.get_by_role("button", name="登录").click()
        expect(console.locator("#app-view")).to_be_visible()
        rows = console.locator("#intake-rows tr[data-number]")
        expect(rows).to_have_count(len(tickets))
        console.wait_for_timeout(1_500)  # time for any onerror, onload, ontoggle, onbegin to fire
        assert_nothing_ran(calls, watched)

        summaries = console.locator("#intake-rows .summary")
        for payload in (CHAT[0], MAIL_SUBJECT[1], MAIL_BODY[0], TELEGRAM_TEXT[0], SMS[0]):
            expect(summaries.filter(has_text=payload)).to_have_count(1)  # literally, as text
        shown = "\n".join(summaries.all_text_contents())
        assert [p for p in SHOWN if shown_as(p) not in shown] == []
        # the whole text on hover is an attribute value, which holds the payloads as given too
        titles = "\n".join(summaries.evaluate_all("spans => spans.map((s) => s.title)"))
        assert [p for p in SHOWN if shown_as(p) not in titles] == []
        # no element was made of citizen text
        assert console.locator("#intake-rows .summary *, #open-rows .summary *").count() == 0
        # any element markup could add; the report chart (an img of our own SVG, by id) excepted
        tags = "img:not(#reports-chart), script, svg, iframe, object, embed, video, audio, style, math"
        injected = f"#app-view :is({tags})"
        assert console.locator(injected).count() == 0

        # the chat page again after a reload: its history comes back, still as text
        chat.reload()
        assert_chat_shows_literally(chat, typed)
        console.wait_for_timeout(3_500)  # a further poll redraws nothing into markup
        assert console.locator("#intake-rows .summary *").count() == 0
        assert_nothing_ran(calls, watched)
    finally:
        desk.close()
        phone.close()
