"""The citizen's chat page in real headless Chromium, against the real running product
(launcher → web, smtp, worker on a fresh data folder): what a citizen on a 360-px phone sees."""

from __future__ import annotations

import http.server
import json
import re
import threading
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.browser.conftest import API_TOKEN, ARTIFACTS, CHROMIUM, PHONE, Product, Watched, new_phone, watch

if not CHROMIUM.exists():
    pytest.skip("no /usr/bin/chromium (the Makefile installs it with apt)", allow_module_level=True)

from playwright.sync_api import Page, Route, expect

pytestmark = pytest.mark.browser

NUMBER = re.compile(r"\d{8}-\d{6}")
COMPLAINT = "我要投诉，小区楼下烧烤店每晚油烟很大"
ANSWER = "电话13800138000，地址：幸福小区3栋，希望城管处理"
HOTLINE = ".row-hotline:not(.typing) .bubble"
CITIZEN = ".row-citizen .bubble"
STORE_KEY = "hotline.chat.v1"


@pytest.fixture
def page(phone: Any, product: Product, watched: Watched) -> Page:
    p = watch(phone.new_page(), watched)
    p.goto(product.base_url + "/chat/")
    expect(p.locator("h1")).to_have_text("12345 政务服务便民热线")
    return p


def say(page: Page, text: str) -> Any:
    """Type ``text`` and press Enter as a citizen does; returns the first hotline bubble it got."""
    before = page.locator(HOTLINE).count()
    box = page.locator("#input")
    box.fill(text)
    box.press("Enter")
    expect(page.locator(CITIZEN).last).to_have_text(text)
    reply = page.locator(HOTLINE).nth(before)
    reply.wait_for()
    expect(page.locator("#send")).to_be_enabled()
    expect(box).to_have_value("")
    return reply


def hotline_texts(page: Page) -> list[str]:
    return page.locator(HOTLINE).all_inner_texts()


def assert_clean(seen: Watched) -> None:
    assert seen.dialogs == [], seen.dialogs
    assert seen.csp == [], seen.csp
    assert seen.errors == [], seen.errors


def stored_session(page: Page) -> dict[str, Any]:
    """What the page keeps in localStorage (read through the browser, as the page would)."""
    state = page.context.storage_state()
    for origin in state["origins"]:
        for item in origin["localStorage"]:
            if item["name"] == STORE_KEY:
                value: dict[str, Any] = json.loads(item["value"])
                return value
    raise AssertionError("the page kept no session in localStorage")


