// Search page: the server rendered the truth; the socket brings the search's events (candidates,
// phases, progress) and its baselines' (baseline.progress, baseline.finished). Rows are clones of
// the page's <template> elements, filled by rows.js, so they match the server's rows.
import * as format from "./format.js";
import { accuracyChartOptions, errorBars, paretoFront } from "./chart.js";
import { connect } from "./live.js";
import { fill, render, upsert } from "./rows.js";
import { setUpTryIt } from "./tryit.js";
import * as progressBox from "./progress.js";

const page = document.getElementById("search-page");
const $ = (id) => document.getElementById(id);
const PHASES = ["depth", "width", "op", "kernel"];
const COLOURS = { depth: "#1f77b4", width: "#ff7f0e", op: "#2ca02c", kernel: "#d62728" };
const ACTIVE = ["queued", "running"];

const SPECULATIVE = "speculative";
const OVER = "over budget";
const AXIS_KEY = "mininas.chartAxis";
const COLUMNS_KEY = "mininas.allColumns";
const AXES = {
  params: "parameters",
  macs: "MACs",
  ram_kb: "peak RAM (KB, int8)",
  flash_kb: "flash (KB, int8)",
  board_latency_ms: "board latency (ms, estimate)",
};

const state = {
  status: "queued",
  candidates: new Map(), // index -> finished candidate
  rows: new Map(), // index -> its <tr> in the candidates table
  flight: new Map(), // index -> its <tr> in the "In flight" table
  baselines: [],
  budget: {}, // {params|macs|ram_kb|flash_kb: limit}
  axis: "params",
  chart: null,
  chartPending: false,
  chartAt: 0, // when finished candidates were last drawn (performance.now())
  chartDirty: false,
  pending: new Map(), // index -> finished candidate not drawn yet
  pointAt: new Map(), // index -> the chart dataset that draws it
  queue: [], // socket events waiting for the next animation frame
  seq: 0, // the number of the last event (or snapshot) the page shows
  shown: false, // the server-rendered rows are indexed
  drawn: false, // the chart was drawn once
  framePending: false,
  flushedAt: 0,
};

// ---------------------------------------------------------------- chart
// Every dataset has fixed (not scriptable) point options, so Chart.js resolves them once per
// dataset instead of once per point on every update: accepted candidates are a dataset of their
// own. Points are replaced in place by index; the chart is redrawn at most every CHART_MS.

const CHART_MS = 250;
const ACCEPTED = "accepted";
const SPEC_DS = PHASES.length;
const OVER_DS = PHASES.length + 1;
const ACC_DS = PHASES.length + 2;
const FRONT_DS = PHASES.length + 3; // a step line through the trade-off front (paretoFront)

function makeChart() {
  const canvas = $("candidates-chart");
  if (!canvas || typeof Chart === "undefined") return null;
  const label = (ctx) => {
    const c = ctx.raw.c;
    const acc = c.status === "over_budget" ? "not trained (" + c.reason + ")" : format.pct(c.test_acc) + format.ci(c.test_ci95);
    return (
      "#" + c.index + " " + c.arch_short + " (" + c.phase + "): " + acc + "; " + format.num(c.params) + " params, " +
      format.num(c.macs) + " MACs, RAM " + format.kb(c.ram_kb) + ", flash " + format.kb(c.flash_kb) +
      (c.board_latency_ms == null ? "" : ", " + format.ms(c.board_latency_ms) + " on the board") +
      (c.accepted ? " (accepted)" : "") + (c.speculative ? " (speculative)" : "")
    );
  };
  const options = accuracyChartOptions(label);
  options.scales.x.title.text = AXES[state.axis];
  const dot = { pointStyle: "circle", pointRadius: 4, pointBorderWidth: 1 };
  return new Chart(canvas, {
    type: "scatter",
    plugins: [errorBars, budgetLine, overBudgetMarks],
    data: {
      datasets: [
        ...PHASES.map((p) => ({ label: p, data: [], backgroundColor: COLOURS[p], borderColor: COLOURS[p], ...dot })),
        // trained ahead of the decisions and not needed: hollow circles
        { label: SPECULATIVE, data: [], backgroundColor: "rgba(0,0,0,0)", borderColor: "#555", ...dot, pointRadius: 5, pointBorderWidth: 1.5 },
        // never trained: no accuracy, drawn by overBudgetMarks on the bottom edge (data stays empty
        // so that the y-axis is the accuracies'; the legend entry hides and shows them)
        { label: OVER + " (not trained)", data: [], marks: [], pointStyle: "triangle", backgroundColor: "rgba(0,0,0,0)", borderColor: "#b00020", pointRadius: 6 },
        // a star is drawn with its border only: the legend's star is the same black one
        { label: ACCEPTED, data: [], backgroundColor: "#333", borderColor: "#333", barColor: "#333", pointStyle: "star", pointRadius: 9, pointBorderWidth: 2 },
        { label: "trade-off front", data: [], showLine: true, stepped: "before", borderColor: "#777", backgroundColor: "#777", borderDash: [5, 4], borderWidth: 1.5, pointRadius: 0, pointHitRadius: 0, pointStyle: "line" },
      ],
    },
    options: {
      ...options,
      parsing: false, // points are {x, y} already: no parsing pass over every point on update
      normalized: true,
      events: ["mousemove", "mouseout", "click"], // no touch handlers to run on every frame
    },
  });
}

