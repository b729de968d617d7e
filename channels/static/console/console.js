/*
 * 12345 agent console (CONTRACT.md "GET /console/").
 * (Long because it is the whole workspace of one page without a build chain; each part is one
 * "// --" section below: helpers, login, live updates, rendering, filters, hand-offs, the ticket
 * panel, the keyboard, restrictions, the phone form, start.)
 *
 * Why it is built this way:
 *  - The page is served with a strict CSP (no inline script or style), so all behaviour lives
 *    here and every visual state is a class or the `hidden` attribute, never a style attribute.
 *  - Everything the API returns is put on screen with textContent (or a plain attribute value):
 *    citizen text may contain markup and must show literally (RELIABILITY.md S1).
 *  - The CSRF token is kept in memory only, never in localStorage, and goes with every POST as
 *    X-CSRF-Token; the session itself is an HttpOnly cookie the page never sees (S2).
 *  - Personal data arrives masked (or absent for anonymous citizens) and is shown as given (S6).
 *  - Live: an EventSource on /api/console/stream says "changed" whenever anything was committed;
 *    the queue (and the open ticket) is then fetched again, at most ~3 times a second. While the
 *    stream is not open the queue is polled every 3 s instead (and every 30 s as a safety net
 *    while it is). A section is redrawn only when its data changed, so an agent reading or
 *    selecting text is not disturbed; the hand-off list is updated in place, so a half-typed
 *    answer survives every refresh.
 *  - Filters, search and page go to the queue's query string only, never to the page's URL: a
 *    phone number typed in the search box must not end up in history, logs or a Referer.
 *  - Keyboard: j / k move through the tickets, Enter opens one, Esc closes it, r answers the
 *    oldest hand-off, / searches; ignored while typing.
 */
