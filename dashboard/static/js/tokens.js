// API tokens: create (shown once) and revoke.

import { api, refresh } from "./api.js";
import { busy, showError, clearError, confirmDialog, toast, errorText, copyText } from "./ui.js";

const form = document.getElementById("token-form");
const err = document.getElementById("token-error");
const created = document.getElementById("token-created");
const secret = document.getElementById("token-secret");

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  clearError(form, err);
  const name = document.getElementById("token-name");
  const done = busy(e.submitter);
  try {
    const t = await api("POST", "/api/v1/tokens", { name: name.value.trim() });
    secret.value = t.token;
    created.hidden = false;
    secret.focus();
    secret.select();
    name.value = "";
    await refresh(["list"]);
  } catch (e2) {
    showError(form, err, e2);
  } finally {
    done();
  }
});

document.getElementById("token-copy").addEventListener("click", (e) => copyText(secret.value, e.currentTarget));

document.addEventListener("click", async (e) => {
  const b = e.target.closest("[data-revoke]");
  if (!b) return;
  const ok = await confirmDialog("Revoke " + b.dataset.name + "?", "Scripts using this token lose access at once. This cannot be undone.", { ok: "Revoke", danger: true });
  if (!ok) return;
  try {
    await api("DELETE", "/api/v1/tokens/" + encodeURIComponent(b.dataset.revoke));
    toast("Token revoked.", "ok");
    await refresh(["list"]);
  } catch (e2) {
    toast(errorText(e2), "bad");
  }
});
