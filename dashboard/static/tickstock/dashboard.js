// The live dashboard: one WebSocket to /ws/dashboard/ (reconnects with backoff and asks for what it missed),
// a live event feed, panels re-rendered by the server when an event concerning them arrives, and alert actions
// posted with the page's CSRF token.
(function () {
  "use strict";
  const MAX_ROWS = 200;
  const REFRESH_MS = 400;
  const body = document.body;
  const feed = document.getElementById("events");
  const counter = document.getElementById("event-count");
  const badge = document.getElementById("connection");
  const panelUrl = body.dataset.panelUrl;
  const page = body.dataset.page;
  let lastSeq = body.dataset.lastSeq ? Number(body.dataset.lastSeq) : null;
  const seen = new Set();
  if (feed) feed.querySelectorAll("tr[data-id]").forEach((tr) => seen.add(tr.dataset.id));
  let delay = 500;

  function addToFeed(item) {
    const ev = item.event;
    const tr = document.createElement("tr");
    tr.className = "fresh";
    tr.dataset.seq = item.seq;
    tr.dataset.id = ev.id;
    const cells = [ev.occurred_at.slice(11, 19), ev.type.replace(/^tickstock\./, ""), item.summary || ""];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      if (i === 1) {
        const span = document.createElement("span");
        span.className = "etype";
        span.textContent = text;
        td.appendChild(span);
      } else {
        td.textContent = text;
      }
      td.className = ["nowrap muted", "nowrap", "payload"][i];
      tr.appendChild(td);
    });
    feed.insertBefore(tr, feed.firstChild);
    while (feed.children.length > MAX_ROWS) feed.removeChild(feed.lastChild);
    if (counter) counter.textContent = String(feed.children.length);
  }

  // Panels: each names the event type prefixes that make it stale (data-refresh).
  const dirty = new Set();
  let timer = null;
  const busy = new Set();

  function markDirty(type) {
    document.querySelectorAll("[data-panel]").forEach((panel) => {
      const prefixes = (panel.dataset.refresh || "").split(/\s+/).filter(Boolean);
      if (prefixes.some((prefix) => type.startsWith(prefix))) dirty.add(panel);
    });
    if (dirty.size && !timer) timer = setTimeout(flushPanels, REFRESH_MS);
  }

  function flushPanels() {
    timer = null;
    const panels = Array.from(dirty);
    dirty.clear();
    panels.forEach(refreshPanel);
  }

  function refreshPanel(panel) {
    if (busy.has(panel)) {
      dirty.add(panel);
      if (!timer) timer = setTimeout(flushPanels, REFRESH_MS);
      return;
    }
    busy.add(panel);
    const url = panelUrl.replace("PAGE", page).replace("NAME", panel.dataset.panel) +
      (panel.dataset.query ? "?" + panel.dataset.query : "");
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then((response) => {
        if (response.redirected || !response.ok) throw new Error("panel " + response.status);
        return response.text();
      })
      .then((html) => {
        const open = new Set(Array.from(panel.querySelectorAll("details:not([open]) summary")).map((s) => s.textContent));
        panel.innerHTML = html;
        panel.querySelectorAll("details summary").forEach((s) => { if (open.has(s.textContent)) s.parentNode.open = false; });
        if (window.TickCharts) window.TickCharts.render(panel);
        panel.dataset.refreshed = String(Date.now());
      })
      .catch(() => {})
      .finally(() => busy.delete(panel));
  }

  function handle(items, replay) {
    items.forEach((item) => {
      const ev = item.event;
      if (lastSeq === null || item.seq > lastSeq) lastSeq = item.seq;
      if (seen.has(ev.id)) return;
      seen.add(ev.id);
      if (feed) addToFeed(item);
      markDirty(ev.type);
    });
    if (replay && items.length) document.querySelectorAll("[data-panel]").forEach((p) => dirty.add(p));
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(scheme + "://" + location.host + "/ws/dashboard/");
    socket.onopen = function () {
      delay = 500;
      badge.textContent = "live";
      badge.className = "conn conn-up";
      socket.send(JSON.stringify({ resync_after: lastSeq }));
    };
    socket.onmessage = function (message) {
      const data = JSON.parse(message.data);
      if (data.kind === "events") handle(data.events, Boolean(data.resync));
    };
    socket.onclose = function () {
      badge.textContent = "offline";
      badge.className = "conn conn-down";
      setTimeout(connect, delay + Math.random() * 250);
      delay = Math.min(delay * 2, 15000);
    };
  }

  // Alert actions: the same forms work without JavaScript (POST, redirect back); here they post by fetch.
  function toast(text, bad) {
    const box = document.createElement("div");
    box.className = "toast" + (bad ? " toast-bad" : "");
    box.textContent = text;
    document.body.appendChild(box);
    setTimeout(() => box.remove(), 4000);
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.dataset.action) return;
    event.preventDefault();
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { Accept: "application/json" } })
      .then((response) => response.json().then((data) => ({ response, data })))
      .then(({ response, data }) => {
        if (!response.ok) { toast(data.error || "refused", true); return; }
        toast(form.dataset.action + ": done");
        const panel = form.closest("[data-panel]");
        if (panel) refreshPanel(panel); else location.reload();
      })
      .catch((error) => toast(String(error), true));
  });

  connect();
})();
