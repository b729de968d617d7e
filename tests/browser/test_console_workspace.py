"""The agents' workspace (issue 20) in real headless Chromium against the real running product:
the live queue over SSE, one ticket's panel, hand-offs answered by a person, manual routing, a
failed SMS sent again, a supervisor's audited reveal, keyboard work, and the desk at 1280 and
1024 px. SMS goes out through a stand-in of a Chinese SMS platform so that a delivery can fail
the way a real one does (tests/support/sms_platform.py)."""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import (
    AGENT_LOGIN,
    ARTIFACTS,
    CHROMIUM,
    PHONE,
    Product,
    Watched,
    launched_product,
    watch,
)

if not CHROMIUM.exists():
    pytest.skip("no /usr/bin/chromium (the Makefile installs it with apt)", allow_module_level=True)

from playwright.sync_api import Page, expect

from tests.browser.test_console_page import (
    BEARER,
    DESK,
    INJECTED,
    XSS,
    assert_clean,
    call,
    log_in,
    logged_in,
)
from tests.support.sms_platform import SmsPlatformStandIn

pytestmark = pytest.mark.browser

BAD_PHONE = "13900001111"  # the SMS platform refuses this number until the test fixes it
SUPERVISED = "13912345678"  # shown masked as 139****5678, in full to a supervisor who gives a reason
PLAIN_AGENT = "a2048"
PLAIN_PASSWORD = "browser-plain-agent-password-0123"


@pytest.fixture(scope="module")
def platform() -> Iterator[SmsPlatformStandIn]:
    with SmsPlatformStandIn() as standin:
        yield standin


@pytest.fixture(scope="module")
def product(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory, platform: SmsPlatformStandIn
) -> Iterator[Product]:
    """The whole product, its SMS sent through the platform stand-in (HOTLINE_SMS=http)."""
    with launched_product(
        tmp_path_factory.mktemp("hotline-workspace"),
        redis_url,
        HOTLINE_SMS="http",
        HOTLINE_SMS_API_URL=platform.url,
    ) as p:
        plain = {"login": PLAIN_AGENT, "password": PLAIN_PASSWORD, "role": "agent"}
        status, body = call(p, "POST", "/api/agents", plain, BEARER)
        assert status == 201, body
        yield p


@pytest.fixture
def desk(browser: Any) -> Iterator[Any]:
    """A desktop browser of its own (cookies included): one agent at one desk."""
    context = browser.new_context(viewport=DESK, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(desk: Any, product: Product, watched: Watched) -> Page:
    p = watch(desk.new_page(), watched)
    p.goto(product.base_url + "/console/")
    expect(p.locator("#login-form")).to_be_visible()
    return p


# -- helpers ---------------------------------------------------------------------------------------
def chat(product: Product, texts: list[str]) -> tuple[dict[str, Any], list[str]]:
    """A citizen in web chat: (the last answer's ticket, every reply text the bot gave)."""
    status, session = call(product, "POST", "/api/chat/sessions", {})
    assert status == 201, session
    auth = {"Authorization": f"Bearer {session['token']}"}
    replies: list[str] = []
    ticket: dict[str, Any] = {}
    for text in texts:
        status, answer = call(
            product, "POST", f"/api/chat/sessions/{session['session_id']}/messages", {"text": text}, auth
        )
        assert status == 200, answer
        replies += [r["text"] for r in answer["replies"]]
        ticket = answer["ticket"] or {}
    return {**ticket, "_session": session}, replies


def file_call(product: Product, phone: str, subject: str, content: str, address: str) -> dict[str, Any]:
    """A phone call registered through the back-office API (as the phone form does)."""
    status, t = call(
        product,
        "POST",
        "/api/tickets",
        {
            "channel": "phone",
            "phone": phone,
            "name": "李雷",
            "category": "投诉",
            "subject": subject,
            "address": address,
            "content": content,
            "demand": "请尽快处理",
        },
        BEARER,
    )
    assert status == 201, t
    return t


def ticket_of(product: Product, number: str) -> dict[str, Any]:
    status, t = call(product, "GET", f"/api/tickets/{number}", headers=BEARER)
    assert status == 200, t
    return t


def console_as(
    browser: Any, product: Product, watched: Watched, login: str, password: str
) -> tuple[Any, Page]:
    context = browser.new_context(viewport=DESK, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    p = watch(context.new_page(), watched)
    p.goto(product.base_url + "/console/")
    log_in(p, password=password, agent=login)
    expect(p.locator("#app-view")).to_be_visible()
    expect(p.locator("#last-update")).to_have_text(re.compile(r"^最后更新 \d{2}:\d{2}:\d{2}$"))
    return context, p


def open_panel(page: Page, number: str) -> Any:
    """Find the ticket with the search box and click its row; the panel shows it."""
    search = page.locator("#f-q")
    search.fill(number)
    search.press("Enter")
    row = page.locator(f"#open-rows tr[data-number='{number}']")
    expect(row).to_be_visible(timeout=10_000)
    row.click()
    panel = page.locator("#ticket-panel")
    expect(panel).to_be_visible()
    expect(panel.locator("#tp-title")).to_have_text(number)
    expect(panel.locator("#tp-body")).to_be_visible()
    return panel


def audit_rows(product: Product, action: str) -> list[tuple[str, str | None, str | None]]:
    from sqlalchemy import create_engine, select

    from intake.store.schema import audit_log

    engine = create_engine(f"sqlite:///{product.data_dir / 'hotline.sqlite3'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(audit_log.c.actor, audit_log.c.target, audit_log.c.detail).where(
                    audit_log.c.action == action
                )
            ).all()
    finally:
        engine.dispose()
    return [(r.actor, r.target, r.detail) for r in rows]


def no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )


