// The live log panel: follows a container's log over a websocket and
// shows it in a virtualised list, so a hundred thousand lines cost the
// page no more DOM than the sixty or so on screen.
//
// Reading never jumps: the view follows new lines only while it is
// scrolled to the bottom; scroll up and it stays where it is while lines
// keep arriving (and keep being counted). Pause holds new lines back
// without losing them.

import { socket } from "./api.js";
import { toHTML, stripAnsi, hasAnsi, paint } from "./ansi.js";
import { esc, fmtCount } from "./ui.js";

const ROW = 20; // px; the height of .log-line in the stylesheet
const WRAP_MAX = 2000; // lines drawn when wrapping, which cannot virtualise

// levelOf finds a line's level in its first words (MariaDB's "[Note]",
// "level=warn", "ERROR:"), so colour follows what a line says rather
// than the stream it was written to.
const LEVEL = /\b(fatal|panic|emerg|alert|crit(?:ical)?|error|err|warn(?:ing)?|note|notice|info|debug|trace)\b/i;
function levelOf(text) {
  const m = LEVEL.exec(text.slice(0, 160));
  if (!m) return "";
  const w = m[1].toLowerCase();
  if (/^(fatal|panic|emerg|alert|crit|critical|error|err)$/.test(w)) return "error";
  if (w.startsWith("warn")) return "warn";
  if (w === "debug" || w === "trace") return "debug";
  return "info";
}
const CAP = 100000; // lines kept; beyond it the oldest are dropped
const SLACK = 5000; // drop in chunks, not one line per line
const OVERSCAN = 15;
const TAIL = 1000; // backlog asked for on connecting (the server keeps 1000)

// tkey makes RFC 3339 times with nanoseconds comparable as strings.
function tkey(t) {
  const m = /^([^.Z+]*)(?:\.(\d+))?(.*)$/.exec(t || "");
  return m ? m[1] + "." + (m[2] || "").padEnd(9, "0") + m[3] : "";
}

function fmtTime(t) {
  const d = new Date(t);
  if (isNaN(d)) return "";
  const p = (n, w = 2) => String(n).padStart(w, "0");
  return p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds()) + "." + p(d.getMilliseconds(), 3);
}

export class LogViewer {
  constructor(root, app) {
    this.root = root;
    this.app = app;
    this.view = root.querySelector("#log-view");
    this.spacer = root.querySelector(".logs-spacer");
    this.rowsEl = root.querySelector(".logs-rows");
    this.empty = root.querySelector("#log-empty");
    this.countEl = root.querySelector("#log-count");
    this.connEl = root.querySelector("#log-conn");
    this.jumpBtn = root.querySelector("#log-jump");
    this.pauseBtn = root.querySelector("#log-pause");
    this.filterInput = root.querySelector("#log-filter");
    this.container = root.querySelector("#log-container").value || "app";
    this.stream = "";
    this.filter = null;
    this.times = localStorage.getItem("kaj-log-times") === "1";
    root.querySelector("#log-times").checked = this.times;
    this.reset();
    this.bind();
  }

  reset() {
    this.lines = []; // {n, t, e, x, kind, k}
    this.base = 0; // the number of lines[0]
    this.next = 0; // the number the next line gets
    this.count = 0; // log lines held (markers not counted)
    this.dropped = 0;
    this.skipped = 0; // lines the server said this viewer missed
    this.shown = []; // numbers of the lines that pass the filter
    this.shownLines = 0; // of them, log lines (not markers)
    this.pending = [];
    this.pendingDropped = 0;
    this.follow = true;
    this.unseen = 0;
    this.last = null; // {t, texts}: the newest line's time, for reconnects
    this.resumeAfter = null;
    this.spacer.style.height = "0px";
    this.schedule();
    this.status();
  }

