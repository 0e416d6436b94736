// One app's page: tabs, deploys with live progress, operations, the env
// editor, settings, the database password, releases and the log panel.

import { api, refresh, every } from "./api.js";
import { toast, errorText, busy, showError, clearError, confirmDialog, copyText, iconHTML } from "./ui.js";
import { followJob } from "./progress.js";
import { LogViewer } from "./logs.js";

const head = document.getElementById("app-head");
const app = head.dataset.app;
const base = "/api/v1/apps/" + encodeURIComponent(app);
const PARTS = ["head", "overview", "releases"];
const panel = document.getElementById("deploy-panel");

// ---------- tabs ----------

const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
let logs = null;

function select(tab, focus) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute("aria-selected", String(on));
    t.tabIndex = on ? 0 : -1;
    document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
  }
  if (focus) tab.focus();
  const name = tab.id.replace(/^tab-/, "");
  history.replaceState(null, "", name === "overview" ? location.pathname : "#" + name);
  if (name === "logs") {
    if (!logs) {
      logs = new LogViewer(document.getElementById("logs"), app);
      logs.connect();
    }
  }
}

for (const t of tabs) {
  t.addEventListener("click", () => select(t, false));
  t.addEventListener("keydown", (e) => {
    const i = tabs.indexOf(t);
    let j = -1;
    if (e.key === "ArrowRight") j = (i + 1) % tabs.length;
    else if (e.key === "ArrowLeft") j = (i - 1 + tabs.length) % tabs.length;
    else if (e.key === "Home") j = 0;
    else if (e.key === "End") j = tabs.length - 1;
    if (j >= 0) {
      e.preventDefault();
      select(tabs[j], true);
    }
  });
}

function fromHash() {
  const t = document.getElementById("tab-" + location.hash.slice(1));
  select(t && t.getAttribute("role") === "tab" ? t : tabs[0], false);
}
fromHash();
window.addEventListener("hashchange", fromHash);

// ---------- deploys and operations ----------

let following = false;

function follow(job, title) {
  following = true;
  panel.scrollIntoView({ block: "nearest", behavior: "smooth" });
  const doneTitle = title.replace(/^Building and deploying/, "Built and deployed").replace(/^Deploying/, "Deployed").replace(/^Rolling/, "Rolled");
  return followJob(panel, job, {
    title,
    doneTitle,
    collapseAfter: 4000,
    onDone: (status) => {
      following = false;
      refresh(PARTS).catch(() => {});
      if (status === "succeeded") toast(doneTitle + ".", "ok");
      else if (status === "failed") toast(title + " failed; the previous release keeps running.", "bad");
    },
  });
}

async function deploy(btn) {
  const done = busy(btn);
  try {
    // An app with a repository builds it; the build streams into the panel.
    const build = btn.dataset.build === "1";
    const r = await api("POST", base + (build ? "/build" : "/deploy"));
    follow(r.job, (build ? "Building and deploying " : "Deploying ") + app);
    refresh(PARTS).catch(() => {});
  } catch (err) {
    toast(errorText(err), "bad");
  } finally {
    done();
  }
}

async function operate(btn, action) {
  const done = busy(btn);
  try {
    await api("POST", base + "/" + action);
    toast(app + ": " + action + " done.", "ok");
  } catch (err) {
    toast(errorText(err), "bad");
  } finally {
    done();
  }
  refresh(PARTS).catch(() => {});
}

head.addEventListener("click", (e) => {
  const btn = e.target.closest("button[data-action]");
  if (!btn) return;
  const a = btn.dataset.action;
  if (a === "deploy") deploy(btn);
  else operate(btn, a);
});

document.getElementById("panel-releases").addEventListener("click", async (e) => {
  const btn = e.target.closest("button[data-rollback]");
  if (!btn) return;
  const n = Number(btn.dataset.rollback);
  const ok = await confirmDialog("Roll back to release #" + n + "?", "kaj deploys release #" + n + "'s image digest and environment as a new release. The current release keeps serving until the new one is healthy.", { ok: "Roll back" });
  if (!ok) return;
  const done = busy(btn);
  try {
    const r = await api("POST", base + "/rollback", { release: n });
    select(document.getElementById("tab-overview"), false);
    follow(r.job, "Rolling " + app + " back to #" + n);
  } catch (err) {
    toast(errorText(err), "bad");
  } finally {
    done();
  }
});

if (panel.dataset.job) follow(panel.dataset.job, "Deploying " + app);
if (location.search) history.replaceState(null, "", location.pathname + location.hash);

