// The dataset page while its upload is packed on a worker: ask the JSON API every 2 s where the
// packing stands and say so; once the dataset is ready or failed, reload: the server draws it.
import { seconds } from "./format.js";

const box = document.getElementById("dataset-packing");
const stateEl = document.getElementById("packing-state");
const POLL_MS = 2000;

function describe(packing) {
  let line = "Packing… " + (packing.message || "");
  const started = Date.parse(packing.started || "");
  if (!Number.isNaN(started)) line += " (" + seconds(Math.max(0, (Date.now() - started) / 1000)) + ")";
  return line;
}

async function poll() {
  try {
    const r = await fetch(box.dataset.apiUrl, { headers: { Accept: "application/json" } });
    if (r.status === 404) {
      stateEl.textContent = "This dataset was deleted.";
      return;
    }
    if (r.ok) {
      const d = (await r.json()).dataset;
      if (d.status !== "packing") {
        window.location.reload();
        return;
      }
      stateEl.textContent = describe(d.packing || {});
    }
  } catch (err) {
    stateEl.textContent = "Packing… (the server cannot be reached; trying again)";
  }
  setTimeout(poll, POLL_MS);
}

if (box) setTimeout(poll, 500); // a small upload is often packed by then
