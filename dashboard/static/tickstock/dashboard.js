// The live dashboard: one WebSocket to /ws/dashboard/ (reconnects with backoff and asks for what it missed),
// a live event feed, panels re-rendered by the server and morphed into the page (vendored idiomorph) so that
// focus, typed text, open groups and scroll positions survive, a visible stale state while disconnected, the
// silence popover, and alert actions posted with the page's CSRF token.
(function () {
  "use strict";
  const MAX_ROWS = 200;
  const REFRESH_MS = 400;
  const HOLD_MAX_MS = 8000;
  const body = document.body;
  const feed = document.getElementById("events");
  const counter = document.getElementById("event-count");
  const badge = document.getElementById("connection");
  const banner = document.getElementById("stale-banner");
  const panelUrl = body.dataset.panelUrl;
  const page = body.dataset.page;
  const zone = body.dataset.clock || "UTC";
  const zoneLabel = body.dataset.clockLabel || "UTC";
  let lastSeq = body.dataset.lastSeq ? Number(body.dataset.lastSeq) : null;
  let lastUpdate = new Date();
  const seen = new Set();
  if (feed) feed.querySelectorAll("tr[data-id]").forEach((tr) => seen.add(tr.dataset.id));
  let delay = 500;

  const timeOfDay = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit",
    second: "2-digit", hourCycle: "h23" });

  function addToFeed(item) {
    const ev = item.event;
    const tr = document.createElement("tr");
    tr.className = "fresh";
    tr.dataset.seq = item.seq;
    tr.dataset.id = ev.id;
    const cells = [timeOfDay.format(new Date(ev.occurred_at)), ev.type.replace(/^tickstock\./, ""), item.summary || ""];
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

  function schedule() {
    if (dirty.size && !timer) timer = setTimeout(flushPanels, REFRESH_MS);
  }

  function markDirty(type) {
    document.querySelectorAll("[data-panel]").forEach((panel) => {
      const prefixes = (panel.dataset.refresh || "").split(/\s+/).filter(Boolean);
      if (prefixes.some((prefix) => type.startsWith(prefix))) dirty.add(panel);
    });
    schedule();
  }

  function flushPanels() {
    timer = null;
    const panels = Array.from(dirty);
    dirty.clear();
    panels.forEach((panel) => refreshPanel(panel, false));
  }

  // Rows must not jump under the pointer: a panel marked data-hold waits while hovered (or while the silence
  // popover is open), up to HOLD_MAX_MS.
  function held(panel) {
    if (!("hold" in panel.dataset)) return false;
    const since = Number(panel.dataset.heldSince || 0);
    const busyHere = panel.matches(":hover") || document.getElementById("silence-dialog").open;
    if (!busyHere) { delete panel.dataset.heldSince; return false; }
    if (!since) panel.dataset.heldSince = String(Date.now());
    if (Date.now() - (since || Date.now()) > HOLD_MAX_MS) { delete panel.dataset.heldSince; return false; }
    return true;
  }

  function keepUserState(oldNode, newNode) {
    // Typed text not yet submitted, and groups the user opened or closed, stay as the user left them.
    if ((oldNode.tagName === "INPUT" || oldNode.tagName === "TEXTAREA") && oldNode.type !== "hidden" &&
        oldNode.value !== oldNode.defaultValue) return false;
    if (oldNode.tagName === "DETAILS" && newNode.tagName === "DETAILS") {
      if (oldNode.open) newNode.setAttribute("open", ""); else newNode.removeAttribute("open");
    }
    return true;
  }

  function refreshPanel(panel, ownAction) {
    if (busy.has(panel) || (!ownAction && held(panel))) {
      dirty.add(panel);
      schedule();
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
        Idiomorph.morph(panel, html, { morphStyle: "innerHTML", ignoreActiveValue: true,
          callbacks: { beforeNodeMorphed: keepUserState } });
        if (window.TickCharts) window.TickCharts.render(panel);
        panel.dataset.refreshed = String(Date.now());
      })
      .catch(() => {})
      .finally(() => busy.delete(panel));
  }

  function handle(items, replay) {
    lastUpdate = new Date();
    items.forEach((item) => {
      const ev = item.event;
      if (lastSeq === null || item.seq > lastSeq) lastSeq = item.seq;
      if (seen.has(ev.id)) return;
      seen.add(ev.id);
      if (feed) addToFeed(item);
      markDirty(ev.type);
    });
    if (replay) document.querySelectorAll("[data-panel]").forEach((p) => dirty.add(p));
    schedule();
  }

  function setStale(stale) {
    body.classList.toggle("stale", stale);
    banner.hidden = !stale;
    if (stale) document.getElementById("stale-since").textContent = timeOfDay.format(lastUpdate) + " " + zoneLabel;
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
      if (data.kind !== "events") return;
      handle(data.events, Boolean(data.resync));
      if (data.resync) setStale(false);
    };
    socket.onclose = function () {
      badge.textContent = "offline";
      badge.className = "conn conn-down";
      setStale(true);
      setTimeout(connect, delay + Math.random() * 250);
      delay = Math.min(delay * 2, 15000);
    };
  }

  function toast(text, bad) {
    const box = document.createElement("div");
    box.className = "toast" + (bad ? " toast-bad" : "");
    box.setAttribute("role", "status");
    box.textContent = text;
    document.body.appendChild(box);
    setTimeout(() => box.remove(), 4000);
  }

  function post(form, onDone) {
    return fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { Accept: "application/json" } })
      .then((response) => response.json().then((data) => ({ response, data })))
      .then(({ response, data }) => {
        if (!response.ok) { toast(data.error || "refused", true); return; }
        onDone(data);
      })
      .catch((error) => toast(String(error), true));
  }

  function refreshAround(element) {
    const panel = element.closest("[data-panel]");
    if (panel) refreshPanel(panel, true); else location.reload();
  }

  // Alert actions: the same forms work without JavaScript (POST, redirect back); here they post by fetch.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.dataset.action) return;
    event.preventDefault();
    if (form.dataset.confirm) {
      if (!window.confirm(form.dataset.confirm)) return;
      if (form.elements.confirmed) form.elements.confirmed.value = "1";
    }
    post(form, () => { toast(form.dataset.action + ": done"); refreshAround(form); });
  });

  document.addEventListener("change", (event) => {
    if (event.target.matches("[data-autosubmit]")) event.target.form.submit();
    else if (event.target.closest("form[data-autosubmit]")) event.target.closest("form").submit();
  });

  // The silence popover: one dialog for every alert, group and the filter ("silence similar").
  const dialog = document.getElementById("silence-dialog");
  const silenceForm = dialog.querySelector("form");
  const previewBox = dialog.querySelector("[data-silence-preview]");
  const errorBox = dialog.querySelector("[data-silence-error]");
  let opener = null;
  let previewTimer = null;

  function preview() {
    const matchers = silenceForm.elements.matchers.value;
    if (!matchers.trim()) { previewBox.textContent = ""; return; }
    fetch(silenceForm.action.replace(/new\/$/, "preview/") + "?matchers=" + encodeURIComponent(matchers),
      { credentials: "same-origin" })
      .then((response) => response.json())
      .then((data) => {
        previewBox.textContent = data.ok
          ? `Mutes ${data.count} open alert(s) now${data.titles.length ? ": " + data.titles.join(" · ") : ""}`
          : data.error;
        previewBox.classList.toggle("bad", !data.ok);
      })
      .catch(() => {});
  }

  document.addEventListener("click", (event) => {
    const trigger = event.target.closest("[data-silence-open]");
    if (!trigger) return;
    event.preventDefault();
    opener = trigger;
    silenceForm.reset();
    silenceForm.elements.matchers.value = trigger.dataset.matchers || "";
    dialog.querySelector("[data-silence-subject]").textContent = trigger.dataset.subject || "";
    errorBox.textContent = "";
    dialog.showModal();
    (trigger.dataset.matchers ? silenceForm.elements.comment : silenceForm.elements.matchers).focus();
    preview();
  });
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  silenceForm.elements.matchers.addEventListener("input", () => {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, 250);
  });
  silenceForm.addEventListener("submit", (event) => {
    event.preventDefault();
    errorBox.textContent = "";
    fetch(silenceForm.action, { method: "POST", body: new FormData(silenceForm), credentials: "same-origin",
      headers: { Accept: "application/json" } })
      .then((response) => response.json())
      .then((data) => {
        if (!data.ok) { errorBox.textContent = data.error; return; }
        dialog.close();
        toast(`silence #${data.silence_id} created: ${data.muted} alert(s) muted`);
        if (opener) refreshAround(opener);
      })
      .catch((error) => { errorBox.textContent = String(error); });
  });

  connect();
})();