def test_complaint_prompt_ticket_card_live_notice_and_reload(
    page: Page, product: Product, watched: Watched
) -> None:
    loads: list[str] = []
    page.on("load", lambda p: loads.append(p.url))
    expect(page.locator(".welcome")).to_be_visible()
    expect(page.locator("#ticket")).to_be_hidden()
    assert page.viewport_size == PHONE

    prompt = say(page, COMPLAINT)
    # the one-time prompt lists what is still missing, in one message (guangzhou §12)
    expect(prompt).to_contain_text("补充")
    expect(page.locator("#ticket")).to_be_hidden()  # a draft is not a ticket yet

    registered = say(page, ANSWER)
    card = page.locator("#ticket")
    expect(card).to_be_visible()
    number = page.locator("#ticket-number").inner_text()
    assert NUMBER.fullmatch(number), number
    expect(registered).to_contain_text(number)
    expect(page.locator("#ticket-status")).to_have_text("已登记")
    expect(page.locator("#ticket-category")).to_have_text("投诉")
    # before a unit has it, the deadline is an estimate (issue 19: one deadline, said so)
    expect(page.locator("#ticket-deadline")).to_have_text(re.compile(r"^预计\d{4}年\d{1,2}月\d{1,2}日"))
    expect(card).to_contain_text("工单号")
    expect(card).to_contain_text("答复期限")

    # the worker dispatches the ticket; its notice is pushed into the open page, no reload
    notice = page.locator(HOTLINE).filter(has_text=re.compile(f"您的工单{number}已转交.+办理"))
    expect(notice).to_have_count(1, timeout=30_000)
    expect(page.locator("#ticket-status")).not_to_have_text("已登记", timeout=10_000)  # the card follows
    expect(page.locator("#ticket-deadline")).not_to_contain_text("预计")  # the unit's deadline now
    expect(notice).to_contain_text("答复期限为")

    # the handling unit's extension, approved in the back office, appears in the open page too
    api = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
    signed = back_office(product, number, {"type": "signed"}, api)
    later = (datetime.fromisoformat(signed["deadline"]) + timedelta(days=5)).isoformat()
    extension_event = {"type": "extension_approved", "new_deadline": later, "reason": "需现场核查"}
    view = back_office(product, number, extension_event, api)
    assert view["status"] == "extended"
    extension = page.locator(HOTLINE).filter(has_text="需现场核查")
    expect(extension).to_have_count(1, timeout=30_000)
    expect(extension).to_contain_text("延期")
    assert loads == []
    # the sticky card and the input stay on screen at phone size
    box = page.locator("#input").bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"]
    assert box["height"] >= 44  # a comfortable tap target
    assert (card.bounding_box() or {}).get("y", 999) < 120

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat.png"))

    # each hotline message shows once although the POST answer and the stream both carry it
    ids = [row.get_attribute("data-id") for row in page.locator(".row-hotline[data-id]").all()]
    assert len(ids) == len(set(ids)) == len(hotline_texts(page))

    before_reload = hotline_texts(page)
    page.reload()
    expect(page.locator(HOTLINE)).to_have_count(len(before_reload))
    assert page.locator(CITIZEN).all_inner_texts() == [COMPLAINT, ANSWER]
    assert hotline_texts(page) == before_reload
    expect(page.locator("#ticket-number")).to_have_text(number)
    expect(page.locator("#ticket-category")).to_have_text("投诉")

    # 查询进度 after the reload: the same session still answers, about this ticket
    page.get_by_role("button", name="查询进度").click()
    expect(page.locator(CITIZEN).last).to_have_text("查询进度")
    expect(page.locator(HOTLINE).nth(len(before_reload))).to_contain_text(number)
    assert_clean(watched)