def deadline_column_shown(page: Page, number: str) -> None:
    """The deadline cell of the ticket's row is on screen in full, not cut off by its table."""
    cell = page.locator(f"#open-rows tr[data-number='{number}'] .c-deadline")
    expect(cell).to_be_visible()
    expect(cell).to_have_text(re.compile(r"\d{2}-\d{2} \d{2}:\d{2}"))
    box = cell.bounding_box()
    wrap = page.locator("#sec-open .table-wrap").bounding_box()
    assert box is not None and wrap is not None
    assert box["x"] >= wrap["x"] - 1 and box["x"] + box["width"] <= wrap["x"] + wrap["width"] + 1, (box, wrap)
    wrap_el = page.locator("#sec-open .table-wrap")
    assert wrap_el.evaluate("w => w.scrollWidth - w.clientWidth") <= 0


# -- the tests -------------------------------------------------------------------------------------
def test_a_web_chat_ticket_arrives_live_and_its_panel_shows_the_conversation(
    page: Page, product: Product, watched: Watched
) -> None:
    logged_in(page)
    expect(page.locator("#live-dot")).to_have_class(re.compile(r"\bstreaming\b"))  # the SSE stream is open
    loads: list[str] = []
    page.on("load", lambda p: loads.append(p.url))
    first = "我要投诉，小区楼下烧烤店每晚油烟很大"
    ticket, replies = chat(product, [first, "电话13698765432，地址：幸福小区3栋，希望城管处理"])
    number = ticket["number"]
    assert number, ticket
    row = page.locator(f"#intake-rows tr[data-number='{number}']")
    expect(row).to_be_visible(timeout=8_000)
    expect(page.locator(f"#open-rows tr[data-number='{number}']")).to_be_visible()
    assert loads == []

    row.click()
    panel = page.locator("#ticket-panel")
    expect(panel).to_be_visible()
    expect(panel.locator("#tp-title")).to_have_text(number)
    expect(panel.locator("#tp-category")).to_have_text("投诉")
    expect(panel.locator("#tp-channel")).to_have_text("网页")
    expect(panel.locator("#tp-deadline")).to_have_text(re.compile(r"\d{2}-\d{2} \d{2}:\d{2}"))
    expect(panel.locator("#tp-warning")).to_be_visible()
    said = panel.locator("#tp-conversation .msg-citizen").filter(has_text=first)
    expect(said).to_have_count(1)
    expect(said.locator(".msg-who")).to_have_text("市民")
    hotline = panel.locator("#tp-conversation .msg-hotline")
    expect(hotline.first).to_be_visible()
    expect(hotline.first.locator(".msg-who")).to_have_text("热线")
    first_reply = replies[0].splitlines()[0]
    answered = panel.locator("#tp-conversation .msg-hotline .msg-text").filter(has_text=first_reply)
    expect(answered).not_to_have_count(0)
    expect(panel.locator("#tp-events .tl-item").first).to_be_visible()
    expect(panel.locator("#tp-contact .contact-row[data-field='phone'] .contact-value")).to_have_text(
        "136****5432"
    )
    assert "13698765432" not in page.content()

    # Esc closes it and gives the focus back to the row; j / k walk the queue, Enter opens
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(row).to_be_focused()
    page.keyboard.press("k")  # from the intake row back up through the lists above it
    assert page.evaluate("() => document.activeElement.tagName") == "TR"
    focused = page.evaluate("() => document.activeElement.dataset.number")
    page.keyboard.press("j")
    expect(row).to_be_focused()
    page.keyboard.press("Enter")
    expect(panel).to_be_visible()
    expect(panel.locator("#tp-title")).to_have_text(number)
    page.locator("#tp-close").click()
    expect(panel).to_be_hidden()
    assert focused
    assert loads == []
    assert_clean(watched)