const hasAcc = (c) => c.test_acc !== null && c.test_acc !== undefined;
const xOf = (c) => Number(c[state.axis]) || 0;
const point = (c) => ({ x: xOf(c), y: c.test_acc, c, ci: c.test_ci95 || null });
/** Which dataset draws `c` (null: nowhere on this axis). */
function datasetIndex(c) {
  if (xOf(c) <= 0) return null; // a figure this search has not got (an old search's RAM)
  if (c.status === "over_budget") return OVER_DS;
  if (!hasAcc(c)) return null;
  if (c.accepted) return ACC_DS;
  if (c.speculative) return SPEC_DS;
  return Math.max(0, PHASES.indexOf(c.phase));
}
/** The trade-off front on this axis, from every trained candidate drawn. */
function updateFront() {
  const ds = state.chart.data.datasets;
  const points = ds.slice(0, FRONT_DS).flatMap((d, di) => (di === OVER_DS ? [] : d.data));
  ds[FRONT_DS].data = paretoFront(points).map((p) => ({ x: p.x, y: p.y, c: p.c }));
}
const listOf = (di) => (di === OVER_DS ? state.chart.data.datasets[di].marks : state.chart.data.datasets[di].data);

/** The whole chart from state.candidates (a snapshot, or another x-axis). */
function redrawChart() {
  if (!state.chart) return;
  const lists = state.chart.data.datasets.map(() => []);
  for (const c of [...state.candidates.values()].sort((a, b) => a.index - b.index)) {
    const di = datasetIndex(c);
    if (di !== null) lists[di].push(point(c));
  }
  state.chart.data.datasets.forEach((ds, di) => {
    if (di === OVER_DS) ds.marks = lists[di];
    else ds.data = lists[di];
  });
  updateFront();
  const x = state.chart.options.scales.x;
  x.title.text = AXES[state.axis];
  const limit = state.budget[state.axis];
  x.suggestedMax = limit ? limit * 1.15 : undefined; // the budget line stays in view
  state.pointAt = new Map();
  lists.forEach((list, di) => list.forEach((p) => state.pointAt.set(p.c.index, di)));
  state.chart.update("none");
}

/** One finished candidate: its point pushed, or replaced where it was (a candidate can finish twice:
 * trained ahead, then judged), without rebuilding the datasets. */
function addPoint(c) {
  if (!state.chart) return;
  const was = state.pointAt.get(c.index);
  if (was !== undefined) {
    const list = listOf(was);
    const at = list.findIndex((p) => p.c.index === c.index);
    if (at >= 0) list.splice(at, 1);
    state.pointAt.delete(c.index);
  }
  const di = datasetIndex(c);
  if (di !== null) {
    const list = listOf(di);
    if (!list.length || list[list.length - 1].c.index < c.index) list.push(point(c));
    else list.splice(list.findIndex((p) => p.c.index > c.index), 0, point(c));
    state.pointAt.set(c.index, di);
  }
  return di !== null || was !== undefined;
}

