// The terminal tab: an exec session with a TTY over a websocket. With
// the host's xterm.js (served by kaj from libjs-xterm) it is a full
// terminal; without, kaj's own line console: ANSI colours, an input
// line, Ctrl-C.

import { seg } from "./api.js";
import { ensureConfirmed } from "./reauth.js";
import { toHTML as ansiToHTML, paint } from "./ansi.js";

const app = document.getElementById("app-head").dataset.app;
const screen = document.getElementById("term-screen");
const lineForm = document.getElementById("term-line");
const input = document.getElementById("term-input");
const openBtn = document.getElementById("term-open");
const ctrlc = document.getElementById("term-ctrlc");
const closeBtn = document.getElementById("term-close");
const which = document.getElementById("term-container");
const useXterm = typeof window.Terminal === "function";

let ws = null;
let term = null;
let pending = "";
const decoder = new TextDecoder();

function send(m) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m));
}

// The line console keeps the output as text and renders its colours.
function appendText(s) {
  // A TTY ends lines with \r\n and programs redraw with \r; the console
  // shows lines, so a bare \r starts the line over.
  // Charset switches (ESC ( B) and private modes (ESC [ ? 2004 h) mean
  // nothing to a line console.
  s = s.replace(/\x1b[()*+][0-9A-Za-z]/g, "").replace(/\x1b\[\?[0-9;]*[A-Za-z]/g, "");
  pending += s.replace(/\r\n/g, "\n");
  const lines = pending.split("\n").map((l) => l.slice(l.lastIndexOf("\r") + 1));
  pending = lines.join("\n");
  if (pending.length > 200000) pending = pending.slice(-150000);
  screen.innerHTML = ansiToHTML(pending);
  paint(screen);
  screen.scrollTop = screen.scrollHeight;
}

function size() {
  if (term) return { rows: term.rows, cols: term.cols };
  const cols = Math.max(20, Math.floor(screen.clientWidth / 8));
  return { rows: 24, cols };
}

async function open() {
  // The websocket's refusal cannot be read by the page: ask for the
  // password first when kaj would.
  if (!(await ensureConfirmed("Opening a terminal needs your password again."))) return;
  close();
  screen.textContent = "";
  pending = "";
  if (useXterm) {
    // xterm.js 3 (global fit addon, term.on) and 4/5 (FitAddon, onData).
    const T = window.Terminal;
    if (window.fit && typeof T.applyAddon === "function") T.applyAddon(window.fit);
    term = new T({ fontSize: 13, rendererType: "dom" });
    if (window.FitAddon && window.FitAddon.FitAddon) {
      const fa = new window.FitAddon.FitAddon();
      term.loadAddon(fa);
      term.fit = () => fa.fit();
    }
    term.open(screen);
    if (typeof term.fit === "function") term.fit();
    const onData = (d) => send({ type: "input", data: d });
    if (typeof term.onData === "function") term.onData(onData);
    else term.on("data", onData);
    term.focus();
  }
  lineForm.hidden = useXterm;
  const [container, client] = which.value === "db-client" ? ["db", "1"] : [which.value, "0"];
  const { rows, cols } = size();
  const url = new URL("/api/v1/apps/" + seg(app) + "/terminal?container=" + container + "&client=" + client + "&rows=" + rows + "&cols=" + cols, location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  ws.addEventListener("open", () => {
    ctrlc.disabled = closeBtn.disabled = false;
    if (!useXterm) input.focus();
  });
  ws.addEventListener("message", (ev) => {
    if (typeof ev.data === "string") {
      try {
        const m = JSON.parse(ev.data);
        if (m.error) appendText("\x1b[31m" + m.error + "\x1b[0m\n");
      } catch {}
      return;
    }
    const text = decoder.decode(ev.data, { stream: true });
    if (term) term.write(text);
    else appendText(text);
  });
  ws.addEventListener("close", (ev) => {
    ctrlc.disabled = closeBtn.disabled = true;
    const msg = "\r\n[session ended" + (ev.reason ? ": " + ev.reason : "") + "]\r\n";
    if (term) term.write(msg);
    else appendText(msg);
  });
}

function close() {
  if (ws) ws.close();
  ws = null;
  if (term) term.dispose();
  term = null;
}

openBtn.addEventListener("click", open);
closeBtn.addEventListener("click", close);
ctrlc.addEventListener("click", () => send({ type: "input", data: "\x03" }));
lineForm.addEventListener("submit", (e) => {
  e.preventDefault();
  send({ type: "input", data: input.value + "\r" });
  input.value = "";
});
input.addEventListener("keydown", (e) => {
  if (e.ctrlKey && e.key === "c" && input.selectionStart !== input.selectionEnd) return; // copying a selection
  if (e.ctrlKey && (e.key === "c" || e.key === "d")) {
    e.preventDefault();
    send({ type: "input", data: e.key === "c" ? "\x03" : "\x04" });
  }
});
window.addEventListener("resize", () => {
  if (term && typeof term.fit === "function") {
    term.fit();
    send({ type: "resize", rows: term.rows, cols: term.cols });
  }
});