def test_a_citizen_asks_for_a_person_the_agent_answers_then_hands_back(
    browser: Any, page: Page, product: Product, watched: Watched
) -> None:
    """The citizen on the chat page (a phone-sized browser of their own) asks for a person; the
    agent sees it arrive, answers from the console, and the citizen's open page shows the answer
    as a person's; handed back, it leaves the list."""
    logged_in(page)
    phone = browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai")
    phone.set_default_timeout(15_000)
    citizen = watch(phone.new_page(), watched)
    citizen.goto(product.base_url + "/chat/")
    citizen.locator("#input").fill("转人工")
    citizen.locator("#input").press("Enter")
    expect(citizen.locator(".row-hotline .bubble").last).to_contain_text("人工客服")

    item = page.locator("#handoff-list .handoff").filter(has_text="转人工")
    expect(item).to_have_count(1, timeout=8_000)
    expect(item.locator(".item-title")).to_contain_text("网页")
    expect(item.locator(".handoff-wait")).to_have_text(re.compile(r"^等待"))
    expect(item.locator(".handoff-text")).to_have_text("转人工")  # the citizen's words
    expect(page.locator("#count-handoffs")).not_to_have_text("0")

    page.keyboard.press("r")  # r: straight to the first answer box
    box = page.locator("#handoff-list .handoff-reply").first
    expect(box).to_be_focused()
    expect(box).to_have_value("")  # the "r" itself is not typed into it
    reply = "您好，我是12345坐席，请问烧烤店的具体位置在哪里？"
    item.locator(".handoff-reply").fill(reply)
    item.get_by_role("button", name="发送").click()
    expect(item.locator(".handoff-status")).to_have_text(re.compile(r"^已发送 \d{2}:\d{2}:\d{2}$"))
    expect(item.locator(".handoff-sent")).to_contain_text(reply)
    expect(item.locator(".handoff-reply")).to_have_value("")

    # the citizen's open page shows it, live, as a person's
    person = citizen.locator(".row-hotline.from-agent")
    expect(person.locator(".bubble")).to_have_text(reply)
    expect(person.locator(".who")).to_have_text("人工客服")

    item.get_by_role("button", name="交还机器人").click()
    expect(item).to_have_count(0, timeout=8_000)
    listed = page.request.get(product.base_url + "/api/console/handoffs").json()["handoffs"]
    assert all("转人工" not in h["text"] for h in listed), listed
    assert page.locator(INJECTED).count() == 0
    phone.close()
    assert_clean(watched)