/** Finished candidates reach the table and the chart at most every CHART_MS (in an animation
 * frame), however many arrived: a frame that adds rows lays out and paints the long table, so a
 * burst costs a few such frames a second, not sixty. The first after a quiet spell goes at once. */
function scheduleChartUpdate() {
  if (state.chartPending) return;
  state.chartPending = true;
  const wait = Math.max(0, state.chartAt + CHART_MS - performance.now());
  setTimeout(() => requestAnimationFrame(flushFinished), wait);
}

function flushFinished() {
  state.chartPending = false;
  state.chartAt = performance.now();
  const pending = [...state.pending.values()].sort((a, b) => a.index - b.index);
  state.pending.clear();
  let drawn = false;
  for (const c of pending) {
    if (showCandidate(c)) drawn = addPoint(c) || drawn;
  }
  if (pending.length) {
    showCount();
    progressBox.showCandidates(state.candidates);
  }
  if (state.chart && (drawn || state.chartDirty)) {
    updateFront();
    state.chart.update("none");
  }
  state.chartDirty = false;
}

/** Chart.js plugin: the search's budget for the x-axis' figure as a dashed vertical line. */
const budgetLine = {
  id: "budgetLine",
  afterDatasetsDraw(chart) {
    const limit = state.budget[state.axis];
    if (!limit) return;
    const { ctx, chartArea, scales } = chart;
    const x = scales.x.getPixelForValue(limit);
    if (!(x >= chartArea.left && x <= chartArea.right)) return;
    ctx.save();
    ctx.strokeStyle = "#b00020";
    ctx.setLineDash([6, 4]);
    ctx.beginPath();
    ctx.moveTo(x, chartArea.top);
    ctx.lineTo(x, chartArea.bottom);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = "#b00020";
    ctx.textAlign = "right";
    ctx.fillText("budget " + format.num(limit), x - 4, chartArea.top + 12);
    ctx.restore();
  },
};

/** Chart.js plugin: over-budget candidates (never trained, no accuracy) as hollow triangles on the
 * bottom edge, at their figure on the x-axis. */
const overBudgetMarks = {
  id: "overBudgetMarks",
  afterDatasetsDraw(chart) {
    const ds = chart.data.datasets[OVER_DS];
    if (!ds || !ds.marks.length || chart.getDatasetMeta(OVER_DS).hidden) return;
    const { ctx, chartArea, scales } = chart;
    const y = chartArea.bottom - 6;
    ctx.save();
    ctx.strokeStyle = ds.borderColor;
    ctx.beginPath();
    for (const p of ds.marks) {
      const x = scales.x.getPixelForValue(p.x);
      if (!(x >= chartArea.left && x <= chartArea.right)) continue;
      ctx.moveTo(x, y - 5);
      ctx.lineTo(x + 5, y + 4);
      ctx.lineTo(x - 5, y + 4);
      ctx.closePath();
    }
    ctx.stroke();
    ctx.restore();
  },
};

function setUpAxis() {
  const select = $("chart-axis");
  if (!select) return;
  let saved = null;
  try {
    saved = localStorage.getItem(AXIS_KEY);
  } catch (e) {
    // storage refused (private mode): the default axis
  }
  const offered = [...select.options].some((o) => o.value === saved); // board latency: with a board
  if (saved && AXES[saved] && offered) state.axis = saved;
  select.value = state.axis;
  select.addEventListener("change", () => {
    state.axis = AXES[select.value] ? select.value : "params";
    try {
      localStorage.setItem(AXIS_KEY, state.axis);
    } catch (e) {
      // not remembered; still shown
    }
    $("chart-axis-name").textContent = AXES[state.axis];
    redrawChart();
  });
  $("chart-axis-name").textContent = AXES[state.axis];
}

/** The "All columns" box (site.css shows the columns): ticked as it was last time. */
function setUpColumns() {
  const box = $("all-columns");
  if (!box) return;
  try {
    box.checked = localStorage.getItem(COLUMNS_KEY) === "1";
    box.addEventListener("change", () => localStorage.setItem(COLUMNS_KEY, box.checked ? "1" : ""));
  } catch (e) {
    // storage refused (private mode): the box still works, unremembered
  }
}

