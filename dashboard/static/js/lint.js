// Dockerfile lint: findings by line, linked to the text.

import { api, APIError } from "./api.js";
import { esc, toast } from "./ui.js";

const form = document.getElementById("lint-form");
const input = document.getElementById("lint-input");
const gutter = document.getElementById("lint-gutter");
const list = document.getElementById("lint-findings");
const summary = document.getElementById("lint-summary");
const example = document.getElementById("lint-example");
let hits = new Map(); // line -> severity

function drawGutter() {
  const n = input.value.split("\n").length;
  let h = "";
  for (let i = 1; i <= n; i++) h += (hits.has(i) ? '<span class="hit" title="' + esc(hits.get(i)) + '">' + i + "</span>" : i) + "\n";
  gutter.innerHTML = h;
  gutter.scrollTop = input.scrollTop;
}

input.addEventListener("input", () => {
  hits = new Map();
  drawGutter();
});
input.addEventListener("scroll", () => (gutter.scrollTop = input.scrollTop));
input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    form.requestSubmit();
  }
});

function selectLines(from, to) {
  const lines = input.value.split("\n");
  let start = 0;
  for (let i = 0; i < from - 1 && i < lines.length; i++) start += lines[i].length + 1;
  let end = start;
  for (let i = from - 1; i < to && i < lines.length; i++) end += lines[i].length + 1;
  input.focus();
  input.setSelectionRange(start, Math.max(start, end - 1));
  input.scrollTop = Math.max(0, (from - 3) * 20);
}

list.addEventListener("click", (e) => {
  const b = e.target.closest("[data-line]");
  if (b) selectLines(Number(b.dataset.line), Number(b.dataset.end || b.dataset.line));
});

// safeURL lets through only http(s) links, so a finding cannot carry a
// javascript: URL into the page.
function safeURL(u) {
  return /^https?:\/\//.test(u || "") ? u : "";
}

function finding(f) {
  const li = document.createElement("li");
  li.innerHTML =
    '<button type="button" class="finding" data-line="' + f.line + '" data-end="' + (f.endLine || f.line) + '"><span class="where">' +
    (f.endLine && f.endLine !== f.line ? "lines " + f.line + "–" + f.endLine : "line " + f.line) +
    '</span><span><span class="sev sev-' + esc(f.severity) + '">' + esc(f.severity) + "</span> " +
    (f.code ? '<strong class="mono">' + esc(f.code) + "</strong>" : "") + '</span><span class="msg">' + esc(f.message) + "</span></button>";
  // The rule's documentation and how to fix it, outside the button: a
  // link may not sit inside one.
  const url = safeURL(f.url);
  if (f.fix || url) {
    const help = document.createElement("p");
    help.className = "muted finding-help";
    help.innerHTML =
      (f.fix ? "<span>Fix: " + esc(f.fix) + "</span> " : "") +
      (url ? '<a href="' + esc(url) + '" rel="noopener noreferrer" target="_blank">' + esc(f.code) + " documentation</a>" : "");
    li.append(help);
  }
  return li;
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  list.innerHTML = "";
  hits = new Map();
  const ignore = document.getElementById("lint-ignore").value.split(/[\s,]+/).filter(Boolean);
  const threshold = document.getElementById("lint-threshold").value;
  try {
    const r = await api("POST", "/api/v1/lint", { dockerfile: input.value, ignore, threshold });
    const fs = r.findings.slice().sort((a, b) => a.line - b.line);
    for (const f of fs) {
      hits.set(f.line, f.code + " " + f.severity);
      list.append(finding(f));
    }
    summary.textContent = fs.length ? fs.length + (fs.length === 1 ? " finding" : " findings") : "No findings";
    if (!fs.length) list.innerHTML = '<li class="lint-ok">No findings at or above ' + esc(threshold) + ".</li>";
  } catch (err) {
    if (err instanceof APIError && err.body && err.body.line) {
      hits.set(err.body.line, "parse error");
      list.append(finding({ line: err.body.line, severity: "error", code: "", message: err.detail || err.message }));
      summary.textContent = "The Dockerfile does not parse";
    } else {
      toast(err.text || String(err), "bad");
    }
  }
  drawGutter();
});

if (example) {
  example.addEventListener("change", () => {
    const t = document.getElementById("example-" + example.value);
    if (!t) return;
    input.value = t.content.textContent;
    hits = new Map();
    drawGutter();
    form.requestSubmit();
  });
}

drawGutter();