def test_a_ticket_no_rule_routes_is_routed_from_its_panel_and_dispatched(
    page: Page, product: Product, watched: Watched
) -> None:
    # no keyword of intake/data/routing.toml in it: it waits for an agent
    t = file_call(product, "13700002222", "某宠物寄养店", "寄养的猫走丢了，店家不予答复", "和平里3号")
    number = t["number"]
    logged_in(page)
    row = page.locator(f"#manual-rows tr[data-number='{number}']")
    expect(row).to_be_visible(timeout=20_000)
    row.click()
    panel = page.locator("#ticket-panel")
    expect(panel.locator("#tp-title")).to_have_text(number)
    expect(panel.locator("#tp-route-sec")).to_be_visible()
    unit = "市市场监督管理局"
    panel.get_by_role("button", name="派单").click()  # no unit chosen yet: asked to choose one
    expect(panel.locator("#tp-route-error")).to_have_text("请先选择承办单位。")
    panel.locator("#tp-route-unit").select_option(unit)
    panel.get_by_role("button", name="派单").click()
    expect(panel.locator("#tp-route-result")).to_contain_text(unit)
    expect(panel.locator("#tp-status")).to_have_text("已派发", timeout=20_000)
    expect(panel.locator("#tp-unit")).to_have_text(unit)
    expect(panel.locator("#tp-route-result")).to_have_text(f"已派发至 {unit}")
    expect(panel.locator("#tp-route-sec")).to_be_hidden()
    expect(row).to_have_count(0)
    after = ticket_of(product, number)
    assert after["status"] == "dispatched" and after["unit"] == unit, after
    assert any(a == AGENT_LOGIN and target == number for a, target, _ in audit_rows(product, "ticket_routed"))
    assert_clean(watched)


def test_a_failed_sms_is_sent_again_with_retry(
    page: Page, product: Product, platform: SmsPlatformStandIn, watched: Watched
) -> None:
    platform.bad_numbers.update({BAD_PHONE, "+86" + BAD_PHONE})
    number = file_call(product, BAD_PHONE, "幸福路夜市摊贩", "夜市占道经营，油烟很大", "幸福路12号")["number"]
    logged_in(page)
    link = page.locator(f"button.link:text-is('{number}')")
    failed = page.locator("#deliveries-list .item").filter(has=link)
    expect(failed.first).to_be_visible(timeout=20_000)
    expect(failed.first.locator(".tag-failed")).to_have_text("失败")
    delivery = failed.first.get_attribute("data-id")
    assert delivery
    assert platform.to(BAD_PHONE) == []

    platform.bad_numbers.clear()  # the platform takes the number again
    item = page.locator(f"#deliveries-list .item[data-id='{delivery}']")
    item.get_by_role("button", name="重试").click()
    expect(item).to_have_count(0, timeout=15_000)  # sent: no longer failed
    deadline = time.monotonic() + 15
    while not platform.to(BAD_PHONE) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert platform.to(BAD_PHONE), platform.sent
    assert any(target == delivery for _, target, _ in audit_rows(product, "delivery_retried"))

    # the ticket's panel lists what is still failing, with the same button
    panel = open_panel(page, number)
    for _ in range(5):
        retry = panel.locator("#tp-deliveries .retry-btn")
        if retry.count() == 0:
            break
        retry.first.click()
        note = panel.locator("#tp-deliveries .action-note").first
        expect(note).to_have_text(re.compile("已重新发送|已不在"))
        page.wait_for_timeout(1500)
    expect(panel.locator("#tp-deliveries .item")).to_have_count(0, timeout=15_000)
    expect(panel.locator("#tp-deliveries-sec")).to_be_hidden()
    assert_clean(watched)


