// The apps list: quick actions, and a refresh every few seconds so the
// states stay current without reloading.

import { api, refresh, every } from "./api.js";
import { toast, errorText, busy, esc } from "./ui.js";

const PARTS = ["count", "engine", "list"];

async function act(btn) {
  const app = btn.dataset.app;
  const action = btn.dataset.action;
  const done = busy(btn);
  try {
    if (action === "deploy") {
      const r = await api("POST", "/api/v1/apps/" + encodeURIComponent(app) + "/deploy");
      toast("Deploying " + app + ".", "info", { html: '<a href="/apps/' + esc(encodeURIComponent(app)) + "?job=" + esc(encodeURIComponent(r.job)) + '">Follow it</a>' });
    } else {
      await api("POST", "/api/v1/apps/" + encodeURIComponent(app) + "/" + action);
      toast(app + ": " + action + " done.", "ok");
    }
  } catch (err) {
    toast(app + ": " + errorText(err), "bad");
  } finally {
    done();
  }
  refresh(PARTS).catch(() => {});
}

document.addEventListener("click", (e) => {
  const btn = e.target.closest("button[data-action][data-app]");
  if (btn) act(btn);
});

every(4000, () => refresh(PARTS));

const deleted = new URLSearchParams(location.search).get("deleted");
if (deleted) {
  toast(deleted + " deleted.", "ok");
  history.replaceState(null, "", "/");
}
