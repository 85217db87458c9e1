// Compare page: every candidate of the compared searches on one scatter chart, one colour each.
import { accuracyChartOptions, errorBars, pointStyles } from "./chart.js";
import * as format from "./format.js";

const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
const canvas = document.getElementById("compare-chart");
const source = document.getElementById("compare-data");

if (canvas && source && typeof Chart !== "undefined") {
  const searches = JSON.parse(source.textContent);
  const label = (ctx) =>
    ctx.dataset.label + " #" + ctx.raw.index + " " + ctx.raw.arch + ": " + format.pct(ctx.raw.y) +
    format.ci(ctx.raw.ci) + ", " + format.num(ctx.raw.x) + " params";
  new Chart(canvas, {
    type: "scatter",
    plugins: [errorBars], // each candidate's 95% interval
    data: {
      datasets: searches.map((s, i) => ({
        label: "Search " + s.id + " (" + s.dataset.name + ")",
        data: s.candidates
          .filter((c) => c.test_acc !== null && c.test_acc !== undefined)
          .map((c) => ({
            x: c.params, y: c.test_acc, index: c.index, arch: c.arch_short, accepted: c.accepted,
            ci: c.test_ci95 || null,
          })),
        backgroundColor: COLOURS[i % COLOURS.length],
        borderColor: COLOURS[i % COLOURS.length],
        ...pointStyles,
      })),
    },
    options: accuracyChartOptions(label),
  });
}
