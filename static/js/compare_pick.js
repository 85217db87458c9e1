// The search list and the compare page: "Compare the ticked searches" is enabled only while two
// to data-compare-max (views/compare.py COMPARE_MAX) searches are ticked, and a hint says why.
const MIN = 2;

function hintText(n, max) {
  if (n === 0) return "Tick two or more finished searches to compare them.";
  if (n < MIN) return "Tick one more search to compare.";
  if (n > max) return "At most " + max + " searches can be compared at once; untick " + (n - max) + ".";
  return n + " searches ticked.";
}

for (const form of document.querySelectorAll("form[data-compare-pick]")) {
  const button = form.querySelector("#compare-button");
  const hint = form.querySelector("#compare-hint");
  const max = Number(form.dataset.compareMax) || 6;
  const update = () => {
    const n = form.querySelectorAll("input[name=ids]:checked").length;
    button.disabled = n < MIN || n > max;
    const text = hintText(n, max);
    if (hint.textContent !== text) hint.textContent = text;
  };
  form.addEventListener("change", update);
  window.addEventListener("pageshow", update); // ticks a browser restores on "back"
  update();
}
