// Small pieces of UI the pages share: toasts, confirmations, form errors,
// busy buttons, formatting.

import { APIError } from "./api.js";

export function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// The sprite sits beside this module's directory, in the same versioned
// tree.
const sprite = new URL("../icons.svg", import.meta.url).pathname;

export function iconHTML(name) {
  return '<svg class="icon" aria-hidden="true" focusable="false"><use href="' + esc(sprite) + "#" + esc(name) + '"></use></svg>';
}

// toast shows a short message in the corner; kind is ok, bad, warn or
// info. html, when given, is trusted markup (a link) placed after it.
export function toast(message, kind = "info", { html = "", timeout = 6000 } = {}) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const el = document.createElement("div");
  el.className = "toast " + kind;
  el.innerHTML = iconHTML(kind === "ok" ? "check" : kind === "info" ? "info" : "alert") + "<div>" + esc(message) + (html ? " " + html : "") + "</div>";
  if (kind === "bad") el.setAttribute("role", "alert");
  box.append(el);
  setTimeout(() => el.remove(), kind === "bad" ? timeout * 2 : timeout);
}

export function errorText(err) {
  if (err instanceof APIError) return err.text;
  return String((err && err.message) || err);
}

// confirmDialog asks a yes/no question in a modal dialog and resolves to
// true when the user confirms.
export function confirmDialog(title, message, { ok = "OK", danger = false } = {}) {
  return new Promise((resolve) => {
    const d = document.createElement("dialog");
    d.setAttribute("aria-labelledby", "confirm-title");
    d.innerHTML =
      '<form method="dialog" class="dialog-body"><h2 id="confirm-title">' + esc(title) + "</h2><p>" + esc(message) +
      '</p><div class="dialog-foot"><button class="btn" value="cancel" autofocus>Cancel</button><button class="btn ' +
      (danger ? "danger" : "primary") + '" value="ok">' + esc(ok) + "</button></div></form>";
    document.body.append(d);
    d.addEventListener("close", () => {
      resolve(d.returnValue === "ok");
      d.remove();
    });
    d.showModal();
  });
}

// fieldFor finds the input an API error's field names: "image",
// "database.image", "env[2].name".
function fieldFor(form, field) {
  if (!form || !field) return null;
  const env = /^env\[(\d+)\]\.(name|value)$/.exec(field);
  if (env) {
    const rows = form.querySelectorAll(".env-row");
    const row = rows[Number(env[1])];
    return row ? row.querySelector('[name="' + env[2] + '"]') : null;
  }
  const last = field.split(".").pop();
  return form.querySelector('[name="' + field + '"]') || form.querySelector('[name="database_' + last + '"]') || form.querySelector('[name="' + last + '"]');
}

// showError puts an error under a form and marks the field at fault.
export function showError(form, box, err) {
  clearError(form, box);
  box.textContent = errorText(err);
  box.hidden = false;
  const input = err instanceof APIError ? fieldFor(form, err.field) : null;
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-errormessage", box.id);
    input.focus();
  }
}

export function clearError(form, box) {
  if (box) {
    box.hidden = true;
    box.textContent = "";
  }
  if (form) for (const el of form.querySelectorAll('[aria-invalid="true"]')) el.removeAttribute("aria-invalid");
}

// busy marks a button as working and disables it until done is called.
export function busy(btn) {
  if (!btn) return () => {};
  const was = btn.disabled;
  btn.disabled = true;
  btn.classList.add("busy");
  btn.setAttribute("aria-busy", "true");
  return () => {
    btn.disabled = was;
    btn.classList.remove("busy");
    btn.removeAttribute("aria-busy");
  };
}

export function fmtBytes(n) {
  if (!n) return "0 B";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return (i === 0 ? n : n.toFixed(1)) + " " + u[i];
}

export function fmtCount(n) {
  return n.toLocaleString("en-US");
}

export function fmtDuration(ms) {
  if (ms < 1000) return ms + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
  const m = Math.floor(ms / 60000);
  const s = Math.floor((ms % 60000) / 1000);
  return m + "m " + String(s).padStart(2, "0") + "s";
}

export async function copyText(text, btn) {
  try {
    await navigator.clipboard.writeText(text);
    toast("Copied", "ok", { timeout: 2000 });
  } catch {
    // Clipboard access needs a secure context; select instead.
    if (btn && btn.previousElementSibling && btn.previousElementSibling.select) btn.previousElementSibling.select();
    toast("Select the text and copy it with Ctrl+C", "warn");
  }
}
