// Applies the chosen theme before the first paint, so a dark-theme user
// never sees a white flash. A classic script on purpose: modules run
// after the document is parsed.
(function () {
  try {
    var t = localStorage.getItem("kaj-theme");
    if (t === "light" || t === "dark") document.documentElement.dataset.theme = t;
  } catch (e) {
    // Storage may be blocked; the system preference applies.
  }
})();
