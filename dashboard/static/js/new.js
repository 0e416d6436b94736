// New app: the template gallery with a preview of the generated settings
// and a one-click deploy, or an app from any image.

import { api } from "./api.js";
import { toast, busy, showError, clearError, esc } from "./ui.js";
import { followJob } from "./progress.js";

const form = document.getElementById("template-form");
const err = document.getElementById("tpl-error");
const nameIn = document.getElementById("tpl-name");
const imageIn = document.getElementById("tpl-image");
const dbIn = document.getElementById("tpl-db-image");
const portIn = document.getElementById("tpl-port");
const healthIn = document.getElementById("tpl-health");
const props = document.getElementById("tpl-preview-props");
const note = document.getElementById("tpl-preview-note");
const panel = document.getElementById("deploy-panel");
let current = null;

function suggestName(id) {
  const base = id.split("-")[0] || "app";
  return base + "-" + Math.random().toString(36).slice(2, 6);
}

function choose(card) {
  current = card.dataset;
  for (const c of document.querySelectorAll(".template-card")) c.removeAttribute("aria-current");
  card.setAttribute("aria-current", "true");
  document.getElementById("tpl-id").value = current.template;
  document.getElementById("template-form-title").textContent = "Deploy " + current.title;
  document.getElementById("template-form-desc").textContent = current.description;
  imageIn.value = current.image;
  imageIn.required = !current.image;
  dbIn.value = current.dbImage || "";
  document.getElementById("tpl-db-field").hidden = !current.dbImage;
  if (!nameIn.value) nameIn.value = suggestName(current.template);
  clearError(form, err);
  form.hidden = false;
  panel.hidden = true;
  form.scrollIntoView({ block: "nearest", behavior: "smooth" });
  nameIn.focus();
  nameIn.select();
  preview();
}

document.addEventListener("click", (e) => {
  const b = e.target.closest("[data-choose]");
  if (b) choose(b.closest(".template-card"));
});
document.getElementById("template-close").addEventListener("click", () => {
  form.hidden = true;
  for (const c of document.querySelectorAll(".template-card")) c.removeAttribute("aria-current");
});

function params() {
  const p = { name: nameIn.value.trim() };
  if (imageIn.value.trim() && imageIn.value.trim() !== current.image) p.image = imageIn.value.trim();
  if (dbIn.value.trim() && dbIn.value.trim() !== current.dbImage) p.database_image = dbIn.value.trim();
  if (portIn.value.trim()) p.port = Number(portIn.value);
  if (healthIn.value.trim()) p.health_path = healthIn.value.trim();
  return p;
}

function prop(dt, dd, cls = "") {
  return "<div><dt>" + esc(dt) + '</dt><dd class="' + cls + '">' + dd + "</dd></div>";
}

let seq = 0;
async function preview() {
  if (!current) return;
  const mine = ++seq;
  const p = params();
  if (!p.name || !imageIn.value.trim()) {
    props.innerHTML = "";
    note.textContent = p.name ? "Fill in the image to see what will be deployed." : "Fill in a name to see what will be deployed.";
    return;
  }
  try {
    const r = await api("POST", "/api/v1/templates/" + encodeURIComponent(current.template) + "?preview=1", p);
    const a = r.app;
    if (mine !== seq) return;
    clearError(form, err);
    note.textContent = "This is what kaj stores and deploys. Nothing is created until you deploy." +
      ((r.defaults || []).length ? " Template defaults used: " + r.defaults.join("; ") + "." : "");
    let h = prop("Image", esc(a.image), "mono") + prop("Port", String(a.port)) + prop("Health check", a.health_path ? esc(a.health_path) : "the port answers and the container stays up", a.health_path ? "mono" : "");
    for (const e of a.env || []) {
      h += prop(e.name, e.secret ? '<span class="secret-mask">secret, generated (' + e.value.length + " characters)</span>" : esc(e.value), e.secret ? "" : "mono");
    }
    if (a.database) {
      const d = a.database;
      h += prop("Database", esc(d.kind) + " · <span class=\"mono\">" + esc(d.image) + "</span>");
      h += prop("Database host", esc(d.alias), "mono") + prop("Database name / user", esc(d.name) + " / " + esc(d.user), "mono");
      h += prop("Database password", '<span class="secret-mask">generated, stored encrypted</span>');
      h += prop("Data volume", esc(d.volume), "mono");
      h += prop("DATABASE_URL", esc((d.url_scheme || { postgres: "postgresql", mariadb: "mysql" }[d.kind] || d.kind) + "://" + d.user + ":•••@" + d.alias + "/" + d.name), "mono");
    }
    props.innerHTML = h;
  } catch (e) {
    if (mine !== seq) return;
    props.innerHTML = "";
    note.textContent = "Fix the settings to see the preview.";
    showError(form, err, e);
    nameIn.focus();
  }
}

let t = 0;
for (const el of [nameIn, imageIn, dbIn, portIn, healthIn]) {
  el.addEventListener("input", () => {
    clearTimeout(t);
    t = setTimeout(preview, 250);
  });
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  clearError(form, err);
  const btn = document.getElementById("tpl-deploy");
  const done = busy(btn);
  const p = params();
  try {
    const r = await api("POST", "/api/v1/templates/" + encodeURIComponent(current.template), p);
    form.hidden = true;
    const status = await followJob(panel, r.job, { title: "Deploying " + p.name, doneTitle: "Deployed " + p.name, subject: current.title });
    const link = document.createElement("div");
    link.className = "actions";
    link.innerHTML = '<a class="btn primary" href="/apps/' + esc(encodeURIComponent(p.name)) + '">Open ' + esc(p.name) + "</a>" +
      (status === "succeeded" ? "" : '<span class="muted small">The app is saved; fix its settings and deploy again from its page.</span>');
    panel.append(link);
    link.querySelector("a").focus();
  } catch (e2) {
    showError(form, err, e2);
  } finally {
    done();
  }
});

// ---------- from an image ----------

const imgForm = document.getElementById("image-form");
const imgErr = document.getElementById("image-error");
const dbSel = document.getElementById("img-db");
dbSel.addEventListener("change", () => {
  document.getElementById("img-db-image-field").hidden = !dbSel.value;
});

imgForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  clearError(imgForm, imgErr);
  const f = new FormData(imgForm);
  const body = {
    name: String(f.get("name")).trim(),
    image: String(f.get("image")).trim(),
    port: Number(f.get("port")),
    health_path: String(f.get("health_path")).trim(),
  };
  if (f.get("database")) body.database = { kind: String(f.get("database")), image: String(f.get("database_image")).trim() };
  const done = busy(e.submitter);
  try {
    await api("POST", "/api/v1/apps", body);
    let follow = "";
    if (e.submitter && e.submitter.value === "deploy") {
      const r = await api("POST", "/api/v1/apps/" + encodeURIComponent(body.name) + "/deploy");
      follow = "?job=" + encodeURIComponent(r.job);
    }
    location.assign("/apps/" + encodeURIComponent(body.name) + follow);
  } catch (e2) {
    showError(imgForm, imgErr, e2);
  } finally {
    done();
  }
});

// Offer the engine's images as suggestions.
api("GET", "/api/v1/images")
  .then((imgs) => {
    const list = document.getElementById("local-images");
    for (const i of imgs || []) for (const tag of i.tags || []) list.append(new Option(tag));
  })
  .catch(() => {});

if (location.hash === "#templates") {
  const first = document.querySelector(".template-card [data-choose]");
  if (first) first.focus();
}
if (!document.querySelector(".template-card")) toast("No templates are available.", "warn");
