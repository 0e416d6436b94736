// Talking to kaj: the REST API with the session's CSRF token, websockets,
// and refreshing parts of the page from the server's own markup.

import { confirmPassword } from "./reauth.js";

export function csrfToken() {
  const m = document.querySelector('meta[name="csrf-token"]');
  return m ? m.content : "";
}

// seg encodes one path segment. ':' stays as it is: the server matches
// registry hosts ("host:port") without unescaping them.
export function seg(s) {
  return encodeURIComponent(s).replace(/%3A/gi, ":");
}

// APIError carries kaj's error body: error, detail and the field at fault.
export class APIError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : "request failed with status " + status);
    this.status = status;
    this.detail = (body && body.detail) || "";
    this.field = (body && body.field) || "";
    this.body = body || {};
  }
  get text() {
    return this.detail ? this.message + ": " + this.detail : this.message;
  }
}

function loginAgain() {
  const here = location.pathname + location.search + location.hash;
  location.assign("/login?next=" + encodeURIComponent(here));
}

// api sends a request and returns the decoded JSON answer (null when
// empty). Errors throw APIError; a lost session goes back to the login;
// an action that needs the password again asks for it and is retried.
export async function api(method, path, body, retried = false) {
  const opts = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (method !== "GET" && method !== "HEAD") opts.headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new APIError(0, { error: "kaj does not answer", detail: "check that it is running and reachable" });
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { error: text.slice(0, 300) };
    }
  }
  if (res.status === 401) {
    loginAgain();
    throw new APIError(401, data);
  }
  if (res.status === 403 && data && data.code === "reauth_required" && !retried) {
    if (await confirmPassword("This needs your password again: it has been a few minutes since you last typed it.")) {
      return api(method, path, body, true);
    }
  }
  if (!res.ok) throw new APIError(res.status, data);
  return data;
}

// socket opens a websocket to a path of this origin and hands each
// decoded message to onMessage. Closing is up to the caller.
export function socket(path, { onMessage, onOpen, onClose }) {
  const url = new URL(path, location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(url);
  ws.addEventListener("open", () => onOpen && onOpen());
  ws.addEventListener("message", (ev) => {
    let m;
    try {
      m = JSON.parse(ev.data);
    } catch {
      return;
    }
    onMessage(m);
  });
  ws.addEventListener("close", (ev) => onClose && onClose(ev));
  return ws;
}

// ---------- page fragments ----------

function keyOf(n) {
  return n.nodeType === 1 ? n.getAttribute("data-key") || n.id || "" : "";
}

function sameKind(a, b) {
  return a.nodeType === b.nodeType && (a.nodeType !== 1 || a.tagName === b.tagName);
}

function morphAttributes(from, to) {
  for (const a of Array.from(from.attributes)) if (!to.hasAttribute(a.name)) from.removeAttribute(a.name);
  for (const a of Array.from(to.attributes)) if (from.getAttribute(a.name) !== a.value) from.setAttribute(a.name, a.value);
}

// morphChildren makes from's children look like to's, keeping the
// elements that stay (by data-key or id, else by position), so focus,
// selection and scroll positions survive a refresh.
export function morphChildren(from, to) {
  const keyed = new Map();
  for (const n of Array.from(from.childNodes)) {
    const k = keyOf(n);
    if (k) keyed.set(k, n);
  }
  let i = 0;
  for (const n of Array.from(to.childNodes)) {
    const cur = from.childNodes[i] || null;
    const k = keyOf(n);
    let match = null;
    if (k) {
      const m = keyed.get(k);
      if (m && sameKind(m, n)) match = m;
      keyed.delete(k);
    } else if (cur && !keyOf(cur) && sameKind(cur, n)) {
      match = cur;
    }
    if (match) {
      if (match !== cur) from.insertBefore(match, cur);
      if (match.nodeType === 1) {
        morphAttributes(match, n);
        morphChildren(match, n);
      } else if (match.nodeValue !== n.nodeValue) {
        match.nodeValue = n.nodeValue;
      }
    } else {
      from.insertBefore(document.importNode(n, true), cur);
    }
    i++;
  }
  while (from.childNodes.length > i) from.removeChild(from.lastChild);
}

// refresh fetches parts of the current page ("fragments") as the server
// renders them and merges them into the page.
export async function refresh(parts) {
  const url = new URL(location.href);
  url.hash = "";
  url.searchParams.set("fragment", parts.join(","));
  const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
  if (res.redirected && new URL(res.url).pathname === "/login") {
    loginAgain();
    return;
  }
  if (!res.ok) throw new Error("refreshing the page: status " + res.status);
  const doc = new DOMParser().parseFromString(await res.text(), "text/html");
  for (const t of doc.querySelectorAll("template[data-part]")) {
    const target = document.querySelector('[data-fragment="' + t.dataset.part + '"]');
    if (target) morphChildren(target, t.content);
  }
  document.dispatchEvent(new CustomEvent("kaj:refreshed", { detail: parts }));
}

// every runs fn now and then every ms while the page is visible, and
// right away when it becomes visible again.
export function every(ms, fn) {
  let timer = 0;
  let running = false;
  const tick = async () => {
    clearTimeout(timer);
    if (document.visibilityState === "visible" && !running) {
      running = true;
      try {
        await fn();
      } catch (e) {
        console.warn(e);
      } finally {
        running = false;
      }
    }
    timer = setTimeout(tick, ms);
  };
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") tick();
  });
  timer = setTimeout(tick, ms);
  return () => clearTimeout(timer);
}