every(5000, () => (following ? refresh(["head"]) : refresh(PARTS)));

// ---------- saving the definition ----------

// definition reads the app as the API shows it and keeps the fields an
// update takes: the API rejects unknown fields.
async function definition() {
  const a = await api("GET", base);
  const out = {
    image: a.image, env: a.env || [], port: a.port, host_port: a.host_port || 0, replicas: a.replicas || 0, health_path: a.health_path || "",
    restart: a.restart || "", command: a.command || null, entrypoint: a.entrypoint || null,
    memory_bytes: a.memory_bytes || 0, cpus: a.cpus || 0, version: a.version,
    domains: a.domains || [], health: a.health || {}, proxy: a.proxy || {},
  };
  if (a.source) {
    const s = a.source;
    // Secrets come back empty and stay as stored when sent empty.
    out.source = { repo: s.repo || "", ref: s.ref || "", context: s.context || "", dockerfile: s.dockerfile || "", target: s.target || "",
      build_args: s.build_args || [], lint_threshold: s.lint_threshold || "", push: s.push || "" };
  }
  if (a.database) {
    const d = a.database;
    out.database = { kind: d.kind, image: d.image, alias: d.alias, name: d.name, user: d.user, volume: d.volume, url_scheme: d.url_scheme || "" };
  }
  return out;
}

async function save(form, errBox, change, then, btn) {
  clearError(form, errBox);
  const done = busy(btn);
  try {
    const def = await definition();
    change(def);
    await api("PUT", base, def);
    if (then === "deploy") {
      const build = Boolean(def.source && def.source.repo);
      const r = await api("POST", base + (build ? "/build" : "/deploy"));
      select(document.getElementById("tab-overview"), false);
      follow(r.job, (build ? "Building and deploying " : "Deploying ") + app);
    } else {
      toast("Saved. Deploy to apply.", "ok");
    }
    return true;
  } catch (err) {
    showError(form, errBox, err);
    return false;
  } finally {
    done();
    refresh(PARTS).catch(() => {});
  }
}

// ---------- env editor ----------

const envForm = document.getElementById("env-form");
const envRows = document.getElementById("env-rows");
let envSeq = 1000;

function wireRow(row) {
  const secret = row.querySelector('[name="secret"]');
  const value = row.querySelector('[name="value"]');
  secret.addEventListener("change", () => {
    value.type = secret.checked ? "password" : "text";
    if (!secret.checked && value.dataset.stored) {
      // A stored secret cannot be shown; turning it plain needs a value.
      value.placeholder = "type the value to store it as plain text";
    }
  });
}

for (const row of envRows.querySelectorAll(".env-row")) wireRow(row);

document.getElementById("env-add").addEventListener("click", () => {
  const tpl = document.getElementById("env-row-template");
  const frag = tpl.content.cloneNode(true);
  const n = envSeq++;
  for (const el of frag.querySelectorAll("[id]")) el.id = el.id.replace(/-1$/, String(n));
  for (const el of frag.querySelectorAll("label[for]")) el.htmlFor = el.htmlFor.replace(/-1$/, String(n));
  const row = frag.querySelector(".env-row");
  envRows.append(frag);
  wireRow(row);
  row.querySelector('[name="name"]').focus();
});

envRows.addEventListener("click", (e) => {
  const btn = e.target.closest("[data-remove]");
  if (!btn) return;
  const row = btn.closest(".env-row");
  const next = row.nextElementSibling || row.previousElementSibling;
  row.remove();
  (next ? next.querySelector("input") : document.getElementById("env-add")).focus();
});

envForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const errBox = document.getElementById("env-error");
  const env = [];
  for (const row of envRows.querySelectorAll(".env-row")) {
    const name = row.querySelector('[name="name"]').value.trim();
    const value = row.querySelector('[name="value"]');
    const secret = row.querySelector('[name="secret"]').checked;
    if (!name && !value.value) continue;
    if (!secret && value.dataset.stored && !value.value) {
      showError(envForm, errBox, new Error(name + " was a secret: type its value to keep it as plain text"));
      value.setAttribute("aria-invalid", "true");
      value.focus();
      return;
    }
    env.push({ name, value: value.value, secret });
  }
  const ok = await save(envForm, errBox, (def) => (def.env = env), e.submitter && e.submitter.value, e.submitter);
  if (ok) {
    // The page's rows now describe stored secrets.
    for (const row of envRows.querySelectorAll(".env-row")) {
      const value = row.querySelector('[name="value"]');
      if (row.querySelector('[name="secret"]').checked) {
        value.value = "";
        value.dataset.stored = "true";
        value.placeholder = "•••••••• stored; type to replace";
      }
    }
  }
});

