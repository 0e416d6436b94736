// The Backups tab of an app's page: the list (verified ✓, or why not in
// red), back up now, download, restore (the keep-serving choice and a
// confirmation), verify again, delete, restore from an uploaded dump,
// roll back app and data to a snapshot, and the schedule and retention.

import { api, csrfToken, APIError } from "./api.js";
import { esc, toast, errorText, busy, showError, clearError, confirmDialog, fmtBytes, fmtCount, iconHTML } from "./ui.js";
import { followJob } from "./progress.js";
import { ensureConfirmed } from "./reauth.js";

const app = document.getElementById("app-head").dataset.app;
const base = "/api/v1/apps/" + encodeURIComponent(app);
const tab = document.getElementById("panel-backups");
const rows = document.getElementById("backup-rows");
const alertBox = document.getElementById("backup-alert");
const panel = document.getElementById("backup-panel");

// A download is a sensitive action: the browser's own request for it
// cannot show kaj's refusal, so the password is asked for first.
tab.addEventListener("click", async (e) => {
  const a = e.target.closest("a[download]");
  if (!a) return;
  e.preventDefault();
  if (await ensureConfirmed("Downloading a backup needs your password again.")) location.assign(a.href);
});

function when(iso) {
  const d = new Date(iso);
  return '<time datetime="' + esc(iso) + '" title="' + esc(d.toISOString()) + '">' + esc(d.toLocaleString()) + "</time>";
}

function verified(b) {
  if (b.verified) return '<span class="badge ok" title="Restored into a throwaway database with the same tables and rows">✓ verified</span>';
  if (b.verify_error) return '<span class="badge bad">✗ does not restore</span><div class="small text-bad">' + esc(b.verify_error) + "</div>";
  return '<span class="badge off">not verified</span>';
}

function row(b) {
  const total = (b.tables || []).reduce((n, t) => n + t.rows, 0);
  const id = encodeURIComponent(b.id);
  return (
    "<tr" + (b.verify_error ? ' class="row-bad"' : "") + ">" +
    '<td data-label="Taken">' + when(b.time) + '<div class="muted small mono">' + esc(b.id) + "</div></td>" +
    '<td data-label="Size">' + esc(fmtBytes(b.size)) + '<div class="muted small">' + esc((b.duration / 1e9).toFixed(1)) + " s</div></td>" +
    '<td data-label="Tables · rows">' + esc(fmtCount((b.tables || []).length)) + " · " + esc(fmtCount(total)) + "</td>" +
    '<td data-label="Verified">' + verified(b) + "</td>" +
    '<td class="row-actions">' +
    '<a class="btn small" href="' + base + "/backups/" + id + '/download" download>' + iconHTML("download") + "<span>Download</span></a> " +
    '<button type="button" class="btn small" data-restore="' + esc(b.id) + '">Restore…</button> ' +
    '<button type="button" class="btn small ghost" data-verify="' + esc(b.id) + '">Verify</button> ' +
    '<button type="button" class="btn small ghost danger" data-delete="' + esc(b.id) + '" aria-label="Delete backup ' + esc(b.id) + '">' + iconHTML("trash") + "</button>" +
    "</td></tr>"
  );
}

async function load() {
  let list;
  try {
    list = await api("GET", base + "/backups");
  } catch (err) {
    rows.innerHTML = '<tr><td colspan="5" class="text-bad">' + esc(errorText(err)) + "</td></tr>";
    return;
  }
  rows.innerHTML = list.length ? list.map(row).join("") : '<tr><td colspan="5" class="muted">No backups yet. Back up now, or set a schedule below.</td></tr>';
  const last = list[0];
  alertBox.hidden = !(last && last.verify_error);
  if (last && last.verify_error) alertBox.textContent = "The newest backup (" + last.id + ") does not restore: " + last.verify_error;
  await snapshots();
}

// snapshots lists the releases a rollback with data can return to: each
// snapshot holds the data the served release before it left.
async function snapshots() {
  const card = document.getElementById("snapshot-card");
  let rels;
  try {
    rels = await api("GET", base + "/releases?limit=100");
  } catch {
    return;
  }
  const items = [];
  for (const r of rels) {
    if (!r.snapshot) continue;
    const prev = rels.find((p) => p.number < r.number && (p.status === "superseded" || p.status === "live") && p.digest);
    if (!prev || prev.status === "live") continue;
    items.push(
      "<li>Release #" + prev.number + ' with the data of snapshot <span class="mono">' + esc(r.snapshot) + '</span> <button type="button" class="btn small" data-rollback-data="' + prev.number + '">Roll back app and data</button></li>',
    );
  }
  card.hidden = items.length === 0;
  document.getElementById("snapshot-rows").innerHTML = items.join("");
}

function follow(job, title) {
  panel.scrollIntoView({ block: "nearest", behavior: "smooth" });
  return followJob(panel, job, {
    title,
    onDone: (status) => {
      load();
      if (status === "succeeded") toast(title + ": done.", "ok");
      else if (status === "failed") toast(title + " failed; see why above.", "bad");
    },
  });
}

document.getElementById("backup-now").addEventListener("click", async (e) => {
  const done = busy(e.currentTarget);
  try {
    const r = await api("POST", base + "/backups");
    follow(r.job, "Backing up " + app);
  } catch (err) {
    toast(errorText(err), "bad");
  } finally {
    done();
  }
});

