// How every page shows values. Each function has a namesake filter in
// searchapp/templatetags/mininas.py that gives the same text, so that a row the server rendered and
// one that a script rendered from a socket event look alike (tests/web/test_formats.py checks it).
// A template cell names its format: <td data-field="params" data-format="num">.

const DASH = "–";
const missing = (v) => v === null || v === undefined || v === "";
// toFixed rounds the exact binary value half up, like Python's Decimal(v) with ROUND_HALF_UP.
const fixed = (v, digits) => Number(v).toFixed(digits);
const testAcc = (p) => (missing(p.test_acc) ? "" : ", test " + pct(p.test_acc));

export const text = (v) => (missing(v) ? "" : String(v));
export const dash = (v) => (missing(v) ? DASH : String(v));
export const num = (v) => (missing(v) ? DASH : Math.round(Number(v)).toLocaleString("en-US"));
export const pct = (v) => (missing(v) ? DASH : fixed(v, 2) + "%");
export const times = (v) => (v ? fixed(v, 1) + "×" : DASH);
export const yesno = (v) => (v ? "yes" : "no");
export const px = (v) => (v ? " · " + v + " px" : "");
export const clip = (v) => {
  const s = text(v);
  return s.length > 300 ? s.slice(0, 299) + "…" : s;
};

/** 4.26 -> "4.3s", 12.3 -> "12s", 754 -> "12m 34s", 7260 -> "2h 01m". */
export function seconds(v) {
  if (missing(v)) return DASH;
  if (Number(v) < 10) return fixed(v, 1) + "s";
  const s = Math.round(Number(v));
  const pad = (n) => String(n).padStart(2, "0");
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m " + pad(s % 60) + "s";
  return Math.floor(s / 3600) + "h " + pad(Math.floor((s % 3600) / 60)) + "m";
}

/** A baseline's last epoch report {epoch, epochs, test_acc}: "epoch 2/5, test 61.25%", or "". */
export const epochs = (p) => (p && p.epoch ? "epoch " + p.epoch + "/" + p.epochs + testAcc(p) : "");

/** Which epoch of how many: "epoch 2/5"; "epoch 2" before the total is known; "starting…" before
 * the first epoch. */
const epochText = (p) => (!p.epoch ? "starting…" : "epoch " + p.epoch + (p.epochs ? "/" + p.epochs : ""));

/** A search's progress {index, phase, epoch, epochs, val_acc, test_acc}: "Training #3 (depth): epoch 2/5",
 * or the final training's {phase: "final", epoch, epochs}. */
export function progress(p) {
  const epoch = p ? epochText(p) : "";
  if (p && p.phase === "final") return "Final training of the chosen network: " + epoch;
  if (!p || missing(p.index)) return "waiting for the worker…";
  const val = missing(p.val_acc) ? "" : ", validation " + pct(p.val_acc);
  return "Training #" + p.index + " (" + text(p.phase) + "): " + epoch + val + testAcc(p);
}

/** A candidate's size and its own test accuracy in the search: "12,345 params · test 71.25% in the
 * search" (the headline result, once there is one, is the file's). */
export const score = (c) => (c ? num(c.params) + " params · test " + pct(c.test_acc) + " in the search" : DASH);

/** {"created": 21, "skipped": 10} -> "21 created, 10 skipped". */
export const counts = (c) =>
  Object.entries(c || {})
    .map(([k, n]) => n + " " + k)
    .join(", ");

/** A suite entry that was not made {name, status, message}: "CIFAR-10: skipped — why". */
export const problem = (p) => (p ? p.name + ": " + p.status + " — " + p.message : "");

/** A 95% interval [low, high] in percent: " (95% CI 61.2–70.3)", or nothing without one. */
export const ci = (v) =>
  Array.isArray(v) && v.length === 2 && !missing(v[0]) && !missing(v[1])
    ? " (95% CI " + fixed(v[0], 1) + "–" + fixed(v[1], 1) + ")"
    : "";

/** An accuracy with its interval: "65.00% (95% CI 55.3–73.6)"; the interval from `<key>_ci95`. */
export function pctci(c, key) {
  const k = typeof key === "string" ? key : "test_acc"; // not an index (Array.map's second argument)
  return c ? pct(c[k]) + ci(c[k.replace(/_acc$/, "") + "_ci95"]) : DASH; // test_acc -> test_ci95
}

