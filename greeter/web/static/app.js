// The page works without this script (plain forms and links); it keeps the
// live page's figures fresh, asks before forgetting, and brings back a
// stream that broke. User data is set as text, never as markup.
"use strict";

function text(node, value) { if (node) node.textContent = value; }

function refreshState() {
  fetch("/api/status", { credentials: "same-origin", cache: "no-store" })
    .then((response) => (response.ok ? response.json() : null))
    .then((status) => {
      if (!status) return;
      text(document.querySelector('[data-field="fps"]'), (status.fps ?? "–") + " fps");
      text(document.querySelector('[data-field="cpu"]'), (status.cpu ?? "–") + " CPU-s/s");
      text(document.querySelector('[data-field="people"]'), status.people);
      text(document.querySelector('[data-field="frames"]'), status.frames);
      const list = document.getElementById("events");
      if (list && status.events.length) {
        list.replaceChildren(...status.events.map((sink) => {
          const item = document.createElement("li");
          const dot = document.createElement("span");
          dot.className = "dot " + (sink.working ? "ok" : "bad");
          dot.setAttribute("aria-hidden", "true");
          let words = `${sink.destination}: ${sink.sent} sent`;
          if (sink.waiting) words += `, ${sink.waiting} waiting`;
          if (sink.failed) words += `, ${sink.failed} failed`;
          if (!sink.working) words += " (away)";
          item.append(dot, document.createTextNode(words));
          return item;
        }));
      }
    })
    .catch(() => {});
}

document.addEventListener("DOMContentLoaded", () => {
  const live = document.getElementById("live");
  if (live) {
    refreshState();
    setInterval(refreshState, 2000);
    live.addEventListener("error", () => {
      setTimeout(() => { live.src = "/live.mjpg?" + Date.now(); }, 2000);
    });
  }
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
});