def test_a_supervisor_reveals_a_phone_with_a_reason_and_an_agent_cannot(
    browser: Any, page: Page, product: Product, watched: Watched
) -> None:
    number = file_call(product, SUPERVISED, "某装修公司", "周末早上七点开始装修电钻声", "和平路8号")["number"]
    logged_in(page)  # a1024 is a supervisor (tests/browser/conftest.py)
    expect(page.locator("#agent-role")).to_have_text("班长")

    # the search box finds it by phone; the phone never reaches the page's address
    page.locator("#f-q").fill(SUPERVISED)
    page.locator("#f-q").press("Enter")
    expect(page.locator(f"#open-rows tr[data-number='{number}']")).to_be_visible()
    expect(page.locator("#page-info")).to_have_text("第 1 / 1 页")
    expect(page.locator("#open-total")).to_have_text(re.compile(r"^共 [1-9]\d* 件$"))
    assert SUPERVISED not in page.url and "5678" not in page.url
    assert page.evaluate("() => location.href.indexOf('139') < 0 && location.hash === ''")
    page.locator("#f-reset").click()
    expect(page.locator("#f-q")).to_have_value("")

    panel = open_panel(page, number)
    phone = panel.locator("#tp-contact .contact-row[data-field='phone']")
    expect(phone.locator(".contact-value")).to_have_text("139****5678")
    phone.get_by_role("button", name="查看完整电话").click()
    reason = phone.get_by_label("查看原因")
    expect(reason).to_be_focused()
    reason.fill("回访")
    phone.get_by_role("button", name="确认查看").click()
    expect(phone.locator(".reveal-error")).to_have_text("请填写查看原因（至少 4 个字）。")
    reason.fill("市民来电要求回访核实")
    phone.get_by_role("button", name="确认查看").click()
    expect(phone.locator(".contact-value")).to_have_text(re.compile(rf"^(\+86)?{SUPERVISED}$"))
    expect(phone.locator(".tag-revealed")).to_be_visible()
    rows = audit_rows(product, "personal_data_revealed")
    assert any(
        actor == AGENT_LOGIN and target == number and "市民来电要求回访核实" in (detail or "")
        for actor, target, detail in rows
    ), rows
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    assert SUPERVISED not in page.content()  # closed: the full number left the page with it

    # an agent sees the masked number and no 查看 button, and the API refuses them
    context, agent = console_as(browser, product, watched, PLAIN_AGENT, PLAIN_PASSWORD)
    try:
        expect(agent.locator("#agent-role")).to_have_text("坐席")
        panel = open_panel(agent, number)
        phone = panel.locator("#tp-contact .contact-row[data-field='phone']")
        expect(phone.locator(".contact-value")).to_have_text("139****5678")
        expect(panel.locator(".reveal-btn")).to_have_count(0)
        csrf = agent.request.get(product.base_url + "/api/console/me").json()["csrf"]
        refused = agent.request.post(
            product.base_url + f"/api/console/tickets/{number}/reveal",
            data={"field": "phone", "reason": "想看一下号码"},
            headers={"X-CSRF-Token": csrf},
        )
        assert refused.status == 403, refused.text()
        assert SUPERVISED not in agent.content()
    finally:
        context.close()
    assert_clean(watched)


def test_a_citizens_markup_shows_as_text_in_the_ticket_panel(
    page: Page, product: Product, watched: Watched
) -> None:
    calls: list[str] = []
    page.expose_function("__xssCalled", lambda *args: calls.append(repr(args)))
    payload = f"我要投诉，楼下烧烤店油烟很大 {XSS} <script>__xssCalled(1)</script>"
    ticket, _ = chat(product, [payload, "电话13611112222，地址：幸福小区5栋，希望城管处理"])
    number = ticket["number"]
    assert number, ticket
    logged_in(page)
    panel = open_panel(page, number)
    said = panel.locator("#tp-conversation .msg-citizen .msg-text").first
    expect(said).to_contain_text(XSS)
    expect(said).to_contain_text("<script>__xssCalled(1)</script>")
    expect(panel.locator("#tp-matter")).to_contain_text(XSS)
    page.wait_for_timeout(500)
    assert page.locator(INJECTED).count() == 0
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.content()
    assert calls == []
    assert_clean(watched)


