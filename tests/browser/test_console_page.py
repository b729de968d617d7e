"""The agent console in real headless Chromium, against the real running product (launcher →
web, smtp, worker on a fresh data folder): what an agent at a 1280-px desk sees and does."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from tests.browser.conftest import (
    AGENT_LOGIN,
    AGENT_PASSWORD,
    API_TOKEN,
    ARTIFACTS,
    CHROMIUM,
    Product,
    Watched,
    launched_product,
    watch,
)

if not CHROMIUM.exists():
    pytest.skip("no /usr/bin/chromium (the Makefile installs it with apt)", allow_module_level=True)

from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

DESK = {"width": 1280, "height": 900}
NUMBER = re.compile(r"\d{8}-\d{6}")
XSS = "<img src=x onerror=alert(1)>"
CALLER = "13912345678"  # shown to agents only as 139****5678
CHAT_CITIZEN = "13698765432"


# What injected markup would add to the console: any image or script but the report's own chart
INJECTED = "#app-view img:not(#reports-chart), #app-view script"


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


def log_in(page: Page, password: str = AGENT_PASSWORD, agent: str = AGENT_LOGIN) -> None:
    page.get_by_label("登录名").fill(agent)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def logged_in(page: Page) -> None:
    log_in(page)
    expect(page.locator("#app-view")).to_be_visible()
    expect(page.locator("#last-update")).to_have_text(re.compile(r"^最后更新 \d{2}:\d{2}:\d{2}$"))


def assert_clean(seen: Watched) -> None:
    assert seen.dialogs == [], seen.dialogs
    assert seen.csp == [], seen.csp
    assert seen.errors == [], seen.errors


def call(
    product: Product, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    req = urllib.request.Request(
        product.base_url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method=method,
    )
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def sms_to(product: Product, phone: str) -> list[str]:
    status, body = call(
        product,
        "GET",
        "/api/sms/outbox?to=" + urllib.parse.quote(phone),
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    )
    assert status == 200, body
    return [m["text"] for m in body["messages"]]


def file_by_web_chat(product: Product, texts: list[str]) -> dict[str, Any]:
    """A citizen files through the web-chat API meanwhile; returns the last answer's ticket."""
    status, session = call(product, "POST", "/api/chat/sessions", {})
    assert status == 201, session
    auth = {"Authorization": f"Bearer {session['token']}"}
    ticket: dict[str, Any] | None = None
    for text in texts:
        status, answer = call(
            product, "POST", f"/api/chat/sessions/{session['session_id']}/messages", {"text": text}, auth
        )
        assert status == 200, answer
        ticket = answer["ticket"]
    assert ticket is not None and ticket.get("number"), ticket
    return ticket


def test_wrong_password_is_refused_then_the_right_one_opens_the_console(page: Page, watched: Watched) -> None:
    log_in(page, password="not-the-password")
    error = page.locator("#login-error")
    expect(error).to_be_visible()
    expect(error).to_have_text("登录名或密码错误。")
    expect(page.locator("#app-view")).to_be_hidden()
    expect(page.get_by_label("密码")).to_have_value("")
    expect(page.get_by_label("登录名")).to_have_value(AGENT_LOGIN)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-login.png"))

    logged_in(page)
    expect(page.locator("#agent-name")).to_have_text(AGENT_LOGIN)
    expect(page.locator("#login-view")).to_be_hidden()
    for name in ["受理队列", "按时限预警", "等待市民补充", "人工分派", "投递失败", "失败任务", "限制名单"]:
        expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
    # the session survives a reload (cookie), the CSRF token is in memory only
    page.reload()
    expect(page.locator("#app-view")).to_be_visible()
    expect(page.locator("#agent-name")).to_have_text(AGENT_LOGIN)
    assert page.evaluate("() => JSON.stringify(window.localStorage)") == "{}"
    assert page.evaluate("() => document.cookie") == ""  # HttpOnly: no script can read it
    assert_clean(watched)


