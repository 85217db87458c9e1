// Search page: the server rendered the truth; the socket brings the search's events (candidates,
// phases, progress) and its baselines' (baseline.progress, baseline.finished). Rows are clones of
// the page's <template> elements, filled by rows.js, so they match the server's rows.
import * as format from "./format.js";
import { accuracyChartOptions, pointStyles } from "./chart.js";
import { connect } from "./live.js";
import { fill, render, upsert } from "./rows.js";
import { setUpTryIt } from "./tryit.js";

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
  chartPending: false,
};

// ---------------------------------------------------------------- chart

function makeChart() {
  const canvas = $("candidates-chart");
  if (!canvas || typeof Chart === "undefined") return null;
  const label = (ctx) =>
    "#" + ctx.raw.index + " " + ctx.raw.arch + ": " + format.pct(ctx.raw.y) + format.ci(ctx.raw.ci) + ", " +
    format.num(ctx.raw.x) + " params" + (ctx.raw.accepted ? " (accepted)" : "");
  return new Chart(canvas, {
    type: "scatter",
    plugins: [errorBars],
    data: {
      datasets: PHASES.map((p) => ({
        label: p,
        data: [],
        backgroundColor: COLOURS[p],
        borderColor: COLOURS[p],
        ...pointStyles,
      })),
    },
    options: {
      ...accuracyChartOptions(label),
      parsing: false, // points are {x, y} already: no parsing pass over every point on update
      normalized: true,
    },
  });
}

const hasAcc = (c) => c.test_acc !== null && c.test_acc !== undefined;
const point = (c) => ({
  x: c.params,
  y: c.test_acc,
  index: c.index,
  arch: c.arch_short,
  accepted: c.accepted,
  ci: c.test_ci95 || null,
});
const datasetOf = (c) => state.chart.data.datasets[Math.max(0, PHASES.indexOf(c.phase))];

/** The whole chart from state.candidates (a snapshot). */
function redrawChart() {
  if (!state.chart) return;
  const byPhase = Object.fromEntries(PHASES.map((p) => [p, []]));
  for (const c of [...state.candidates.values()].sort((a, b) => a.index - b.index)) {
    if (hasAcc(c)) (byPhase[c.phase] || byPhase.depth).push(point(c));
  }
  state.chart.data.datasets.forEach((ds) => (ds.data = byPhase[ds.label]));
  state.chart.update("none");
}

/** One finished candidate: its point pushed (or replaced), without rebuilding the datasets. */
function addPoint(c) {
  if (!state.chart || !hasAcc(c)) return;
  const data = datasetOf(c).data;
  const at = data.findIndex((p) => p.index === c.index);
  if (at >= 0) data[at] = point(c);
  else data.push(point(c));
  scheduleChartUpdate();
}

/** One chart update per animation frame, however many points arrived in it. */
function scheduleChartUpdate() {
  if (state.chartPending) return;
  state.chartPending = true;
  requestAnimationFrame(() => {
    state.chartPending = false;
    state.chart.update("none");
  });
}

/** Chart.js plugin: each point's 95% interval as a vertical bar (when the candidate has one). */
const errorBars = {
  id: "errorBars",
  afterDatasetsDraw(chart) {
    const { ctx, scales } = chart;
    ctx.save();
    chart.data.datasets.forEach((ds, di) => {
      const meta = chart.getDatasetMeta(di);
      if (meta.hidden) return;
      ctx.strokeStyle = ds.borderColor;
      ctx.lineWidth = 1;
      ds.data.forEach((p, i) => {
        if (!p.ci || !meta.data[i]) return;
        const x = meta.data[i].x;
        const lo = scales.y.getPixelForValue(p.ci[0]);
        const hi = scales.y.getPixelForValue(p.ci[1]);
        ctx.beginPath();
        ctx.moveTo(x, lo);
        ctx.lineTo(x, hi);
        ctx.moveTo(x - 3, lo);
        ctx.lineTo(x + 3, lo);
        ctx.moveTo(x - 3, hi);
        ctx.lineTo(x + 3, hi);
        ctx.stroke();
      });
    });
    ctx.restore();
  },
};

// ---------------------------------------------------------------- candidates and the best one

/** One finished candidate's row. A new last candidate (the usual case) is appended; only an
 * out-of-order or repeated one looks for its place. Returns whether it was drawn. */
function showCandidate(c, body = $("candidates-table").tBodies[0]) {
  if (c.status === "running") return false;
  const known = state.candidates.has(c.index);
  state.candidates.set(c.index, c);
  const row = render("candidate-row", c);
  row.dataset.index = String(c.index);
  row.classList.toggle("accepted", Boolean(c.accepted));
  const last = body.lastElementChild;
  if (!known && (!last || Number(last.dataset.index) < c.index)) body.appendChild(row);
  else upsert(body, row, "index");
  return true;
}

function showBest(best) {
  $("best-table").tBodies[0].replaceChildren(...(best.table || []).map((r) => render("layer-row", r)));
  fill($("best-params"), { best });
}

function showCount() {
  $("candidate-count").textContent = String(state.candidates.size);
}

// ---------------------------------------------------------------- status, progress, summary

function showStatus(status) {
  state.status = status;
  fill($("search-status"), { status });
  if (!ACTIVE.includes(status) && $("cancel-form")) $("cancel-form").remove();
}

function showProgress(p, active) {
  const bar = $("epoch-bar");
  const box = $("epoch-progress");
  box.hidden = !active;
  box.style.display = active ? "" : "none"; // whatever the (possibly cached) stylesheet says
  $("epoch-text").textContent = active ? format.progress(p) : "";
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
  if (dl.onnx && $("try-it")) $("try-it").hidden = false;
  if (s.final && s.final.test_acc != null && !$("per-class-table")) loadFinalSection();
}

/** The final model's results, as the server renders them, swapped in without a reload. */
async function loadFinalSection() {
  try {
    const r = await fetch(location.pathname, { credentials: "same-origin" });
    if (!r.ok) return;
    const doc = new DOMParser().parseFromString(await r.text(), "text/html");
    const fresh = doc.getElementById("final-section");
    if (fresh && $("final-section")) $("final-section").replaceWith(document.adoptNode(fresh));
  } catch (e) {
    // the results are on the page after a reload anyway
  }
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
  const body = document.createElement("tbody"); // built off the page, swapped in once
  (snap.candidates || []).forEach((c) => showCandidate(c, body));
  $("candidates-table").tBodies[0].replaceWith(body);
  showCount();
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
    case "final.epoch": // the chosen network's final training ({phase: "final", epoch, epochs})
      showStatus("running");
      showProgress(msg, true);
      break;
    case "candidate.finished":
      if (showCandidate(msg.candidate)) addPoint(msg.candidate);
      showCount();
      if (msg.best) {
        showBest(msg.best);
        fill($("baseline-mininas"), { best: msg.best });
      }
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
  setUpTryIt($("try-it"));
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
