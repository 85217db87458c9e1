// The candidates scatter (test accuracy against parameters, log scale), shared by the search and
// compare pages: accepted candidates are stars; each page says what its tooltip reads.
const accepted = (ctx) => ctx.raw && ctx.raw.accepted;

/** A dataset's point styles: stars for accepted candidates, circles for the rest. */
export const pointStyles = {
  pointStyle: (ctx) => (accepted(ctx) ? "star" : "circle"),
  pointRadius: (ctx) => (accepted(ctx) ? 9 : 4),
  pointBorderWidth: (ctx) => (accepted(ctx) ? 2 : 1),
};

/** Chart.js options: parameters (log) against test accuracy; `label(ctx)` is a point's tooltip. */
export function accuracyChartOptions(label) {
  return {
    animation: false,
    maintainAspectRatio: false,
    scales: {
      x: { type: "logarithmic", title: { display: true, text: "parameters" } },
      y: { title: { display: true, text: "test accuracy (%)" } },
    },
    plugins: { tooltip: { callbacks: { label } } },
  };
}
