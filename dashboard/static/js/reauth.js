// The password prompt for sensitive actions. kaj asks for the password
// again when one (a new API token, a revealed secret, a user change, a
// terminal) comes more than a few minutes after it was last typed; this
// dialog takes it and confirmPassword sends it.

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function csrf() {
  const m = document.querySelector('meta[name="csrf-token"]');
  return m ? m.content : "";
}

// askPassword shows the prompt and resolves to the typed password, or
// null when the user cancels. error, when set, says why the last one
// failed.
function askPassword(reason, error) {
  return new Promise((resolve) => {
    const d = document.createElement("dialog");
    d.id = "reauth";
    d.setAttribute("aria-labelledby", "reauth-title");
    const user = (document.querySelector(".me strong") || {}).textContent || "";
    d.innerHTML =
      '<form method="dialog" class="dialog-body"><h2 id="reauth-title">Confirm your password</h2>' +
      '<p class="muted">' + esc(reason) + "</p>" +
      '<input type="text" name="username" autocomplete="username" value="' + esc(user) + '" hidden>' +
      '<div class="field"><label for="reauth-password">Password</label>' +
      '<input id="reauth-password" name="password" type="password" autocomplete="current-password" required></div>' +
      (error ? '<p class="form-error" role="alert" id="reauth-error">' + esc(error) + "</p>" : "") +
      '<div class="dialog-foot"><button type="button" class="btn" id="reauth-cancel">Cancel</button>' +
      '<button class="btn primary" value="ok" id="reauth-ok">Confirm</button></div></form>';
    document.body.append(d);
    const input = d.querySelector("#reauth-password");
    // Cancel is no submit button, so Enter in the field confirms.
    d.querySelector("#reauth-cancel").addEventListener("click", () => d.close("cancel"));
    d.addEventListener("close", () => {
      resolve(d.returnValue === "ok" ? input.value : null);
      d.remove();
    });
    d.showModal();
    input.focus();
  });
}

// confirmPassword asks for the password until kaj accepts it or the
// user cancels, and says which. A lost session returns false; the
// caller's own request then meets the login.
export async function confirmPassword(reason) {
  let error = "";
  for (;;) {
    const pw = await askPassword(reason || "This action needs your password again.", error);
    if (pw === null) return false;
    let res;
    try {
      res = await fetch("/api/v1/session/confirm", {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify({ password: pw }),
      });
    } catch {
      error = "kaj does not answer; try again";
      continue;
    }
    if (res.ok) return true;
    if (res.status === 401) return false;
    const body = await res.json().catch(() => ({}));
    error = body.detail || body.error || "status " + res.status;
  }
}

// ensureConfirmed asks for the password first when the session's
// confirmation has lapsed (or will within a few seconds): for a
// websocket, whose refusal the page cannot read.
export async function ensureConfirmed(reason) {
  const res = await fetch("/api/v1/auth/me", { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!res.ok) return false;
  const me = await res.json();
  if (me.confirmed_until && Date.parse(me.confirmed_until) - Date.now() > 10000) return true;
  return confirmPassword(reason);
}
