// The apps list: quick actions, and a refresh every few seconds so the
// states stay current without reloading.

import { api, refresh, every } from "./api.js";
import { toast, errorText, busy, esc } from "./ui.js";

const PARTS = ["count", "engine", "list"];

async function act(btn) {
  const app = btn.dataset.app;
  const action = btn.dataset.action;
  const done = busy(btn);
  try {
    if (action === "deploy") {
      const r = await api("POST", "/api/v1/apps/" + encodeURIComponent(app) + "/deploy");
      toast("Deploying " + app + ".", "info", { html: '<a href="/apps/' + esc(encodeURIComponent(app)) + "?job=" + esc(encodeURIComponent(r.job)) + '">Follow it</a>' });
    } else {
      await api("POST", "/api/v1/apps/" + encodeURIComponent(app) + "/" + action);
      toast(app + ": " + action + " done.", "ok");
    }
  } catch (err) {
    toast(app + ": " + errorText(err), "bad");
  } finally {
    done();
  }
  refresh(PARTS).catch(() => {});
}

document.addEventListener("click", (e) => {
  const btn = e.target.closest("button[data-action][data-app]");
  if (btn) act(btn);
});

every(4000, () => refresh(PARTS));

const deleted = new URLSearchParams(location.search).get("deleted");
if (deleted) {
  toast(deleted + " deleted.", "ok");
  history.replaceState(null, "", "/");
}

// ---------- live CPU and memory column ----------
// One websocket for every running app listed; kaj shares each
// container's engine stream with every other viewer. The cell shows the
// newest reading; the page's refresh re-renders it from the same hub.

import { socket as openSocket } from "./api.js";
import { fmtBytes as bytes } from "./ui.js";

let usage = null;
let watched = "";

function watchUsage() {
  const apps = Array.from(document.querySelectorAll("td.usage[data-watch]"), (c) => c.dataset.usage).sort().join(",");
  if (apps === watched && usage) return;
  if (usage) usage.close();
  usage = null;
  watched = apps;
  if (!apps) return;
  const ws = openSocket("/api/v1/stats/stream?apps=" + encodeURIComponent(apps), {
    onMessage(m) {
      if (m.type !== "sample") return;
      const cell = document.querySelector('td.usage[data-usage="' + CSS.escape(m.app) + '"]');
      if (cell) cell.textContent = m.sample.cpu_percent.toFixed(1) + "% · " + bytes(m.sample.memory);
    },
    onClose() {
      if (usage === ws) usage = null;
    },
  });
  usage = ws;
}
watchUsage();
setInterval(watchUsage, 5000);