def test_a_post_without_the_csrf_token_is_refused(page: Page, product: Product, watched: Watched) -> None:
    number = file_call(product, "13700003333", "某公司", "宿舍楼道路灯坏了", "和平里5号")["number"]
    logged_in(page)
    # the page's own cookie, no token: refused, from the page and from outside it alike
    status = page.evaluate(
        """async (number) => {
            const r = await fetch('/api/console/tickets/' + number + '/route', {
                method: 'POST', credentials: 'same-origin',
                headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({unit: '市交通运输局'})});
            return r.status;
        }""",
        number,
    )
    assert status == 403
    assert page.request.post(product.base_url + "/api/console/outbox/1/retry", data={}).status == 403
    wrong = page.request.post(
        product.base_url + f"/api/console/tickets/{number}/reveal",
        data={"field": "phone", "reason": "核实来电号码"},
        headers={"X-CSRF-Token": "not-the-token"},
    )
    assert wrong.status == 403
    # with the token the same route call is weighed on its merits (not 403)
    csrf = page.request.get(product.base_url + "/api/console/me").json()["csrf"]
    right = page.request.post(
        product.base_url + f"/api/console/tickets/{number}/route",
        data={"unit": "市交通运输局"},
        headers={"X-CSRF-Token": csrf},
    )
    assert right.status in (200, 409), right.text()
    assert not any(target == number for _, target, _ in audit_rows(product, "personal_data_revealed"))
    assert_clean(watched)


def test_the_workspace_at_1280_and_1024(page: Page, product: Product, watched: Watched) -> None:
    numbers = [
        file_call(product, f"1370000{i}", f"幸福路{i}号烧烤店", "每晚油烟很大", f"幸福路{i}号")["number"]
        for i in range(4400, 4403)
    ]
    talked, _ = chat(
        product, ["我要投诉，楼下烧烤店每晚油烟很大", "电话13500001234，地址：幸福小区5栋，希望城管处理"]
    )
    assert talked["number"], talked
    chat(product, ["转人工"])
    logged_in(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 800), (1024, 768)):
        page.set_viewport_size({"width": width, "height": height})
        if page.locator("#f-reset").is_visible():
            page.locator("#f-reset").click()
        page.evaluate("() => window.scrollTo(0, 0)")
        expect(page.locator(f"#open-rows tr[data-number='{numbers[0]}']")).to_be_visible()
        expect(page.locator("#handoff-list .handoff").first).to_be_visible()
        page.wait_for_timeout(300)
        no_sideways_scroll(page)
        for number in numbers:
            deadline_column_shown(page, number)
        page.screenshot(path=str(ARTIFACTS / f"console-queue-{width}.png"))

        page.locator(f"#open-rows tr[data-number='{talked['number']}']").click()
        panel = page.locator("#ticket-panel")
        expect(panel.locator("#tp-title")).to_have_text(talked["number"])
        expect(panel.locator("#tp-conversation .msg-citizen").first).to_be_visible()
        page.evaluate("() => window.scrollTo(0, 0)")
        page.wait_for_timeout(300)
        no_sideways_scroll(page)
        box = panel.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, box
        expect(panel.locator("#tp-deadline")).to_be_in_viewport()
        expect(panel.locator("#tp-close")).to_be_in_viewport()
        page.screenshot(path=str(ARTIFACTS / f"console-ticket-{width}.png"))
        page.keyboard.press("Escape")
        expect(panel).to_be_hidden()
    assert_clean(watched)


def test_filters_go_to_the_queue_only_and_the_pager_counts(
    page: Page, product: Product, watched: Watched
) -> None:
    number = file_call(product, "13700005555", "某物业公司", "小区电梯经常故障停运", "和平小区2栋")["number"]
    logged_in(page)
    asked: list[str] = []
    page.on(
        "request",
        lambda r: asked.append(r.url) if urllib.parse.urlsplit(r.url).path == "/api/console/queue" else None,
    )
    page.locator("#f-channel").select_option("phone")
    expect(page.locator(f"#open-rows tr[data-number='{number}']")).to_be_visible()
    expect(page.locator("#open-rows .c-number")).not_to_have_count(0)
    page.locator("#f-warning").select_option("red")
    expect(page.locator("#open-empty")).to_have_text("没有符合条件的工单")
    expect(page.locator("#open-total")).to_have_text("共 0 件")
    expect(page.locator("#page-next")).to_be_disabled()
    page.locator("#f-reset").click()
    expect(page.locator(f"#open-rows tr[data-number='{number}']")).to_be_visible()
    assert any("channel=phone" in u and "warning=red" in u for u in asked), asked
    assert "phone" not in page.url and "red" not in page.url
    assert_clean(watched)


