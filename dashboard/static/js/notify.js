// Notification targets: add, remove, send a test.

import { api, refresh } from "./api.js";
import { busy, showError, clearError, toast, errorText, confirmDialog } from "./ui.js";

const form = document.getElementById("notify-form");
const err = document.getElementById("notify-error");
const kind = document.getElementById("n-kind");

function showFields() {
  for (const f of form.querySelectorAll("[data-for]")) f.hidden = !f.dataset.for.split(" ").includes(kind.value);
}
kind.addEventListener("change", showFields);
showFields();
// /notifications?app=NAME (the app page's link) starts a target for it.
const forApp = new URLSearchParams(location.search).get("app");
if (forApp) document.getElementById("n-app").value = forApp;

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  clearError(form, err);
  const v = (id) => document.getElementById(id).value.trim();
  const body = {
    name: v("n-name"), kind: kind.value, app: v("n-app"),
    events: Array.from(form.querySelectorAll("input[name=events]:checked"), (c) => c.value),
  };
  if (kind.value === "email") {
    Object.assign(body, { smtp_addr: v("n-smtp"), smtp_user: v("n-user"), password: document.getElementById("n-pass").value, from: v("n-from"),
      to: v("n-to").split(",").map((s) => s.trim()).filter(Boolean) });
  } else {
    Object.assign(body, { url: v("n-url"), secret: kind.value === "webhook" ? v("n-secret") : "" });
  }
  const done = busy(e.submitter);
  try {
    await api("POST", "/api/v1/notifications", body);
    toast("Added " + (body.name || body.kind) + ".", "ok");
    form.reset();
    showFields();
    await refresh(["list"]);
  } catch (e2) {
    showError(form, err, e2);
  } finally {
    done();
  }
});

document.addEventListener("click", async (e) => {
  const test = e.target.closest(".notify-test");
  const del = e.target.closest(".notify-delete");
  if (test) {
    const done = busy(test);
    try {
      await api("POST", "/api/v1/notifications/" + encodeURIComponent(test.dataset.id) + "/test");
      toast("Test sent.", "ok");
    } catch (e2) {
      toast(errorText(e2), "bad");
    } finally {
      done();
    }
    await refresh(["list"]);
  } else if (del) {
    if (!(await confirmDialog("Remove " + del.dataset.name + "?", "kaj stops sending to it.", { ok: "Remove", danger: true }))) return;
    try {
      await api("DELETE", "/api/v1/notifications/" + encodeURIComponent(del.dataset.id));
    } catch (e2) {
      toast(errorText(e2), "bad");
    }
    await refresh(["list"]);
  }
});