// ---------- settings ----------

const settings = document.getElementById("settings-form");
settings.addEventListener("submit", (e) => {
  e.preventDefault();
  const f = new FormData(settings);
  save(settings, document.getElementById("settings-error"), (def) => {
    def.image = String(f.get("image")).trim();
    def.port = Number(f.get("port"));
    def.host_port = Number(f.get("host_port") || 0);
    def.replicas = Number(f.get("replicas") || 1);
    def.health_path = String(f.get("health_path")).trim();
    def.restart = String(f.get("restart"));
    def.domains = String(f.get("domains") || "").split(/[\s,]+/).map((d) => d.trim().toLowerCase()).filter(Boolean);
  }, e.submitter && e.submitter.value, e.submitter);
});

// ---------- source ----------

const sourceForm = document.getElementById("source-form");
sourceForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const f = new FormData(sourceForm);
  save(sourceForm, document.getElementById("source-error"), (def) => {
    if (!f.get("enabled")) {
      delete def.source;
      return;
    }
    const s = def.source || { build_args: [] };
    for (const k of ["repo", "ref", "context", "dockerfile", "target", "lint_threshold"]) s[k] = String(f.get(k) || "").trim();
    const token = String(f.get("token") || "");
    if (token) s.token = token;
    def.source = s;
  }, e.submitter && e.submitter.value, e.submitter);
});

// The overview is redrawn every few seconds: listen on the document.
document.addEventListener("click", async (e) => {
  const btn = e.target.closest("button[data-webhook]");
  if (!btn) return;
  const card = btn.closest(".source-card");
  const url = card.querySelector(".webhook-url").textContent;
  if (btn.dataset.webhook === "copy") {
    copyText(url, btn);
    return;
  }
  const done = busy(btn);
  try {
    const r = await api("GET", base + "/webhook");
    const out = card.querySelector(".webhook-secret");
    out.textContent = r.secret;
    out.hidden = false;
    copyText(r.secret, btn);
  } catch (err) {
    toast(errorText(err), "bad");
  } finally {
    done();
  }
});


// ---------- database password ----------

const reveal = document.getElementById("db-reveal");
if (reveal) {
  const out = document.getElementById("db-password");
  const copy = document.getElementById("db-copy");
  let plain = "";
  reveal.addEventListener("click", async () => {
    if (out.dataset.masked === "false") {
      out.textContent = "••••••••••••••••";
      out.dataset.masked = "true";
      reveal.innerHTML = iconHTML("eye") + "<span>Reveal</span>";
      copy.hidden = true;
      plain = "";
      return;
    }
    const done = busy(reveal);
    try {
      plain = (await api("GET", base + "/database/password")).password;
      out.textContent = plain;
      out.dataset.masked = "false";
      reveal.innerHTML = iconHTML("eye-off") + "<span>Hide</span>";
      copy.hidden = false;
    } catch (err) {
      toast(errorText(err), "bad");
    } finally {
      done();
    }
  });
  copy.addEventListener("click", () => copyText(plain, copy));
}

// ---------- delete ----------

const del = document.getElementById("delete-dialog");
const delData = document.getElementById("delete-data-dialog");

async function destroy(withData) {
  try {
    await api("DELETE", base + (withData ? "?data=true" : ""));
    location.assign("/?deleted=" + encodeURIComponent(app));
  } catch (err) {
    toast(errorText(err), "bad");
  }
}

del.addEventListener("close", () => {
  if (del.returnValue !== "delete") return;
  const wantData = document.getElementById("delete-data");
  if (wantData && wantData.checked) {
    // Asked once for the app; ask again, harder, for the data.
    const input = document.getElementById("delete-data-name");
    input.value = "";
    document.getElementById("delete-data-confirm").disabled = true;
    delData.showModal();
  } else {
    destroy(false);
  }
});

if (delData) {
  const input = document.getElementById("delete-data-name");
  const confirmBtn = document.getElementById("delete-data-confirm");
  input.addEventListener("input", () => (confirmBtn.disabled = input.value.trim() !== input.dataset.expect));
  delData.addEventListener("close", () => {
    if (delData.returnValue === "delete" && input.value.trim() === input.dataset.expect) destroy(true);
  });
}