/** Which split chose the architecture: "validation" or "test" (the notes are the engine's
 * SPLIT_NOTES, searchapp/nas/config.py; tests/web/test_formats.py keeps the two alike). */
export const split = (v) =>
  v === "validation"
    ? "validation split (carved from the training images)"
    : v === "test"
      ? "test split (as the paper does)"
      : DASH;

/** The final model's test accuracy with its interval, or a dash before (or without) one. */
export const finalacc = (f) => (f && !missing(f.test_acc) ? pct(f.test_acc) + ci(f.test_ci95) : DASH);

/** A probability (0-1) as a confidence: "93% sure", or nothing. */
export const confidence = (v) => (missing(v) ? "" : Math.round(Number(v) * 100) + "% sure");

/** A candidate's validation accuracy with its interval (a dash when it was not scored on one). */
export const valacc = (c) => (c && !missing(c.val_acc) ? pctci(c, "val_acc") : DASH);

/** A size in KB (an int8 estimate): 12.345 -> "12.3 KB", or a dash. */
export const kb = (v) => (missing(v) || Number(v) === 0 ? DASH : fixed(v, 1) + " KB");

/** A candidate's standing: "ok", "over budget", "diverged", "running"; "… · speculative" when it
 * was trained ahead of the decisions and not needed by them. */
export function candstatus(c) {
  if (!c) return DASH;
  const s = missing(c.status) ? "" : String(c.status).replace("_", " ");
  return c.speculative ? s + " · speculative" : s;
}

/** Milliseconds: 1.234 -> "1.23 ms", or a dash. */
export const ms = (v) => (missing(v) ? DASH : fixed(v, 2) + " ms");

/** A byte count: 2048 -> "2.0 KB", 3145728 -> "3.0 MB", 512 -> "512 B". */
export function filesize(v) {
  if (missing(v)) return DASH;
  const n = Number(v);
  if (n < 1024) return Math.round(n) + " B";
  if (n < 1024 * 1024) return fixed(n / 1024, 1) + " KB";
  return fixed(n / (1024 * 1024), 1) + " MB";
}

/** An in-flight candidate's epoch {epoch, epochs, test_acc}: "epoch 2/5, test 61.25%"; "starting"
 * before its first epoch. */
export const epochof = (p) => (!p ? DASH : p.epoch ? epochText(p) + testAcc(p) : "starting");

/** Points with a sign and one decimal: 2.46 -> "+2.5", -4.1 -> "-4.1" (-0 reads as "+0.0"). */
const signed = (v) => {
  const n = Number(v) + 0;
  return (n >= 0 ? "+" : "") + fixed(n, 1);
};
const hasEvidence = (e) => Boolean(e) && typeof e === "object" && !missing(e.diff);
const evidenceCi = (e) =>
  Array.isArray(e.ci95) && e.ci95.length === 2 && !missing(e.ci95[0]) && !missing(e.ci95[1])
    ? " [" + signed(e.ci95[0]) + ", " + signed(e.ci95[1]) + "]"
    : "";

/** A decision's evidence {vs, diff, ci95, n, method}, compact: "+2.5 [-4.1, +9.0] n=400", or
 * nothing for a candidate that was not judged against another. */
export const evidence = (e) =>
  hasEvidence(e) ? signed(e.diff) + evidenceCi(e) + (missing(e.n) ? "" : " n=" + num(e.n)) : "";

/** The same evidence in words, for its tooltip: "vs #3: +2.5 points, 95% CI [-4.1, +9.0], on 400
 * images (paired bootstrap)". */
export const evidencetip = (e) =>
  hasEvidence(e)
    ? (missing(e.vs) ? "" : "vs #" + e.vs + ": ") +
      signed(e.diff) +
      " points" +
      (evidenceCi(e) ? ", 95% CI" + evidenceCi(e) : "") +
      (missing(e.n) ? "" : ", on " + num(e.n) + " images") +
      (missing(e.method) ? "" : " (" + e.method + ")")
    : "";
