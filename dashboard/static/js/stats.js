// Live resource charts on an app's page: one websocket while the
// Resources tab shows, drawn as inline SVG sparklines (no chart library).

import { socket, seg } from "./api.js";
import { fmtBytes } from "./ui.js";

const panel = document.getElementById("panel-resources");
const app = document.getElementById("app-head").dataset.app;
const status = document.getElementById("stats-status");
const which = document.getElementById("stats-container");
const keep = 300; // five minutes at one reading a second

let ws = null;
let samples = [];

// draw scales values to the SVG's 300x60 box; max is at least floor so a
// quiet container's chart does not magnify noise.
function draw(id, values, floor) {
  const line = document.querySelector("#" + id + " polyline");
  const max = Math.max(floor, ...values);
  const step = 300 / Math.max(1, keep - 1);
  const off = keep - values.length;
  line.setAttribute("points", values.map((v, i) => ((off + i) * step).toFixed(1) + "," + (58 - (v / max) * 56).toFixed(1)).join(" "));
}

// rate turns running byte totals into bytes per second between readings.
function rate(pick) {
  const out = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = (new Date(samples[i].time) - new Date(samples[i - 1].time)) / 1000 || 1;
    out.push(Math.max(0, (pick(samples[i]) - pick(samples[i - 1])) / dt));
  }
  return out;
}

function render() {
  const last = samples[samples.length - 1];
  if (!last) return;
  const cpu = samples.map((s) => s.cpu_percent);
  const mem = samples.map((s) => s.memory);
  const net = rate((s) => s.net_rx + s.net_tx);
  const blk = rate((s) => s.block_read + s.block_write);
  draw("chart-cpu", cpu, 5);
  draw("chart-mem", mem, 1 << 20); // scaled to what it uses: the limit is often the whole host
  draw("chart-net", net, 1024);
  draw("chart-blk", blk, 1024);
  document.getElementById("stat-cpu").textContent = last.cpu_percent.toFixed(1) + " %";
  document.getElementById("stat-mem").textContent = fmtBytes(last.memory) + (last.memory_limit ? " / " + fmtBytes(last.memory_limit) : "");
  document.getElementById("stat-net").textContent = fmtBytes(net[net.length - 1] || 0) + "/s";
  document.getElementById("stat-blk").textContent = fmtBytes(blk[blk.length - 1] || 0) + "/s";
  status.textContent = samples.length + " readings; last at " + new Date(last.time).toLocaleTimeString();
  panel.dataset.samples = String(samples.length);
}

function connect() {
  disconnect();
  samples = [];
  status.textContent = "Waiting for the first reading…";
  ws = socket("/api/v1/apps/" + seg(app) + "/stats?container=" + encodeURIComponent(which.value), {
    onMessage(m) {
      if (m.type === "history") {
        samples = m.samples.slice(-keep);
        render();
      } else if (m.type === "sample") {
        samples.push(m.sample);
        if (samples.length > keep) samples.shift();
        render();
      } else if (m.type === "error" || m.type === "end") {
        status.textContent = m.error || "The container stopped; its readings ended.";
      }
    },
  });
}

function disconnect() {
  if (ws) ws.close();
  ws = null;
}

// The stream runs only while the tab shows: a hidden chart costs nothing.
new MutationObserver(() => (panel.hidden ? disconnect() : ws || connect())).observe(panel, { attributes: true, attributeFilter: ["hidden"] });
which.addEventListener("change", () => !panel.hidden && connect());
if (!panel.hidden) connect();
