// Nodes: drain and activate a swarm node, reveal the worker join command.

import { api, seg, refresh, every } from "./api.js";
import { busy, confirmDialog, toast, errorText, iconHTML, copyText } from "./ui.js";

const PARTS = ["list"];
if (document.querySelector('[data-fragment="list"]')) {
  every(10000, () => refresh(PARTS));
}

document.addEventListener("click", async (e) => {
  const b = e.target.closest("[data-drain],[data-activate]");
  if (!b) return;
  const drain = "drain" in b.dataset;
  const id = drain ? b.dataset.drain : b.dataset.activate;
  if (drain) {
    const ok = await confirmDialog(
      "Drain " + b.dataset.host + "?",
      "Swarm moves this node's tasks to the other nodes and schedules nothing new on it. A database placed on this node stops until the node is active again.",
      { ok: "Drain", danger: true },
    );
    if (!ok) return;
  }
  const done = busy(b);
  try {
    await api("POST", "/api/v1/nodes/" + seg(id) + (drain ? "/drain" : "/activate"));
    toast(b.dataset.host + (drain ? " is draining" : " is active"), "ok");
    await refresh(PARTS);
  } catch (err) {
    toast(errorText(err), "bad");
  } finally {
    done();
  }
});

const reveal = document.getElementById("join-reveal");
if (reveal) {
  const out = document.getElementById("join-command");
  const copy = document.getElementById("join-copy");
  const masked = out.textContent;
  let plain = "";
  reveal.addEventListener("click", async () => {
    if (plain) {
      out.textContent = masked;
      reveal.innerHTML = iconHTML("eye") + "<span>Reveal</span>";
      copy.hidden = true;
      plain = "";
      return;
    }
    const done = busy(reveal);
    try {
      plain = (await api("GET", "/api/v1/nodes/join?reveal=true")).command;
      out.textContent = plain;
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
