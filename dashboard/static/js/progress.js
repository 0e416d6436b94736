// Following a job (deploy, rollback, push) live: its steps, a bar per
// image layer, the total, and the failed container's last log lines.

import { api, socket } from "./api.js";
import { esc, fmtBytes, fmtDuration, iconHTML, toast, errorText } from "./ui.js";

const STEP_NAMES = {
  image: "Image",
  network: "Network",
  database: "Database",
  start: "Start the new container",
  health: "Health check",
  switch: "Switch over",
  push: "Push",
  source: "Build from source",
  fetch: "Fetch the source",
  lint: "Lint the Dockerfile",
  build: "Build the image",
  snapshot: "Snapshot of the database",
  dump: "Dump",
  verify: "Verify: restore into a throwaway database",
  retention: "Retention",
  check: "Check the file's checksum",
  "safety backup": "Safety backup",
  restore: "Restore",
};

// maxStreamLines bounds a streamed output block in the page: a long
// build's first lines matter less than its last.
const maxStreamLines = 5000;

const PHASES = {
  preparing: "preparing",
  uploading: "uploading",
  downloading: "downloading",
  extracting: "extracting",
  exists: "already there",
  done: "done",
};

function layerKey(layer) {
  // "3 sha256:…": the index names the layer; the digest arrives later.
  return String(layer || "").split(" ")[0];
}

function layerLabel(layer) {
  const parts = String(layer || "").split(" ");
  const digest = parts[1] || "";
  if (digest.includes(":")) return digest.split(":")[1].slice(0, 12);
  return "layer " + parts[0];
}

