// Rows and other repeated bits are written once, as a template partial (templates/searchapp/rows/).
// The server renders it for what it knows; the page also holds it, empty, in a <template> element,
// and scripts clone that and fill it from JSON. Marked elements say what they show:
//   data-field="best.params"  its text: the value at that path, through data-format (format.js)
//   data-href="dataset_url"   its link (an <a> without one reads as plain text)
//   data-title="reason"       its tooltip: the whole text of a cell cut short on screen
//                             (through data-title-format, when the element names one)
//   data-show="archive_missing"  shown only when the value is truthy
//   data-status="status"      class "status status-<value>" (the coloured pill)
import * as format from "./format.js";

// data-field="." is the whole object (a format that reads several of its fields)
const get = (data, path) =>
  path === "." ? data : path.split(".").reduce((v, key) => (v == null ? v : v[key]), data);

/** Fill the marked elements inside `root` (the root included) from `data`; returns root. */
export function fill(root, data) {
  const marked = (attr) => [root, ...root.querySelectorAll(`[${attr}]`)].filter((el) => el.hasAttribute(attr));
  for (const el of marked("data-field")) {
    const show = format[el.dataset.format || "text"];
    el.textContent = show(get(data, el.dataset.field));
  }
  for (const el of marked("data-href")) {
    const href = get(data, el.dataset.href);
    if (href) el.setAttribute("href", href);
    else el.removeAttribute("href");
  }
  for (const el of marked("data-title")) {
    el.title = format[el.dataset.titleFormat || "text"](get(data, el.dataset.title));
  }
  for (const el of marked("data-show")) el.hidden = !get(data, el.dataset.show);
  for (const el of marked("data-status")) el.className = "status status-" + get(data, el.dataset.status);
  return root;
}

/** A copy of <template id=templateId>'s element, filled from `data`. */
export function render(templateId, data) {
  const node = document.getElementById(templateId).content.firstElementChild.cloneNode(true);
  return fill(node, data);
}

/** Put `row` in `tbody` in place of the row with the same `data-<key>`; a new row goes before the
 * first row with a larger numeric key, else at the end. */
export function upsert(tbody, row, key) {
  const rows = [...tbody.rows];
  const old = rows.find((r) => r.dataset[key] === row.dataset[key]);
  if (old) old.replaceWith(row);
  else tbody.insertBefore(row, rows.find((r) => Number(r.dataset[key]) > Number(row.dataset[key])) || null);
}
