// Pasting a .env file into the environment editor: each KEY=value line
// fills the row of that name, or a new one. Pasting several lines into a
// name field does the same.

const rows = document.getElementById("env-rows");
const addBtn = document.getElementById("env-add");
const box = document.getElementById("env-paste");
const toggle = document.getElementById("env-paste-toggle");
const text = document.getElementById("env-paste-text");

// parseDotenv reads KEY=value lines: blank lines and # comments are
// skipped, "export " is dropped, and a value in matching quotes loses
// them (double quotes also unescape \n and \").
export function parseDotenv(src) {
  const out = [];
  for (let line of src.split(/\r?\n/)) {
    line = line.trim();
    if (!line || line.startsWith("#")) continue;
    line = line.replace(/^export\s+/, "");
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const name = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).trim();
    const q = value[0];
    if ((q === '"' || q === "'") && value.length > 1 && value.endsWith(q)) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\n/g, "\n").replace(/\\"/g, '"');
    } else {
      value = value.replace(/\s+#.*$/, "");
    }
    if (/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) out.push({ name, value });
  }
  return out;
}

function apply(vars, secret) {
  for (const v of vars) {
    let row = Array.from(rows.querySelectorAll(".env-row")).find((r) => r.querySelector('[name="name"]').value.trim() === v.name);
    if (!row) {
      row = Array.from(rows.querySelectorAll(".env-row")).find((r) => !r.querySelector('[name="name"]').value.trim() && !r.querySelector('[name="value"]').value);
    }
    if (!row) {
      addBtn.click();
      row = rows.lastElementChild;
    }
    row.querySelector('[name="name"]').value = v.name;
    row.querySelector('[name="value"]').value = v.value;
    const s = row.querySelector('[name="secret"]');
    if (secret && !s.checked) {
      s.checked = true;
      s.dispatchEvent(new Event("change"));
    }
  }
}

toggle.addEventListener("click", () => {
  box.hidden = !box.hidden;
  toggle.setAttribute("aria-expanded", String(!box.hidden));
  if (!box.hidden) text.focus();
});

document.getElementById("env-paste-apply").addEventListener("click", () => {
  const vars = parseDotenv(text.value);
  apply(vars, document.getElementById("env-paste-secret").checked);
  text.value = "";
  box.hidden = true;
  toggle.setAttribute("aria-expanded", "false");
  const st = document.getElementById("env-error");
  st.hidden = vars.length > 0;
  if (!vars.length) st.textContent = "No KEY=value line found in what was pasted.";
});

rows.addEventListener("paste", (e) => {
  if (!e.target.matches('[name="name"]')) return;
  const src = e.clipboardData.getData("text");
  if (!src.includes("=")) return;
  const vars = parseDotenv(src);
  if (!vars.length) return;
  e.preventDefault();
  e.target.closest(".env-row").querySelector('[name="name"]').value = "";
  apply(vars, false);
});