// ---------------------------------------------------------------- candidates and the best one

/** One finished candidate's row, put in place of the one it had (a candidate can finish twice).
 * A new last candidate (the usual case) is appended; only an out-of-order one looks for its place.
 * Returns whether it was drawn. */
function showCandidate(c, body = $("candidates-table").tBodies[0]) {
  if (c.status === "running") return false;
  state.candidates.set(c.index, c);
  const row = render("candidate-row", c);
  row.dataset.index = String(c.index);
  row.classList.toggle("accepted", Boolean(c.accepted));
  row.classList.toggle("speculative", Boolean(c.speculative));
  row.classList.toggle("over-budget", c.status === "over_budget");
  const old = state.rows.get(c.index);
  state.rows.set(c.index, row);
  if (old && old.parentNode === body) {
    old.replaceWith(row);
    return true;
  }
  const last = body.lastElementChild;
  if (!last || Number(last.dataset.index) < c.index) body.appendChild(row);
  else upsert(body, row, "index");
  return true;
}

function showBest(best) {
  $("best-empty").hidden = true;
  $("best-table").hidden = false;
  $("best-table").tBodies[0].replaceChildren(...(best.table || []).map((r) => render("layer-row", r)));
  fill($("best-params"), { best });
}

function showCount() {
  $("candidate-count").textContent = String(state.candidates.size);
  $("candidates-box").classList.toggle("tall", state.candidates.size > 20);
}

// ---------------------------------------------------------------- in flight

/** A running candidate's row in the "In flight" panel: added, or filled again (its epoch). */
function showInFlight(f) {
  const old = state.flight.get(f.index);
  if (old) {
    fill(old, { ...(old.__data || {}), ...f });
    old.__data = { ...(old.__data || {}), ...f };
    return;
  }
  const row = render("in-flight-row", f);
  row.dataset.index = String(f.index);
  row.__data = f;
  state.flight.set(f.index, row);
  upsert($("in-flight-table").tBodies[0], row, "index");
  showFlightCount();
}

function endInFlight(index) {
  const row = state.flight.get(index);
  if (!row) return;
  row.remove();
  state.flight.delete(index);
  showFlightCount();
}

function showFlightCount() {
  const n = state.flight.size;
  $("in-flight").hidden = n === 0;
  $("in-flight-count").textContent = n + " candidate" + (n === 1 ? "" : "s") + " training now";
}

function resetInFlight(list) {
  state.flight.clear();
  $("in-flight-table").tBodies[0].replaceChildren();
  (list || []).forEach(showInFlight);
  showFlightCount();
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
    a.textContent = label; // a link the page already has keeps its own name
  }
  a.href = href;
}

function showSearch(s) {
  showStatus(s.status);
  fill($("search-phase"), s);
  progressBox.showPhase(s.phase, s.status);
  const active = ACTIVE.includes(s.status);
  $("live-state").hidden = !active; // the "live" tag is for a search that is still going
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
  const more = Object.keys(dl).some((k) => k !== "pt" && k !== "onnx" && !$("download-" + k));
  const exportsMissing = (s.exports || []).length && !$("exports-table").tBodies[0].rows.length;
  const finalMissing = s.final && s.final.test_acc != null && !$("per-class-table");
  if (finalMissing || more || exportsMissing) loadFinalSection();
}