def test_a_repeat_is_merged_into_its_matter_from_the_panel(
    page: Page, product: Product, watched: Watched
) -> None:
    first = file_call(product, "13700003331", "某快递驿站", "快递驿站把包裹堆在人行道上", "和平里5号")[
        "number"
    ]
    repeat = file_call(product, "13700003332", "快递点", "驿站门口包裹占了人行道，轮椅过不去", "和平里五号")[
        "number"
    ]
    logged_in(page)
    panel = open_panel(page, repeat)
    expect(panel.locator("#tp-more-sec")).to_be_visible()
    expect(panel.locator("#tp-complex")).to_be_hidden()  # guangzhou gives complex matters no longer
    panel.get_by_role("button", name="并入同案").click()  # no number yet
    expect(panel.locator("#tp-more-error")).to_have_text("请填写同案首单的工单号。")
    panel.locator("#tp-merge-into").fill(first)
    panel.get_by_role("button", name="并入同案").click()
    expect(panel.locator("#tp-more-result")).to_have_text(f"已并入同案 {first}")
    panel.locator("#tp-close").click()
    panel = open_panel(page, first)
    expect(panel.locator("#tp-cluster")).to_contain_text(repeat)
    assert [(a, t) for a, t, _ in audit_rows(product, "ticket_merged")] == [(AGENT_LOGIN, repeat)]
    assert first not in page.url and repeat not in page.url
    assert_clean(watched)


def test_a_units_return_is_reviewed_and_refused_from_the_panel(
    page: Page, product: Product, watched: Watched
) -> None:
    """guangzhou §17: the hotline reviews a return; refused, the ticket goes back to the unit."""
    t = file_call(product, "13700004441", "某烧烤店", "楼下烧烤店油烟很大", "和平里7号")
    number = t["number"]
    deadline = time.monotonic() + 20
    while ticket_of(product, number)["status"] != "dispatched" and time.monotonic() < deadline:
        time.sleep(0.3)
    first = ticket_of(product, number)
    unit = first["unit"]
    status, body = call(
        product,
        "POST",
        f"/api/tickets/{number}/events",
        {"type": "returned", "reason": "不属于本单位职责"},
        BEARER,
    )
    assert status == 200, body
    logged_in(page)
    row = page.locator(f"#manual-rows tr[data-number='{number}']")
    expect(row).to_be_visible(timeout=20_000)
    row.click()
    panel = page.locator("#ticket-panel")
    expect(panel.locator("#tp-return-review")).to_be_visible()
    expect(panel.locator("#tp-return-text")).to_contain_text(f"{unit} 申请退回，理由：不属于本单位职责")
    expect(panel.locator("#tp-route-submit")).to_have_text("认可退回，改派")
    panel.get_by_role("button", name="不予认可，发回原单位").click()
    expect(panel.locator("#tp-status")).to_have_text("已派发", timeout=20_000)
    expect(panel.locator("#tp-unit")).to_have_text(unit)
    after = ticket_of(product, number)
    assert (after["unit"], after["deadline"]) == (unit, first["deadline"])  # its clock ran on
    assert any(target == number for _, target, _ in audit_rows(product, "return_refused"))
    assert_clean(watched)