def back_office(
    product: Product, number: str, event: dict[str, str], headers: dict[str, str]
) -> dict[str, Any]:
    """A back-office event through the real API, as the handling unit's system sends it."""
    req = urllib.request.Request(
        f"{product.base_url}/api/tickets/{number}/events",
        data=json.dumps(event).encode(),
        headers=headers,
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        body: dict[str, Any] = json.loads(resp.read())
    return body


def test_category_buttons_send_their_text(browser: Any, product: Product, watched: Watched) -> None:
    """An unclear request gets category buttons; a tap sends the button's text and closes them."""
    candidates = ["你好，我有个事情想反映一下，隔壁装修太吵了", "我想说一下幸福小区3栋门口的事情"]
    contexts = []
    try:
        for text in candidates:  # each in a fresh session
            contexts.append(new_phone(browser))
            page = watch(contexts[-1].new_page(), watched)
            page.goto(product.base_url + "/chat/")
            say(page, text)
            buttons = page.locator(".choices:not(.closed) .choice")
            if buttons.count():
                break
        else:
            pytest.fail(f"none of {candidates} made the hotline offer category buttons")
        check_choice_click(page, buttons)
        assert_clean(watched)
    finally:
        for c in contexts:
            c.close()


def check_choice_click(page: Page, buttons: Any) -> None:
    first = buttons.first
    chosen = first.inner_text()
    assert first.bounding_box() is not None and first.bounding_box()["height"] >= 44  # type: ignore[index]
    replies = page.locator(HOTLINE).count()
    first.click()
    expect(page.locator(CITIZEN).last).to_have_text(chosen)
    page.locator(HOTLINE).nth(replies).wait_for()
    expect(page.locator(".choice.chosen")).to_have_text(chosen)
    for b in page.locator(".choices.closed .choice").all():
        expect(b).to_be_disabled()


def test_markup_typed_by_a_citizen_shows_literally_and_never_runs(page: Page, watched: Watched) -> None:
    attacks = ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>"]
    for text in attacks:
        say(page, text)
    page.wait_for_timeout(500)  # an injected onerror would fire by now
    assert page.locator(CITIZEN).all_inner_texts() == attacks
    assert page.locator("#log img, #log script").count() == 0
    page.reload()
    expect(page.locator(CITIZEN)).to_have_count(2)
    assert page.locator(CITIZEN).all_inner_texts() == attacks
    assert page.locator("#log img, #log script").count() == 0
    assert_clean(watched)


def test_failed_send_keeps_the_text_and_says_so_politely(page: Page, watched: Watched) -> None:
    held: list[Route] = []
    page.route("**/api/chat/sessions/*/messages", lambda route: held.append(route))
    box = page.locator("#input")
    box.fill(COMPLAINT)
    box.press("Enter")
    # while the message is on its way nothing can be sent twice
    expect(page.locator("#send")).to_be_disabled()
    expect(page.get_by_role("button", name="查询进度")).to_be_disabled()
    expect(page.locator(CITIZEN).last).to_have_text(COMPLAINT)
    for _ in range(100):  # the page opens its session first, then posts the message
        if held:
            break
        page.wait_for_timeout(100)
    assert len(held) == 1
    expect(page.locator("#send")).to_be_disabled()
    held[0].abort("internetdisconnected")
    for _ in range(100):  # the page tries once more, with the same client_id, after a second
        if len(held) == 2:
            break
        page.wait_for_timeout(100)
    assert len(held) == 2
    held[1].abort("internetdisconnected")

    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("没有发出去")
    expect(box).to_have_value(COMPLAINT)
    expect(page.locator(CITIZEN)).to_have_count(0)
    expect(page.locator("#send")).to_be_enabled()

    page.unroute("**/api/chat/sessions/*/messages")
    box.press("Enter")
    expect(page.locator(HOTLINE).first).to_contain_text("补充")
    expect(error).to_be_hidden()
    assert page.locator(CITIZEN).all_inner_texts() == [COMPLAINT]
    assert_clean(watched)


def test_an_answer_lost_on_the_way_back_is_asked_again_and_shown_once(
    page: Page, product: Product, watched: Watched
) -> None:
    """The hotline stored and answered the message, the answer never arrived: the page sends it
    again with the same client_id and gets the same replies; one message, one question."""
    sent: list[dict[str, Any]] = []

    def lose_the_first_answer(route: Route) -> None:
        sent.append(json.loads(route.request.post_data or "{}"))
        if len(sent) == 1:
            route.fetch()  # the hotline handles it...
            route.abort("connectionreset")  # ...and the answer is lost
        else:
            route.continue_()

    page.route("**/api/chat/sessions/*/messages", lose_the_first_answer)
    say(page, COMPLAINT)
    expect(page.locator(HOTLINE)).to_have_count(1)
    assert len(sent) == 2 and sent[0] == sent[1] and sent[0]["client_id"]
    expect(page.locator("#error")).to_be_hidden()
    assert page.locator(CITIZEN).all_inner_texts() == [COMPLAINT]
    assert_clean(watched)


def test_stream_reconnects_after_the_network_drops_and_catches_up(
    page: Page, product: Product, watched: Watched
) -> None:
    say(page, COMPLAINT)
    session = stored_session(page)
    page.context.set_offline(True)
    banner = page.locator("#net-banner")
    expect(banner).to_be_visible()
    expect(banner).to_have_text("网络已断开，正在重新连接…")

    # meanwhile the hotline sends this session something (here: the answer to a second device)
    req = urllib.request.Request(
        f"{product.base_url}/api/chat/sessions/{session['session_id']}/messages",
        data=json.dumps({"text": "查询进度"}).encode(),
        headers={"Authorization": f"Bearer {session['token']}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        missed = [r["text"] for r in json.loads(resp.read())["replies"]]
    assert missed
    before = page.locator(HOTLINE).count()
    page.wait_for_timeout(500)
    assert page.locator(HOTLINE).count() == before

    page.context.set_offline(False)
    expect(banner).to_be_hidden(timeout=20_000)
    expect(page.locator(HOTLINE).nth(before + len(missed) - 1)).to_be_visible()
    page.wait_for_timeout(500)
    # resumed after the last id seen: exactly what was missed, in order, nothing twice
    assert hotline_texts(page)[before:] == missed
    assert_clean(watched)


def test_a_rejected_token_starts_a_new_session_quietly(
    browser: Any, product: Product, watched: Watched
) -> None:
    stale = {"session_id": "gone-session", "token": "1.forged", "ticket": {"number": "20260101-000001"}}
    context = new_phone(
        browser,
        storage_state={
            "cookies": [],
            "origins": [
                {
                    "origin": product.base_url,
                    "localStorage": [{"name": STORE_KEY, "value": json.dumps(stale)}],
                }
            ],
        },
    )
    try:
        page = watch(context.new_page(), watched)
        page.goto(product.base_url + "/chat/")
        expect(page.locator(".row-system")).to_contain_text("已为您开始新的会话")
        expect(page.locator("#error")).to_be_hidden()
        expect(page.locator("#ticket")).to_be_hidden()
        say(page, COMPLAINT)
        assert stored_session(page)["session_id"] != "gone-session"
        assert_clean(watched)
    finally:
        context.close()


@pytest.fixture
def portal(product: Product) -> Iterator[str]:
    """Somebody else's site (another origin: localhost on its own port) with the one script tag."""
    html = (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width'><title>某区政务网</title></head>"
        "<body><h1>某区人民政府</h1>"
        f"<script src='{product.base_url}/chat/widget.js' async></script></body></html>"
    ).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_widget_script_embeds_the_chat_in_another_site(
    phone: Any, product: Product, portal: str, watched: Watched
) -> None:
    page = watch(phone.new_page(), watched)
    page.goto(portal)
    expect(page.locator("h1")).to_have_text("某区人民政府")
    launcher = page.get_by_role("button", name="12345 在线咨询")
    expect(launcher).to_be_visible()
    launcher.click()
    frame = page.locator("iframe")
    expect(frame).to_be_visible()
    assert frame.get_attribute("src") == product.base_url + "/chat/"
    inner = page.frame_locator("iframe")
    expect(inner.locator("h1")).to_have_text("12345 政务服务便民热线")
    inner.locator("#input").fill("你好")
    inner.locator("#input").press("Enter")
    expect(inner.locator(HOTLINE).first).to_be_visible()
    page.get_by_role("button", name="关闭").click()
    expect(frame).to_be_hidden()
    expect(launcher).to_be_visible()
    assert_clean(watched)


def agent_answers(product: Product, text: str) -> None:
    """An agent logs in to the console API and answers the oldest conversation waiting for a
    person (CONTRACT.md "Agents and the console API")."""
    from tests.browser.conftest import AGENT_LOGIN, AGENT_PASSWORD

    def call(path: str, body: Any, headers: dict[str, str]) -> Any:
        req = urllib.request.Request(
            product.base_url + path,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Origin": product.base_url, **headers},
            method="POST" if body is not None or "reply" in path else "GET",
        )
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.headers, json.loads(resp.read() or b"null")

    headers, login = call("/api/console/login", {"login": AGENT_LOGIN, "password": AGENT_PASSWORD}, {})
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    session = {"Cookie": cookie, "X-CSRF-Token": login["csrf"]}
    _, queue = call("/api/console/handoffs", None, {"Cookie": cookie})
    waiting = queue["handoffs"][0]
    call(f"/api/console/handoffs/{waiting['id']}/reply", {"text": text}, session)


def test_a_person_when_asked_and_the_answer_marked_as_a_persons(
    page: Page, product: Product, watched: Watched
) -> None:
    """Issue 19: "转人工" gets the queue's answer; the bot is quiet; the agent's answer arrives on
    the open page (live), marked 人工客服 and coloured apart from the bot's."""
    told = say(page, "转人工")
    expect(told).to_contain_text("已为您转接人工客服")
    answer = "您好，我是人工客服，请问有什么可以帮您？"
    agent_answers(product, answer)
    person = page.locator(".row-hotline.from-agent")
    expect(person.locator(".bubble")).to_have_text(answer)
    expect(person.locator(".who")).to_have_text("人工客服")
    expect(person.locator(".avatar")).to_have_text("人工")
    page.reload()  # still marked after a reload (the history says who wrote it)
    expect(page.locator(".row-hotline.from-agent .bubble")).to_have_text(answer)
    assert_clean(watched)


def test_an_emergency_reply_names_its_numbers_as_tap_to_call_links(page: Page, watched: Watched) -> None:
    """Issue 19: the reply to an emergency can be acted on with one tap."""
    reply = say(page, "我家厨房着火了，烟很大")
    call = reply.locator("a.call")
    expect(call.first).to_have_text("119")
    assert call.first.get_attribute("href") == "tel:119"
    assert "119" in reply.inner_text()  # still read as the sentence it is
    citizen = page.locator(CITIZEN).last
    assert citizen.locator("a").count() == 0  # what the citizen typed is never linked
    assert_clean(watched)
