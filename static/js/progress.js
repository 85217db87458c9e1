// The search page's progress box, kept live: the phase stepper, "Candidates trained: 7 of at
// most 63" (over-budget candidates are never trained, so not counted),
// the elapsed time and an estimate of the time left, and the placeholder shown until the first
// candidate arrives. The server rendered all of it (estimates.progress_context); search.js calls
// these functions with what the socket brings.
//
// Time left = the mean measured seconds of the finished candidates x the candidates the cost
// bound still allows + the mean seconds per epoch x the final training's epochs: an upper
// estimate, as the bound is (a search usually stops sooner).
import * as format from "./format.js";

const $ = (id) => document.getElementById(id);
const SEARCH_PHASES = ["", "depth", "width", "op", "kernel"];
const STEPS = ["depth", "width", "op", "kernel", "final", "export"];
const ACTIVE = ["queued", "running"];

const box = $("run-progress");
const info = {
  max: box ? Number(box.dataset.maxCandidates) || 0 : 0,
  finalEpochs: box ? Number(box.dataset.finalEpochs) || 0 : 0,
  // elapsed at load (the server's clock) + time since, so the browser's clock never matters
  elapsedAt: box && box.dataset.elapsed !== "" ? Number(box.dataset.elapsed) : null,
  loadedAt: performance.now(),
  phase: "",
  status: box ? box.dataset.status : "",
  done: 0,
  perCandidate: null,
  perEpoch: null,
  timer: null,
};

/** "about 6 min" (estimates.about on the server). */
export function about(seconds) {
  if (seconds < 60) return "under a minute";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return "about " + minutes + " min";
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours >= 48) return "about " + Math.round(hours / 24) + " days";
  return "about " + hours + " h" + (rest && hours < 10 ? " " + rest + " min" : "");
}

function elapsed() {
  if (info.elapsedAt === null) return null;
  return info.elapsedAt + (performance.now() - info.loadedAt) / 1000;
}

function tick() {
  const e = elapsed();
  if (e !== null && $("elapsed")) $("elapsed").textContent = format.seconds(e);
}

/** The stepper and the "queued"/running lines for the search's phase and status. */
export function showPhase(phase, status) {
  if (!box) return;
  if (phase !== undefined && phase !== null) info.phase = phase;
  if (status) info.status = status;
  const finished = info.status === "finished" || info.phase === "done";
  const at = finished ? STEPS.length : STEPS.indexOf(info.phase);
  const start = info.status === "queued" ? -1 : 0;
  const current = at >= 0 ? at : start;
  box.querySelectorAll("#phase-stepper li").forEach((li, i) => {
    const state = i < current ? "done" : i === current ? "current" : "todo";
    li.className = state;
    if (state === "current") li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  });
  const active = ACTIVE.includes(info.status);
  $("run-figures").hidden = !active;
  $("queued-note").hidden = info.status !== "queued";
  $("run-times").hidden = info.status === "queued";
  if (info.status === "running" && info.elapsedAt === null) {
    info.elapsedAt = 0; // started while the page was open
    info.loadedAt = performance.now();
  }
  clearInterval(info.timer);
  if (active && info.status === "running") info.timer = setInterval(tick, 1000);
  tick();
  showLeft();
}

/** The finished candidates (a Map index -> candidate): the count, the time left, the placeholder. */
export function showCandidates(candidates) {
  if (!box) return;
  const trained = [...candidates.values()].filter((c) => c.status !== "over_budget" && c.seconds > 0);
  info.done = candidates.size;
  info.perCandidate = trained.length ? trained.reduce((s, c) => s + c.seconds, 0) / trained.length : null;
  const perEpoch = trained.filter((c) => c.epochs > 0).map((c) => c.seconds / c.epochs);
  info.perEpoch = perEpoch.length ? perEpoch.reduce((s, v) => s + v, 0) / perEpoch.length : null;
  const notOver = [...candidates.values()].filter((c) => c.status !== "over_budget").length;
  if (info.max) $("candidate-current").textContent = String(notOver);
  const all = [...candidates.values()];
  $("caption-speculative").hidden = !all.some((c) => c.speculative);
  $("caption-over").hidden = !all.some((c) => c.status === "over_budget");
  const none = candidates.size === 0;
  $("waiting-placeholder").hidden = !none;
  $("results-area").hidden = none;
  showLeft();
}

function showLeft() {
  const el = $("time-left");
  if (!el) return;
  if (info.perCandidate === null || info.perEpoch === null || !info.max) {
    el.textContent = "known after the first candidate";
    return;
  }
  const searching = SEARCH_PHASES.includes(info.phase);
  const remaining = searching ? Math.max(0, info.max - info.done) : 0;
  const final = info.phase === "export" ? 0 : info.perEpoch * info.finalEpochs;
  el.textContent = "at most " + about(info.perCandidate * remaining + final);
}
