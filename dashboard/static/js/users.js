// Users: add one, with a generated password if wanted.

import { api, refresh } from "./api.js";
import { busy, showError, clearError, toast, errorText, confirmDialog } from "./ui.js";

const form = document.getElementById("user-form");
const err = document.getElementById("user-error");
const pw = document.getElementById("user-password");

document.getElementById("user-generate").addEventListener("click", () => {
  const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  const bytes = crypto.getRandomValues(new Uint32Array(20));
  pw.value = Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
  pw.focus();
  pw.select();
});

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  clearError(form, err);
  const name = document.getElementById("user-name");
  const done = busy(e.submitter);
  try {
    await api("POST", "/api/v1/users", { name: name.value.trim(), password: pw.value, role: document.getElementById("user-role").value });
    toast("Added " + name.value.trim() + ".", "ok");
    form.reset();
    await refresh(["list"]);
  } catch (e2) {
    showError(form, err, e2);
  } finally {
    done();
  }
});

// Role changes, disabling and removing: kaj refuses to lose its last admin.
document.addEventListener("change", async (e) => {
  const sel = e.target.closest("select.user-role");
  if (!sel) return;
  try {
    await api("PUT", "/api/v1/users/" + encodeURIComponent(sel.dataset.user), { role: sel.value });
    toast(sel.dataset.user + " is now " + sel.value + ".", "ok");
  } catch (e2) {
    toast(errorText(e2), "bad");
  }
  await refresh(["list"]);
});

document.addEventListener("click", async (e) => {
  const dis = e.target.closest(".user-disable");
  const rm = e.target.closest(".user-remove");
  try {
    if (dis) {
      const disabled = dis.dataset.disabled !== "true";
      await api("PUT", "/api/v1/users/" + encodeURIComponent(dis.dataset.user), { disabled });
      toast(dis.dataset.user + (disabled ? " is disabled." : " is enabled."), "ok");
    } else if (rm) {
      if (!(await confirmDialog("Remove " + rm.dataset.user + "?", "Their sessions and API tokens end. The event trail keeps what they did.", { ok: "Remove", danger: true }))) return;
      await api("DELETE", "/api/v1/users/" + encodeURIComponent(rm.dataset.user));
      toast("Removed " + rm.dataset.user + ".", "ok");
    } else {
      return;
    }
  } catch (e2) {
    toast(errorText(e2), "bad");
  }
  await refresh(["list"]);
});
