// "Export" on a candidate's row: POST /api/searches/<id>/candidates/<N>/export/, then its state
// every 2 s until done or failed; the "Exported candidates" section lists each with its files.
import { pct } from "./format.js";

const page = document.getElementById("search-page");
const section = document.getElementById("exported-candidates");
const list = document.getElementById("exported-list");
const POLL_MS = 2000;
const following = new Set();

const apiUrl = (index) => `/api/searches/${page.dataset.searchId}/candidates/${index}/export/`;
const csrf = () => (section.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";

function item(index) {
  let li = list.querySelector(`li[data-index="${index}"]`);
  if (!li) {
    li = document.createElement("li");
    li.dataset.index = index;
    const row = document.querySelector(`#candidates-table tr[data-index="${index}"]`);
    const arch = row ? row.querySelector('[data-field="arch_short"]').textContent : "";
    li.append(`#${index} `, Object.assign(document.createElement("span"), { className: "mono", textContent: arch }), ": ");
    li.append(Object.assign(document.createElement("span"), { className: "export-status" }), " ");
    li.append(Object.assign(document.createElement("span"), { className: "export-files" }));
    const after = [...list.children].find((el) => Number(el.dataset.index) > index);
    list.insertBefore(li, after || null);
  }
  section.hidden = false;
  return li;
}

function show(index, exp, error) {
  const li = item(index);
  const status = error ? "failed" : exp.status;
  li.dataset.exportStatus = status;
  li.querySelector(".export-status").textContent =
    status === "done" ? "test " + pct(exp.test_acc) : status === "failed" ? "failed: " + (error || exp.error) : status + "…";
  const files = li.querySelector(".export-files");
  files.replaceChildren();
  for (const [kind, url] of Object.entries((exp && exp.downloads) || {})) {
    if (files.childElementCount) files.append(" · ");
    files.append(Object.assign(document.createElement("a"), { href: url, download: "", textContent: kind }));
  }
  const button = document.querySelector(`#candidates-table tr[data-index="${index}"] [data-export]`);
  if (button) {
    button.disabled = status === "queued" || status === "running";
    button.textContent = { queued: "Queued…", running: "Exporting…", done: "Exported" }[status] || "Export";
    button.title = status === "failed" ? "failed: " + (error || exp.error) + " (press to try again)" : button.title;
  }
  return status;
}

async function follow(index) {
  if (following.has(index)) return;
  following.add(index);
  try {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      const r = await fetch(apiUrl(index), { headers: { Accept: "application/json" } });
      if (!r.ok) break;
      const status = show(index, (await r.json()).export);
      if (status !== "queued" && status !== "running") break;
    }
  } finally {
    following.delete(index);
  }
}

async function start(index) {
  const r = await fetch(apiUrl(index), { method: "POST", headers: { "X-CSRFToken": csrf(), Accept: "application/json" } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    show(index, null, body.error || "HTTP " + r.status);
    return;
  }
  if (show(index, body.export) !== "done") follow(index);
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-export]");
  const row = button && button.closest("tr[data-index]");
  if (row) start(Number(row.dataset.index));
});

for (const li of list.querySelectorAll("li[data-export-status]")) {
  if (li.dataset.exportStatus === "queued" || li.dataset.exportStatus === "running") follow(Number(li.dataset.index));
}
