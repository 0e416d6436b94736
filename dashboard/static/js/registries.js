// Registries: add, edit, test and remove credentials.

import { api, seg } from "./api.js";
import { busy, showError, clearError, confirmDialog, toast, errorText } from "./ui.js";

const form = document.getElementById("registry-form");
const err = document.getElementById("registry-error");
const note = document.getElementById("registry-note");
const host = document.getElementById("reg-host");
const user = document.getElementById("reg-user");
const pass = document.getElementById("reg-password");
const cancel = document.getElementById("registry-cancel");
let editing = null; // {host, version}
// lastTest is the form's last successful test: saving exactly those
// credentials next keeps the result, so the saved row does not say "not
// checked" right after the check passed. Results live for the tab's
// session, keyed by host.
let lastTest = null;
const checkKey = (h) => "kaj-registry-check:" + h;
function showCheck(h, ok, text) {
  const out = document.querySelector('[data-result-for="' + CSS.escape(h) + '"]');
  if (!out) return;
  out.textContent = text;
  out.className = "test-result badge-text " + (ok ? "ok" : "bad");
}
for (const out of document.querySelectorAll("[data-result-for]")) {
  const saved = sessionStorage.getItem(checkKey(out.dataset.resultFor));
  if (saved) {
    const r = JSON.parse(saved);
    showCheck(out.dataset.resultFor, r.ok, r.text);
  }
}

function showNote(text, kind) {
  note.textContent = text;
  note.className = "form-note " + kind;
  note.hidden = false;
}

function stopEditing() {
  editing = null;
  form.reset();
  host.readOnly = false;
  cancel.hidden = true;
  document.getElementById("registry-form-title").textContent = "Add a registry";
  note.hidden = true;
}
cancel.addEventListener("click", stopEditing);

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  clearError(form, err);
  note.hidden = true;
  const body = { host: host.value.trim(), username: user.value.trim(), password: pass.value };
  const done = busy(e.submitter);
  try {
    let saved;
    if (editing) {
      body.version = editing.version;
      saved = await api("PUT", "/api/v1/registries/" + seg(editing.host), body);
    } else {
      saved = await api("POST", "/api/v1/registries", body);
    }
    toast("Saved credentials for " + saved.host + ".", "ok");
    if (lastTest && lastTest.host === body.host && lastTest.user === body.username && lastTest.pass === body.password) {
      sessionStorage.setItem(checkKey(saved.host), JSON.stringify({ ok: true, text: "works" }));
    } else {
      sessionStorage.removeItem(checkKey(saved.host));
    }
    location.reload();
  } catch (e2) {
    showError(form, err, e2);
  } finally {
    done();
  }
});

document.getElementById("registry-test").addEventListener("click", async (e) => {
  clearError(form, err);
  const h = host.value.trim();
  if (!h) {
    showError(form, err, new Error("fill in the registry host to test"));
    host.focus();
    return;
  }
  const done = busy(e.currentTarget);
  try {
    const r = await api("POST", "/api/v1/registries/" + seg(h) + "/test", { username: user.value.trim(), password: pass.value });
    if (r.ok) showNote("The registry accepted these credentials.", "ok");
    else showNote("The registry refused: " + r.error, "bad");
    lastTest = r.ok ? { host: h, user: user.value.trim(), pass: pass.value } : null;
  } catch (e2) {
    showError(form, err, e2);
  } finally {
    done();
  }
});

document.addEventListener("click", async (e) => {
  const test = e.target.closest("[data-test]");
  const edit = e.target.closest("[data-edit]");
  const del = e.target.closest("[data-delete]");
  if (test) {
    const h = test.dataset.test;
    const out = document.querySelector('[data-result-for="' + CSS.escape(h) + '"]');
    const done = busy(test);
    out.textContent = "checking…";
    out.className = "test-result muted";
    try {
      const r = await api("POST", "/api/v1/registries/" + seg(h) + "/test");
      showCheck(h, r.ok, r.ok ? "works" : r.error);
      sessionStorage.setItem(checkKey(h), JSON.stringify({ ok: r.ok, text: r.ok ? "works" : r.error }));
    } catch (e2) {
      out.textContent = errorText(e2);
      out.className = "test-result badge-text bad";
    } finally {
      done();
    }
  } else if (edit) {
    editing = { host: edit.dataset.edit, version: Number(edit.dataset.version) };
    host.value = editing.host;
    host.readOnly = true;
    user.value = edit.dataset.user;
    pass.value = "";
    cancel.hidden = false;
    document.getElementById("registry-form-title").textContent = "Edit " + editing.host;
    form.scrollIntoView({ block: "nearest", behavior: "smooth" });
    user.focus();
  } else if (del) {
    const h = del.dataset.delete;
    if (!(await confirmDialog("Remove " + h + "?", "kaj forgets the credentials. Deploys of private images from this registry will fail until you add them again.", { ok: "Remove", danger: true }))) return;
    try {
      await api("DELETE", "/api/v1/registries/" + seg(h));
      location.reload();
    } catch (e2) {
      toast(errorText(e2), "bad");
    }
  }
});