  bind() {
    this.view.addEventListener("scroll", () => this.onScroll(), { passive: true });
    this.view.addEventListener("keydown", (e) => {
      if (e.key === "End") {
        e.preventDefault();
        this.jump();
      } else if (e.key === "Home") {
        e.preventDefault();
        this.view.scrollTop = 0;
      }
    });
    new ResizeObserver(() => this.schedule()).observe(this.view);
    this.jumpBtn.addEventListener("click", () => this.jump());
    this.pauseBtn.addEventListener("click", () => this.setPaused(!this.paused));
    this.root.querySelector("#log-clear").addEventListener("click", () => {
      this.reset();
      this.pending = [];
    });
    this.root.querySelector("#log-download").addEventListener("click", () => this.download());
    const wrap = this.root.querySelector("#log-wrap");
    const setWrap = (on) => {
      this.wrap = on;
      wrap.checked = on;
      this.view.classList.toggle("wrap", on);
      localStorage.setItem("kaj-log-wrap", on ? "1" : "0");
      this.refilter();
    };
    wrap.addEventListener("change", () => setWrap(wrap.checked));
    setWrap(localStorage.getItem("kaj-log-wrap") === "1");
    this.root.querySelector("#log-times").addEventListener("change", (e) => {
      this.times = e.target.checked;
      localStorage.setItem("kaj-log-times", this.times ? "1" : "0");
      this.schedule();
    });
    this.root.querySelector("#log-stream").addEventListener("change", (e) => {
      this.stream = e.target.value;
      this.refilter();
    });
    this.root.querySelector("#log-container").addEventListener("change", (e) => {
      this.container = e.target.value;
      this.reset();
      this.connect();
    });
    let t = 0;
    this.filterInput.addEventListener("input", () => {
      clearTimeout(t);
      t = setTimeout(() => this.setFilter(this.filterInput.value), 120);
    });
    this.filterInput.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.filterInput.value) {
        this.filterInput.value = "";
        this.setFilter("");
      }
    });
  }

  // ---------- connection ----------

  connect() {
    this.disconnect();
    this.closed = false;
    clearTimeout(this.retryTimer);
    this.setConn("connecting", "connecting");
    if (this.last) this.resumeAfter = { t: this.last.t, texts: new Set(this.last.texts) };
    const q = new URLSearchParams({ container: this.container, tail: String(TAIL) });
    const ws = socket("/api/v1/apps/" + encodeURIComponent(this.app) + "/logs?" + q, {
      onOpen: () => {
        this.retries = 0;
        this.setConn(this.paused ? "paused" : "live", this.paused ? "paused" : "live");
      },
      onMessage: (m) => this.onMessage(m),
      onClose: () => {
        if (ws !== this.ws || this.closed) return;
        this.ws = null;
        if (this.connState === "live" || this.connState === "paused" || this.connState === "connecting") {
          this.setConn("error", "disconnected; retrying");
        }
        this.retry(this.ended ? 5000 : 1000);
      },
    });
    this.ws = ws;
    this.ended = false;
  }

  disconnect() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close();
    }
  }

  retry(base) {
    this.retries = (this.retries || 0) + 1;
    const delay = Math.min(15000, base * Math.min(this.retries, 6));
    this.retryTimer = setTimeout(() => {
      if (!this.closed) this.connect();
    }, delay);
  }

  onMessage(m) {
    switch (m.type) {
      case "lines":
        this.receive(m.lines || []);
        break;
      case "end":
        this.ended = true;
        this.setConn("ended", m.error ? "ended: " + m.error : "the container stopped; waiting for it");
        break;
      case "error":
        this.ended = true;
        this.setConn("error", m.error || "error");
        break;
    }
  }

  setConn(state, text) {
    this.connState = state;
    this.connEl.dataset.state = state;
    this.connEl.textContent = text;
    this.root.dataset.conn = state;
  }

  // ---------- lines ----------

  receive(batch) {
    const fresh = [];
    for (const l of batch) {
      const t = l.time || "";
      if (this.resumeAfter) {
        const k = tkey(t);
        const r = tkey(this.resumeAfter.t);
        if (k < r || (k === r && this.resumeAfter.texts.has(l.text))) continue;
        this.resumeAfter = null;
      }
      if (l.skipped) fresh.push({ kind: "skip", k: l.skipped, t });
      if (l.repeats) fresh.push({ kind: "repeat", k: l.repeats, t });
      fresh.push({ kind: "line", t, e: l.stream === "stderr", x: l.text || "" });
      if (!this.last || this.last.t !== t) this.last = { t, texts: [] };
      this.last.texts.push(l.text);
      if (this.last.texts.length > 50) this.last.texts.shift();
    }
    if (!fresh.length) return;
    if (this.paused) {
      for (const l of fresh) this.pending.push(l);
      if (this.pending.length > CAP + SLACK) {
        const drop = this.pending.length - CAP;
        this.pending.splice(0, drop);
        this.pendingDropped += drop;
      }
      this.status();
      return;
    }
    this.add(fresh);
  }

  add(fresh) {
    let newlyShown = 0;
    for (const l of fresh) {
      l.n = this.next++;
      this.lines.push(l);
      if (l.kind === "line") this.count++;
      else if (l.kind === "skip") this.skipped += l.k;
      if (this.matches(l)) {
        this.shown.push(l.n);
        if (l.kind === "line") this.shownLines++;
        newlyShown++;
      }
    }
    const removedRows = this.trim();
    this.spacer.style.height = this.shown.length * ROW + "px";
    if (this.follow) {
      this.view.scrollTop = this.view.scrollHeight;
    } else {
      // Lines dropped above the reader move everything up: move the
      // scroll position with them so the same lines stay in view.
      if (removedRows) this.view.scrollTop = Math.max(0, this.view.scrollTop - removedRows * ROW);
      this.unseen += newlyShown;
    }
    this.schedule();
    this.status();
  }

  // trim drops the oldest lines beyond CAP and returns how many shown
  // rows went with them.
  trim() {
    if (this.lines.length <= CAP + SLACK) return 0;
    const drop = this.lines.length - CAP;
    const gone = this.lines.splice(0, drop);
    for (const l of gone) if (l.kind === "line") (this.count--, this.dropped++);
    this.base += drop;
    let k = 0;
    while (k < this.shown.length && this.shown[k] < this.base) k++;
    for (const n of this.shown.slice(0, k)) if (gone[n - (this.base - drop)].kind === "line") this.shownLines--;
    this.shown.splice(0, k);
    return k;
  }

  plain(l) {
    if (l.p === undefined) l.p = hasAnsi(l.x) ? stripAnsi(l.x) : l.x;
    return l.p;
  }

  matches(l) {
    if (l.kind !== "line") return !this.filter && !this.stream;
    if (this.stream && (l.e ? "stderr" : "stdout") !== this.stream) return false;
    if (!this.filter) return true;
    const p = this.plain(l);
    if (this.filter.re) {
      this.filter.re.lastIndex = 0;
      return this.filter.re.test(p);
    }
    return p.toLowerCase().includes(this.filter.q);
  }

  setFilter(v) {
    this.filterInput.classList.remove("invalid");
    this.filterInput.removeAttribute("aria-invalid");
    if (!v) {
      this.filter = null;
    } else {
      const m = /^\/(.+)\/([imsu]*)$/.exec(v);
      if (m) {
        try {
          this.filter = { re: new RegExp(m[1], m[2]), src: m[1], flags: m[2] };
        } catch {
          this.filterInput.classList.add("invalid");
          this.filterInput.setAttribute("aria-invalid", "true");
          return;
        }
      } else {
        this.filter = { q: v.toLowerCase() };
      }
    }
    this.refilter();
  }

  refilter() {
    this.shown = [];
    this.shownLines = 0;
    for (const l of this.lines) {
      if (this.matches(l)) {
        this.shown.push(l.n);
        if (l.kind === "line") this.shownLines++;
      }
    }
    this.spacer.style.height = this.shown.length * ROW + "px";
    if (this.follow) this.view.scrollTop = this.view.scrollHeight;
    this.unseen = 0;
    this.schedule();
    this.status();
  }

  // ---------- view ----------

  onScroll() {
    const atBottom = this.view.scrollTop + this.view.clientHeight >= this.view.scrollHeight - ROW / 2;
    if (atBottom !== this.follow) {
      this.follow = atBottom;
      if (atBottom) this.unseen = 0;
      this.status();
    }
    this.schedule();
  }

  jump() {
    this.follow = true;
    this.unseen = 0;
    this.view.scrollTop = this.view.scrollHeight;
    this.status();
  }

  setPaused(p) {
    this.paused = p;
    this.pauseBtn.setAttribute("aria-pressed", String(p));
    this.pauseBtn.querySelector("span").textContent = p ? "Resume" : "Pause";
    if (this.connState === "live" || this.connState === "paused") this.setConn(p ? "paused" : "live", p ? "paused" : "live");
    if (!p && this.pending.length) {
      const held = this.pending;
      this.pending = [];
      if (this.pendingDropped) {
        held.unshift({ kind: "skip", k: this.pendingDropped, t: "" });
        this.pendingDropped = 0;
      }
      this.add(held);
    }
    this.status();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  render() {
    const top = this.view.scrollTop;
    const h = this.view.clientHeight;
    let first = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
    let last = Math.min(this.shown.length, Math.ceil((top + h) / ROW) + OVERSCAN);
    // Wrapped lines have no fixed height: the newest WRAP_MAX are drawn
    // whole, in the flow, instead of the virtualised window.
    if (this.wrap) [first, last] = [Math.max(0, this.shown.length - WRAP_MAX), this.shown.length];
    let html = "";
    for (let i = first; i < last; i++) html += this.rowHTML(this.lines[this.shown[i] - this.base]);
    this.rowsEl.style.transform = "translateY(" + first * ROW + "px)";
    this.rowsEl.innerHTML = html;
    paint(this.rowsEl);
    this.empty.hidden = this.shown.length > 0;
    this.empty.textContent = this.count && (this.filter || this.stream) ? "No line matches the filter." : "Waiting for log lines…";
  }

  rowHTML(l) {
    if (!l) return "";
    if (l.kind === "skip") {
      return '<div class="log-line skipped"><span class="ln-mark"></span>… ' + fmtCount(l.k) + " lines skipped here: the viewer fell behind</div>";
    }
    if (l.kind === "repeat") {
      return '<div class="log-line skipped"><span class="ln-mark"></span>… ' + fmtCount(l.k) + " lines the engine sent again after rotating its log file were left out here</div>";
    }
    const stream = l.e ? "stderr" : "stdout";
    const time = this.times ? '<span class="ln-time">' + fmtTime(l.t) + "</span>" : "";
    const lvl = levelOf(l.x);
    return '<div class="log-line ' + stream + (lvl ? " lvl-" + lvl : "") + '" data-n="' + l.n + '"><span class="ln-mark" title="' + stream + '"></span>' + time +
      '<span class="ln-text">' + this.textHTML(l) + "</span></div>";
  }

  // textHTML renders the line's colours, or, while filtering a line
  // without colours, marks the matches.
  textHTML(l) {
    if (!this.filter || hasAnsi(l.x)) return toHTML(l.x);
    const s = l.x;
    let re;
    if (this.filter.re) {
      re = new RegExp(this.filter.src, this.filter.flags.includes("g") ? this.filter.flags : this.filter.flags + "g");
    } else {
      re = new RegExp(this.filter.q.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi");
    }
    let out = "";
    let last = 0;
    for (const m of s.matchAll(re)) {
      if (!m[0]) break;
      out += esc(s.slice(last, m.index)) + "<mark>" + esc(m[0]) + "</mark>";
      last = m.index + m[0].length;
    }
    return out + esc(s.slice(last));
  }

  status() {
    let s = fmtCount(this.count) + (this.count === 1 ? " line" : " lines");
    if (this.filter || this.stream) s += " · " + fmtCount(this.shownLines) + " shown";
    if (this.dropped) s += " · " + fmtCount(this.dropped) + " older dropped (the view keeps " + fmtCount(CAP) + ")";
    if (this.paused) s += " · " + fmtCount(this.pending.length) + " new, held while paused";
    this.countEl.textContent = s;
    this.jumpBtn.hidden = this.follow;
    this.jumpBtn.querySelector("span").textContent = this.unseen ? "Follow · " + fmtCount(this.unseen) + " new" : "Follow";
    const d = this.root.dataset;
    d.lines = String(this.count);
    d.shown = String(this.shown.length);
    d.follow = String(this.follow);
    d.pending = String(this.pending.length);
    d.dropped = String(this.dropped);
    d.skipped = String(this.skipped);
  }

  // download saves the lines the filter and stream selection show (all
  // of them when none is set), as plain text.
  download() {
    const all = this.lines.concat(this.pending);
    const out = [];
    for (const l of all) {
      if (!this.matches(l)) continue;
      if (l.kind === "skip") out.push("# " + l.k + " lines skipped");
      else if (l.kind === "repeat") out.push("# " + l.k + " repeated lines left out");
      else out.push(l.t + " " + (l.e ? "stderr" : "stdout") + " " + this.plain(l));
    }
    const blob = new Blob([out.join("\n") + "\n"], { type: "text/plain;charset=utf-8" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    const stamp = new Date().toISOString().replace(/[:.]/g, "").slice(0, 15);
    a.download = this.app + "-" + this.container + "-" + stamp + ".log";
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }
}
