// Live events over /ws/dashboard/: reconnects with backoff and asks for what it missed.
(function () {
  "use strict";
  const MAX_ROWS = 200;
  const body = document.getElementById("events");
  const counter = document.getElementById("event-count");
  const badge = document.getElementById("connection");
  const lastRow = body.querySelector("tr");
  let lastSeq = lastRow ? Number(lastRow.dataset.seq) : null;
  const seen = new Set(Array.from(body.querySelectorAll("tr")).map((tr) => tr.dataset.id));
  let delay = 500;

  function addEvent(item) {
    const ev = item.event;
    if (seen.has(ev.id)) return;
    seen.add(ev.id);
    if (lastSeq === null || item.seq > lastSeq) lastSeq = item.seq;
    const tr = document.createElement("tr");
    tr.className = "fresh";
    tr.dataset.seq = item.seq;
    tr.dataset.id = ev.id;
    for (const text of [ev.occurred_at, ev.type]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    const td = document.createElement("td");
    const code = document.createElement("code");
    code.textContent = JSON.stringify(ev.payload);
    td.appendChild(code);
    tr.appendChild(td);
    body.insertBefore(tr, body.firstChild);
    while (body.children.length > MAX_ROWS) body.removeChild(body.lastChild);
    counter.textContent = String(seen.size);
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
      if (data.kind === "events") data.events.forEach(addEvent);
    };
    socket.onclose = function () {
      badge.textContent = "offline";
      badge.className = "conn conn-down";
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }
  connect();
})();
