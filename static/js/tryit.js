// Try it (search page): send dropped or picked images to POST /api/searches/<id>/predict/ and show
// the model's class scores. Nothing is kept on the server; the thumbnails are the browser's own.
import * as format from "./format.js";

const MAX_FILES = 16;

function card(file, prediction, classes) {
  const fig = document.createElement("figure");
  fig.className = "try-card";
  const img = document.createElement("img");
  img.alt = file.name;
  img.src = URL.createObjectURL(file);
  img.onload = () => URL.revokeObjectURL(img.src);
  const cap = document.createElement("figcaption");
  const top = document.createElement("strong");
  top.className = "try-top";
  top.textContent = prediction.top;
  cap.append(top);
  const order = prediction.scores.map((s, i) => [s, i]).sort((a, b) => b[0] - a[0]);
  const list = document.createElement("ol");
  list.className = "try-scores";
  for (const [score, i] of order.slice(0, 5)) {
    const li = document.createElement("li");
    const bar = document.createElement("meter");
    bar.min = 0;
    bar.max = 100;
    bar.value = score;
    const label = document.createElement("span");
    label.textContent = classes[i] + " " + format.pct(score);
    li.append(bar, " ", label);
    list.append(li);
  }
  cap.append(list);
  fig.append(img, cap);
  return fig;
}

export function setUpTryIt(section) {
  if (!section) return;
  const results = section.querySelector("#try-results");
  const err = section.querySelector("#try-error");
  const drop = section.querySelector("#try-drop");
  const input = section.querySelector("#try-files");
  const csrf = section.querySelector("input[name=csrfmiddlewaretoken]").value;
  const fail = (message) => {
    err.textContent = message;
    err.hidden = false;
  };

  async function send(fileList) {
    const files = [...fileList].filter((f) => f.type === "" || f.type.startsWith("image/"));
    err.hidden = true;
    if (!files.length) return fail("No images among the files.");
    if (files.length > MAX_FILES) return fail("At most " + MAX_FILES + " images at a time.");
    const body = new FormData();
    files.forEach((f) => body.append("image", f, f.name));
    section.setAttribute("aria-busy", "true");
    try {
      const r = await fetch(section.dataset.predictUrl, {
        method: "POST",
        body,
        headers: { "X-CSRFToken": csrf },
        credentials: "same-origin",
      });
      const data = await r.json().catch(() => ({ error: "HTTP " + r.status }));
      if (!r.ok) return fail(data.error || "HTTP " + r.status);
      results.replaceChildren(...data.predictions.map((p, i) => card(files[i], p, data.classes)));
    } catch (e) {
      fail("Could not reach the server: " + e.message);
    } finally {
      section.removeAttribute("aria-busy");
    }
  }

  input.addEventListener("change", () => {
    if (input.files.length) send(input.files); // nothing picked (the picker closed): nothing to say
    input.value = "";
  });
  drop.addEventListener("dragover", (ev) => {
    ev.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  // the zone is a button (role="button"): a click on it, Enter or Space opens the file picker
  drop.addEventListener("click", (ev) => {
    if (!ev.target.closest("label, input")) input.click(); // the label opens it by itself
  });
  drop.addEventListener("keydown", (ev) => {
    if (ev.target !== drop || (ev.key !== "Enter" && ev.key !== " ")) return;
    ev.preventDefault();
    input.click();
  });
  drop.addEventListener("drop", (ev) => {
    ev.preventDefault();
    drop.classList.remove("over");
    send(ev.dataTransfer.files);
  });
}