def test_an_agent_supervises_a_ticket_from_its_panel_and_reads_the_indicators_with_their_chart(
    page: Page, product: Product, watched: Watched
) -> None:
    """Issue 21: supervision (督办) opened by an agent lists the ticket under 回访审核与督办 and
    tells the API; the report view shows the period's indicators and the server-drawn chart."""
    t = file_call(product, "13911112222", "工地夜间施工", "工地夜间施工噪音很大，凌晨还在打桩", "建设路15号")
    deadline = time.monotonic() + 15  # supervision presses a unit: wait for the worker's dispatch
    while ticket_of(product, t["number"])["status"] != "dispatched" and time.monotonic() < deadline:
        time.sleep(0.2)
    logged_in(page)
    panel = open_panel(page, t["number"])
    duty = panel.locator("#tp-duty-sec")
    expect(duty).to_be_visible()
    duty.get_by_label("督办原因").fill("群众反复投诉，夜间施工仍未停止")
    duty.get_by_role("button", name="督办", exact=True).click()
    expect(page.locator("#tp-duty-result")).to_contain_text("已督办，限")
    expect(panel.locator("#tp-supervision")).to_contain_text("坐席督办：群众反复投诉")
    expect(duty.get_by_role("button", name="督办", exact=True)).to_be_disabled()  # one at a time
    row = page.locator(f"#duties-rows tr[data-number='{t['number']}']")
    expect(row).to_contain_text("督办中")
    supervision = ticket_of(product, t["number"])["supervision"]
    assert supervision["by"] == "agent" and supervision["answered_at"] is None
    assert audit_rows(product, "supervision_opened")[-1][:2] == (AGENT_LOGIN, t["number"])

    page.locator("#tp-close").click()
    reports = page.locator("#sec-reports")
    reports.scroll_into_view_if_needed()
    reports.get_by_role("button", name="统计").click()
    expect(page.locator("#reports-summary")).to_contain_text("受理")
    chart = page.locator("#reports-chart")
    expect(chart).to_be_visible()
    page.wait_for_function("() => document.getElementById('reports-chart').naturalWidth > 0")
    received = page.locator("#reports-summary .report-item").first.locator("dd").inner_text()
    assert int(received) >= 1
    reports.screenshot(path=str(ARTIFACTS / "console-reports.png"))
    assert_clean(watched)


def test_a_call_missing_its_demand_becomes_a_call_back_task_and_is_registered_when_supplied(
    page: Page, product: Product, watched: Watched
) -> None:
    """guangzhou §12.1 at the desk: the agent files what the caller said and ticks 信息不全; the
    call-back task shows what is missing and the calls made, refuses a second call within 15
    minutes, and registers the ticket once the caller gives the rest."""
    logged_in(page)
    page.get_by_label("来电号码").fill("13922223333")
    page.locator("#phone-form").get_by_label("类别").select_option("投诉")
    page.get_by_label("涉及单位或对象").fill("路口早餐店")
    page.get_by_label("事发地址").fill("人民路3号")
    page.get_by_label("具体情况").fill("早餐店占道经营，行人只能走机动车道")
    page.get_by_label("信息不全，登记为回拨补充任务").check()
    page.get_by_role("button", name="登记工单").click()
    expect(page.locator("#phone-ok")).to_contain_text("已加入来电待回拨补充")
    task = page.locator("#calls-list li").last
    expect(task).to_contain_text("待补充：诉求要求")
    expect(task).to_contain_text("已联系 0/3 次")

    task.get_by_role("button", name="未接听").click()
    expect(task).to_contain_text("已联系 1/3 次")
    task = page.locator("#calls-list li").last
    task.get_by_role("button", name="未接听").click()
    expect(page.locator("#calls-error")).to_contain_text("至少间隔 15 分钟")

    status, _ = call(product, "POST", "/api/dev/clock", {"advance_seconds": 16 * 60})
    assert status == 200
    task = page.locator("#calls-list li").last
    task.get_by_label("诉求要求").fill("请城管取缔占道经营")
    task.get_by_role("button", name="已补充").click()
    ok = page.locator("#phone-ok")
    expect(ok).to_contain_text("已补充并登记，工单号")
    match = re.search(r"\d{8}-\d{6}", ok.inner_text())
    assert match, ok.inner_text()
    assert ticket_of(product, match.group(0))["demand"] == "请城管取缔占道经营"
    expect(page.locator("#calls-list li")).to_have_count(0)
    assert_clean(watched)
