// The event feed: new events arrive over a websocket and go on top.

import { socket } from "./api.js";
import { esc } from "./ui.js";

const feed = document.getElementById("feed");
const conn = document.getElementById("events-conn");
let newest = Number(feed.dataset.newest || 0);

function item(e) {
  const li = document.createElement("li");
  li.className = "event fresh";
  li.dataset.key = String(e.seq);
  li.dataset.kind = String(e.action || "").split(".")[0];
  const d = new Date(e.time);
  li.innerHTML =
    '<span class="event-icon" aria-hidden="true"></span><div class="event-body"><p><strong class="event-actor">' + esc(e.actor) +
    '</strong> <span class="event-action mono">' + esc(e.action) + '</span> <span class="event-target">' + esc(e.target || "") +
    '</span></p><p class="muted small event-detail">' + esc(e.detail || "") + '</p></div><span class="event-time muted small"><time datetime="' +
    esc(e.time) + '" title="' + esc(d.toLocaleString()) + '">just now</time></span>';
  return li;
}

function connect(delay) {
  conn.dataset.state = "connecting";
  conn.textContent = "connecting";
  socket("/api/v1/events/stream", {
    onOpen: () => {
      conn.dataset.state = "live";
      conn.textContent = "live";
    },
    onMessage: (m) => {
      if (m.type !== "event" || m.event.seq <= newest) return;
      newest = m.event.seq;
      const empty = document.getElementById("feed-empty");
      if (empty) empty.remove();
      feed.prepend(item(m.event));
    },
    onClose: () => {
      conn.dataset.state = "error";
      conn.textContent = "disconnected; retrying";
      setTimeout(() => connect(Math.min(delay * 2, 15000)), delay);
    },
  });
}

if (feed.dataset.live === "true") connect(1000);
