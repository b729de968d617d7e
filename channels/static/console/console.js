/*
 * 12345 agent console (CONTRACT.md "GET /console/").
 *
 * Why it is built this way:
 *  - The page is served with a strict CSP (no inline script or style), so all behaviour lives
 *    here and every visual state is a class or the `hidden` attribute, never a style attribute.
 *  - Everything the API returns is put on screen with textContent (or a plain attribute value):
 *    citizen text may contain markup and must show literally (RELIABILITY.md S1).
 *  - The CSRF token is kept in memory only, never in localStorage, and goes with every POST as
 *    X-CSRF-Token; the session itself is an HttpOnly cookie the page never sees (S2).
 *  - Personal data arrives masked (or absent for anonymous citizens) and is shown as given (S6).
 *  - The queue is polled every 3 s while the tab is visible; a section is redrawn only when its
 *    data changed, so an agent reading or selecting text is not disturbed.
 */
(function () {
  "use strict";

  var API = "/api/console/";
  var POLL_MS = 3000;

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

  var TEXT = {
    loginFailed: "登录失败，请稍后再试。",
    sessionExpired: "登录已过期，请重新登录。",
    loggedOut: "您已退出登录。",
    pollFailed: "队列暂时无法更新，正在重试…",
    pollFailedSince: "队列暂时无法更新，正在重试…（最后成功更新 ",
    submitFailed: "登记没有成功，请稍后再试。已填写的内容已保留。",
    liftFailed: "解除没有成功，请稍后再试。",
    network: "网络连接异常，请检查网络后重试。",
  };

  var els = {};
  var state = {
    agent: null,
    csrf: null, // in memory only
    pollTimer: null,
    polling: false,
    generation: 0, // bumped at login/logout so a late answer of an old session is ignored
    lastOk: null,
    drawn: {}, // section -> JSON of the data last drawn
    confirmLift: null, // restriction id waiting for its second click
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
    state.generation += 1;
    state.agent = null;
    state.csrf = null;
    state.drawn = {};
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
    state.csrf = session.csrf;
    state.lastOk = null;
    state.drawn = {};
    els.agentName.textContent = session.login;
    els.lastUpdate.textContent = "正在载入…";
    setMessage(els.pollError, "");
    show(els.loginView, false);
    show(els.appView, true);
    startPolling();
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

  // -- polling ------------------------------------------------------------------------------
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
      state.pollTimer = window.setTimeout(poll, POLL_MS);
    }
  }

  function poll() {
    if (state.polling || !state.csrf) return;
    state.polling = true;
    var generation = state.generation;
    api("GET", "queue")
      .then(function (data) {
        if (generation !== state.generation) return;
        state.lastOk = new Date();
        els.lastUpdate.textContent = "最后更新 " + clockTime(state.lastOk);
        els.liveDot.classList.remove("stale");
        setMessage(els.pollError, "");
        render(data || {});
      })
      .catch(function (err) {
        if (generation !== state.generation) return;
        if (err.status === 401) {
          sessionLost();
          return;
        }
        els.liveDot.classList.add("stale");
        setMessage(
          els.pollError,
          state.lastOk ? TEXT.pollFailedSince + clockTime(state.lastOk) + "）" : TEXT.pollFailed
        );
      })
      .then(function () {
        state.polling = false;
        if (generation === state.generation) schedule();
      });
  }

  function onVisibility() {
    if (!state.csrf) return;
    if (document.visibilityState === "hidden") stopPolling();
    else if (!state.polling) poll();
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
    var red = 0;
    var yellow = 0;
    open.forEach(function (t) {
      if (t.warning === "red") red += 1;
      else if (t.warning === "yellow") yellow += 1;
    });
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
    $("stat-open").textContent = String(open.length);
    $("stat-waiting").textContent = String(waiting.length);
    $("stat-manual").textContent = String(manual.length);
    $("stat-deliveries").textContent = String(deliveries.length);
    $("stat-jobs").textContent = String(jobs.length);
    els.stats.classList.toggle("has-red", red > 0);
    document.title = (red ? "(" + red + ") " : "") + "12345 坐席工作台";

    section("intake", list(data, "intake"), function (items) {
      fillRows($("intake-rows"), items, intakeRow);
    });
    section("open", open, function (items) {
      fillRows($("open-rows"), items, openRow);
    });
    section("manual", manual, function (items) {
      fillRows($("manual-rows"), items, manualRow);
    });
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

  function fillRows(tbody, items, makeRow) {
    var frag = document.createDocumentFragment();
    items.forEach(function (item) {
      frag.appendChild(makeRow(item));
    });
    tbody.replaceChildren(frag);
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

  function numberCell(tr, t) {
    var td = cell(tr, "c-number");
    td.appendChild(el("span", "mono", t.number || "（未编号）"));
    if (t.anonymous) td.appendChild(el("span", "tag tag-anon", "匿名"));
    // near-duplicates from other citizens share a cluster named by the first ticket (issue 7)
    if (t.cluster && t.cluster !== t.number) td.appendChild(el("span", "tag tag-cluster", "同案 " + t.cluster));
    if (t.cluster && t.cluster === t.number) td.appendChild(el("span", "tag tag-cluster", "同案首单"));
    var at = t.registered_at || t.created_at;
    if (at) td.appendChild(el("span", "sub", shortTime(at) + " 登记"));
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
    if (t.status === "registered") {
      var guess = el("span", "tag tag-provisional", "预计");
      guess.title = "尚未派发：派发后按承办单位的答复期限更新";
      td.appendChild(guess);
    }
    if (t.deadline_provisional) {
      var tag = el("span", "tag tag-provisional", "临时");
      tag.title = "期限待承办单位确定后更新";
      td.appendChild(tag);
    }
    if (t.overdue) td.appendChild(el("span", "tag tag-overdue", "已超时"));
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
    if (t.number) tr.dataset.number = t.number;
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
    return li;
  }

  function deliveryItem(d) {
    var li = el("li", "item item-alert");
    itemHead(
      li,
      (CHANNEL_WORDS[d.channel] || d.channel || "") + " · " + (DELIVERY_KINDS[d.kind] || d.kind || "消息"),
      el("span", "tag tag-" + safeClass(d.state), DELIVERY_STATES[d.state] || d.state || "")
    );
    var meta = el("div", "item-meta");
    meta.appendChild(el("span", "", "投递 #" + d.id));
    if (d.ticket_id) meta.appendChild(el("span", "", "工单内部号 " + d.ticket_id));
    meta.appendChild(el("span", "", "已尝试 " + (d.attempts || 0) + " 次"));
    li.appendChild(meta);
    if (d.error) li.appendChild(el("div", "item-error", d.error));
    return li;
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

  function refreshSoon() {
    if (!state.polling) {
      stopPolling();
      poll();
    }
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
        var text = "已登记，工单号 " + ticket.number;
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

    els.loginForm.addEventListener("submit", onLogin);
    els.logout.addEventListener("click", onLogout);
    els.phoneForm.addEventListener("submit", onPhoneSubmit);
    els.phoneForm.addEventListener("reset", onPhoneReset);
    els.phoneForm.addEventListener("keydown", onPhoneKey);
    els.pfAnonymous.addEventListener("change", syncAnonymous);
    document.addEventListener("visibilitychange", onVisibility);

    api("GET", "me")
      .then(showApp)
      .catch(function (err) {
        showLogin(err.status === 0 ? TEXT.network : "");
      });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
