// Suite page: while a run derives the suite's datasets, its socket sends the whole page's state
// after each dataset (serializers.suite_snapshot); rows are filled in place by rows.js.
import { connect } from "./live.js";
import { fill, render } from "./rows.js";

const page = document.getElementById("suite-page");
const $ = (id) => document.getElementById(id);
let active = Boolean(page && page.dataset.active);

function applySnapshot(snap) {
  active = Boolean(snap.run && snap.run.active);
  $("suite-created").textContent = snap.created + " of " + snap.rows.length + " datasets created";
  const rows = new Map([...$("suite-table").tBodies[0].rows].map((tr) => [tr.dataset.suite, tr]));
  for (const r of snap.rows) if (rows.has(r.name)) fill(rows.get(r.name), r);
  if (snap.run) {
    fill($("suite-run"), snap);
    fill($("suite-error"), snap);
    $("suite-problems").replaceChildren(...snap.run.problems.map((problem) => render("suite-problem", { problem })));
  }
  $("suite-create").disabled = active || Boolean($("suite-form").dataset.noSources);
  $("live-state").hidden = !active;
}

function applyEvent(msg) {
  if (msg.type !== "suite.progress" && msg.type !== "suite.finished") return false;
  applySnapshot(msg); // each one carries the whole suite
  return true;
}

if (active) {
  window.miniNAS = connect({
    path: page.dataset.wsPath,
    onSnapshot: applySnapshot,
    onEvent: applyEvent,
    isActive: () => active,
    indicator: $("live-state"),
  });
}