/** The final model's results, as the server renders them, swapped in without a reload. */
async function loadFinalSection() {
  try {
    const r = await fetch(location.pathname, { credentials: "same-origin" });
    if (!r.ok) return;
    const doc = new DOMParser().parseFromString(await r.text(), "text/html");
    for (const id of ["final-section", "downloads", "exports"]) {
      const fresh = doc.getElementById(id);
      if (fresh && $(id)) $(id).replaceWith(document.adoptNode(fresh));
    }
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
  state.queue.length = 0; // the snapshot is newer than any event still waiting
  state.pending.clear();
  state.budget = (snap.search && snap.search.budget) || {};
  const body = $("candidates-table").tBodies[0];
  const list = snap.candidates || [];
  let changed = true;
  if (!state.shown) {
    // the page's own snapshot, the one the server rendered the table from: keep its rows
    for (const c of list) state.candidates.set(c.index, c);
    for (const tr of body.rows) state.rows.set(Number(tr.dataset.index), tr);
    state.shown = true;
  } else if (snap.seq === state.seq) {
    changed = false; // the socket's snapshot on connect, of what the page shows already
  } else {
    // a resync: only the rows that differ are drawn again (a candidate can have finished twice)
    const keep = new Set(list.map((c) => c.index));
    for (const [index, tr] of state.rows) {
      if (keep.has(index)) continue;
      tr.remove();
      state.rows.delete(index);
      state.candidates.delete(index);
    }
    for (const c of list) {
      const old = state.candidates.get(c.index);
      if (!old || JSON.stringify(old) !== JSON.stringify(c)) showCandidate(c, body);
    }
  }
  state.seq = snap.seq;
  resetInFlight(snap.in_flight);
  showCount();
  showSearch(snap.search);
  progressBox.showCandidates(state.candidates);
  if (snap.baselines) showBaselines(snap.baselines);
  if (changed || !state.drawn) redrawChart();
  state.drawn = true;
}

const KNOWN = new Set([
  "search.phase", "candidate.started", "candidate.epoch", "final.epoch", "candidate.finished",
  "search.finished", "baseline.progress", "baseline.finished",
]);

/** A socket event: checked now (an unknown one makes the page resync), applied in order with the
 * others that arrive within EVENT_MS, in one animation frame: a burst of epochs from candidates
 * in flight costs a few layouts a second, not one per message. */
const EVENT_MS = 100;

function queueEvent(msg) {
  if (!KNOWN.has(msg.type)) return false;
  state.queue.push(msg);
  if (!state.framePending) {
    state.framePending = true;
    const wait = Math.max(0, state.flushedAt + EVENT_MS - performance.now());
    setTimeout(() => requestAnimationFrame(flushEvents), wait);
  }
  return true;
}

function flushEvents() {
  state.framePending = false;
  state.flushedAt = performance.now();
  const events = state.queue.splice(0);
  let progress = null;
  let best = null;
  for (const msg of events) {
    if (typeof msg.seq === "number") state.seq = msg.seq;
    switch (msg.type) {
      case "search.phase":
        showStatus(msg.status);
        fill($("search-phase"), msg);
        progressBox.showPhase(msg.phase, msg.status);
        break;
      case "candidate.started": {
        const c = msg.candidate;
        progress = { index: c.index, phase: c.phase, epoch: 0 };
        showInFlight(msg.in_flight || { ...c, epoch: 0 });
        break;
      }
      case "candidate.epoch":
        progress = msg;
        if (state.flight.has(msg.index)) showInFlight(msg);
        break;
      case "final.epoch": // the chosen network's final training ({phase: "final", epoch, epochs})
        progress = msg;
        break;
      case "candidate.finished":
        endInFlight(msg.candidate.index);
        if (msg.candidate.status !== "running") {
          state.pending.set(msg.candidate.index, msg.candidate); // a second finish replaces the first
          scheduleChartUpdate();
        }
        if (msg.best) best = msg.best;
        break;
      case "search.finished":
        resetInFlight([]);
        progress = null;
        showSearch(msg.search);
        break;
      case "baseline.progress":
      case "baseline.finished":
        showBaselines(msg.baselines);
        break;
    }
  }
  if (progress) {
    if (state.status !== "running") progressBox.showPhase(progress.phase, "running");
    showStatus("running");
    showProgress(progress, true);
  }
  if (best) {
    showBest(best);
    fill($("baseline-mininas"), { best });
  }
}

// ---------------------------------------------------------------- start

if (page) {
  setUpTryIt($("try-it"));
  setUpAxis();
  setUpColumns();
  state.chart = makeChart();
  applySnapshot(JSON.parse($("search-snapshot").textContent));
  window.miniNAS = connect({
    path: page.dataset.wsPath,
    onSnapshot: applySnapshot,
    onEvent: queueEvent,
    isActive: () => ACTIVE.includes(state.status) || state.baselines.some((b) => b.active),
    indicator: $("live-state"),
  });
}
