// Loaded on every page: theme toggle, the mobile menu, dialogs opened by
// buttons, and local times in tooltips.

const THEMES = [null, "light", "dark"];

function currentTheme() {
  return document.documentElement.dataset.theme || null;
}

function labelTheme(btn) {
  const t = currentTheme() || "system";
  const next = THEMES[(THEMES.indexOf(currentTheme()) + 1) % THEMES.length] || "system";
  btn.setAttribute("aria-label", "Theme: " + t + ". Switch to " + next);
  btn.title = "Theme: " + t;
}

const themeBtn = document.getElementById("theme-toggle");
if (themeBtn) {
  labelTheme(themeBtn);
  themeBtn.addEventListener("click", () => {
    const next = THEMES[(THEMES.indexOf(currentTheme()) + 1) % THEMES.length];
    if (next) document.documentElement.dataset.theme = next;
    else delete document.documentElement.dataset.theme;
    try {
      if (next) localStorage.setItem("kaj-theme", next);
      else localStorage.removeItem("kaj-theme");
    } catch {
      // Not remembered, still applied.
    }
    labelTheme(themeBtn);
  });
}

const navBtn = document.getElementById("nav-toggle");
const sidebar = document.getElementById("sidebar");
if (navBtn && sidebar) {
  const set = (open) => {
    sidebar.classList.toggle("open", open);
    navBtn.setAttribute("aria-expanded", String(open));
  };
  navBtn.addEventListener("click", () => set(!sidebar.classList.contains("open")));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && sidebar.classList.contains("open")) {
      set(false);
      navBtn.focus();
    }
  });
}

document.addEventListener("click", (e) => {
  const opener = e.target.closest("[data-open]");
  if (!opener) return;
  const d = document.getElementById(opener.dataset.open);
  if (d && d.showModal) d.showModal();
});

function localTimes(root) {
  for (const t of root.querySelectorAll("time[datetime]")) {
    const d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) t.title = d.toLocaleString();
  }
}
localTimes(document);
document.addEventListener("kaj:refreshed", () => localTimes(document));