def test_phone_form_keeps_input_on_error_then_files_and_the_caller_gets_an_sms(
    page: Page, product: Product, watched: Watched
) -> None:
    logged_in(page)
    form = page.locator("#phone-form")
    page.get_by_label("来电号码").fill(CALLER)
    form.get_by_label("类别").select_option("投诉")
    page.get_by_label("具体情况").fill("小区门口夜市占道经营，噪音很大")
    page.get_by_role("button", name="登记工单").click()

    error = page.locator("#phone-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("缺少：")
    expect(page.locator("#phone-ok")).to_be_hidden()
    expect(page.get_by_label("来电号码")).to_have_value(CALLER)  # nothing typed is lost
    expect(page.get_by_label("具体情况")).to_have_value("小区门口夜市占道经营，噪音很大")
    assert page.locator(".field.invalid").count() >= 1  # the missing inputs are marked

    page.get_by_label("涉及单位或对象").fill("幸福路夜市摊贩")
    page.get_by_label("事发地址").fill("幸福小区南门")
    page.get_by_label("诉求要求").fill("请城管部门处理")
    page.get_by_role("button", name="登记工单").click()
    ok = page.locator("#phone-ok")
    expect(ok).to_be_visible()
    expect(error).to_be_hidden()
    match = NUMBER.search(ok.inner_text())
    assert match, ok.inner_text()
    number = match.group(0)
    for label in ["来电号码", "具体情况", "事发地址", "诉求要求"]:
        expect(page.get_by_label(label)).to_have_value("")
    expect(page.locator(".field.invalid")).to_have_count(0)

    # the ticket is in the live queue with the caller's number masked
    row = page.locator(f"#intake-rows tr[data-number='{number}']")
    expect(row).to_be_visible()
    expect(row.locator(".contact")).to_have_text("139****5678")
    expect(row.locator(".c-channel")).to_have_text("电话")
    # registered, or already dispatched if the real worker was quicker than the page
    expect(row.locator(".c-status")).to_have_text(re.compile(r"^(已登记|已派发)$"))
    assert CALLER not in page.content()

    # the caller hears back by SMS (the stub gateway's outbox)
    deadline = time.monotonic() + 30
    texts: list[str] = []
    while time.monotonic() < deadline:
        texts = sms_to(product, "+86" + CALLER)
        if any(number in t for t in texts):
            break
        time.sleep(0.5)
    assert any(number in t for t in texts), texts
    assert_clean(watched)


def test_an_anonymous_call_keeps_the_callers_details_off_the_screen(
    page: Page, product: Product, watched: Watched
) -> None:
    logged_in(page)
    expect(page.locator("#pf-hide")).to_be_hidden()
    page.get_by_label("来电号码").fill("13788889999")
    page.get_by_label("来电号码").press("Enter")  # Enter moves on, it does not file half a call
    expect(page.get_by_role("textbox", name="称呼 选填")).to_be_focused()
    expect(page.locator("#phone-error")).to_be_hidden()
    page.get_by_role("textbox", name="称呼 选填").fill("王先生")
    page.get_by_label("市民要求匿名").check()
    expect(page.locator("#pf-hide")).to_be_visible()
    page.get_by_label("涉及单位或对象").fill("某装修公司")
    page.get_by_label("事发地址").fill("和平路8号")
    page.get_by_label("具体情况").fill("周末早上七点开始装修电钻声")
    page.get_by_label("诉求要求").fill("请督促按规定时间施工")
    page.get_by_label("具体情况").press("Control+Enter")
    ok = page.locator("#phone-ok")
    expect(ok).to_be_visible()
    number = NUMBER.search(ok.inner_text())
    assert number, ok.inner_text()
    expect(page.get_by_label("市民要求匿名")).not_to_be_checked()
    expect(page.locator("#pf-hide")).to_be_hidden()
    row = page.locator(f"#intake-rows tr[data-number='{number.group(0)}']")
    expect(row).to_be_visible()
    expect(row.locator(".tag-anon")).to_have_text("匿名")
    expect(row.locator(".contact")).to_have_text("匿名")
    html = page.content()
    assert "13788889999" not in html and "9999" not in html and "王" not in html
    assert_clean(watched)


def test_a_web_chat_complaint_appears_live_and_its_markup_shows_literally(
    page: Page, product: Product, watched: Watched
) -> None:
    logged_in(page)
    loads: list[str] = []
    page.on("load", lambda p: loads.append(p.url))
    before = page.locator("#intake-rows tr").count()

    ticket = file_by_web_chat(
        product,
        [
            f"我要投诉，小区楼下烧烤店每晚油烟很大 {XSS}",
            f"电话{CHAT_CITIZEN}，地址：幸福小区3栋，希望城管处理",
        ],
    )
    row = page.locator(f"#intake-rows tr[data-number='{ticket['number']}']")
    expect(row).to_be_visible(timeout=8_000)  # the next 3-s poll, no reload
    assert loads == []
    assert page.locator("#intake-rows tr").count() == before + 1
    expect(row.locator(".c-channel")).to_have_text("网页")
    expect(row.locator(".c-category")).to_have_text("投诉")
    expect(row.locator(".summary")).to_contain_text(XSS)  # literally, as text
    expect(row.locator(".contact")).to_have_text("136****5432")
    # also in the deadline list, with its warning badge and deadline
    open_row = page.locator(f"#open-rows tr[data-number='{ticket['number']}']")
    expect(open_row).to_be_visible()
    expect(open_row.locator(".c-deadline")).to_have_text(re.compile(r"\d{2}-\d{2} \d{2}:\d{2}"))

    page.wait_for_timeout(3500)  # a further poll redraws nothing into markup
    assert page.locator(INJECTED).count() == 0
    html = page.content()
    assert CHAT_CITIZEN not in html and CALLER not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert_clean(watched)


def seed_restriction(product: Product, reason: str) -> int:
    """A harassment restriction as the guard sets it under a profile that restricts (huizhou
    §8); the browser product runs guangzhou, which never does, so the row is put in place."""
    from sqlalchemy import create_engine, insert

    from intake.store.schema import restrictions

    engine = create_engine(f"sqlite:///{product.data_dir / 'hotline.sqlite3'}")
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            pk = conn.execute(
                insert(restrictions).values(
                    address_key="browser-test-" + str(time.monotonic_ns()),
                    channel="sms",
                    since=now,
                    until=now + timedelta(days=30),
                    reason=reason,
                )
            ).inserted_primary_key
    finally:
        engine.dispose()
    assert pk is not None
    return int(pk[0])


def restriction_lifted_by(product: Product, rid: int) -> str | None:
    from sqlalchemy import create_engine, select

    from intake.store.schema import restrictions

    engine = create_engine(f"sqlite:///{product.data_dir / 'hotline.sqlite3'}")
    try:
        with engine.connect() as conn:
            return conn.execute(select(restrictions.c.lifted_by).where(restrictions.c.id == rid)).scalar_one()
    finally:
        engine.dispose()


def test_waiting_drafts_and_lifting_a_restriction(page: Page, product: Product, watched: Watched) -> None:
    rid = seed_restriction(product, f"3 abusive messages within a day {XSS}")
    logged_in(page)
    item = page.locator("#restrictions-list .item").filter(has_text=f"#{rid}")
    expect(item).to_be_visible()
    expect(item.locator(".item-note")).to_have_text(f"3 abusive messages within a day {XSS}")

    # a citizen who has not yet given everything: the draft waits for them, with its due time
    status, session = call(product, "POST", "/api/chat/sessions", {})
    assert status == 201
    status, answer = call(
        product,
        "POST",
        f"/api/chat/sessions/{session['session_id']}/messages",
        {"text": "我要投诉，隔壁工地夜间施工噪音扰民"},
        {"Authorization": f"Bearer {session['token']}"},
    )
    assert status == 200 and answer["ticket"]["status"] == "collecting", answer
    draft = page.locator("#waiting-list .item").first
    expect(draft).to_be_visible(timeout=8_000)
    expect(draft).to_contain_text("投诉")
    expect(draft).to_contain_text("网页")
    expect(page.locator("#count-waiting")).not_to_have_text("0")

    # 解除 asks for a second click (no blocking dialog), then the restriction is gone
    button = item.get_by_role("button", name="解除")
    button.click()
    expect(item.get_by_role("button", name="确认解除")).to_be_visible()
    assert restriction_lifted_by(product, rid) is None
    item.get_by_role("button", name="确认解除").click()
    expect(item).to_have_count(0, timeout=8_000)
    assert restriction_lifted_by(product, rid) == AGENT_LOGIN
    expect(page.locator("#restrictions-error")).to_be_hidden()
    assert page.locator(INJECTED).count() == 0
    assert_clean(watched)


def other_db(redis_url: str, db: int) -> str:
    """The same Redis server, another database: two products side by side never share queues."""
    parts = urllib.parse.urlsplit(redis_url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}?db={db}"
    return urllib.parse.urlunsplit(parts._replace(path=f"/{db}", query=""))


@pytest.fixture
def huizhou(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    """The product under the huizhou profile, which has yellow and red cards (huizhou §26)."""
    url = other_db(redis_url, 3)
    data = tmp_path_factory.mktemp("hotline-console-huizhou")
    try:
        with launched_product(data, url, HOTLINE_POLICY="huizhou") as p:
            yield p
    finally:
        client = redis.Redis.from_url(url)
        client.flushdb()
        client.close()


BEARER = {"Authorization": f"Bearer {API_TOKEN}"}


def phone_ticket(product: Product, phone: str, what: str) -> dict[str, Any]:
    status, t = call(
        product,
        "POST",
        "/api/tickets",
        {
            "channel": "phone",
            "phone": phone,
            "category": "投诉",
            "subject": f"{what}商户",
            "address": "江北街道幸福小区",
            "content": f"{what}噪音扰民",
            "demand": "请尽快处理",
        },
        BEARER,
    )
    assert status == 201, t
    return t


def advance_until(product: Product, number: str, warning: str) -> None:
    """Once the worker has dispatched the ticket (its handling clock starts at the unit's
    receipt), move the dev clock of every process until the ticket shows ``warning``."""
    deadline = time.monotonic() + 30
    while True:
        status, t = call(product, "GET", f"/api/tickets/{number}", headers=BEARER)
        assert status == 200, t
        if t["status"] != "registered" or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert t["status"] == "dispatched" and t["deadline"], t
    now = call(product, "POST", "/api/dev/clock", {"advance_seconds": 0})[1]["now"]
    gap = (datetime.fromisoformat(t["deadline"]) - datetime.fromisoformat(now)).total_seconds()
    if gap > 3 * 86400:
        call(product, "POST", "/api/dev/clock", {"advance_seconds": gap - 3 * 86400})
    for _ in range(80):  # 6-hour steps: at most 20 days past the deadline
        status, t = call(product, "GET", f"/api/tickets/{number}", headers=BEARER)
        if t["warning"] == warning:
            return
        call(product, "POST", "/api/dev/clock", {"advance_seconds": 6 * 3600})
    raise AssertionError(f"{number} never turned {warning}: {t}")


def test_deadline_list_sorts_red_yellow_none_with_badges_and_provisional_marks(
    browser: Any, huizhou: Product, watched: Watched
) -> None:
    red = phone_ticket(huizhou, "13700000001", "烧烤店")["number"]
    advance_until(huizhou, red, "red")
    yellow = phone_ticket(huizhou, "13700000002", "装修")["number"]
    advance_until(huizhou, yellow, "yellow")
    fresh = phone_ticket(huizhou, "13700000003", "工地")["number"]
    status, listed = call(huizhou, "GET", "/api/tickets?status=registered", headers=BEARER)
    assert status == 200
    status, dispatched = call(huizhou, "GET", "/api/tickets?status=dispatched", headers=BEARER)
    by_number = {t["number"]: t for t in listed["tickets"] + dispatched["tickets"]}
    assert by_number[red]["warning"] == "red" and by_number[yellow]["warning"] == "yellow"

    context = browser.new_context(viewport=DESK, locale="zh-CN", timezone_id="Asia/Shanghai")
    try:
        page = watch(context.new_page(), watched)
        page.goto(huizhou.base_url + "/console/")
        logged_in(page)  # after the clock moved: a session of "now"
        rows = page.locator("#open-rows tr")
        expect(rows).to_have_count(3)
        assert [r.get_attribute("data-number") for r in rows.all()] == [red, yellow, fresh]
        expect(rows.nth(0).locator(".warn")).to_have_text("红色")
        expect(rows.nth(0).locator(".warn")).to_have_class(re.compile(r"\bwarn-red\b"))
        expect(rows.nth(1).locator(".warn")).to_have_text("黄色")
        expect(rows.nth(2).locator(".warn")).to_have_text("正常")
        expect(page.locator("#stat-red")).to_have_text("1")
        expect(page.locator("#stat-yellow")).to_have_text("1")
        expect(rows.nth(0).locator(".tag-overdue")).to_have_text("已超时")
        for number in (red, yellow, fresh):
            status, t = call(huizhou, "GET", f"/api/tickets/{number}", headers=BEARER)
            marks = page.locator(f"#open-rows tr[data-number='{number}'] .tag-provisional")
            expect(marks).to_have_count(1 if t["deadline_provisional"] else 0)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-deadlines.png"))
        assert_clean(watched)
    finally:
        context.close()


def something_changes(product: Product) -> None:
    """A citizen greets the bot in web chat: a commit, so every open console's live stream says
    "changed" and the console fetches its queue again (it polls only while the stream is down)."""
    status, session = call(product, "POST", "/api/chat/sessions", {})
    assert status == 201, session
    status, answer = call(
        product,
        "POST",
        f"/api/chat/sessions/{session['session_id']}/messages",
        {"text": "你好"},
        {"Authorization": f"Bearer {session['token']}"},
    )
    assert status == 200, answer


def test_a_failed_poll_shows_a_quiet_banner_and_recovers(
    page: Page, product: Product, watched: Watched
) -> None:
    logged_in(page)
    banner = page.locator("#poll-error")
    expect(banner).to_be_hidden()
    page.route("**/api/console/queue", lambda route: route.abort("internetdisconnected"))
    something_changes(product)
    expect(banner).to_be_visible(timeout=8_000)
    expect(banner).to_contain_text("暂时无法更新")
    expect(banner).to_contain_text("最后成功更新")
    expect(page.locator("#app-view")).to_be_visible()  # still at work, not thrown out
    page.unroute("**/api/console/queue")
    expect(banner).to_be_hidden(timeout=8_000)
    expect(page.locator("#last-update")).to_have_text(re.compile(r"^最后更新 \d{2}:\d{2}:\d{2}$"))
    assert_clean(watched)


def test_an_expired_session_returns_to_login_with_a_note(
    page: Page, product: Product, watched: Watched
) -> None:
    logged_in(page)
    page.context.clear_cookies()  # as if the server had forgotten the session
    something_changes(product)  # the next refresh finds it gone
    expect(page.locator("#login-form")).to_be_visible(timeout=8_000)
    expect(page.locator("#login-note")).to_have_text("登录已过期，请重新登录。")
    expect(page.locator("#app-view")).to_be_hidden()
    assert_clean(watched)


def test_logout_returns_to_login_and_the_old_cookie_is_dead(
    page: Page, product: Product, watched: Watched
) -> None:
    logged_in(page)
    cookies = page.context.cookies()
    session = [c for c in cookies if c["name"].startswith("__Host-")]
    assert len(session) == 1 and session[0]["httpOnly"] and session[0]["secure"], cookies
    jar = f"{session[0]['name']}={session[0]['value']}"
    assert call(product, "GET", "/api/console/queue", headers={"Cookie": jar})[0] == 200

    page.get_by_role("button", name="退出登录").click()
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("#app-view")).to_be_hidden()
    expect(page.locator("#login-note")).to_have_text("您已退出登录。")
    assert page.request.get(product.base_url + "/api/console/queue").status == 401
    # the cookie as it was before logout is refused too: the session ended on the server
    status, body = call(product, "GET", "/api/console/queue", headers={"Cookie": jar})
    assert status == 401 and body["error"]["code"], body
    page.reload()
    expect(page.locator("#login-form")).to_be_visible()
    assert_clean(watched)


def test_screenshots_at_desk_and_tablet_width(page: Page, product: Product, watched: Watched) -> None:
    file_by_web_chat(
        product, ["我要投诉，楼下烧烤店每晚油烟很大", "电话13511112222，地址：幸福小区5栋，希望城管处理"]
    )
    seed_restriction(product, "3 abusive messages within a day")
    logged_in(page)
    expect(page.locator("#intake-rows tr").first).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console.png"), full_page=True)
    # at 768 px nothing spills sideways: the page itself never scrolls horizontally
    page.set_viewport_size({"width": 768, "height": 1000})
    page.wait_for_timeout(300)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 768
    expect(page.get_by_role("button", name="登记工单")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "console-768.png"), full_page=True)
    assert_clean(watched)
