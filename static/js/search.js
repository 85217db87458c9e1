// Search page: the server rendered the truth; the socket brings the search's events (candidates,
// phases, progress) and its baselines' (baseline.progress, baseline.finished). Rows are clones of
// the page's <template> elements, filled by rows.js, so they match the server's rows.
import * as format from "./format.js";
import { connect } from "./live.js";
import { fill, render, upsert } from "./rows.js";

const page = document.getElementById("search-page");
const $ = (id) => document.getElementById(id);
const PHASES = ["depth", "width", "op", "kernel"];
const COLOURS = { depth: "#1f77b4", width: "#ff7f0e", op: "#2ca02c", kernel: "#d62728" };
const ACTIVE = ["queued", "running"];

const state = {
  status: "queued",
  candidates: new Map(), // index -> finished candidate
  baselines: [],
  chart: null,
};

// ---------------------------------------------------------------- chart

function makeChart() {
  const canvas = $("candidates-chart");
  if (!canvas || typeof Chart === "undefined") return null;
  const accepted = (ctx) => ctx.raw && ctx.raw.accepted;
  return new Chart(canvas, {
    type: "scatter",
    data: {
      datasets: PHASES.map((p) => ({
        label: p,
        data: [],
        backgroundColor: COLOURS[p],
        borderColor: COLOURS[p],
        pointStyle: (ctx) => (accepted(ctx) ? "star" : "circle"),
        pointRadius: (ctx) => (accepted(ctx) ? 9 : 4),
        pointBorderWidth: (ctx) => (accepted(ctx) ? 2 : 1),
      })),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: {
        x: { type: "logarithmic", title: { display: true, text: "parameters" } },
        y: { title: { display: true, text: "test accuracy (%)" } },
      },
      plugins: {
        tooltip: {
          callbacks: {
            label: (ctx) =>
              "#" + ctx.raw.index + " " + ctx.raw.arch + ": " + format.pct(ctx.raw.y) + ", " +
              format.num(ctx.raw.x) + " params" + (ctx.raw.accepted ? " (accepted)" : ""),
          },
        },
      },
    },
  });
}

function redrawChart() {
  if (!state.chart) return;
  const byPhase = Object.fromEntries(PHASES.map((p) => [p, []]));
  for (const c of [...state.candidates.values()].sort((a, b) => a.index - b.index)) {
    if (c.test_acc === null || c.test_acc === undefined) continue;
    const point = { x: c.params, y: c.test_acc, index: c.index, arch: c.arch_short, accepted: c.accepted };
    (byPhase[c.phase] || byPhase.depth).push(point);
  }
  state.chart.data.datasets.forEach((ds) => (ds.data = byPhase[ds.label]));
  state.chart.update();
}

// ---------------------------------------------------------------- candidates and the best one

function showCandidate(c) {
  if (c.status === "running") return;
  state.candidates.set(c.index, c);
  const row = render("candidate-row", c);
  row.dataset.index = String(c.index);
  row.classList.toggle("accepted", Boolean(c.accepted));
  upsert($("candidates-table").tBodies[0], row, "index");
  $("candidate-count").textContent = String(state.candidates.size);
}

function showBest(best) {
  $("best-table").tBodies[0].replaceChildren(...(best.table || []).map((r) => render("layer-row", r)));
  fill($("best-params"), { best });
}

// ---------------------------------------------------------------- status, progress, summary

function showStatus(status) {
  state.status = status;
  fill($("search-status"), { status });
  if (!ACTIVE.includes(status) && $("cancel-form")) $("cancel-form").remove();
}

function showProgress(p, active) {
  const bar = $("epoch-bar");
  $("epoch-progress").hidden = !active;
  $("epoch-text").textContent = active ? format.progress(p) : "–";
  bar.max = (active && p && p.epochs) || 1;
  bar.value = (active && p && p.epoch) || 0;
}

function downloadLink(id, href, label) {
  let a = $(id);
  if (!a) {
    a = document.createElement("a");
    a.id = id;
    a.className = "button";
    a.setAttribute("download", "");
    $("downloads").appendChild(a);
  }
  a.href = href;
  a.textContent = label;
}

function showSearch(s) {
  showStatus(s.status);
  fill($("search-phase"), s);
  const active = ACTIVE.includes(s.status);
  showProgress(s.progress, active);
  if (s.best) showBest(s.best);
  const err = $("search-error");
  err.textContent = s.error || "";
  err.hidden = !s.error;
  if (active) return;
  $("search-summary").hidden = false;
  fill($("search-summary"), s);
  if (s.status === "finished") {
    // finished while the page was open: baselines can be trained now, next to the found net
    fill($("baseline-mininas"), s);
    $("baselines-wait").hidden = true;
    $("baselines-ready").hidden = false;
  }
  const dl = s.downloads || {};
  if (dl.pt) downloadLink("download-pt", dl.pt, "Download weights (.pt)");
  if (dl.onnx) downloadLink("download-onnx", dl.onnx, "Download ONNX (.onnx)");
}

// ---------------------------------------------------------------- baselines

function showBaselines(rows) {
  state.baselines = rows;
  const body = $("baselines-table").tBodies[0];
  body.querySelectorAll("tr[data-baseline]").forEach((tr) => tr.remove());
  for (const b of rows) {
    const row = render("baseline-row", b);
    row.dataset.baseline = b.name;
    body.appendChild(row);
  }
  const active = rows.some((b) => b.active);
  $("baselines").dataset.active = active ? "1" : "";
  $("baselines-cancel-form").hidden = !active;
  $("baselines-train-form").hidden = active;
  $("baselines-train").textContent = rows.length ? "Train baselines again" : "Train baselines";
  // Screen readers hear each baseline's status when it changes (not every epoch).
  const said = rows.map((b) => b.label + ": " + b.status).join("; ");
  if ($("baselines-state").textContent !== said) $("baselines-state").textContent = said;
}

// ---------------------------------------------------------------- messages

function applySnapshot(snap) {
  state.candidates.clear();
  $("candidates-table").tBodies[0].replaceChildren();
  (snap.candidates || []).forEach(showCandidate);
  $("candidate-count").textContent = String(state.candidates.size);
  showSearch(snap.search);
  if (snap.baselines) showBaselines(snap.baselines);
  redrawChart();
}

function applyEvent(msg) {
  switch (msg.type) {
    case "search.phase":
      showStatus(msg.status);
      fill($("search-phase"), msg);
      break;
    case "candidate.started":
      showStatus("running");
      showProgress({ index: msg.candidate.index, phase: msg.candidate.phase, epoch: 0 }, true);
      break;
    case "candidate.epoch":
      showStatus("running");
      showProgress(msg, true);
      break;
    case "candidate.finished":
      showCandidate(msg.candidate);
      if (msg.best) showBest(msg.best);
      redrawChart();
      break;
    case "search.finished":
      showSearch(msg.search);
      break;
    case "baseline.progress":
    case "baseline.finished":
      showBaselines(msg.baselines);
      break;
    default:
      return false;
  }
  return true;
}

// ---------------------------------------------------------------- start

if (page) {
  state.chart = makeChart();
  applySnapshot(JSON.parse($("search-snapshot").textContent));
  window.miniNAS = connect({
    path: page.dataset.wsPath,
    onSnapshot: applySnapshot,
    onEvent: applyEvent,
    isActive: () => ACTIVE.includes(state.status) || state.baselines.some((b) => b.active),
    indicator: $("live-state"),
  });
}
