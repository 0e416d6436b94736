// Users: add one, with a generated password if wanted.

import { api, refresh } from "./api.js";
import { busy, showError, clearError, toast } from "./ui.js";

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
    await api("POST", "/api/v1/users", { name: name.value.trim(), password: pw.value });
    toast("Added " + name.value.trim() + ".", "ok");
    form.reset();
    await refresh(["list"]);
  } catch (e2) {
    showError(form, err, e2);
  } finally {
    done();
  }
});
