// New-search page: what the settings mean on the chosen dataset, before the search starts. The
// server rendered it for the form as it loaded; on every change the page asks the server again
// (GET searches/new/estimate/ with the form's fields): the folds that auto (or the user) chose,
// the cost bound with them, and each effort preset's time at the workers' measured speed. The
// server computes all of it, so the page never guesses. An effort card writes its settings into
// the expert fields; editing one of those fields by hand unticks the cards and says "Custom".

const form = document.getElementById("search-form");
const $ = (id) => document.getElementById(id);
// (form.dataset is the form's field named "dataset", not its data attributes)
const url = form && form.getAttribute("data-estimate-url");
const presets = $("preset-settings") ? JSON.parse($("preset-settings").textContent) : {};
let asked = 0; // the latest question: an older answer that arrives late is dropped
let timer = null;

async function refresh() {
  const n = ++asked;
  const query = new URLSearchParams(new FormData(form));
  query.delete("csrfmiddlewaretoken");
  let answer;
  try {
    const response = await fetch(url + "?" + query, { headers: { Accept: "application/json" } });
    answer = await response.json();
  } catch (e) {
    answer = { error: "no estimate: the server did not answer" };
  }
  if (n !== asked) return;
  const failed = Boolean(answer.error);
  for (const id of ["time-note", "folds-note", "cost-note"]) $(id).hidden = failed;
  $("preview-error").hidden = !failed;
  if (failed) {
    $("preview-error").textContent = answer.error;
    return;
  }
  $("folds-note").textContent = answer.folds_note;
  $("cost-text").textContent = answer.cost;
  $("time-text").textContent = answer.time;
  $("candidates-text").textContent = String(answer.candidates);
  for (const el of form.querySelectorAll(".time[data-preset]")) {
    const p = (answer.presets || {})[el.dataset.preset];
    el.textContent = p ? p.time : "";
  }
}

/** Write a preset's settings into their fields (blank for "the recipe's"). */
function applyPreset(name) {
  const settings = presets[name];
  if (!settings) return;
  for (const [key, value] of Object.entries(settings)) {
    const field = form.elements[key];
    if (field) field.value = value === null ? "" : String(value);
  }
}

/** The preset the fields match now, or "custom". */
function matchingPreset() {
  for (const [name, settings] of Object.entries(presets)) {
    const same = Object.entries(settings).every(([key, value]) => {
      const field = form.elements[key];
      return field && field.value === (value === null ? "" : String(value));
    });
    if (same) return name;
  }
  return "custom";
}

/** Tick the card of the preset the fields match; none, and say "Custom", when they match none. */
function markEffort() {
  const name = matchingPreset();
  for (const radio of form.querySelectorAll('input[name="effort"]')) radio.checked = radio.value === name;
  $("custom-effort").hidden = name !== "custom";
}

/** A field with an error loses its mark once the user changes it (the server checks again). */
function clearMark(target) {
  if (!target || target.getAttribute("aria-invalid") !== "true") return;
  target.removeAttribute("aria-invalid");
  const box = target.closest(".field");
  if (box) box.classList.remove("has-error");
}

if (form) {
  const presetFields = new Set(Object.values(presets).flatMap((s) => Object.keys(s)));
  form.addEventListener("change", (event) => {
    const t = event.target;
    if (t.name === "effort") {
      applyPreset(t.value);
      $("custom-effort").hidden = true;
    } else if (presetFields.has(t.name)) markEffort();
    if (t.name === "target" && t.value === "custom") $("expert").open = true;
  });
  form.addEventListener("input", (event) => {
    clearMark(event.target);
    if (presetFields.has(event.target.name)) markEffort();
  });
}

if (url) {
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  };
  form.addEventListener("change", later);
  form.addEventListener("input", later);
}
