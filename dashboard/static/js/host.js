// The host card on the Images page: engine totals, and pruning unused
// images (never one a release refers to; the server checks).

import { api } from "./api.js";
import { busy, toast, errorText, fmtBytes, confirmDialog } from "./ui.js";

const set = (k, v) => {
  const el = document.querySelector('[data-host="' + k + '"]');
  if (el) el.textContent = v;
};

async function load() {
  try {
    const h = await api("GET", "/api/v1/host");
    set("cpus", String(h.cpus));
    set("memory", fmtBytes(h.memory));
    set("images", fmtBytes(h.images_bytes) + " in " + h.images_count + " (" + fmtBytes(h.images_reclaimable) + " reclaimable)");
    set("containers", fmtBytes(h.containers_bytes) + " in " + h.containers_count);
    set("volumes", fmtBytes(h.volumes_bytes) + " in " + h.volumes_count);
    set("streams", String(h.stats_streams));
  } catch (e) {
    set("cpus", errorText(e));
  }
}

const prune = document.getElementById("prune-images");
if (prune) {
  prune.addEventListener("click", async () => {
    const done = busy(prune);
    try {
      const dry = await api("POST", "/api/v1/images/prune?dry_run=1");
      if (!dry.removed.length) {
        toast("Nothing to prune; " + dry.kept_for_releases + " unused images are kept for releases.", "info");
        return;
      }
      const names = dry.removed.map((i) => (i.tags && i.tags[0]) || i.id.slice(7, 19)).join(", ");
      if (!(await confirmDialog("Remove " + dry.removed.length + " unused images?", names + " (" + fmtBytes(dry.freed_bytes) + "). Images a release refers to are kept.", { ok: "Prune", danger: true }))) return;
      const r = await api("POST", "/api/v1/images/prune");
      toast("Removed " + r.removed.length + " images, freed " + fmtBytes(r.freed_bytes) + (r.errors ? "; " + r.errors.length + " refused" : "") + ".", "ok");
      load();
    } catch (e) {
      toast(errorText(e), "bad");
    } finally {
      done();
    }
  });
}
load();