(function () {
  "use strict";

  var API = "/api/console/";
  var POLL_MS = 3000; // while the live stream is not open
  var SAFETY_POLL_MS = 30000; // while it is
  var STREAM_RETRY_MS = 10000; // a closed stream is opened again after this, doubling to 80 s
  var CHANGED_DELAY_MS = 300; // "changed" events are coalesced into one refresh
  var SEARCH_DELAY_MS = 400;
  var FILTER_KEYS = ["q", "category", "channel", "status", "warning", "urgent", "unit"];

  var STATUS_WORDS = {
    collecting: "采集中",
    awaiting_supplement: "待补充",
    registered: "已登记",
    dispatched: "已派发",
    signed: "已签收",
    extended: "已延期",
    completed: "已办结",
    rehandling: "重新办理",
    closed: "已归档",
    withdrawn: "已撤回",
    rejected: "不予受理",
    redirected: "已引导",
  };
  var CHANNEL_WORDS = {
    webchat: "网页",
    telegram: "Telegram",
    email: "邮件",
    sms: "短信",
    phone: "电话",
  };
  var DELIVERY_STATES = { failed: "失败", uncertain: "状态不明" };
  var DELIVERY_KINDS = {
    ack: "受理回执",
    reply: "对话回复",
    notice: "进度通知",
    result: "办理结果",
    evaluation: "评价邀请",
    supplement: "补充提醒",
  };
  var CONTACT_WORDS = { name: "", phone: "", id_number: "身份证 ", home_address: "住址 " };
  var WARNING_WORDS = { red: "红色", yellow: "黄色" };
  var ROLE_WORDS = { agent: "坐席", supervisor: "班长", admin: "管理员" };
  var FROM_WORDS = { citizen: "市民", hotline: "热线", agent: "坐席", unit: "承办单位" };
  var FIELD_WORDS = { name: "姓名", phone: "电话", id_number: "身份证号", home_address: "住址" };
  var CONTACT_FIELDS = ["name", "phone", "id_number", "home_address"];
  var EVENT_WORDS = {
    registered: "登记",
    dispatched: "派单",
    manual_routing: "转人工分派",
    signed: "签收",
    returned: "退回",
    extension_approved: "批准延期",
    supplemented: "市民补充",
    completed: "办结",
    answered_online: "即时答复",
    rehandling: "重新办理",
    repeat_raised: "重复诉求",
    evaluated: "市民评价",
    evaluation_invalid: "评价无效",
    warning: "时限预警",
    difficult: "疑难协调",
    supervision_opened: "督办",
    supervision_due: "督办到期未答复",
    supervision_extended: "督办延期",
    supervision_answered: "督办答复",
    review_requested: "申请复核",
    review_decided: "复核决定",
    withdrawal_requested: "申请撤回",
    clock_restarted: "新情况，时限重算",
    supplement_task: "待回拨补充",
    supplement_call: "回拨补充",
    withdrawn: "撤回",
    closed: "归档",
    merged: "合并",
    routed: "人工派单",
  };
  var ACTOR_WORDS = { system: "系统", citizen: "市民", hotline: "热线" };

  var TEXT = {
    loginFailed: "登录失败，请稍后再试。",
    sessionExpired: "登录已过期，请重新登录。",
    loggedOut: "您已退出登录。",
    pollFailed: "队列暂时无法更新，正在重试…",
    pollFailedSince: "队列暂时无法更新，正在重试…（最后成功更新 ",
    submitFailed: "登记没有成功，请稍后再试。已填写的内容已保留。",
    liftFailed: "解除没有成功，请稍后再试。",
    network: "网络连接异常，请检查网络后重试。",
    ticketFailed: "工单详情暂时无法载入，请稍后再试。",
    ticketMissing: "没有找到这张工单。",
    replyFailed: "发送没有成功，请稍后再试。已输入的内容已保留。",
    replyEmpty: "请先输入回复内容。",
    handoffGone: "该会话已结束或已由其他坐席交还机器人。",
    releaseFailed: "交还没有成功，请稍后再试。",
    routeFailed: "派单没有成功，请稍后再试。",
    routeChoose: "请先选择承办单位。",
    routeStale: "该工单已不在待分派状态，已刷新。",
    retryFailed: "重试没有成功，请稍后再试。",
    retryGone: "该消息已不在失败列表中。",
    revealReason: "请填写查看原因（至少 4 个字）。",
    revealFailed: "查看没有成功，请稍后再试。",
    revealForbidden: "无权查看该信息。",
    complexFailed: "认定没有成功，请稍后再试。",
    mergeNumber: "请填写同案首单的工单号。",
    mergeFailed: "合并没有成功，请稍后再试。",
  };

  var els = {};
  var state = {
    agent: null,
    role: null,
    csrf: null, // in memory only
    pollTimer: null,
    polling: false,
    pending: false, // another refresh was asked for while one was on its way
    failed: false, // the last refresh failed: poll every 3 s until one succeeds
    generation: 0, // bumped at login/logout so a late answer of an old session is ignored
    lastOk: null,
    drawn: {}, // section -> JSON of the data last drawn
    confirmLift: null, // restriction id waiting for its second click
    stream: null, // the EventSource
    streamOpen: false,
    streamRetry: null,
    streamDelay: STREAM_RETRY_MS,
    changedTimer: null,
    searchTimer: null,
    filters: { q: "", category: "", channel: "", status: "", warning: "", urgent: "", unit: "" },
    page: 1,
    pages: 1,
    handoffsAt: 0, // when the hand-off list was last received (for the waiting times)
    handoffTicker: null,
    panel: null, // the open ticket: {number, seq, drawn, revealed, returnTo, routedTo}
    panelSeq: 0,
  };

  // -- small helpers ------------------------------------------------------------------------
  function $(id) {
    return document.getElementById(id);
  }

  /** An element with a class and text; the text always goes through textContent. */
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function clockTime(date) {
    return pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
  }

  /**
   * "03-05 18:00" straight from the ISO text: the server already speaks Beijing time, so the
   * agent sees the hotline's clock whatever the desktop's time zone is.
   */
  function shortTime(iso) {
    if (!iso) return "";
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(String(iso));
    return m ? m[2] + "-" + m[3] + " " + m[4] + ":" + m[5] : String(iso);
  }

  /** The zh part of a bilingual API message ("缺少：地址。Missing: address" → "缺少：地址。"). */
  function zhMessage(message) {
    var text = String(message || "");
    var m = /^(.*[\u3400-\u9fff][^A-Za-z]*?[。！？])\s*[A-Za-z'"].*$/.exec(text);
    return m ? m[1] : text;
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function setMessage(node, text) {
    node.textContent = text || "";
    node.hidden = !text;
  }

  function ApiError(status, code, message) {
    this.status = status;
    this.code = code;
    this.message = message;
  }

  /** fetch + JSON; throws ApiError (with the API's message) on any non-2xx answer. */
  function api(method, path, body) {
    var headers = { Accept: "application/json" };
    var init = { method: method, headers: headers, credentials: "same-origin", cache: "no-store" };
    if (method !== "GET") {
      headers["Content-Type"] = "application/json";
      if (state.csrf) headers["X-CSRF-Token"] = state.csrf;
      init.body = JSON.stringify(body || {});
    }
    return fetch(API + path, init).then(
      function (resp) {
        return resp.text().then(function (raw) {
          var data = null;
          try {
            data = raw ? JSON.parse(raw) : null;
          } catch (e) {
            data = null;
          }
          if (!resp.ok) {
            var err = (data && data.error) || {};
            throw new ApiError(resp.status, err.code || "http_" + resp.status, err.message || "");
          }
          return data;
        });
      },
      function () {
        throw new ApiError(0, "network", TEXT.network);
      }
    );
  }

  // -- views --------------------------------------------------------------------------------
  function showLogin(note) {
    stopPolling();
    closeStream();
    closePanel(true);
    state.generation += 1;
    state.agent = null;
    state.role = null;
    state.csrf = null;
    state.drawn = {};
    els.handoffList.replaceChildren();
    show(els.appView, false);
    show(els.loginView, true);
    setMessage(els.loginNote, note || "");
    setMessage(els.loginError, "");
    els.loginPassword.value = "";
    els.loginSubmit.disabled = false;
    document.title = "12345 坐席工作台";
    (els.loginAgent.value ? els.loginPassword : els.loginAgent).focus();
  }

  function showApp(session) {
    state.generation += 1;
    state.agent = session.login;
    state.role = session.role || "agent";
    state.csrf = session.csrf;
    state.lastOk = null;
    state.failed = false;
    state.drawn = {};
    state.page = 1;
    els.agentName.textContent = session.login;
    els.agentRole.textContent = ROLE_WORDS[state.role] || "坐席";
    els.lastUpdate.textContent = "正在载入…";
    setMessage(els.pollError, "");
    show(els.loginView, false);
    show(els.appView, true);
    startPolling();
    openStream();
  }

  function sessionLost() {
    showLogin(TEXT.sessionExpired);
  }

  // -- login / logout -----------------------------------------------------------------------
  function onLogin(event) {
    event.preventDefault();
    var agent = els.loginAgent.value.trim();
    var password = els.loginPassword.value;
    if (!agent || !password) {
      setMessage(els.loginError, "请填写登录名和密码。");
      return;
    }
    els.loginSubmit.disabled = true;
    setMessage(els.loginError, "");
    api("POST", "login", { login: agent, password: password })
      .then(function (session) {
        els.loginPassword.value = "";
        setMessage(els.loginNote, "");
        showApp(session);
      })
      .catch(function (err) {
        var text = err.status === 0 ? TEXT.network : zhMessage(err.message) || TEXT.loginFailed;
        if (err.status >= 500) text = TEXT.loginFailed;
        setMessage(els.loginError, text);
        els.loginPassword.value = "";
        els.loginPassword.focus();
      })
      .then(function () {
        els.loginSubmit.disabled = false;
      });
  }

  function onLogout() {
    els.logout.disabled = true;
    stopPolling();
    closeStream();
    state.generation += 1; // a poll still on its way must not report "expired"
    api("POST", "logout", {})
      .catch(function () {
        return null; // the session is dropped on this screen either way
      })
      .then(function () {
        els.logout.disabled = false;
        showLogin(TEXT.loggedOut);
      });
  }

  // -- live updates: the stream, and polling while it is not open ---------------------------
  function openStream() {
    closeStream();
    if (typeof window.EventSource !== "function" || !state.csrf) return;
    if (document.visibilityState === "hidden") return;
    var generation = state.generation;
    var es;
    try {
      es = new window.EventSource(API + "stream");
    } catch (e) {
      return;
    }
    var reopened = false;
    state.stream = es;
    es.onopen = function () {
      if (es !== state.stream || generation !== state.generation) return;
      state.streamOpen = true;
      state.streamDelay = STREAM_RETRY_MS;
      els.liveDot.classList.add("streaming");
      els.liveDot.title = "实时更新已连接";
      if (reopened) refreshSoon(); // something may have changed while it was away
      else schedule(); // the next poll is the slow safety one
      reopened = true;
    };
    es.addEventListener("changed", function () {
      if (es !== state.stream || generation !== state.generation) return;
      changedSoon();
    });
    es.onerror = function () {
      if (es !== state.stream) return;
      state.streamOpen = false;
      els.liveDot.classList.remove("streaming");
      els.liveDot.title = "实时更新未连接，每 3 秒刷新";
      if (es.readyState === 2) {
        // closed for good (a refused or ended stream): try again later, polling meanwhile
        es.close();
        state.stream = null;
        window.clearTimeout(state.streamRetry);
        state.streamRetry = window.setTimeout(openStream, state.streamDelay);
        state.streamDelay = Math.min(state.streamDelay * 2, 8 * STREAM_RETRY_MS);
      }
      if (!state.polling) schedule(); // back to polling every 3 s
    };
  }

  function closeStream() {
    window.clearTimeout(state.streamRetry);
    window.clearTimeout(state.changedTimer);
    state.streamRetry = null;
    state.changedTimer = null;
    if (state.stream) state.stream.close();
    state.stream = null;
    state.streamOpen = false;
    if (els.liveDot) els.liveDot.classList.remove("streaming");
  }

  /** A "changed" event: one refresh of the queue and of the open ticket a moment later. */
  function changedSoon() {
    if (state.changedTimer) return;
    state.changedTimer = window.setTimeout(function () {
      state.changedTimer = null;
      refreshSoon();
      refreshPanel();
    }, CHANGED_DELAY_MS);
  }

  function startPolling() {
    stopPolling();
    if (document.visibilityState !== "hidden") poll();
  }

  function stopPolling() {
    if (state.pollTimer) window.clearTimeout(state.pollTimer);
    state.pollTimer = null;
  }

  function schedule() {
    stopPolling();
    if (state.csrf && document.visibilityState !== "hidden") {
      var wait = state.streamOpen && !state.failed ? SAFETY_POLL_MS : POLL_MS;
      state.pollTimer = window.setTimeout(poll, wait);
    }
  }

  /** The queue's query string: the filters and the page (never the page's own URL). Nothing
   *  at all for the first page unfiltered. */
  function queuePath() {
    var parts = [];
    FILTER_KEYS.forEach(function (key) {
      var value = state.filters[key];
      if (value) parts.push(key + "=" + encodeURIComponent(value));
    });
    if (state.page > 1) parts.push("page=" + state.page);
    return parts.length ? "queue?" + parts.join("&") : "queue";
  }

  function poll() {
    if (!state.csrf) return;
    if (state.polling) {
      state.pending = true; // once this one is back
      return;
    }
    stopPolling();
    state.polling = true;
    state.pending = false;
    var generation = state.generation;
    var path = queuePath();
    api("GET", path)
      .then(function (data) {
        if (generation !== state.generation) return;
        state.lastOk = new Date();
        state.failed = false;
        els.lastUpdate.textContent = "最后更新 " + clockTime(state.lastOk);
        els.liveDot.classList.remove("stale");
        setMessage(els.pollError, "");
        if (path !== queuePath()) {
          state.pending = true; // the filters changed meanwhile: this page is not asked for any more
          return;
        }
        render(data || {});
      })
      .catch(function (err) {
        if (generation !== state.generation) return;
        if (err.status === 401) {
          sessionLost();
          return;
        }
        state.failed = true;
        els.liveDot.classList.add("stale");
        setMessage(
          els.pollError,
          state.lastOk ? TEXT.pollFailedSince + clockTime(state.lastOk) + "）" : TEXT.pollFailed
        );
      })
      .then(function () {
        state.polling = false;
        if (generation !== state.generation) return;
        if (state.pending) poll();
        else schedule();
      });
  }

  function onVisibility() {
    if (!state.csrf) return;
    if (document.visibilityState === "hidden") {
      stopPolling();
      closeStream();
    } else {
      poll();
      openStream();
    }
  }

  // -- rendering ----------------------------------------------------------------------------
  function list(data, key) {
    var value = data[key];
    return Array.isArray(value) ? value : [];
  }

  /** Redraw one section only when its data changed since the last poll. */
  function section(name, items, draw) {
    var key = JSON.stringify(items);
    $("count-" + name).textContent = String(items.length);
    if (state.drawn[name] === key) return;
    state.drawn[name] = key;
    draw(items);
    show($(name + "-empty"), items.length === 0);
    var rows = $(name + "-rows");
    if (rows) show(rows.closest(".table-wrap"), items.length > 0); // no bare header row
  }

  function render(data) {
    var open = list(data, "open");
    var stats = data.stats || null;
    var red = 0;
    var yellow = 0;
    if (stats) {
      red = stats.red || 0;
      yellow = stats.yellow || 0;
    } else {
      open.forEach(function (t) {
        if (t.warning === "red") red += 1;
        else if (t.warning === "yellow") yellow += 1;
      });
    }
    var total = typeof data.open_total === "number" ? data.open_total : open.length;
    var waiting = list(data, "waiting_for_citizen");
    var manual = list(data, "manual_routing");
    var deliveries = list(data, "failed_deliveries");
    // RQ's failed jobs, and outbox jobs that stopped after their last attempt (poison, Q6)
    var jobs = list(data, "failed_jobs").concat(
      list(data, "stuck_jobs").map(function (j) {
        return { queue: "outbox · " + j.job + " · " + j.attempts + " 次", job_id: j.key, error: j.error };
      })
    );
    $("stat-red").textContent = String(red);
    $("stat-yellow").textContent = String(yellow);
    $("stat-open").textContent = String(stats && typeof stats.open === "number" ? stats.open : total);
    $("stat-waiting").textContent = String(waiting.length);
    $("stat-manual").textContent = String(manual.length);
    $("stat-deliveries").textContent = String(deliveries.length);
    $("stat-jobs").textContent = String(jobs.length);
    els.stats.classList.toggle("has-red", red > 0);
    document.title = (red ? "(" + red + ") " : "") + "12345 坐席工作台";

    if (Array.isArray(data.handoffs)) renderHandoffs(data.handoffs, data.now);
    else loadHandoffs(); // a server without them in the queue answer
    if (data.filters) fillFilters(data.filters);

    section("intake", list(data, "intake"), function (items) {
      fillRows($("intake-rows"), items, intakeRow);
    });
    section("open", open, function (items) {
      fillRows($("open-rows"), items, openRow);
    });
    $("count-open").textContent = String(total);
    $("open-empty").textContent = filtersActive() ? "没有符合条件的工单" : "暂无办理中的工单";
    renderPager(data, total);
    section("manual", manual, function (items) {
      fillRows($("manual-rows"), items, manualRow);
    });
    var duties = list(data, "reviews").concat(list(data, "supervised"));
    section("duties", duties, function (items) {
      fillRows($("duties-rows"), items, dutyRow);
    });
    loadCalls();
    if (!state.reportsLoaded) {
      state.reportsLoaded = true;
      loadReports();
    }
    section("waiting", waiting, function (items) {
      fillList($("waiting-list"), items, waitingItem);
    });
    section("deliveries", deliveries, function (items) {
      fillList($("deliveries-list"), items, deliveryItem);
    });
    section("jobs", jobs, function (items) {
      fillList($("jobs-list"), items, jobItem);
    });
    section("restrictions", list(data, "restrictions"), function (items) {
      fillList($("restrictions-list"), items, restrictionItem);
    });
  }

  function renderPager(data, total) {
    var pages = Math.max(1, parseInt(data.pages, 10) || 1);
    var page = Math.max(1, parseInt(data.page, 10) || state.page);
    state.pages = pages;
    if (state.page > pages) {
      state.page = pages; // the filters left fewer pages: show the last one
      state.pending = true;
    }
    els.pageInfo.textContent = "第 " + Math.min(page, pages) + " / " + pages + " 页";
    els.openTotal.textContent = "共 " + total + " 件";
    els.pagePrev.disabled = state.page <= 1;
    els.pageNext.disabled = state.page >= pages;
    show(els.openPager, pages > 1 || filtersActive());
  }

  // -- filters, search and pages ------------------------------------------------------------
  function filtersActive() {
    return FILTER_KEYS.some(function (key) {
      return !!state.filters[key];
    });
  }

  /** Options as {value, label}; the choice the agent made stays chosen. */
  function fillSelect(select, options) {
    var current = select.value;
    var frag = document.createDocumentFragment();
    var all = el("option", "", select.options.length ? select.options[0].textContent : "全部");
    all.value = "";
    frag.appendChild(all);
    var found = current === "";
    options.forEach(function (o) {
      var opt = el("option", "", o.label);
      opt.value = o.value;
      if (o.value === current) found = true;
      frag.appendChild(opt);
    });
    if (!found) {
      var kept = el("option", "", current);
      kept.value = current;
      frag.appendChild(kept);
    }
    select.replaceChildren(frag);
    select.value = current;
  }

  function asOptions(items, words) {
    return (Array.isArray(items) ? items : []).map(function (item) {
      if (item && typeof item === "object") {
        var value = String(item.value !== undefined ? item.value : item.key);
        // the page's own words first, so a filter reads as the rows do
        var label = (words && words[value]) || item.label || item.name || value;
        return { value: value, label: String(label) };
      }
      return { value: String(item), label: (words && words[item]) || String(item) };
    });
  }

  function fillFilters(filters) {
    var key = JSON.stringify(filters);
    if (state.drawn.filters === key) return;
    state.drawn.filters = key;
    fillSelect(els.fCategory, asOptions(filters.categories));
    fillSelect(els.fChannel, asOptions(filters.channels, CHANNEL_WORDS));
    fillSelect(els.fStatus, asOptions(filters.statuses, STATUS_WORDS));
    fillSelect(els.fUnit, asOptions(filters.units));
    var urgent = asOptions(filters.urgent_classes);
    fillSelect(els.fUrgent, urgent);
    show(els.fUrgentWrap, urgent.length > 0 || !!state.filters.urgent);
  }

  function readFilters() {
    state.filters.q = els.fQ.value.trim();
    state.filters.category = els.fCategory.value;
    state.filters.channel = els.fChannel.value;
    state.filters.status = els.fStatus.value;
    state.filters.warning = els.fWarning.value;
    state.filters.urgent = els.fUrgent.value;
    state.filters.unit = els.fUnit.value;
  }

  function applyFilters() {
    window.clearTimeout(state.searchTimer);
    readFilters();
    state.page = 1;
    state.drawn.open = null;
    show(els.fReset, filtersActive());
    els.openRows.classList.add("loading");
    refreshSoon();
  }

  function onSearchInput() {
    window.clearTimeout(state.searchTimer);
    state.searchTimer = window.setTimeout(applyFilters, SEARCH_DELAY_MS);
  }

  function onFiltersSubmit(event) {
    event.preventDefault(); // never a form submission: the search text stays out of the URL
    applyFilters();
  }

  function onFiltersReset() {
    els.fQ.value = "";
    [els.fCategory, els.fChannel, els.fStatus, els.fWarning, els.fUrgent, els.fUnit].forEach(function (s) {
      s.value = "";
    });
    applyFilters();
    els.fQ.focus();
  }

  function goPage(delta) {
    var page = Math.min(Math.max(1, state.page + delta), state.pages);
    if (page === state.page) return;
    state.page = page;
    state.drawn.open = null;
    els.openRows.classList.add("loading");
    refreshSoon();
  }

  /** Rows replaced; the row that had the keyboard focus keeps it (by ticket number), one row
   *  per table is reachable with Tab (roving tabindex), the open ticket stays marked. */
  function fillRows(tbody, items, makeRow) {
    var active = document.activeElement;
    var focused = active && active.parentNode === tbody ? active.dataset.number : null;
    var cursor = tbody.querySelector("tr[tabindex='0']");
    var cursorNumber = cursor ? cursor.dataset.number : null;
    var frag = document.createDocumentFragment();
    items.forEach(function (item) {
      var tr = makeRow(item);
      tr.tabIndex = -1;
      if (state.panel && tr.dataset.number === state.panel.number) tr.classList.add("is-open");
      frag.appendChild(tr);
    });
    tbody.replaceChildren(frag);
    tbody.classList.remove("loading");
    var keep = null;
    if (focused || cursorNumber) {
      keep = tbody.querySelector("tr[data-number='" + cssString(focused || cursorNumber) + "']");
    }
    keep = keep || tbody.querySelector("tr[data-number]");
    if (keep) keep.tabIndex = 0;
    if (focused && keep && keep.dataset.number === focused) keep.focus({ preventScroll: true });
  }

  /** A ticket number as a CSS attribute value (numbers are digits and a dash; anything else is
   *  escaped all the same). */
  function cssString(text) {
    if (window.CSS && typeof window.CSS.escape === "function") return window.CSS.escape(String(text));
    return String(text).replace(/["'\\\]\[]/g, "\\$&");
  }

  function fillList(ul, items, makeItem) {
    var frag = document.createDocumentFragment();
    items.forEach(function (item) {
      frag.appendChild(makeItem(item));
    });
    ul.replaceChildren(frag);
  }

  function cell(tr, cls, text) {
    var td = el("td", cls, text);
    tr.appendChild(td);
    return td;
  }

  /** The number on top; under it the time of registration and the tags (anonymous, cluster),
   *  so the column stays narrow. */
  function numberCell(tr, t) {
    var td = cell(tr, "c-number");
    td.appendChild(el("span", "mono", t.number || "（未编号）"));
    var sub = el("span", "sub");
    var at = t.registered_at || t.created_at;
    if (at) sub.appendChild(el("span", "", shortTime(at) + " 登记"));
    if (t.anonymous) sub.appendChild(el("span", "tag tag-anon", "匿名"));
    // near-duplicates from other citizens share a cluster named by the first ticket (issue 7)
    if (t.cluster && t.cluster !== t.number) sub.appendChild(el("span", "tag tag-cluster", "同案 " + t.cluster));
    if (t.cluster && t.cluster === t.number) sub.appendChild(el("span", "tag tag-cluster", "同案首单"));
    if (sub.childNodes.length) td.appendChild(sub);
    return td;
  }

  function statusCell(tr, t) {
    var td = cell(tr, "c-status");
    var pill = el("span", "status status-" + safeClass(t.status), STATUS_WORDS[t.status] || t.status || "");
    td.appendChild(pill);
    return td;
  }

  function categoryCell(tr, t) {
    var td = cell(tr, "c-category");
    td.appendChild(el("span", "cat", t.category || "未分类"));
    return td;
  }

  function deadlineCell(tr, t) {
    var td = cell(tr, "c-deadline");
    if (!t.deadline) {
      td.appendChild(el("span", "muted", "—"));
      return td;
    }
    td.appendChild(el("span", "mono", shortTime(t.deadline)));
    var tags = el("span", "sub");
    if (t.status === "registered") {
      var guess = el("span", "tag tag-provisional", "预计");
      guess.title = "尚未派发：派发后按承办单位的答复期限更新";
      tags.appendChild(guess);
    }
    if (t.deadline_provisional) {
      var tag = el("span", "tag tag-provisional", "临时");
      tag.title = "期限待承办单位确定后更新";
      tags.appendChild(tag);
    }
    if (t.overdue) tags.appendChild(el("span", "tag tag-overdue", "已超时"));
    if (tags.childNodes.length) td.appendChild(tags);
    td.title = String(t.deadline);
    return td;
  }

  function warningBadge(t) {
    var colour = t.warning === "red" || t.warning === "yellow" ? t.warning : "none";
    var badge = el("span", "warn warn-" + colour, WARNING_WORDS[colour] || "正常");
    return badge;
  }

  /** Subject · content in one clipped line (the whole text on hover); under it, the masked
   *  contact and the place, when ``withMeta``. */
  function summaryCell(tr, t, withMeta) {
    var parts = [];
    if (t.subject) parts.push(t.subject);
    if (t.content) parts.push(t.content);
    var text = parts.join(" · ");
    var td = cell(tr, "c-summary");
    var span = el("span", "summary", text || "—");
    var full = [];
    if (t.subject) full.push("涉及：" + t.subject);
    if (t.address) full.push("地址：" + t.address);
    if (t.content) full.push("情况：" + t.content);
    if (t.demand) full.push("诉求：" + t.demand);
    if (full.length) span.title = full.join("\n"); // an attribute value: never parsed as markup
    td.appendChild(span);
    if (withMeta) {
      var meta = el("span", "sub");
      meta.appendChild(el("span", "contact mono", contactText(t) || "未留联系方式"));
      if (t.address) meta.appendChild(el("span", "place", t.address));
      td.appendChild(meta);
    }
    return td;
  }

  function contactText(t) {
    if (t.anonymous) return "匿名";
    var c = t.contact || {};
    var parts = [];
    ["name", "phone", "id_number", "home_address"].forEach(function (k) {
      if (c[k]) parts.push(CONTACT_WORDS[k] + c[k]);
    });
    return parts.join(" ");
  }

  function safeClass(word) {
    return String(word || "none").replace(/[^a-z_-]/g, "");
  }

  function rowFor(t) {
    var tr = el("tr", "warn-row-" + safeClass(t.warning || "none"));
    if (t.number) {
      tr.dataset.number = t.number;
      tr.classList.add("row-link");
    }
    return tr;
  }

  function unitCell(tr, t) {
    var td = cell(tr, "c-unit", t.unit || "—");
    if (t.unit) td.title = t.unit;
    return td;
  }

  function intakeRow(t) {
    var tr = rowFor(t);
    numberCell(tr, t);
    categoryCell(tr, t);
    cell(tr, "c-channel", CHANNEL_WORDS[t.channel] || t.channel || "");
    statusCell(tr, t);
    summaryCell(tr, t, true);
    unitCell(tr, t);
    deadlineCell(tr, t);
    cell(tr, "c-warn").appendChild(warningBadge(t));
    return tr;
  }

  function openRow(t) {
    var tr = rowFor(t);
    cell(tr, "c-warn").appendChild(warningBadge(t));
    numberCell(tr, t);
    categoryCell(tr, t);
    statusCell(tr, t);
    unitCell(tr, t);
    deadlineCell(tr, t);
    summaryCell(tr, t);
    return tr;
  }

  function manualRow(t) {
    var tr = rowFor(t);
    numberCell(tr, t);
    categoryCell(tr, t);
    cell(tr, "c-channel", CHANNEL_WORDS[t.channel] || t.channel || "");
    unitCell(tr, t);
    deadlineCell(tr, t);
    summaryCell(tr, t);
    return tr;
  }

  // -- the hotline's duties (issue 21): reviews, 甄别, supervision --------------------------------
  var REVIEW_KINDS = { dissatisfied: "不满意待回访", objection: "承办单位申请甄别" };
  var REVIEW_BUTTONS = {
    dissatisfied: [["rehandle", "重新办理"], ["close", "办结并说明"]],
    objection: [["upheld", "甄别通过"], ["rejected", "不予通过"]],
  };

  function dutyRow(t) {
    var tr = rowFor(t);
    numberCell(tr, t);
    var s = t.supervision;
    cell(tr, "", t.review ? REVIEW_KINDS[t.review] || t.review : "督办中" + (s && s.extended ? "（已延期）" : ""));
    unitCell(tr, t);
    cell(tr, "", s && !t.review ? "督办 " + shortTime(s.due) : t.deadline ? shortTime(t.deadline) : "—");
    summaryCell(tr, t);
    return tr;
  }

  function drawDuty(t) {
    var open = OPEN_STATUSES.indexOf(t.status) >= 0;
    var s = t.supervision;
    var pending = !!(s && !s.answered_at);
    show(els.tpDutySec, open || !!t.review || !!s);
    show(els.tpSupervision, !!s);
    if (s) {
      els.tpSupervision.textContent =
        (s.by === "system" ? "系统督办" : "坐席督办") + "：" + (s.reason || "") + "；" +
        (s.answered_at ? "承办单位已于 " + shortTime(s.answered_at) + " 答复" : "限 " + shortTime(s.due) + " 前答复") +
        (s.extended ? "（已延期一次）" : "") +
        (s.answer ? "。承办单位答复：" + s.answer : "");
    }
    show(els.tpSuperviseForm, open);
    els.tpSupervise.disabled = pending;
    show(els.tpSuperviseExtend, pending && !s.extended);
    show(els.tpReviewForm, !!t.review);
    if (t.review) {
      els.tpReviewTitle.textContent = REVIEW_KINDS[t.review] || t.review;
      show(els.tpReviewCallback, t.review === "dissatisfied");
      var skips = Array.isArray(t.skip_cases) ? t.skip_cases : [];
      els.tpReviewSkip.replaceChildren(els.tpReviewSkip.options[0]);
      skips.forEach(function (c) {
        var option = el("option", "", c.label);
        option.value = c.code;
        els.tpReviewSkip.appendChild(option);
      });
      show(els.tpReviewSkip, skips.length > 0);
      var buttons = REVIEW_BUTTONS[t.review] || [];
      [els.tpReviewA, els.tpReviewB].forEach(function (b, i) {
        b.dataset.decision = buttons[i] ? buttons[i][0] : "";
        b.textContent = buttons[i] ? buttons[i][1] : "";
        b.disabled = false;
      });
    }
  }

  function dutyAction(path, body, button, done) {
    panelAction(path, body, button, els.tpDutyResult, els.tpDutyError, "操作没有成功，请稍后再试。", done);
  }

  function onSupervise(event) {
    event.preventDefault();
    var reason = els.tpSuperviseReason.value.trim();
    if (!reason) {
      setMessage(els.tpDutyError, "请填写督办原因。");
      els.tpSuperviseReason.focus();
      return;
    }
    dutyAction("supervise", { reason: reason }, els.tpSupervise, function (answer) {
      els.tpSuperviseReason.value = "";
      return "已督办，限 " + shortTime(answer.due) + " 前答复";
    });
  }

  function onSuperviseExtend() {
    var reason = els.tpSuperviseReason.value.trim() || "情况复杂，申请延期";
    dutyAction("supervision/extend", { reason: reason }, els.tpSuperviseExtend, function (answer) {
      return "督办已延期至 " + shortTime(answer.due);
    });
  }

  function onReviewDecision(event) {
    var button = event.currentTarget;
    var body = { decision: button.dataset.decision };
    var callback = els.tpReviewCallback.value.trim();
    var reason = els.tpReviewReason.value.trim();
    if (callback) body.callback = callback;
    if (reason) body.reason = reason;
    if (body.decision === "close" && els.tpReviewSkip.value) body.skip_case = els.tpReviewSkip.value;
    dutyAction("review", body, button, function (answer) {
      els.tpReviewCallback.value = "";
      els.tpReviewReason.value = "";
      return "已处理：" + (STATUS_WORDS[answer.status] || answer.status || "");
    });
  }

  // -- call-backs for what a phone request left out (guangzhou §12.1) ------------------------------
  var CALL_FIELD_WORDS = {
    demand: "诉求要求",
    subject: "涉及单位或对象",
    address: "事发地址",
    content: "诉求内容",
    name: "称呼",
    phone: "联系电话",
  };

  function loadCalls() {
    api("GET", "calls")
      .then(function (answer) {
        section("calls", (answer && answer.calls) || [], function (items) {
          fillList($("calls-list"), items, callItem);
        });
      })
      .catch(function (err) {
        if (err.status === 401) return sessionLost();
      });
  }

  function callItem(c) {
    var li = el("li", "item");
    li.dataset.id = String(c.id);
    itemHead(li, "来电 #" + c.id, el("span", "cat", c.category || ""));
    var meta = el("div", "item-meta");
    meta.appendChild(el("span", "", "已联系 " + c.calls + "/" + c.attempts + " 次"));
    if (c.next_call_at) meta.appendChild(el("span", "due", "下次可拨 " + shortTime(c.next_call_at)));
    li.appendChild(meta);
    if (c.summary) li.appendChild(el("div", "item-text", c.summary));
    li.appendChild(el("div", "item-meta waits-for", "待补充：" + c.missing.map(function (f) {
      return CALL_FIELD_WORDS[f] || f;
    }).join("、")));
    var form = el("form", "call-form");
    form.noValidate = true;
    c.missing.forEach(function (f) {
      var input = el("input", "");
      input.type = "text";
      input.name = f;
      input.maxLength = 2000;
      input.placeholder = CALL_FIELD_WORDS[f] || f;
      input.setAttribute("aria-label", CALL_FIELD_WORDS[f] || f);
      form.appendChild(input);
    });
    [["supplied", "已补充", "btn-primary"], ["no_answer", "未接听", ""], ["refused", "拒绝补充", "btn-ghost"]].forEach(
      function (b) {
        var button = el("button", "btn btn-small " + b[2], b[1]);
        button.type = b[0] === "supplied" ? "submit" : "button";
        button.dataset.outcome = b[0];
        form.appendChild(button);
      }
    );
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      onCallOutcome(c, form, "supplied");
    });
    form.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-outcome]");
      if (button && button.dataset.outcome !== "supplied") onCallOutcome(c, form, button.dataset.outcome);
    });
    li.appendChild(form);
    return li;
  }

  function onCallOutcome(c, form, outcome) {
    var body = { outcome: outcome };
    if (outcome === "supplied") {
      form.querySelectorAll("input").forEach(function (input) {
        if (input.value.trim()) body[input.name] = input.value.trim();
      });
    }
    setMessage($("calls-error"), "");
    api("POST", "calls/" + c.id + "/attempt", body)
      .then(function (answer) {
        state.drawn.calls = null; // redraw even if the list looks the same
        if (answer && answer.number) setMessage(els.phoneOk, "已补充并登记，工单号 " + answer.number);
        refreshSoon();
      })
      .catch(function (err) {
        if (err.status === 401) return sessionLost();
        setMessage($("calls-error"), err.status === 0 ? TEXT.network : zhMessage(err.message) || "没有记录成功，请稍后再试。");
      });
  }

  // -- reports: indicators and the server-drawn chart ---------------------------------------------
  function percent(rate) {
    return typeof rate === "number" ? (rate * 100).toFixed(1) + "%" : "—";
  }

  function loadReports(event) {
    if (event) event.preventDefault();
    var query = [];
    if (els.rFrom.value) query.push("from=" + encodeURIComponent(els.rFrom.value));
    if (els.rTo.value) query.push("to=" + encodeURIComponent(els.rTo.value));
    var qs = query.length ? "?" + query.join("&") : "";
    setMessage(els.reportsError, "");
    api("GET", "reports" + qs)
      .then(function (r) {
        els.rFrom.value = r.from;
        els.rTo.value = r.to;
        els.reportsSummary.textContent = "";
        [
          ["受理", r.received],
          ["登记", r.registered],
          ["按时派发率", percent(r.dispatch_on_time_rate)],
          ["按时办结率", percent(r.on_time_rate)],
          ["延期率", percent(r.extension_rate)],
          ["重办率", percent(r.rehandling_rate)],
          ["满意率", percent(r.satisfaction_rate)],
          ["督办", r.supervised],
          ["甄别（通过）", r.objections + "（" + r.objections_upheld + "）"],
        ].forEach(function (pair) {
          var div = el("div", "report-item");
          div.appendChild(el("dt", "", pair[0]));
          div.appendChild(el("dd", "", String(pair[1])));
          els.reportsSummary.appendChild(div);
        });
        els.reportsUnits.textContent = "";
        Object.keys(r.by_unit || {}).forEach(function (unit) {
          var u = r.by_unit[unit];
          var tr = el("tr", "");
          [unit, String(u.received), percent(u.on_time_rate), percent(u.extension_rate), percent(u.rehandling_rate),
            percent(u.satisfaction_rate)].forEach(function (text) {
            tr.appendChild(el("td", "", text));
          });
          els.reportsUnits.appendChild(tr);
        });
        els.reportsChart.src = API + "reports/daily.svg?from=" + encodeURIComponent(r.from) + "&to=" + encodeURIComponent(r.to);
        show(els.reportsChart, true);
      })
      .catch(function (err) {
        if (err.status === 401) return sessionLost();
        setMessage(els.reportsError, err.status === 0 ? TEXT.network : zhMessage(err.message) || "报表没有载入，请稍后再试。");
      });
  }

  function itemHead(li, title, aside) {
    var head = el("div", "item-head");
    head.appendChild(el("span", "item-title", title));
    if (aside) head.appendChild(aside);
    li.appendChild(head);
    return head;
  }

  function waitingItem(w) {
    var li = el("li", "item");
    itemHead(li, "草稿 #" + w.id, el("span", "cat", w.category || "未分类"));
    var meta = el("div", "item-meta");
    meta.appendChild(el("span", "", CHANNEL_WORDS[w.channel] || w.channel || ""));
    meta.appendChild(el("span", "", "自 " + shortTime(w.since)));
    if (w.due) meta.appendChild(el("span", "due", "补充截止 " + shortTime(w.due)));
    else meta.appendChild(el("span", "muted", "对话进行中"));
    li.appendChild(meta);
    if (Array.isArray(w.waits_for) && w.waits_for.length) {
      li.appendChild(el("div", "item-meta waits-for", "待补充：" + w.waits_for.join("、")));
    }
    return li;
  }

  function deliveryItem(d) {
    var li = el("li", "item item-alert");
    li.dataset.id = String(d.id);
    itemHead(
      li,
      (CHANNEL_WORDS[d.channel] || d.channel || "") + " · " + (DELIVERY_KINDS[d.kind] || d.kind || "消息"),
      el("span", "tag tag-" + safeClass(d.state), DELIVERY_STATES[d.state] || d.state || "")
    );
    var meta = el("div", "item-meta");
    meta.appendChild(el("span", "", "投递 #" + d.id));
    if (d.number) {
      var link = el("button", "link mono", d.number);
      link.type = "button";
      link.title = "打开工单 " + d.number;
      link.addEventListener("click", function () {
        openTicket(d.number, link);
      });
      meta.appendChild(link);
    } else if (d.ticket_id) {
      meta.appendChild(el("span", "", "工单内部号 " + d.ticket_id));
    }
    meta.appendChild(el("span", "attempts", "已尝试 " + (d.attempts || 0) + " 次"));
    li.appendChild(meta);
    if (d.error) li.appendChild(el("div", "item-error", d.error));
    li.appendChild(retryRow(d));
    return li;
  }

  /** 重试 and its answer, for a failed or uncertain message (any agent may). */
  function retryRow(d) {
    var row = el("div", "item-actions");
    var button = el("button", "btn btn-small btn-ghost retry-btn", "重试");
    button.type = "button";
    button.setAttribute("aria-label", "重试 投递 #" + d.id);
    var note = el("span", "action-note");
    note.setAttribute("role", "status");
    button.addEventListener("click", function () {
      retryDelivery(d.id, button, note);
    });
    row.appendChild(button);
    row.appendChild(note);
    return row;
  }

  function retryDelivery(id, button, note) {
    button.disabled = true;
    note.className = "action-note";
    note.textContent = "正在重新发送…";
    api("POST", "outbox/" + encodeURIComponent(id) + "/retry", {})
      .then(function () {
        note.classList.add("ok");
        note.textContent = "已重新发送";
        state.drawn.deliveries = null;
        refreshSoon();
        refreshPanel();
      })
      .catch(function (err) {
        if (err.status === 401) return sessionLost();
        button.disabled = false;
        note.classList.add("bad");
        if (err.status === 404) {
          note.textContent = TEXT.retryGone;
          state.drawn.deliveries = null;
          refreshSoon();
          refreshPanel();
        } else {
          note.textContent = err.status === 0 ? TEXT.network : zhMessage(err.message) || TEXT.retryFailed;
        }
      });
  }

  function jobItem(j) {
    var li = el("li", "item item-alert");
    itemHead(li, j.queue || "", null);
    li.appendChild(el("div", "item-meta mono", j.job_id || ""));
    if (j.error) li.appendChild(el("div", "item-error", j.error)); // when the backend sends it
    return li;
  }

  function restrictionItem(r) {
    var li = el("li", "item");
    var button = el("button", "btn btn-small btn-danger-ghost", "解除");
    button.type = "button";
    button.dataset.rid = String(r.id);
    if (state.confirmLift === String(r.id)) {
      button.textContent = "确认解除";
      button.classList.add("confirming");
    }
    button.addEventListener("click", function () {
      onLift(button, String(r.id));
    });
    itemHead(li, (CHANNEL_WORDS[r.channel] || r.channel || "") + " · 限制 #" + r.id, button);
    var meta = el("div", "item-meta");
    meta.appendChild(el("span", "", shortTime(r.since) + " 至 " + shortTime(r.until)));
    li.appendChild(meta);
    if (r.reason) li.appendChild(el("div", "item-note", r.reason));
    return li;
  }

  // -- conversations waiting for a person ---------------------------------------------------
  function loadHandoffs() {
    var generation = state.generation;
    api("GET", "handoffs")
      .then(function (data) {
        if (generation === state.generation) renderHandoffs(list(data || {}, "handoffs"), null);
      })
      .catch(function () {
        return null; // the queue's own refresh reports trouble
      });
  }

  function waitingWords(seconds) {
    var minutes = Math.floor(Math.max(0, seconds) / 60);
    if (minutes < 1) return "等待不到 1 分钟";
    if (minutes < 60) return "等待 " + minutes + " 分钟";
    var hours = Math.floor(minutes / 60);
    return "等待 " + hours + " 小时" + (minutes % 60 ? " " + (minutes % 60) + " 分钟" : "");
  }

  /** The waiting times, counted on from the last answer of the server. */
  function tickHandoffs() {
    var passed = (Date.now() - state.handoffsAt) / 1000;
    Array.prototype.forEach.call(els.handoffList.children, function (li) {
      var seconds = parseFloat(li.dataset.waiting || "0") + passed;
      var wait = li.querySelector(".handoff-wait");
      wait.textContent = waitingWords(seconds);
      wait.classList.toggle("long", seconds >= 180 && seconds < 600);
      wait.classList.toggle("very-long", seconds >= 600);
    });
  }

  /** Updated in place: a half-typed answer, and the note that one was sent, survive refreshes. */
  function renderHandoffs(items, now) {
    state.handoffsAt = Date.now();
    var ul = els.handoffList;
    var existing = {};
    Array.prototype.forEach.call(ul.children, function (li) {
      existing[li.dataset.id] = li;
    });
    var serverNow = now ? Date.parse(now) : NaN;
    items.forEach(function (h, i) {
      var id = String(h.id);
      var li = existing[id] || handoffItem(h);
      delete existing[id];
      var waiting = typeof h.waiting_seconds === "number" ? h.waiting_seconds : NaN;
      if (isNaN(waiting)) waiting = ((isNaN(serverNow) ? Date.now() : serverNow) - Date.parse(h.since)) / 1000;
      li.dataset.waiting = String(isNaN(waiting) ? 0 : waiting);
      li.querySelector(".handoff-text").textContent = h.text || "";
      if (ul.children[i] !== li) ul.insertBefore(li, ul.children[i] || null);
    });
    Object.keys(existing).forEach(function (id) {
      ul.removeChild(existing[id]);
    });
    $("count-handoffs").textContent = String(items.length);
    show(els.handoffsEmpty, items.length === 0);
    els.handoffsSection.classList.toggle("has-items", items.length > 0);
    tickHandoffs();
  }

  function handoffItem(h) {
    var id = String(h.id);
    var li = el("li", "handoff");
    li.dataset.id = id;
    var head = el("div", "item-head");
    head.appendChild(el("span", "item-title", (CHANNEL_WORDS[h.channel] || h.channel || "") + " · 会话 #" + id));
    head.appendChild(el("span", "handoff-wait"));
    li.appendChild(head);
    var said = el("p", "handoff-said");
    said.appendChild(el("span", "handoff-who", "市民："));
    said.appendChild(el("span", "handoff-text"));
    li.appendChild(said);
    var sent = el("ol", "handoff-sent");
    sent.hidden = true;
    li.appendChild(sent);

    var form = el("form", "handoff-form");
    form.noValidate = true;
    form.autocomplete = "off";
    var box = el("textarea", "handoff-reply");
    box.rows = 2;
    box.maxLength = 2000;
    box.placeholder = "输入回复，Ctrl+Enter 发送";
    box.setAttribute("aria-label", "回复市民（会话 #" + id + "）");
    form.appendChild(box);
    var actions = el("div", "handoff-actions");
    var send = el("button", "btn btn-small btn-primary handoff-send", "发送");
    send.type = "submit";
    var release = el("button", "btn btn-small btn-ghost handoff-release", "交还机器人");
    release.type = "button";
    release.title = "结束人工服务，由机器人继续接待";
    var note = el("span", "action-note handoff-status");
    note.setAttribute("role", "status");
    actions.appendChild(send);
    actions.appendChild(release);
    actions.appendChild(note);
    form.appendChild(actions);
    li.appendChild(form);

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      sendReply(li, box, send, note, sent);
    });
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    release.addEventListener("click", function () {
      releaseHandoff(li, release, note);
    });
    return li;
  }

  function newClientId() {
    var bytes = new Uint8Array(9);
    window.crypto.getRandomValues(bytes);
    return "c-" + Date.now().toString(36) + "-" + Array.prototype.map.call(bytes, function (b) {
      return (b < 16 ? "0" : "") + b.toString(16);
    }).join("");
  }

  function sendReply(li, box, button, note, sent) {
    var text = box.value.trim();
    note.className = "action-note handoff-status";
    if (!text) {
      note.classList.add("bad");
      note.textContent = TEXT.replyEmpty;
      box.focus();
      return;
    }
    if (button.disabled) return;
    // one id per answer: sent again (a double click, a retry after a lost answer) it is sent once
    if (!li.dataset.clientId || li.dataset.clientText !== text) {
      li.dataset.clientId = newClientId();
      li.dataset.clientText = text;
    }
    button.disabled = true;
    note.textContent = "正在发送…";
    api("POST", "handoffs/" + encodeURIComponent(li.dataset.id) + "/reply", {
      text: text,
      client_id: li.dataset.clientId,
    })
      .then(function () {
        delete li.dataset.clientId;
        delete li.dataset.clientText;
        if (box.value.trim() === text) box.value = "";
        var at = clockTime(new Date());
        var item = el("li", "");
        item.appendChild(el("span", "handoff-who", "坐席 " + at + "："));
        item.appendChild(el("span", "", text));
        sent.appendChild(item);
        sent.hidden = false;
        note.classList.add("ok");
        note.textContent = "已发送 " + at;
      })
      .catch(function (err) {
        if (err.status === 401) return sessionLost();
        note.classList.add("bad");
        if (err.status === 404) {
          note.textContent = TEXT.handoffGone;
          refreshSoon();
        } else {
          note.textContent = err.status === 0 ? TEXT.network : zhMessage(err.message) || TEXT.replyFailed;
        }
      })
      .then(function () {
        button.disabled = false;
      });
  }

  function releaseHandoff(li, button, note) {
    button.disabled = true;
    note.className = "action-note handoff-status";
    note.textContent = "正在交还…";
    api("POST", "handoffs/" + encodeURIComponent(li.dataset.id) + "/release", {})
      .then(function () {
        if (li.parentNode) li.parentNode.removeChild(li);
        var left = els.handoffList.children.length;
        $("count-handoffs").textContent = String(left);
        show(els.handoffsEmpty, left === 0);
        refreshSoon();
      })
      .catch(function (err) {
        if (err.status === 401) return sessionLost();
        button.disabled = false;
        note.classList.add("bad");
        if (err.status === 404) {
          note.textContent = TEXT.handoffGone;
          refreshSoon();
        } else {
          note.textContent = err.status === 0 ? TEXT.network : zhMessage(err.message) || TEXT.releaseFailed;
        }
      });
  }

  // -- one ticket: the panel ------------------------------------------------------------------
  function markOpenRows(number) {
    Array.prototype.forEach.call(document.querySelectorAll(".main-col tr.is-open"), function (tr) {
      tr.classList.remove("is-open");
    });
    if (!number) return;
    Array.prototype.forEach.call(
      document.querySelectorAll(".main-col tr[data-number='" + cssString(number) + "']"),
      function (tr) {
        tr.classList.add("is-open");
      }
    );
  }

  function openTicket(number, from) {
    if (!number) return;
    var same = state.panel && state.panel.number === number;
    var returnTo = from || document.activeElement;
    if (same) {
      state.panel.returnTo = returnTo;
      state.panel.returnList = returnTo && returnTo.parentNode ? returnTo.parentNode.id : null;
      els.tpTitle.focus();
      refreshPanel();
      return;
    }
    clearPanel();
    state.panel = { number: number, seq: 0, drawn: {}, revealed: {}, returnTo: returnTo, routedTo: null };
    state.panel.returnList = returnTo && returnTo.parentNode ? returnTo.parentNode.id : null;
    els.tpTitle.textContent = "工单 " + number;
    els.tpStatus.hidden = true;
    els.tpWarning.hidden = true;
    show(els.tpBody, false);
    show(els.tpLoading, true);
    setMessage(els.tpError, "");
    show(els.panel, true);
    document.body.classList.add("panel-open");
    markOpenRows(number);
    els.tpTitle.focus();
    loadPanel(true);
  }

  function refreshPanel() {
    if (state.panel && !els.panel.hidden) loadPanel(false);
  }

  function loadPanel(first) {
    var panel = state.panel;
    state.panelSeq += 1;
    var seq = state.panelSeq;
    panel.seq = seq;
    var generation = state.generation;
    api("GET", "tickets/" + encodeURIComponent(panel.number))
      .then(function (t) {
        if (generation !== state.generation || state.panel !== panel || panel.seq !== seq) return;
        show(els.tpLoading, false);
        setMessage(els.tpError, "");
        renderTicket(t || {});
      })
      .catch(function (err) {
        if (generation !== state.generation || state.panel !== panel || panel.seq !== seq) return;
        if (err.status === 401) return sessionLost();
        show(els.tpLoading, false);
        if (!first && err.status !== 404) return; // keep what is shown; the next change tries again
        show(els.tpBody, false);
        var text = err.status === 404 ? TEXT.ticketMissing : err.status === 0 ? TEXT.network : TEXT.ticketFailed;
        setMessage(els.tpError, text);
      });
  }

  /** Empties the panel, revealed values included: nothing personal stays in the page. */
  function clearPanel() {
    [
      els.tpFacts,
      els.tpMatter,
      els.tpContact,
      els.tpConversation,
      els.tpEvents,
      els.tpDeadlines,
      els.tpCluster,
      els.tpDeliveries,
      els.tpRouteUnit,
    ].forEach(function (node) {
      node.replaceChildren();
    });
    els.tpReason.textContent = "";
    setMessage(els.tpRouteResult, "");
    setMessage(els.tpRouteError, "");
    setMessage(els.tpMoreResult, "");
    setMessage(els.tpMoreError, "");
    els.tpMergeInto.value = "";
  }

  function closePanel(silent) {
    if (!state.panel) {
      if (els.panel) show(els.panel, false);
      return;
    }
    var back = state.panel.returnTo;
    var backList = state.panel.returnList;
    state.panel = null;
    clearPanel();
    show(els.panel, false);
    document.body.classList.remove("panel-open");
    markOpenRows(null);
    if (silent) return;
    // back to where the agent was: the same ticket's row if it is still listed
    if (back && back.dataset && back.dataset.number && !document.body.contains(back)) {
      var again = "tr[data-number='" + cssString(back.dataset.number) + "']";
      back = (backList && $(backList) && $(backList).querySelector(again)) || document.querySelector(".main-col " + again);
    }
    if (back && document.body.contains(back) && typeof back.focus === "function") back.focus();
  }

  /** Redraw a part of the panel only when its data changed (an open form is left alone). */
  function part(name, value, draw) {
    var key = JSON.stringify(value === undefined ? null : value);
    if (state.panel.drawn[name] === key) return;
    state.panel.drawn[name] = key;
    draw(value);
  }

  function renderTicket(t) {
    var p = state.panel;
    p.ticket = t;
    show(els.tpBody, true);
    els.tpTitle.textContent = t.number || p.number;
    els.tpStatus.className = "status status-" + safeClass(t.status);
    els.tpStatus.textContent = STATUS_WORDS[t.status] || t.status || "";
    els.tpStatus.hidden = !t.status;
    var badge = warningBadge(t);
    els.tpWarning.className = badge.className;
    els.tpWarning.textContent = badge.textContent;
    els.tpWarning.hidden = false;

    part("facts", [t.category, t.channel, t.unit, t.helper_units, t.deadline, t.deadline_provisional, t.overdue,
      t.warning, t.status, t.registered_at, t.created_at, t.urgent_class, t.extensions, t.rehandling_round,
      t.cluster, t.anonymous, t.evaluation], function () {
      drawFacts(t);
    });
    part("route", [t.can_route, t.units, t.return_review], function () {
      drawRoute(t);
    });
    part("more", [t.status, t.complex, t.can_mark_complex], function () {
      drawMore(t);
    });
    part("duty", [t.status, t.supervision, t.review, t.skip_cases], function () {
      drawDuty(t);
    });
    if (p.routedTo && t.status && t.status !== "registered") {
      setMessage(els.tpRouteResult, "已派发至 " + (t.unit || p.routedTo));
    }
    part("matter", [t.subject, t.address, t.content, t.demand, t.supplements], function () {
      drawMatter(t);
    });
    part("contact", [t.contact, t.revealable, t.anonymous], function () {
      drawContact(t);
    });
    part("reason", t.reason, function (reason) {
      els.tpReason.textContent = reason || "";
      show(els.tpReasonSec, !!reason);
    });
    part("deliveries", t.deliveries, function (items) {
      fillList(els.tpDeliveries, Array.isArray(items) ? items : [], deliveryItem);
      show(els.tpDeliveriesSec, Array.isArray(items) && items.length > 0);
    });
    part("conversation", t.conversation, function (items) {
      items = Array.isArray(items) ? items : [];
      fillList(els.tpConversation, items, messageItem);
      show(els.tpConversationEmpty, items.length === 0);
    });
    part("events", t.events, function (items) {
      fillList(els.tpEvents, Array.isArray(items) ? items : [], eventItem);
    });
    part("deadlines", t.deadline_history, function (items) {
      items = Array.isArray(items) ? items : [];
      fillList(els.tpDeadlines, items, deadlineItem);
      show(els.tpDeadlinesSec, items.length > 0);
    });
    part("cluster", [t.cluster_members, t.number], function () {
      var items = Array.isArray(t.cluster_members) ? t.cluster_members : [];
      fillList(els.tpCluster, items, function (m) {
        return clusterItem(m, t.number);
      });
      show(els.tpClusterSec, items.length > 0);
    });
  }

  function fact(dl, label, value, id) {
    var wrap = el("div", "fact");
    wrap.appendChild(el("dt", "", label));
    var dd = el("dd", "");
    if (id) dd.id = id;
    if (value && value.nodeType) dd.appendChild(value);
    else dd.textContent = value === undefined || value === null || value === "" ? "—" : String(value);
    wrap.appendChild(dd);
    dl.appendChild(wrap);
    return dd;
  }

  function drawFacts(t) {
    var dl = els.tpFacts;
    dl.replaceChildren();
    fact(dl, "类别", t.category || "未分类", "tp-category");
    fact(dl, "渠道", CHANNEL_WORDS[t.channel] || t.channel, "tp-channel");
    fact(dl, "承办单位", t.unit, "tp-unit");
    if (t.helper_units && t.helper_units.length) fact(dl, "协办单位", t.helper_units.join("、"), "tp-helpers");
    var deadline = el("span", "");
    if (t.deadline) {
      deadline.appendChild(el("span", "mono", shortTime(t.deadline)));
      deadline.appendChild(warningBadge(t));
      if (t.status === "registered") deadline.appendChild(el("span", "tag tag-provisional", "预计"));
      if (t.deadline_provisional) deadline.appendChild(el("span", "tag tag-provisional", "临时"));
      if (t.overdue) deadline.appendChild(el("span", "tag tag-overdue", "已超时"));
    } else {
      deadline.textContent = "—";
    }
    fact(dl, "答复期限", deadline, "tp-deadline").classList.add("dd-deadline");
    fact(dl, "登记时间", shortTime(t.registered_at || t.created_at));
    if (t.urgent_class) fact(dl, "紧急类别", t.urgent_class, "tp-urgent");
    if (t.extensions) fact(dl, "延期", t.extensions + " 次");
    if (t.rehandling_round) fact(dl, "重新办理", "第 " + t.rehandling_round + " 轮");
    if (t.cluster) fact(dl, "同案", t.cluster === t.number ? "本单为首单" : t.cluster);
    if (t.evaluation && t.evaluation.level) {
      fact(dl, "评价", t.evaluation.level + (t.evaluation.round ? "（第 " + t.evaluation.round + " 轮）" : ""));
    }
  }

  function drawMatter(t) {
    var dl = els.tpMatter;
    dl.replaceChildren();
    fact(dl, "涉及对象", t.subject).classList.add("text");
    fact(dl, "地点", t.address).classList.add("text");
    fact(dl, "情况", t.content).classList.add("text");
    fact(dl, "诉求", t.demand).classList.add("text");
    (Array.isArray(t.supplements) ? t.supplements : []).forEach(function (s) {
      fact(dl, "补充 " + shortTime(s.at), s.text).classList.add("text");
    });
  }

  function drawRoute(t) {
    var units = Array.isArray(t.units) ? t.units : [];
    show(els.tpRouteSec, !!t.can_route);
    var current = els.tpRouteUnit.value;
    var frag = document.createDocumentFragment();
    var none = el("option", "", "请选择承办单位");
    none.value = "";
    frag.appendChild(none);
    units.forEach(function (unit) {
      var opt = el("option", "", unit);
      opt.value = unit;
      frag.appendChild(opt);
    });
    els.tpRouteUnit.replaceChildren(frag);
    var review = t.can_route ? t.return_review : null;
    if (current && units.indexOf(current) >= 0) els.tpRouteUnit.value = current;
    else if (review && review.suggested_unit) els.tpRouteUnit.value = review.suggested_unit;
    // guangzhou §17: a unit's return is reviewed; approved, the agent routes it on (the rules'
    // suggestion preselected); refused, it goes back to that unit, its clock running on.
    show(els.tpReturnReview, !!review);
    els.tpReturnText.textContent = review
      ? review.returned_by + " 申请退回" + (review.reason ? "，理由：" + review.reason : "") + "。认可则改派其他单位（时限重新计算）。"
      : "";
    els.tpRouteSubmit.textContent = review ? "认可退回，改派" : "派单";
    els.tpRouteSubmit.disabled = false;
    els.tpReturnRefuse.disabled = false;
  }

  function onReturnRefuse() {
    var p = state.panel;
    var t = p && p.ticket;
    var review = t && t.return_review;
    if (!review) return;
    els.tpRouteUnit.value = review.returned_by;
    onRouteSubmit({ preventDefault: function () {} });
  }

  // Where the profile gives complex matters longer (shaoyang §14.3, quxian §11.3) a ticket may be
  // declared complex; a repeat the rules missed may be merged into the cluster of its matter.
  var OPEN_STATUSES = ["registered", "dispatched", "signed", "extended", "rehandling"];

  function drawMore(t) {
    var open = OPEN_STATUSES.indexOf(t.status) >= 0;
    show(els.tpMoreSec, open);
    show(els.tpComplex, !!t.can_mark_complex);
    show(els.tpComplexNote, !!t.complex);
    els.tpComplex.disabled = false;
    els.tpMergeSubmit.disabled = false;
  }

  function moreAction(path, body, button, done) {
    var failed = path === "complex" ? TEXT.complexFailed : TEXT.mergeFailed;
    panelAction(path, body, button, els.tpMoreResult, els.tpMoreError, failed, done);
  }

  // One action on the open ticket: the button held while it runs, its answer or error shown.
  function panelAction(path, body, button, okNode, errorNode, failed, done) {
    var p = state.panel;
    if (!p) return;
    setMessage(errorNode, "");
    setMessage(okNode, "");
    button.disabled = true;
    api("POST", "tickets/" + encodeURIComponent(p.number) + "/" + path, body)
      .then(function (answer) {
        if (state.panel !== p) return;
        button.disabled = false;
        setMessage(okNode, done(answer || {}));
        refreshSoon();
        refreshPanel();
      })
      .catch(function (err) {
        if (err.status === 401) return sessionLost();
        if (state.panel !== p) return;
        button.disabled = false;
        setMessage(errorNode, err.status === 0 ? TEXT.network : zhMessage(err.message) || failed);
      });
  }

  function onComplex() {
    moreAction("complex", {}, els.tpComplex, function (answer) {
      return "已认定为复杂事项，答复期限 " + (answer.deadline ? shortTime(answer.deadline) : "未变");
    });
  }

  function onMergeSubmit(event) {
    event.preventDefault();
    var into = els.tpMergeInto.value.trim();
    if (!/^[0-9]{8}-[0-9]{6,9}$/.test(into)) {
      setMessage(els.tpMoreError, TEXT.mergeNumber);
      els.tpMergeInto.focus();
      return;
    }
    moreAction("merge", { into: into }, els.tpMergeSubmit, function (answer) {
      els.tpMergeInto.value = "";
      return "已并入同案 " + (answer.cluster || into);
    });
  }

  function onRouteSubmit(event) {
    event.preventDefault();
    var p = state.panel;
    if (!p) return;
    var unit = els.tpRouteUnit.value;
    setMessage(els.tpRouteError, "");
    setMessage(els.tpRouteResult, "");
    if (!unit) {
      setMessage(els.tpRouteError, TEXT.routeChoose);
      els.tpRouteUnit.focus();
      return;
    }
    els.tpRouteSubmit.disabled = true;
    api("POST", "tickets/" + encodeURIComponent(p.number) + "/route", { unit: unit })
      .then(function (answer) {
        if (state.panel !== p) return;
        p.routedTo = (answer && answer.unit) || unit;
        setMessage(els.tpRouteResult, "已派单至 " + p.routedTo + "，正在派发…");
        state.drawn.manual = null;
        refreshSoon();
        refreshPanel();
      })
      .catch(function (err) {
        if (err.status === 401) return sessionLost();
        if (state.panel !== p) return;
        els.tpRouteSubmit.disabled = false;
        if (err.status === 409) {
          setMessage(els.tpRouteError, TEXT.routeStale);
          refreshPanel();
        } else {
          setMessage(els.tpRouteError, err.status === 0 ? TEXT.network : zhMessage(err.message) || TEXT.routeFailed);
        }
      });
  }

  function drawContact(t) {
    var box = els.tpContact;
    box.replaceChildren();
    if (t.anonymous) {
      box.appendChild(el("p", "muted", "市民要求匿名，联系方式不予显示。"));
    }
    var contact = t.contact || {};
    var revealable = Array.isArray(t.revealable) ? t.revealable : [];
    var shown = 0;
    CONTACT_FIELDS.forEach(function (field) {
      var revealed = state.panel.revealed[field];
      var masked = contact[field];
      if (!masked && revealed === undefined && revealable.indexOf(field) < 0) return;
      shown += 1;
      box.appendChild(contactRow(field, masked, revealed, revealable.indexOf(field) >= 0));
    });
    if (!shown && !t.anonymous) box.appendChild(el("p", "muted", "未留联系方式"));
  }

  function contactRow(field, masked, revealed, canReveal) {
    var row = el("div", "contact-row");
    row.dataset.field = field;
    row.appendChild(el("span", "contact-label", FIELD_WORDS[field] || field));
    var value = el("span", "contact-value mono", revealed !== undefined ? revealed : masked || "（已隐去）");
    row.appendChild(value);
    if (revealed !== undefined) {
      row.classList.add("revealed");
      row.appendChild(el("span", "tag tag-revealed", "已查看 · 已记录"));
      return row;
    }
    if (!canReveal) return row;
    var button = el("button", "btn btn-small btn-ghost reveal-btn", "查看");
    button.type = "button";
    button.setAttribute("aria-label", "查看完整" + (FIELD_WORDS[field] || field));
    row.appendChild(button);

    var form = el("form", "reveal-form");
    form.noValidate = true;
    form.autocomplete = "off";
    form.hidden = true;
    var reason = el("input", "reveal-reason");
    reason.type = "text";
    reason.maxLength = 200;
    reason.placeholder = "查看原因（记入审计日志）";
    reason.setAttribute("aria-label", "查看原因");
    var ok = el("button", "btn btn-small btn-primary reveal-submit", "确认查看");
    ok.type = "submit";
    var cancel = el("button", "btn btn-small btn-ghost reveal-cancel", "取消");
    cancel.type = "button";
    var error = el("p", "form-error reveal-error");
    error.setAttribute("role", "alert");
    error.hidden = true;
    form.appendChild(reason);
    form.appendChild(ok);
    form.appendChild(cancel);
    form.appendChild(error);
    row.appendChild(form);

    button.addEventListener("click", function () {
      form.hidden = false;
      button.hidden = true;
      reason.focus();
    });
    cancel.addEventListener("click", function () {
      closeReveal(form);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      reveal(field, reason, ok, error);
    });
    return row;
  }

  function closeReveal(form) {
    var row = form.closest(".contact-row");
    form.hidden = true;
    form.querySelector(".reveal-reason").value = "";
    setMessage(form.querySelector(".reveal-error"), "");
    var button = row.querySelector(".reveal-btn");
    button.hidden = false;
    button.focus();
  }

  function reveal(field, reasonInput, button, error) {
    var p = state.panel;
    var reason = reasonInput.value.trim();
    setMessage(error, "");
    if (reason.length < 4) {
      setMessage(error, TEXT.revealReason);
      reasonInput.focus();
      return;
    }
    button.disabled = true;
    api("POST", "tickets/" + encodeURIComponent(p.number) + "/reveal", { field: field, reason: reason })
      .then(function (answer) {
        if (state.panel !== p) return;
        p.revealed[field] = answer && answer.value !== undefined && answer.value !== null ? String(answer.value) : "";
        p.drawn.contact = null;
        refreshPanel();
        var row = els.tpContact.querySelector(".contact-row[data-field='" + cssString(field) + "']");
        if (row) {
          // drawn at once from what is known; the refresh redraws it the same way
          var value = row.querySelector(".contact-value");
          value.textContent = p.revealed[field];
          row.classList.add("revealed");
          var form = row.querySelector(".reveal-form");
          if (form) row.removeChild(form);
          var btn = row.querySelector(".reveal-btn");
          if (btn) row.removeChild(btn);
          row.appendChild(el("span", "tag tag-revealed", "已查看 · 已记录"));
        }
      })
      .catch(function (err) {
        if (err.status === 401) return sessionLost();
        button.disabled = false;
        if (err.status === 403) setMessage(error, zhMessage(err.message) || TEXT.revealForbidden);
        else setMessage(error, err.status === 0 ? TEXT.network : zhMessage(err.message) || TEXT.revealFailed);
      });
  }

  function messageItem(m) {
    var from = FROM_WORDS[m.from] ? m.from : "other";
    var li = el("li", "msg msg-" + from);
    var meta = el("div", "msg-meta");
    meta.appendChild(el("span", "msg-who", FROM_WORDS[m.from] || m.from || ""));
    if (m.channel) meta.appendChild(el("span", "msg-channel", CHANNEL_WORDS[m.channel] || m.channel));
    if (m.at) meta.appendChild(el("time", "msg-time", shortTime(m.at)));
    li.appendChild(meta);
    li.appendChild(el("div", "msg-text", m.text || ""));
    return li;
  }

  function actorWords(actor) {
    if (!actor) return "";
    return ACTOR_WORDS[actor] || String(actor);
  }

  function eventItem(e) {
    var li = el("li", "tl-item tl-" + safeClass(e.type));
    li.appendChild(el("time", "tl-time mono", shortTime(e.at)));
    var body = el("div", "tl-body");
    body.appendChild(el("span", "tl-what", EVENT_WORDS[e.type] || e.type || ""));
    if (e.actor) body.appendChild(el("span", "tl-actor", actorWords(e.actor)));
    var details = [];
    if (e.unit) details.push("→ " + e.unit);
    if (e.helpers && e.helpers.length) details.push("协办 " + e.helpers.join("、"));
    if (e.queue) details.push(String(e.queue));
    if (e.new_deadline) details.push("新期限 " + shortTime(e.new_deadline));
    if (e.previous_deadline) details.push("原期限 " + shortTime(e.previous_deadline));
    if (e.level) details.push(WARNING_WORDS[e.level] || String(e.level));
    if (e.round) details.push("第 " + e.round + " 轮");
    if (e.difficult) details.push("疑难");
    if (details.length) body.appendChild(el("span", "tl-detail", details.join(" · ")));
    if (e.reason) body.appendChild(el("span", "tl-reason", e.reason));
    li.appendChild(body);
    return li;
  }

  function deadlineItem(d) {
    var li = el("li", "tl-item");
    li.appendChild(el("time", "tl-time mono", shortTime(d.at)));
    var body = el("div", "tl-body");
    body.appendChild(el("span", "tl-what", d.what || ""));
    if (d.by) body.appendChild(el("span", "tl-actor", actorWords(d.by)));
    if (d.deadline) body.appendChild(el("span", "tl-detail mono", "期限 " + shortTime(d.deadline)));
    if (d.previous) body.appendChild(el("span", "tl-detail mono", "原 " + shortTime(d.previous)));
    var why = Array.isArray(d.why) ? d.why.join("、") : d.why;
    if (why) body.appendChild(el("span", "tl-reason", "依据：" + why));
    li.appendChild(body);
    return li;
  }

  function clusterItem(m, current) {
    var li = el("li", "");
    var button = el("button", "cluster-link", null);
    button.type = "button";
    button.appendChild(el("span", "mono", m.number || ""));
    button.appendChild(el("span", "status status-" + safeClass(m.status), STATUS_WORDS[m.status] || m.status || ""));
    if (m.category) button.appendChild(el("span", "cat", m.category));
    button.appendChild(el("span", "cluster-subject", m.subject || ""));
    if (m.number === current) {
      button.disabled = true;
      button.classList.add("current");
      button.title = "当前工单";
    } else {
      button.title = "打开工单 " + m.number;
      button.addEventListener("click", function () {
        openTicket(m.number, button);
      });
    }
    li.appendChild(button);
    if (m.why) li.appendChild(el("div", "item-meta cluster-why", m.why)); // the rule that joined them
    return li;
  }

  // -- the keyboard ---------------------------------------------------------------------------
  function queueRows() {
    return Array.prototype.slice.call(
      document.querySelectorAll(
        "#open-rows tr[data-number], #manual-rows tr[data-number], #duties-rows tr[data-number], #intake-rows tr[data-number]"
      )
    );
  }

  function focusRow(tr) {
    Array.prototype.forEach.call(tr.parentNode.children, function (row) {
      row.tabIndex = row === tr ? 0 : -1;
    });
    tr.focus({ preventScroll: true });
    tr.scrollIntoView({ block: "nearest" });
  }

  function moveCursor(step) {
    var rows = queueRows();
    if (!rows.length) return;
    var at = rows.indexOf(document.activeElement);
    if (at < 0 && state.panel) {
      // from the panel: the row of the open ticket
      for (var i = 0; i < rows.length; i += 1) {
        if (rows[i].dataset.number === state.panel.number) {
          at = i;
          break;
        }
      }
    }
    var next = at < 0 ? (step > 0 ? 0 : rows.length - 1) : Math.min(Math.max(at + step, 0), rows.length - 1);
    focusRow(rows[next]);
  }

  function typingIn(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  function onKey(event) {
    if (!state.csrf || els.appView.hidden || event.isComposing) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (event.key === "Escape") {
      var form = target && target.closest ? target.closest(".reveal-form") : null;
      if (form) {
        event.preventDefault();
        closeReveal(form);
      } else if (state.panel) {
        event.preventDefault();
        closePanel();
      }
      return;
    }
    if (typingIn(target)) return;
    if (event.key === "Enter") {
      var row = target && target.closest ? target.closest(".main-col tr[data-number]") : null;
      if (row) {
        event.preventDefault();
        openTicket(row.dataset.number, row);
      }
      return;
    }
    if (event.key === "j" || event.key === "J") {
      event.preventDefault();
      moveCursor(1);
    } else if (event.key === "k" || event.key === "K") {
      event.preventDefault();
      moveCursor(-1);
    } else if (event.key === "r" || event.key === "R") {
      var box = els.handoffList.querySelector(".handoff-reply");
      if (box) {
        event.preventDefault(); // the "r" is not typed into it
        box.focus();
        box.scrollIntoView({ block: "nearest" });
      }
    } else if (event.key === "/") {
      event.preventDefault();
      els.fQ.focus();
      els.fQ.select();
    }
  }

  /** A click anywhere on a ticket row opens it, unless the agent was selecting its text. */
  function onRowClick(event) {
    var row = event.target.closest("tr[data-number]");
    if (!row) return;
    var selection = window.getSelection ? String(window.getSelection()) : "";
    if (selection) return;
    focusRow(row);
    openTicket(row.dataset.number, row);
  }

  // -- restrictions: a second click confirms (no blocking dialog) ---------------------------
  var confirmTimer = null;

  function onLift(button, rid) {
    if (state.confirmLift !== rid) {
      state.confirmLift = rid;
      button.textContent = "确认解除";
      button.classList.add("confirming");
      window.clearTimeout(confirmTimer);
      confirmTimer = window.setTimeout(function () {
        state.confirmLift = null;
        button.textContent = "解除";
        button.classList.remove("confirming");
      }, 5000);
      return;
    }
    window.clearTimeout(confirmTimer);
    state.confirmLift = null;
    button.disabled = true;
    setMessage(els.restrictionsError, "");
    api("POST", "restrictions/" + encodeURIComponent(rid) + "/lift", {})
      .then(function () {
        state.drawn.restrictions = null;
        refreshSoon();
      })
      .catch(function (err) {
        if (err.status === 401) return sessionLost();
        button.disabled = false;
        button.textContent = "解除";
        button.classList.remove("confirming");
        setMessage(els.restrictionsError, zhMessage(err.message) || TEXT.liftFailed);
      });
  }

  /** The queue now (or right after the refresh already on its way). */
  function refreshSoon() {
    poll();
  }

  // -- phone form ---------------------------------------------------------------------------
  var FORM_FIELDS = ["phone", "name", "subject", "address", "content", "demand"];

  function clearInvalid() {
    FORM_FIELDS.concat(["category"]).forEach(function (name) {
      var input = $("pf-" + name);
      input.removeAttribute("aria-invalid");
      input.closest(".field").classList.remove("invalid");
    });
  }

  /** Mark the inputs the API named ("Missing: address, demand" / bad_phone). */
  function markInvalid(err) {
    var names = [];
    var m = /Missing:\s*([a-z_,\s]+)/.exec(err.message || "");
    if (m) names = m[1].split(/[,\s]+/);
    if (err.code === "bad_phone") names.push("phone");
    var first = null;
    names.forEach(function (name) {
      var input = $("pf-" + name);
      if (!input) return;
      input.setAttribute("aria-invalid", "true");
      input.closest(".field").classList.add("invalid");
      first = first || input;
    });
    if (first) first.focus();
  }

  function phoneMessage(err) {
    if (err.status === 0) return TEXT.network;
    if (err.status >= 500) return TEXT.submitFailed;
    if (err.code === "bad_phone") return "来电号码格式不正确，请核对。";
    return zhMessage(err.message) || TEXT.submitFailed;
  }

  function formPayload() {
    var body = { category: els.pfCategory.value, anonymous: els.pfAnonymous.checked };
    if ($("pf-await").checked) body.await_supplement = true; // guangzhou §12.1: call back for the rest
    FORM_FIELDS.forEach(function (name) {
      var value = $("pf-" + name).value.trim();
      if (value) body[name] = value;
    });
    if (body.anonymous) {
      body.hide = Array.prototype.slice
        .call(els.pfHide.querySelectorAll("input[name=hide]:checked"))
        .map(function (box) {
          return box.value;
        });
    }
    return body;
  }

  function onPhoneSubmit(event) {
    event.preventDefault();
    clearInvalid();
    setMessage(els.phoneError, "");
    setMessage(els.phoneOk, "");
    els.phoneSubmit.disabled = true;
    api("POST", "tickets", formPayload())
      .then(function (ticket) {
        els.phoneForm.reset();
        els.pfHide.hidden = true;
        var text = ticket.number ? "已登记，工单号 " + ticket.number : "信息不全，已加入来电待回拨补充";
        if (ticket.deadline) text += "，答复期限 " + shortTime(ticket.deadline);
        setMessage(els.phoneOk, text);
        els.phoneOk.dataset.number = ticket.number || "";
        refreshSoon();
        els.pfPhone.focus();
      })
      .catch(function (err) {
        if (err.status === 401) return sessionLost();
        setMessage(els.phoneError, phoneMessage(err));
        markInvalid(err);
      })
      .then(function () {
        els.phoneSubmit.disabled = false;
      });
  }

  /**
   * Enter in a one-line input moves to the next input instead of filing a half-typed call;
   * Ctrl+Enter (or the button) files it.
   */
  function onPhoneKey(event) {
    if (event.key !== "Enter" || event.isComposing) return;
    if (event.ctrlKey || event.metaKey) {
      event.preventDefault();
      els.phoneForm.requestSubmit();
      return;
    }
    var target = event.target;
    if (target.tagName !== "INPUT" || target.type === "checkbox") return;
    event.preventDefault();
    var inputs = Array.prototype.slice.call(els.phoneForm.querySelectorAll("input, select, textarea"));
    var visible = inputs.filter(function (node) {
      return node.offsetParent !== null && node.type !== "checkbox";
    });
    var next = visible[visible.indexOf(target) + 1];
    if (next) next.focus();
  }

  function syncAnonymous() {
    show(els.pfHide, els.pfAnonymous.checked);
  }

  /** The reset event fires before the values change: messages go now, the rest right after. */
  function onPhoneReset() {
    setMessage(els.phoneError, "");
    setMessage(els.phoneOk, "");
    clearInvalid();
    window.setTimeout(syncAnonymous, 0);
  }

  // -- start ----------------------------------------------------------------------------------
  function init() {
    els.loginView = $("login-view");
    els.loginForm = $("login-form");
    els.loginAgent = $("login-agent");
    els.loginPassword = $("login-password");
    els.loginSubmit = $("login-submit");
    els.loginError = $("login-error");
    els.loginNote = $("login-note");
    els.appView = $("app-view");
    els.agentName = $("agent-name");
    els.lastUpdate = $("last-update");
    els.liveDot = $("live-dot");
    els.logout = $("logout");
    els.pollError = $("poll-error");
    els.stats = document.querySelector(".stats");
    els.phoneForm = $("phone-form");
    els.phoneSubmit = $("phone-submit");
    els.phoneError = $("phone-error");
    els.phoneOk = $("phone-ok");
    els.pfPhone = $("pf-phone");
    els.pfCategory = $("pf-category");
    els.pfAnonymous = $("pf-anonymous");
    els.pfHide = $("pf-hide");
    els.restrictionsError = $("restrictions-error");
    els.agentRole = $("agent-role");
    els.handoffsSection = $("sec-handoffs");
    els.handoffList = $("handoff-list");
    els.handoffsEmpty = $("handoffs-empty");
    els.openRows = $("open-rows");
    els.filters = $("open-filters");
    els.fQ = $("f-q");
    els.fCategory = $("f-category");
    els.fChannel = $("f-channel");
    els.fStatus = $("f-status");
    els.fWarning = $("f-warning");
    els.fUrgent = $("f-urgent");
    els.fUrgentWrap = $("f-urgent-wrap");
    els.fUnit = $("f-unit");
    els.fReset = $("f-reset");
    els.openPager = $("open-pager");
    els.pagePrev = $("page-prev");
    els.pageNext = $("page-next");
    els.pageInfo = $("page-info");
    els.openTotal = $("open-total");
    els.panel = $("ticket-panel");
    els.tpTitle = $("tp-title");
    els.tpStatus = $("tp-status");
    els.tpWarning = $("tp-warning");
    els.tpClose = $("tp-close");
    els.tpLoading = $("tp-loading");
    els.tpError = $("tp-error");
    els.tpBody = $("tp-body");
    els.tpFacts = $("tp-facts");
    els.tpRouteSec = $("tp-route-sec");
    els.tpRouteForm = $("tp-route-form");
    els.tpReturnReview = $("tp-return-review");
    els.tpReturnText = $("tp-return-text");
    els.tpReturnRefuse = $("tp-return-refuse");
    els.tpRouteUnit = $("tp-route-unit");
    els.tpRouteSubmit = $("tp-route-submit");
    els.tpRouteResult = $("tp-route-result");
    els.tpRouteError = $("tp-route-error");
    els.tpMoreSec = $("tp-more-sec");
    els.tpComplex = $("tp-complex");
    els.tpComplexNote = $("tp-complex-note");
    els.tpMergeForm = $("tp-merge-form");
    els.tpMergeInto = $("tp-merge-into");
    els.tpMergeSubmit = $("tp-merge-submit");
    els.tpMoreResult = $("tp-more-result");
    els.tpMoreError = $("tp-more-error");
    els.tpDutySec = $("tp-duty-sec");
    els.tpSupervision = $("tp-supervision");
    els.tpSuperviseForm = $("tp-supervise-form");
    els.tpSuperviseReason = $("tp-supervise-reason");
    els.tpSupervise = $("tp-supervise");
    els.tpSuperviseExtend = $("tp-supervise-extend");
    els.tpReviewForm = $("tp-review-form");
    els.tpReviewTitle = $("tp-review-title");
    els.tpReviewCallback = $("tp-review-callback");
    els.tpReviewReason = $("tp-review-reason");
    els.tpReviewSkip = $("tp-review-skip");
    els.tpReviewA = $("tp-review-a");
    els.tpReviewB = $("tp-review-b");
    els.tpDutyResult = $("tp-duty-result");
    els.tpDutyError = $("tp-duty-error");
    els.rFrom = $("r-from");
    els.rTo = $("r-to");
    els.reportsSummary = $("reports-summary");
    els.reportsChart = $("reports-chart");
    els.reportsUnits = $("reports-units");
    els.reportsError = $("reports-error");
    els.tpMatter = $("tp-matter");
    els.tpContact = $("tp-contact");
    els.tpReasonSec = $("tp-reason-sec");
    els.tpReason = $("tp-reason");
    els.tpDeliveriesSec = $("tp-deliveries-sec");
    els.tpDeliveries = $("tp-deliveries");
    els.tpConversation = $("tp-conversation");
    els.tpConversationEmpty = $("tp-conversation-empty");
    els.tpEvents = $("tp-events");
    els.tpDeadlinesSec = $("tp-deadlines-sec");
    els.tpDeadlines = $("tp-deadlines");
    els.tpClusterSec = $("tp-cluster-sec");
    els.tpCluster = $("tp-cluster");

    els.loginForm.addEventListener("submit", onLogin);
    els.logout.addEventListener("click", onLogout);
    els.phoneForm.addEventListener("submit", onPhoneSubmit);
    els.phoneForm.addEventListener("reset", onPhoneReset);
    els.phoneForm.addEventListener("keydown", onPhoneKey);
    els.pfAnonymous.addEventListener("change", syncAnonymous);
    document.addEventListener("visibilitychange", onVisibility);
    document.addEventListener("keydown", onKey);
    ["intake-rows", "open-rows", "manual-rows", "duties-rows"].forEach(function (id) {
      $(id).addEventListener("click", onRowClick);
    });
    els.filters.addEventListener("submit", onFiltersSubmit);
    els.fQ.addEventListener("input", onSearchInput);
    [els.fCategory, els.fChannel, els.fStatus, els.fWarning, els.fUrgent, els.fUnit].forEach(function (s) {
      s.addEventListener("change", applyFilters);
    });
    els.fReset.addEventListener("click", onFiltersReset);
    els.pagePrev.addEventListener("click", function () {
      goPage(-1);
    });
    els.pageNext.addEventListener("click", function () {
      goPage(1);
    });
    els.tpClose.addEventListener("click", function () {
      closePanel();
    });
    els.tpRouteForm.addEventListener("submit", onRouteSubmit);
    els.tpReturnRefuse.addEventListener("click", onReturnRefuse);
    els.tpComplex.addEventListener("click", onComplex);
    els.tpMergeForm.addEventListener("submit", onMergeSubmit);
    els.tpSuperviseForm.addEventListener("submit", onSupervise);
    els.tpSuperviseExtend.addEventListener("click", onSuperviseExtend);
    els.tpReviewA.addEventListener("click", onReviewDecision);
    els.tpReviewB.addEventListener("click", onReviewDecision);
    $("reports-form").addEventListener("submit", loadReports);
    state.handoffTicker = window.setInterval(tickHandoffs, 20000);

    api("GET", "me")
      .then(showApp)
      .catch(function (err) {
        showLogin(err.status === 0 ? TEXT.network : "");
      });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
