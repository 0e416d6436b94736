// ANSI SGR colour codes to HTML. Only styling escapes are rendered;
// cursor movement and other control sequences are dropped.

import { esc } from "./ui.js";

// eslint-disable-next-line no-control-regex
const CSI = /\x1b\[([0-9;:?]*)([A-Za-z])/g;
// eslint-disable-next-line no-control-regex
const OTHER = /\x1b[\]PX^_][^\x07\x1b]*(\x07|\x1b\\)?|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]/g;

export function hasAnsi(s) {
  return s.indexOf("\x1b") >= 0;
}

export function stripAnsi(s) {
  if (!hasAnsi(s)) return s;
  return s.replace(CSI, "").replace(OTHER, "");
}

// 256-colour palette entries 16-255 as CSS colours.
function xterm(n) {
  if (n < 16) return null;
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return "rgb(" + v + "," + v + "," + v + ")";
  }
  n -= 16;
  const c = [Math.floor(n / 36), Math.floor(n / 6) % 6, n % 6].map((x) => (x ? 55 + x * 40 : 0));
  return "rgb(" + c.join(",") + ")";
}

function resetState() {
  return { b: false, d: false, i: false, u: false, fg: null, bg: null, fgc: null, bgc: null };
}

function apply(st, params) {
  const p = params === "" ? [0] : params.split(/[;:]/).map((x) => (x === "" ? 0 : Number(x)));
  for (let i = 0; i < p.length; i++) {
    const n = p[i];
    if (n === 0) Object.assign(st, resetState());
    else if (n === 1) st.b = true;
    else if (n === 2) st.d = true;
    else if (n === 3) st.i = true;
    else if (n === 4) st.u = true;
    else if (n === 22) st.b = st.d = false;
    else if (n === 23) st.i = false;
    else if (n === 24) st.u = false;
    else if (n >= 30 && n <= 37) (st.fg = n - 30), (st.fgc = null);
    else if (n >= 90 && n <= 97) (st.fg = n - 90 + 8), (st.fgc = null);
    else if (n === 39) st.fg = st.fgc = null;
    else if (n >= 40 && n <= 47) (st.bg = n - 40), (st.bgc = null);
    else if (n >= 100 && n <= 107) (st.bg = n - 100), (st.bgc = null);
    else if (n === 49) st.bg = st.bgc = null;
    else if (n === 38 || n === 48) {
      let colour = null;
      let idx = null;
      if (p[i + 1] === 5) {
        idx = p[i + 2];
        colour = xterm(idx);
        i += 2;
      } else if (p[i + 1] === 2) {
        colour = "rgb(" + [p[i + 2], p[i + 3], p[i + 4]].map((x) => Math.max(0, Math.min(255, x | 0))).join(",") + ")";
        i += 4;
      }
      if (n === 38) {
        st.fg = idx !== null && idx < 16 ? idx : null;
        st.fgc = st.fg === null ? colour : null;
      } else {
        st.bg = idx !== null && idx < 8 ? idx : null;
        st.bgc = st.bg === null ? colour : null;
      }
    }
  }
}

function open(st) {
  const cls = [];
  if (st.b) cls.push("a-b");
  if (st.d) cls.push("a-d");
  if (st.i) cls.push("a-i");
  if (st.u) cls.push("a-u");
  if (st.fg !== null) cls.push("a-f" + st.fg);
  if (st.bg !== null) cls.push("a-g" + st.bg);
  // 256-colour and truecolour values have no class; they ride in data
  // attributes and paint() sets them through the CSSOM, which the page's
  // content security policy allows where inline style attributes are not.
  if (!cls.length && !st.fgc && !st.bgc) return "";
  return '<span class="' + cls.join(" ") + '"' + (st.fgc ? ' data-fg="' + st.fgc + '"' : "") + (st.bgc ? ' data-bg="' + st.bgc + '"' : "") + ">";
}

// paint applies the colours toHTML left in data attributes below root.
export function paint(root) {
  for (const el of root.querySelectorAll("[data-fg],[data-bg]")) {
    if (el.dataset.fg) el.style.color = el.dataset.fg;
    if (el.dataset.bg) el.style.backgroundColor = el.dataset.bg;
  }
}

// toHTML renders a line with its colours. The text is escaped; only the
// spans are markup.
export function toHTML(s) {
  if (!hasAnsi(s)) return esc(s);
  const st = resetState();
  let out = "";
  let last = 0;
  let openSpan = false;
  CSI.lastIndex = 0;
  let m;
  while ((m = CSI.exec(s))) {
    out += esc(s.slice(last, m.index).replace(OTHER, ""));
    last = CSI.lastIndex;
    if (m[2] !== "m") continue;
    apply(st, m[1]);
    if (openSpan) out += "</span>";
    const o = open(st);
    out += o;
    openSpan = o !== "";
  }
  out += esc(s.slice(last).replace(OTHER, ""));
  if (openSpan) out += "</span>";
  return out;
}