// askKeepServing confirms a restore and asks whether the app keeps
// serving meanwhile; null when the user cancels.
function askKeepServing(what) {
  return new Promise((resolve) => {
    const d = document.createElement("dialog");
    d.setAttribute("aria-labelledby", "restore-title");
    d.innerHTML =
      '<form method="dialog" class="dialog-body"><h2 id="restore-title">' + iconHTML("alert") + " Restore " + esc(what) + "?</h2>" +
      "<p>What the database holds now is replaced. kaj takes a safety backup of it first, listed here, so this can be undone.</p>" +
      '<label class="check"><input type="checkbox" name="keep"> Keep the app serving during the restore (it may see half-loaded data); otherwise it is stopped and started again</label>' +
      '<div class="dialog-foot"><button class="btn" value="cancel" autofocus>Cancel</button><button class="btn danger" value="ok">Restore</button></div></form>';
    document.body.append(d);
    d.addEventListener("close", () => {
      resolve(d.returnValue === "ok" ? d.querySelector('[name="keep"]').checked : null);
      d.remove();
    });
    d.showModal();
  });
}

tab.addEventListener("click", async (e) => {
  const btn = e.target.closest("button[data-restore], button[data-verify], button[data-delete], button[data-rollback-data]");
  if (!btn) return;
  const done = busy(btn);
  try {
    if (btn.dataset.restore) {
      const keep = await askKeepServing("backup " + btn.dataset.restore);
      if (keep === null) return;
      const r = await api("POST", base + "/backups/" + encodeURIComponent(btn.dataset.restore) + "/restore", { keep_serving: keep });
      follow(r.job, "Restoring " + app + " from " + btn.dataset.restore);
    } else if (btn.dataset.verify) {
      const r = await api("POST", base + "/backups/" + encodeURIComponent(btn.dataset.verify) + "/verify");
      follow(r.job, "Verifying " + btn.dataset.verify);
    } else if (btn.dataset.delete) {
      if (!(await confirmDialog("Delete backup " + btn.dataset.delete + "?", "Its file is removed from kaj's data directory. This cannot be undone.", { ok: "Delete", danger: true }))) return;
      await api("DELETE", base + "/backups/" + encodeURIComponent(btn.dataset.delete));
      toast("Backup deleted.", "ok");
      load();
    } else {
      const n = Number(btn.dataset.rollbackData);
      if (!(await confirmDialog("Roll back app and data to release #" + n + "?", "kaj stops the app, takes a safety backup, restores the database to the snapshot taken after release #" + n + ", then deploys release #" + n + " again. Data written since is replaced.", { ok: "Roll back app and data", danger: true }))) return;
      const r = await api("POST", base + "/rollback", { release: n, restore_data: true });
      follow(r.job, "Rolling " + app + " back to #" + n + " with its data");
    }
  } catch (err) {
    toast(errorText(err), "bad");
  } finally {
    done();
  }
});

const upload = document.getElementById("upload-form");
upload.addEventListener("submit", async (e) => {
  e.preventDefault();
  const errBox = document.getElementById("upload-error");
  clearError(upload, errBox);
  const file = document.getElementById("upload-file").files[0];
  if (!file) {
    showError(upload, errBox, new APIError(400, { error: "choose a dump file first" }));
    return;
  }
  const keep = document.getElementById("upload-keep").checked;
  if (!(await confirmDialog("Restore " + app + "'s database from " + file.name + "?", "What the database holds now is replaced; kaj takes a safety backup of it first." + (keep ? " The app keeps serving." : " The app is stopped meanwhile."), { ok: "Restore", danger: true }))) return;
  const done = busy(e.submitter);
  try {
    // The dump is the raw body: no form encoding, streamed by the server.
    const res = await fetch(base + "/restore?keep_serving=" + keep, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(), "Content-Type": "application/octet-stream", Accept: "application/json" },
      body: file,
    });
    const data = await res.json().catch(() => ({ error: "kaj answered " + res.status }));
    if (!res.ok) throw new APIError(res.status, data);
    follow(data.job, "Restoring " + app + " from " + file.name);
  } catch (err) {
    showError(upload, errBox, err);
  } finally {
    done();
  }
});

const settings = document.getElementById("backup-settings");
settings.addEventListener("submit", async (e) => {
  e.preventDefault();
  const errBox = document.getElementById("backup-settings-error");
  clearError(settings, errBox);
  const done = busy(e.submitter);
  try {
    const a = await api("GET", base);
    const def = {};
    for (const k of ["image", "env", "port", "host_port", "replicas", "health_path", "health", "domains", "proxy", "restart", "command", "entrypoint", "memory_bytes", "cpus", "version"]) {
      if (a[k] !== undefined) def[k] = a[k];
    }
    const d = a.database;
    def.database = { kind: d.kind, image: d.image, alias: d.alias, name: d.name, user: d.user, volume: d.volume, url_scheme: d.url_scheme || "" };
    def.backup = {
      schedule: document.getElementById("backup-schedule").value.trim(),
      keep_last: Number(document.getElementById("backup-keep-last").value) || 0,
      keep_days: Number(document.getElementById("backup-keep-days").value) || 0,
      no_verify: !document.getElementById("backup-verify").checked,
      snapshot_before_deploy: document.getElementById("backup-snapshot").checked,
    };
    await api("PUT", base, def);
    const v = await api("GET", base);
    const next = v.last_backup && v.last_backup.next;
    toast("Saved." + (next ? " Next backup " + new Date(next).toLocaleString() + "." : ""), "ok");
  } catch (err) {
    showError(settings, errBox, err);
  } finally {
    done();
  }
});

let loaded = false;
function onShow() {
  if (!tab.hidden && !loaded) {
    loaded = true;
    load();
  }
}
new MutationObserver(onShow).observe(tab, { attributes: true, attributeFilter: ["hidden"] });
onShow();
