/*
 * 12345 web chat page (CONTRACT.md "Web chat").
 *
 * Why it is built this way:
 *  - The page is served with a strict CSP (no inline script/style), so all behaviour lives here.
 *  - Everything a person typed or the hotline sent is put on screen with textContent only:
 *    data never goes through innerHTML.
 *  - The live stream needs the bearer token in a header (a token never travels in a URL,
 *    RELIABILITY.md §9), so it is read with fetch() + a stream reader instead of EventSource.
 *  - A hotline message can come twice (the POST answer and the stream); ids dedupe them.
 */
(function () {
  "use strict";

  var STORE_KEY = "hotline.chat.v1";
  var API = new URL("../api/chat/", window.location.href).href;
  var WATCHDOG_MS = 45000; // the server sends a keep-alive every 15 s
  var BACKOFF_MIN_MS = 1000;
  var BACKOFF_MAX_MS = 30000;

  var STATUS_WORDS = {
    collecting: "正在登记",
    awaiting_supplement: "待补充信息",
    registered: "已登记",
    dispatched: "已转交办理",
    signed: "部门已签收",
    extended: "已延期办理",
    completed: "已办结",
    rehandling: "重新办理中",
    closed: "已办结归档",
    withdrawn: "已撤回",
    rejected: "不予受理",
    redirected: "已引导至其他渠道",
  };

  var TEXT = {
    sendFailedNetwork: "网络不太稳定，消息没有发出去，请稍后再试。您输入的内容已为您保留。",
    sendFailedBusy: "系统正忙，消息没有发出去，请稍后再试。您输入的内容已为您保留。",
    sendFailedTooMany: "操作有些频繁，请稍等一分钟再试。您输入的内容已为您保留。",
    sendFailedInvalid: "这条消息没能发送，请修改后再试。",
    sessionRenewed: "您之前的会话已过期，已为您开始新的会话。",
    restoreFailed: "暂时无法载入之前的对话，正在重试…",
    tooLong: "消息太长了，请分几次发送（每条不超过 2000 字）。",
  };

  var els = {};
  var state = {
    session: null, // {id, token}
    ticket: null,
    seen: new Set(), // hotline message ids already on screen
    lastId: 0,
    sending: false,
    streamGen: 0,
    streamAbort: null,
    wake: null,
    online: true,
    lastBeat: 0, // when the stream last delivered anything (data or keep-alive)
  };

  // -- storage ------------------------------------------------------------------------------
  function loadSaved() {
    try {
      var raw = window.localStorage.getItem(STORE_KEY);
      return raw ? JSON.parse(raw) : null;
    } catch (e) {
      return null; // storage blocked (private mode, third-party iframe): start fresh
    }
  }

  function save() {
    try {
      if (!state.session) {
        window.localStorage.removeItem(STORE_KEY);
        return;
      }
      window.localStorage.setItem(
        STORE_KEY,
        JSON.stringify({ session_id: state.session.id, token: state.session.token, ticket: state.ticket })
      );
    } catch (e) {
      /* not fatal: the chat works, it just is not restored after a reload */
    }
  }

  // -- HTTP ---------------------------------------------------------------------------------
  function HttpError(status) {
    this.status = status;
    this.message = "HTTP " + status;
  }

  function sessionPath(suffix) {
    return "sessions/" + encodeURIComponent(state.session.id) + "/" + suffix;
  }

  function authHeaders(extra) {
    var h = extra || {};
    if (state.session) h.Authorization = "Bearer " + state.session.token;
    return h;
  }

  function request(method, path, body) {
    var headers = authHeaders({ Accept: "application/json" });
    var init = { method: method, headers: headers, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(API + path, init).then(function (resp) {
      if (!resp.ok) throw new HttpError(resp.status);
      return resp.json();
    });
  }

  function createSession() {
    state.session = null;
    return request("POST", "sessions").then(function (body) {
      state.session = { id: body.session_id, token: body.token };
      state.ticket = null;
      state.seen = new Set();
      state.lastId = 0;
      save();
      startStream();
    });
  }

  // -- rendering ----------------------------------------------------------------------------
  var timeFmt = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai",
    month: "numeric",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
  var deadlineFmt = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });

  function parts(fmt, date) {
    var out = {};
    fmt.formatToParts(date).forEach(function (p) {
      out[p.type] = p.value;
    });
    return out;
  }

  function timeLabel(at) {
    var date = at ? new Date(at) : new Date();
    if (isNaN(date.getTime())) return "";
    var p = parts(timeFmt, date);
    var today = parts(timeFmt, new Date());
    var hm = p.hour + ":" + p.minute;
    return p.month === today.month && p.day === today.day ? hm : p.month + "月" + p.day + "日 " + hm;
  }

  function deadlineLabel(iso) {
    if (!iso) return "以办理部门答复为准";
    var date = new Date(iso);
    if (isNaN(date.getTime())) return iso;
    var p = parts(deadlineFmt, date);
    var text = p.year + "年" + p.month + "月" + p.day + "日（" + p.weekday + "）";
    if (!(p.hour === "23" && p.minute === "59")) text += " " + p.hour + ":" + p.minute;
    return text + "前";
  }

  function nearBottom() {
    var log = els.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 160;
  }

  function scrollToEnd() {
    els.log.scrollTop = els.log.scrollHeight;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function addBubble(from, text, opts) {
    opts = opts || {};
    var follow = from === "citizen" || nearBottom();
    var row = el("div", "row row-" + from);
    if (opts.id !== undefined && opts.id !== null) row.dataset.id = String(opts.id);
    if (from === "hotline") row.appendChild(el("div", "avatar", opts.agent ? "人工" : "12345"));
    var body = el("div", "msg");
    if (opts.agent) {
      // a person's answer (issue 19): marked as such, in words and in colour
      row.classList.add("from-agent");
      body.appendChild(el("div", "who", "人工客服"));
    }
    var bubble = from === "hotline" ? callable(text) : el("div", "bubble", text);
    body.appendChild(bubble);
    if (opts.choices && opts.choices.length) body.appendChild(choiceButtons(opts.choices));
    body.appendChild(el("div", "meta", timeLabel(opts.at)));
    row.appendChild(body);
    if (opts.pending) row.classList.add("pending");
    if (opts.before) els.log.insertBefore(row, opts.before);
    else els.log.appendChild(row);
    if (follow) scrollToEnd();
    return row;
  }

  // The numbers an emergency reply names become tap-to-call links (issue 19); the rest stays text
  // (textContent only: nothing the text says is ever read as markup).
  var CALLABLE = /(^|[^0-9])(110|119|120|122|12356|12345)(?![0-9])/g;

  function callable(text) {
    var bubble = el("div", "bubble");
    var at = 0;
    String(text).replace(CALLABLE, function (match, before, number, offset) {
      var start = offset + before.length;
      bubble.appendChild(document.createTextNode(text.slice(at, start)));
      var link = el("a", "call", number);
      link.href = "tel:" + number;
      bubble.appendChild(link);
      at = start + number.length;
      return match;
    });
    bubble.appendChild(document.createTextNode(text.slice(at)));
    return bubble;
  }

  function choiceButtons(choices) {
    var box = el("div", "choices");
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "请选择");
    choices.forEach(function (choice) {
      var btn = el("button", "choice", choice);
      btn.type = "button";
      btn.disabled = state.sending;
      btn.addEventListener("click", function () {
        if (box.classList.contains("closed") || state.sending) return;
        send(choice).then(function (ok) {
          if (ok) btn.classList.add("chosen");
        });
      });
      box.appendChild(btn);
    });
    return box;
  }

  function addHotline(m) {
    if (m.id !== undefined && m.id !== null) {
      if (state.seen.has(m.id)) return;
      state.seen.add(m.id);
      if (m.id > state.lastId) state.lastId = m.id;
    }
    var typing = els.log.querySelector(".typing"); // the answer is here: the dots go first
    if (typing) typing.remove();
    addBubble("hotline", m.text, { id: m.id, at: m.at, choices: m.choices, agent: m.from === "agent" });
    // a notice about a ticket carries its state now: the card follows dispatch, extension, result
    if (m.ticket && m.ticket.number) showTicket(m.ticket);
  }

  function addSystem(text, before) {
    var row = el("div", "row row-system");
    row.appendChild(el("div", "system", text));
    if (before) els.log.insertBefore(row, before);
    else els.log.appendChild(row);
    scrollToEnd();
  }

  function closeChoices(groups) {
    groups.forEach(function (g) {
      g.classList.add("closed");
      g.querySelectorAll("button").forEach(function (b) {
        b.disabled = true;
      });
    });
  }

  function openChoiceGroups() {
    return Array.prototype.slice.call(els.log.querySelectorAll(".choices:not(.closed)"));
  }

  function showTicket(t) {
    if (!t || !t.number) return; // a draft without a number is not shown as a ticket yet
    state.ticket = { number: t.number, status: t.status, category: t.category, deadline: t.deadline };
    save();
    els.ticketNumber.textContent = t.number;
    els.ticketStatus.textContent = STATUS_WORDS[t.status] || t.status || "";
    els.ticketStatus.dataset.status = t.status || "";
    els.ticketCategory.textContent = t.category || "—";
    // Before a unit has it the deadline is an estimate; the dispatch notice tells the final one.
    var estimate = t.status === "registered" && t.deadline ? "预计" : "";
    els.ticketDeadline.textContent = estimate + deadlineLabel(t.deadline);
    els.ticket.hidden = false;
  }

  function showError(text) {
    els.error.textContent = text;
    els.error.hidden = false;
  }

  function hideError() {
    els.error.hidden = true;
    els.error.textContent = "";
  }

  function setOnline(online) {
    state.online = online;
    els.banner.hidden = online;
  }

  function updateControls() {
    var busy = state.sending;
    els.send.disabled = busy;
    els.progress.disabled = busy;
    els.form.setAttribute("aria-busy", busy ? "true" : "false");
    openChoiceGroups().forEach(function (g) {
      g.querySelectorAll("button").forEach(function (b) {
        b.disabled = busy;
      });
    });
  }

  function showTyping() {
    var row = el("div", "row row-hotline typing");
    row.setAttribute("aria-label", "正在回复");
    row.appendChild(el("div", "avatar", "12345"));
    var bubble = el("div", "bubble");
    for (var i = 0; i < 3; i++) bubble.appendChild(el("span", "dot"));
    row.appendChild(bubble);
    els.log.appendChild(row);
    scrollToEnd();
    return row;
  }

  // -- sending ------------------------------------------------------------------------------
  function errorText(err) {
    var status = err && err.status;
    if (status === 429) return TEXT.sendFailedTooMany;
    if (status === 413) return TEXT.tooLong;
    if (status >= 400 && status < 500) return TEXT.sendFailedInvalid;
    if (status >= 500) return TEXT.sendFailedBusy;
    return TEXT.sendFailedNetwork;
  }

  function newClientId() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  /** One message, with its own client_id: when the answer is lost (network, 5xx) it is sent once
   * more with the same id, and the hotline stores and answers it once (CONTRACT.md). */
  function postMessage(text, clientId) {
    var body = { text: text, client_id: clientId };
    return request("POST", sessionPath("messages"), body).catch(function (err) {
      if (err instanceof HttpError && err.status < 500) throw err;
      return new Promise(function (resolve) { setTimeout(resolve, 1000); }).then(function () {
        return request("POST", sessionPath("messages"), body);
      });
    });
  }

  /** Send one text; resolves true when the hotline took it. */
  function send(text) {
    text = String(text).trim();
    if (!text || state.sending) return Promise.resolve(false);
    state.sending = true;
    hideError();
    var groups = openChoiceGroups();
    updateControls();
    var pending = addBubble("citizen", text, { pending: true });
    var typing = showTyping();
    var ready = state.session ? Promise.resolve() : createSession();
    var clientId = newClientId();
    return ready
      .then(function () {
        return postMessage(text, clientId).catch(function (err) {
          if (!(err instanceof HttpError) || err.status !== 401) throw err;
          // The token expired mid-conversation: carry on in a new session and say so.
          return createSession().then(function () {
            addSystem(TEXT.sessionRenewed, pending);
            els.ticket.hidden = true;
            return postMessage(text, clientId);
          });
        });
      })
      .then(function (body) {
        pending.classList.remove("pending");
        typing.remove();
        closeChoices(groups);
        (body.replies || []).forEach(addHotline);
        showTicket(body.ticket);
        return true;
      })
      .catch(function (err) {
        pending.remove();
        typing.remove();
        showError(errorText(err));
        return false;
      })
      .finally(function () {
        state.sending = false;
        updateControls();
      });
  }

  function submitBox() {
    if (state.sending) return;
    var text = els.input.value;
    if (!text.trim()) return;
    els.input.value = "";
    autosize();
    send(text).then(function (ok) {
      if (!ok) {
        els.input.value = els.input.value ? text + "\n" + els.input.value : text;
        autosize();
      }
    });
  }

  function autosize() {
    var input = els.input;
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 140) + "px";
  }

  // -- live stream --------------------------------------------------------------------------
  function sleep(ms) {
    return new Promise(function (resolve) {
      var timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        if (state.wake === done) state.wake = null;
        resolve();
      }
      state.wake = done;
    });
  }

  function wakeNow() {
    if (state.wake) state.wake();
  }

  function handleEvent(block) {
    var event = "message";
    var data = [];
    block.split("\n").forEach(function (line) {
      if (!line || line.charAt(0) === ":") return;
      var idx = line.indexOf(":");
      var field = idx < 0 ? line : line.slice(0, idx);
      var value = idx < 0 ? "" : line.slice(idx + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    });
    if (event !== "message" || !data.length) return;
    try {
      addHotline(JSON.parse(data.join("\n")));
    } catch (e) {
      /* a malformed event is skipped; the next reconnect resumes after the last good id */
    }
  }

  function startStream() {
    if (state.streamAbort) state.streamAbort.abort();
    state.streamGen += 1;
    runStream(state.streamGen);
  }

  async function runStream(gen) {
    var backoff = BACKOFF_MIN_MS;
    while (gen === state.streamGen && state.session) {
      var ctrl = new AbortController();
      state.streamAbort = ctrl;
      var watchdog = null;
      var kick = function () {
        clearTimeout(watchdog);
        watchdog = setTimeout(function () {
          ctrl.abort();
        }, WATCHDOG_MS);
      };
      try {
        kick();
        var resp = await fetch(API + sessionPath("stream?after=" + state.lastId), {
          headers: authHeaders({ Accept: "text/event-stream" }),
          cache: "no-store",
          credentials: "omit",
          signal: ctrl.signal,
        });
        if (resp.status === 401) {
          clearTimeout(watchdog);
          if (gen === state.streamGen) expireSession();
          return;
        }
        if (!resp.ok || !resp.body) throw new HttpError(resp.status);
        setOnline(true);
        state.lastBeat = Date.now();
        backoff = BACKOFF_MIN_MS;
        var reader = resp.body.getReader();
        var decoder = new TextDecoder();
        var buf = "";
        for (;;) {
          var chunk = await reader.read();
          if (chunk.done) break;
          kick();
          state.lastBeat = Date.now();
          buf += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, "\n");
          var idx;
          while ((idx = buf.indexOf("\n\n")) >= 0) {
            var block = buf.slice(0, idx);
            buf = buf.slice(idx + 2);
            if (gen === state.streamGen) handleEvent(block);
          }
        }
      } catch (e) {
        /* dropped, refused or timed out: reconnect below */
      } finally {
        clearTimeout(watchdog);
      }
      if (gen !== state.streamGen) return;
      setOnline(false);
      await sleep(backoff * (0.75 + Math.random() * 0.5));
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    }
  }

  function expireSession() {
    state.streamGen += 1;
    if (state.streamAbort) state.streamAbort.abort();
    state.session = null;
    state.ticket = null;
    save();
    setOnline(true);
    els.ticket.hidden = true;
    addSystem(TEXT.sessionRenewed);
  }

  // -- restoring after a reload -------------------------------------------------------------
  async function restore() {
    var saved = loadSaved();
    if (!saved || !saved.session_id || !saved.token) return;
    state.session = { id: saved.session_id, token: saved.token };
    var backoff = BACKOFF_MIN_MS;
    for (;;) {
      try {
        var body = await request("GET", sessionPath("history"));
        break;
      } catch (err) {
        if (err instanceof HttpError && (err.status === 401 || err.status === 404)) {
          // quietly start over: the next message opens a new session
          state.session = null;
          state.ticket = null;
          save();
          addSystem(TEXT.sessionRenewed);
          return;
        }
        setOnline(false);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    }
    setOnline(true);
    var items = body.messages || [];
    items.forEach(function (m) {
      if (m.from === "citizen") addBubble("citizen", m.text, { at: m.at });
      else addHotline(m);
    });
    // Only the buttons of a question still waiting for an answer stay usable.
    var groups = openChoiceGroups();
    var last = items.length ? items[items.length - 1] : null;
    var keepLast = last && last.from !== "citizen" && last.choices && last.choices.length;
    closeChoices(keepLast ? groups.slice(0, -1) : groups);
    if (saved.ticket) showTicket(saved.ticket);
    scrollToEnd();
    startStream();
  }

  // -- phone layout: keep the input above the on-screen keyboard -----------------------------
  function trackViewport() {
    var vv = window.visualViewport;
    if (!vv) return;
    var apply = function () {
      document.documentElement.style.setProperty("--app-height", vv.height + "px");
      if (window.scrollY) window.scrollTo(0, 0); // iOS scrolls the page up under the keyboard
      if (document.activeElement === els.input) scrollToEnd();
    };
    vv.addEventListener("resize", apply);
    apply();
  }

  // -- wiring -------------------------------------------------------------------------------
  function init() {
    els.log = document.getElementById("log");
    els.form = document.getElementById("form");
    els.input = document.getElementById("input");
    els.send = document.getElementById("send");
    els.progress = document.getElementById("progress");
    els.error = document.getElementById("error");
    els.banner = document.getElementById("net-banner");
    els.ticket = document.getElementById("ticket");
    els.ticketNumber = document.getElementById("ticket-number");
    els.ticketStatus = document.getElementById("ticket-status");
    els.ticketCategory = document.getElementById("ticket-category");
    els.ticketDeadline = document.getElementById("ticket-deadline");

    els.form.addEventListener("submit", function (e) {
      e.preventDefault();
      submitBox();
    });
    els.input.addEventListener("keydown", function (e) {
      // Enter sends; Shift+Enter is a new line; never while an input method is composing Chinese.
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        submitBox();
      }
    });
    els.input.addEventListener("input", function () {
      autosize();
      if (!els.error.hidden) hideError();
    });
    els.progress.addEventListener("click", function () {
      send("查询进度");
    });
    window.addEventListener("offline", function () {
      setOnline(false);
      if (state.streamAbort) state.streamAbort.abort();
    });
    window.addEventListener("online", wakeNow);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState !== "visible") return;
      // Back from a sleeping phone: a stream silent for longer than a keep-alive is likely dead.
      if (state.streamAbort && state.online && Date.now() - state.lastBeat > 20000) state.streamAbort.abort();
      wakeNow();
    });
    trackViewport();
    restore();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
