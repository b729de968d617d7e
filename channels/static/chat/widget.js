/*
 * 12345 web chat embed: <script src="https://HOTLINE/chat/widget.js" async></script>
 *
 * Adds a floating "在线咨询" button that opens the chat page of the same origin this script
 * came from (document.currentScript.src) in an iframe. Styles are set through the CSSOM
 * (element.style), which a host page's strict CSP still allows, so no <style> is injected.
 * Optional attributes on the script tag: data-label="按钮文字", data-position="left".
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.src || window.__hotline12345Widget) return;
  window.__hotline12345Widget = true;

  var chatUrl = new URL("./", script.src).href; // .../chat/widget.js -> .../chat/
  var label = script.getAttribute("data-label") || "12345 在线咨询";
  var side = script.getAttribute("data-position") === "left" ? "left" : "right";
  var SVG = "http://www.w3.org/2000/svg";

  function css(node, styles) {
    Object.keys(styles).forEach(function (k) {
      node.style.setProperty(k, styles[k]);
    });
    return node;
  }

  function icon(kind) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "24");
    svg.setAttribute("height", "24");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(SVG, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute(
      "d",
      kind === "close"
        ? "M18.3 5.7a1 1 0 0 0-1.4 0L12 10.6 7.1 5.7a1 1 0 0 0-1.4 1.4l4.9 4.9-4.9 4.9a1 1 0 1 0 1.4 1.4l4.9-4.9 4.9 4.9a1 1 0 0 0 1.4-1.4L13.4 12l4.9-4.9a1 1 0 0 0 0-1.4z"
        : "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2h-9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z"
    );
    svg.appendChild(path);
    return svg;
  }

  var button = css(document.createElement("button"), {
    position: "fixed",
    bottom: "20px",
    [side]: "20px",
    "z-index": "2147483646",
    display: "flex",
    "align-items": "center",
    gap: "8px",
    "min-height": "52px",
    padding: "0 18px",
    border: "0",
    "border-radius": "26px",
    background: "#c0171f",
    color: "#fff",
    font: "600 16px/1 -apple-system, BlinkMacSystemFont, 'PingFang SC', 'Microsoft YaHei', sans-serif",
    "box-shadow": "0 4px 14px rgba(0,0,0,.25)",
    cursor: "pointer",
  });
  button.type = "button";
  button.setAttribute("aria-label", label);
  button.setAttribute("aria-expanded", "false");
  button.appendChild(icon("chat"));
  button.appendChild(document.createTextNode(label));

  var panel = null;
  var lastFocus = null;

  function small() {
    return window.matchMedia("(max-width: 520px)").matches;
  }

  function placePanel() {
    if (!panel) return;
    if (small()) {
      css(panel, { top: "0", bottom: "0", left: "0", right: "0", width: "100%", height: "100%", "border-radius": "0" });
    } else {
      css(panel, {
        top: "auto",
        bottom: "88px",
        left: side === "left" ? "20px" : "auto",
        right: side === "right" ? "20px" : "auto",
        width: "380px",
        height: "min(640px, calc(100vh - 110px))",
        "border-radius": "14px",
      });
    }
  }

  function build() {
    panel = css(document.createElement("div"), {
      position: "fixed",
      "z-index": "2147483647",
      overflow: "hidden",
      background: "#fff",
      "box-shadow": "0 10px 40px rgba(0,0,0,.3)",
      display: "none",
    });
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", "12345 政务服务便民热线 在线服务");

    var close = css(document.createElement("button"), {
      position: "absolute",
      top: "8px",
      right: "8px",
      width: "40px",
      height: "40px",
      display: "flex",
      "align-items": "center",
      "justify-content": "center",
      border: "0",
      "border-radius": "20px",
      background: "rgba(0,0,0,.22)",
      color: "#fff",
      cursor: "pointer",
    });
    close.type = "button";
    close.setAttribute("aria-label", "关闭");
    close.appendChild(icon("close"));
    close.addEventListener("click", hide);

    var frame = css(document.createElement("iframe"), { width: "100%", height: "100%", border: "0", display: "block" });
    frame.src = chatUrl;
    frame.title = "12345 政务服务便民热线 在线服务";

    panel.appendChild(frame);
    panel.appendChild(close);
    document.body.appendChild(panel);
    placePanel();
    window.addEventListener("resize", placePanel);
  }

  function show() {
    if (!panel) build();
    lastFocus = document.activeElement;
    panel.style.setProperty("display", "block");
    button.setAttribute("aria-expanded", "true");
    if (small()) button.style.setProperty("display", "none");
    var frame = panel.querySelector("iframe");
    if (frame) frame.focus();
  }

  function hide() {
    if (!panel) return;
    panel.style.setProperty("display", "none");
    button.setAttribute("aria-expanded", "false");
    button.style.setProperty("display", "flex");
    if (lastFocus && lastFocus.focus) lastFocus.focus();
  }

  button.addEventListener("click", function () {
    if (panel && panel.style.getPropertyValue("display") === "block") hide();
    else show();
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") hide();
  });

  function mount() {
    document.body.appendChild(button);
  }

  window.Hotline12345 = { open: show, close: hide };
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
