// Images: push a local image to a registry with live per-layer progress.

import { api } from "./api.js";
import { busy, showError, clearError, toast } from "./ui.js";
import { followJob } from "./progress.js";

const form = document.getElementById("push-form");
const err = document.getElementById("push-error");
const panel = document.getElementById("push-panel");
const imageSel = document.getElementById("push-image");
const target = document.getElementById("push-target");

document.addEventListener("click", (e) => {
  const b = e.target.closest("[data-push]");
  if (!b) return;
  imageSel.value = b.dataset.push;
  form.scrollIntoView({ block: "nearest", behavior: "smooth" });
  target.focus();
});

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  clearError(form, err);
  const body = { image: imageSel.value, target: target.value.trim() };
  const btn = document.getElementById("push-btn");
  const done = busy(btn);
  try {
    const r = await api("POST", "/api/v1/images/push", body);
    const status = await followJob(panel, r.job, { title: "Pushing " + body.image, doneTitle: "Pushed " + body.image, subject: "to " + body.target });
    if (status === "succeeded") toast("Pushed " + body.target + ".", "ok");
  } catch (e2) {
    showError(form, err, e2);
  } finally {
    done();
  }
});