// followJob renders job id into panel and resolves with its final status
// (succeeded, failed or canceled).
// collapseAfter, when set, folds a successful job's steps away after that
// many milliseconds, leaving a one-line summary with a Details button.
export function followJob(panel, id, { title, doneTitle = "", subject = "", onDone, collapseAfter = 0 } = {}) {
  panel.hidden = false;
  panel.dataset.job = id;
  panel.dataset.status = "running";
  panel.classList.remove("collapsed");
  panel.innerHTML =
    '<div class="job-head"><h2 id="' + panel.id + '-title"><span class="badge warn job-badge"><span class="dot" aria-hidden="true"></span><span class="job-state">running</span></span> ' +
    '<span class="job-title">' + esc(title) + '</span></h2><div class="job-summary"><span class="muted small job-elapsed"></span>' +
    '<button type="button" class="btn small ghost job-toggle" hidden aria-expanded="true">Hide steps</button><button type="button" class="btn small ghost job-cancel">Cancel</button><button type="button" class="btn small ghost icon-only job-close" hidden aria-label="Close">' +
    iconHTML("x") + "</button></div></div>" +
    (subject ? '<p class="muted small">' + esc(subject) + "</p>" : "") +
    '<div class="total-progress" hidden><div class="bar total" role="progressbar" aria-label="Transferred" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0"><span></span></div><span class="total-pct" data-pct="0">0%</span></div>' +
    '<ol class="steps"></ol><div class="job-logs"></div><div class="job-result"></div>';
  const steps = panel.querySelector(".steps");
  const started = Date.now();
  let firstTime = null; // the server's time of the first event
  const layers = new Map(); // key -> {current, total, phase, el}
  let timer = setInterval(() => {
    panel.querySelector(".job-elapsed").textContent = fmtDuration(Date.now() - started);
  }, 250);

  panel.querySelector(".job-cancel").addEventListener("click", async (e) => {
    e.target.disabled = true;
    try {
      await api("DELETE", "/api/v1/jobs/" + id);
    } catch (err) {
      toast(errorText(err), "bad");
      e.target.disabled = false;
    }
  });
  panel.querySelector(".job-close").addEventListener("click", () => {
    panel.hidden = true;
  });
  const toggle = panel.querySelector(".job-toggle");
  const fold = (folded) => {
    panel.classList.toggle("collapsed", folded);
    toggle.textContent = folded ? "Show steps" : "Hide steps";
    toggle.setAttribute("aria-expanded", String(!folded));
  };
  toggle.addEventListener("click", () => fold(!panel.classList.contains("collapsed")));

  function stepEl(name) {
    let li = steps.querySelector('[data-step="' + CSS.escape(name) + '"]');
    if (!li) {
      li = document.createElement("li");
      li.className = "step";
      li.dataset.step = name;
      li.innerHTML =
        '<span class="step-icon" aria-hidden="true"></span><div><div class="step-name">' + esc(STEP_NAMES[name] || name) +
        '</div><div class="step-msg"></div><div class="layers"></div></div><span class="step-time"></span>';
      steps.append(li);
    }
    return li;
  }

  function setStep(e) {
    const li = stepEl(e.step);
    li.dataset.status = e.status;
    li.querySelector(".step-icon").innerHTML = e.status === "succeeded" ? iconHTML("check") : e.status === "failed" ? iconHTML("x") : "";
    // A failed health check's message carries the log lines the log
    // event shows below; keep the message to its first part.
    if (e.message) li.querySelector(".step-msg").textContent = e.message.split("; last log lines")[0];
    if (e.status === "running") li.dataset.start = e.time;
    else if (li.dataset.start) li.querySelector(".step-time").textContent = fmtDuration(new Date(e.time) - new Date(li.dataset.start));
    li.setAttribute("aria-label", (STEP_NAMES[e.step] || e.step) + ": " + e.status);
  }

  function setProgress(e) {
    const key = layerKey(e.layer);
    let l = layers.get(key);
    const li = stepEl(e.step || "image");
    if (!l) {
      const el = document.createElement("div");
      el.className = "layer";
      el.innerHTML = '<span class="layer-id"></span><div class="bar"><span></span></div><span class="layer-info"></span>';
      li.querySelector(".layers").append(el);
      l = { el, current: 0, total: 0, phase: "" };
      layers.set(key, l);
    }
    l.current = e.current || 0;
    l.total = e.total || 0;
    l.phase = e.message || "";
    const done = l.phase === "done" || l.phase === "exists";
    const pct = done ? 100 : l.total ? Math.min(100, (100 * l.current) / l.total) : 0;
    l.el.querySelector(".layer-id").textContent = layerLabel(e.layer);
    l.el.querySelector(".layer-id").title = String(e.layer || "");
    const bar = l.el.querySelector(".bar");
    bar.classList.toggle("done", done);
    bar.firstElementChild.style.width = pct + "%";
    l.el.querySelector(".layer-info").textContent =
      (PHASES[l.phase] || l.phase) + (l.total ? " · " + fmtBytes(done ? l.total : l.current) + " / " + fmtBytes(l.total) : "");
    total();
  }

  function total() {
    let cur = 0;
    let tot = 0;
    let allDone = layers.size > 0;
    for (const l of layers.values()) {
      const done = l.phase === "done" || l.phase === "exists";
      allDone = allDone && done;
      if (l.total) {
        tot += l.total;
        cur += done ? l.total : l.current;
      }
    }
    const pct = allDone ? 100 : tot ? Math.floor((100 * cur) / tot) : 0;
    const box = panel.querySelector(".total-progress");
    box.hidden = false;
    const bar = box.querySelector(".bar");
    bar.classList.toggle("done", pct === 100);
    bar.firstElementChild.style.width = pct + "%";
    bar.setAttribute("aria-valuenow", String(pct));
    const label = box.querySelector(".total-pct");
    label.textContent = pct + "%";
    label.dataset.pct = String(pct);
  }

  // Lines a step streams one by one (the build's output) share one
  // block per step, appended as they come.
  const streams = new Map();
  function addLine(e) {
    let pre = streams.get(e.step);
    if (!pre) {
      const wrap = document.createElement("div");
      wrap.dataset.output = e.step;
      wrap.innerHTML = '<p class="log-tail-title"></p><pre class="log-tail build-output"></pre>';
      wrap.querySelector(".log-tail-title").textContent = (STEP_NAMES[e.step] || e.step || "") + ": output";
      pre = wrap.querySelector(".log-tail");
      panel.querySelector(".job-logs").append(wrap);
      streams.set(e.step, pre);
    }
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    const span = document.createElement("span");
    if (e.message.startsWith("ERROR: ")) span.className = "err";
    span.textContent = e.message + "\n";
    pre.append(span);
    if (pre.childElementCount > maxStreamLines) pre.firstElementChild.remove();
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }

  function addLog(e) {
    if (!e.lines && e.message) return addLine(e);
    const box = panel.querySelector(".job-logs");
    const wrap = document.createElement("div");
    wrap.innerHTML = '<p class="log-tail-title"></p><pre class="log-tail"></pre>';
    wrap.querySelector(".log-tail-title").textContent = (STEP_NAMES[e.step] || e.step || "") + ": " + (e.message || "log");
    const pre = wrap.querySelector(".log-tail");
    for (const line of e.lines || []) {
      // The runtime marks standard error lines with this prefix.
      const span = document.createElement("span");
      if (line.startsWith("stderr: ")) span.className = "err";
      span.textContent = line + "\n";
      pre.append(span);
    }
    box.append(wrap);
    pre.scrollTop = pre.scrollHeight; // the last lines say most
  }

  return new Promise((resolve) => {
    let final = "";
    const finish = (status, message) => {
      if (panel.dataset.status !== "running") return;
      clearInterval(timer);
      panel.dataset.status = status;
      const badge = panel.querySelector(".job-badge");
      badge.className = "badge job-badge " + (status === "succeeded" ? "ok" : status === "canceled" ? "off" : "bad");
      panel.querySelector(".job-state").textContent = status;
      if (status === "succeeded" && doneTitle) panel.querySelector(".job-title").textContent = doneTitle;
      panel.querySelector(".job-cancel").hidden = true;
      panel.querySelector(".job-close").hidden = false;
      toggle.hidden = false;
      if (status === "succeeded" && collapseAfter) {
        setTimeout(() => {
          if (panel.dataset.job === id && toggle.getAttribute("aria-expanded") === "true") fold(true);
        }, collapseAfter);
      }
      const stepFailed = steps.querySelector('[data-status="failed"]') !== null;
      for (const li of steps.querySelectorAll('[data-status="running"]')) li.dataset.status = status === "succeeded" ? "succeeded" : "failed";
      // The failed step already says why; the job's error is for failures
      // outside any step.
      if (message && status !== "succeeded" && !stepFailed) {
        const r = panel.querySelector(".job-result");
        r.innerHTML = '<div class="alert bad" role="alert">' + iconHTML("alert") + "<div></div></div>";
        r.querySelector("div > div").textContent = message;
      }
      if (onDone) onDone(status, panel);
      resolve(status);
    };
    socket("/api/v1/jobs/" + encodeURIComponent(id) + "/stream", {
      onMessage: (m) => {
        if (m.type === "event") {
          const e = m.event;
          if (!firstTime) firstTime = e.time;
          if (e.type === "step") setStep(e);
          else if (e.type === "progress") setProgress(e);
          else if (e.type === "log") addLog(e);
          else if (e.type === "done") {
            final = e.status;
            // The job's own duration, by the server's clock: the page may
            // have joined late.
            if (firstTime) panel.querySelector(".job-elapsed").textContent = fmtDuration(new Date(e.time) - new Date(firstTime));
            finish(e.status, e.message);
          }
        } else if (m.type === "error") {
          finish("failed", m.error);
        }
      },
      onClose: () => {
        if (!final) finish("failed", "lost the connection to kaj while following this job; reload to see how it ended");
      },
    });
  });
}
