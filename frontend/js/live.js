// Live pages: a region marked `data-live="SECONDS"` is fetched again every SECONDS while the tab is visible, and its
// content replaced by the server's new rendering of the same address. Nothing is fetched while the tab is hidden
// (one refresh as soon as it shows again), while the person is typing in the region, or while it is paused with
// its button. Without JavaScript the page is complete as it is; a reload shows the news.

const region = () => document.querySelector("[data-live]");

let timer = null;
let paused = false;
let busy = false;

function status(text) {
  const line = document.querySelector("[data-live-status]");
  if (!line) return;
  line.hidden = false;
  line.querySelector("[data-live-text]").textContent = text;
  line.querySelector("button").textContent = paused ? "Resume" : "Pause";
}

function typing(root) {
  const active = document.activeElement;
  return active && root.contains(active) && active.matches("input, select, textarea");
}

async function refresh() {
  const root = region();
  if (!root || busy || paused || document.hidden || typing(root)) return;
  busy = true;
  try {
    const response = await fetch(window.location.href, {
      headers: { Accept: "text/html" },
      credentials: "same-origin",
      cache: "no-store",
    });
    if (!response.ok || response.redirected) {
      status(`Live updates stopped (${response.status}); reload the page.`);
      stop();
      return;
    }
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.querySelector("[data-live]");
    if (fresh && !typing(root)) {
      // Keep an open "more" section open across the swap.
      const open = [...root.querySelectorAll("details[open]")].map((d) => d.className);
      root.replaceChildren(...[...fresh.childNodes].map((node) => document.adoptNode(node)));
      for (const d of root.querySelectorAll("details")) if (open.includes(d.className)) d.open = true;
      status(`Live: updated ${new Date().toLocaleTimeString()}`);
    }
  } catch {
    status("Live: the server did not answer; trying again.");
  } finally {
    busy = false;
  }
}

function stop() {
  if (timer !== null) window.clearInterval(timer);
  timer = null;
}

function start() {
  const root = region();
  stop();
  if (!root) return;
  const seconds = Math.max(2, Number(root.dataset.live) || 5);
  timer = window.setInterval(refresh, seconds * 1000);
  status(paused ? "Live updates paused." : `Live: every ${seconds} s`);
}

export function enableLive() {
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-live-status] button");
    if (!button) return;
    paused = !paused;
    status(paused ? "Live updates paused." : "Live: resumed");
    if (!paused) refresh();
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh();
  });
  // A page shown in place (a form's answer) may or may not be live.
  document.addEventListener("page:shown", start);
  start();
}
