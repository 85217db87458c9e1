// The candidates scatter (test accuracy against parameters, log scale), shared by the search and
// compare pages: accepted candidates are stars; each page says what its tooltip reads.
const accepted = (ctx) => ctx.raw && ctx.raw.accepted;

/** A dataset's point styles: stars for accepted candidates, circles for the rest. */
export const pointStyles = {
  pointStyle: (ctx) => (accepted(ctx) ? "star" : "circle"),
  pointRadius: (ctx) => (accepted(ctx) ? 9 : 4),
  pointBorderWidth: (ctx) => (accepted(ctx) ? 2 : 1),
};

const PREFIXES = [[1e9, "G"], [1e6, "M"], [1e3, "k"]];
/** A compact axis label: 500 -> "500", 20000 -> "20k", 1500000 -> "1.5M". */
export function compact(v) {
  for (const [n, prefix] of PREFIXES) if (Math.abs(v) >= n) return Number((v / n).toPrecision(3)) + prefix;
  return String(Number(Number(v).toPrecision(3)));
}

/** Is `v` one of `mantissas` x 10^k? */
function onDecade(v, mantissas) {
  if (!(v > 0)) return false;
  const m = v / 10 ** Math.floor(Math.log10(v) + 1e-9);
  return mantissas.some((n) => Math.abs(m - n) < 1e-6);
}
const ROUND = [[1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]];

/** The log axis' tick labels, compact (10k, 20k, 50k, 100k), only at 1, 2 and 5 x 10^k so that they
 * never run into each other; a narrow range with fewer than three such ticks labels 1-9 x 10^k, or
 * else every tick (Chart.js skips what does not fit). An empty label keeps its grid line. */
export function logTick(value, index, ticks) {
  const marks = ROUND.find((ms) => ticks.filter((t) => onDecade(t.value, ms)).length >= 3);
  return !marks || onDecade(value, marks) ? compact(value) : "";
}

/** The accuracy axis' labels: none above 100% (the axis is padded past it, so that a star or an
 * interval at 100% is drawn whole). */
export const accuracyTick = (value) => (value > 100 + 1e-9 ? "" : String(Number(value.toFixed(1))));

/** Does the dataset draw anything? (its points, or the marks a plugin draws) */
const drawsSomething = (ds) => (ds.data && ds.data.length > 0) || (ds.marks && ds.marks.length > 0);

/** Chart.js options: parameters (log) against test accuracy; `label(ctx)` is a point's tooltip.
 * The legend shows each series with the marker it is drawn with, and only series that have
 * something to draw. */
export function accuracyChartOptions(label) {
  return {
    animation: false,
    maintainAspectRatio: false,
    scales: {
      x: {
        type: "logarithmic",
        title: { display: true, text: "parameters" },
        ticks: { callback: logTick, autoSkip: true, autoSkipPadding: 16, maxRotation: 0, maxTicksLimit: 12 },
      },
      y: { title: { display: true, text: "test accuracy (%)" }, ticks: { callback: accuracyTick } },
    },
    plugins: {
      tooltip: { callbacks: { label } },
      legend: {
        labels: {
          usePointStyle: true,
          filter: (item, data) => drawsSomething(data.datasets[item.datasetIndex]),
        },
      },
    },
  };
}

/** The trade-off front of `points` ({x, y}): those no other point beats on both a smaller (or
 * equal) x and a higher y, in order of x; a step line through them reads "the best accuracy for
 * at most this much". */
export function paretoFront(points) {
  const sorted = points.filter((p) => p.x > 0 && p.y !== null && p.y !== undefined);
  sorted.sort((a, b) => a.x - b.x || b.y - a.y);
  const front = [];
  for (const p of sorted) if (!front.length || p.y > front[front.length - 1].y) front.push(p);
  return front;
}

/** Chart.js plugin: each point's 95% interval as a vertical bar (when the point has `ci`:
 * [low, high]). */
export const errorBars = {
  id: "errorBars",
  /** The y-axis takes in every interval (not only the points), plus a margin above and below,
   * so that no bar, and no star at 100%, runs off the chart. */
  afterDataLimits(chart, { scale }) {
    if (scale.axis !== "y") return;
    chart.data.datasets.forEach((ds, di) => {
      if (chart.getDatasetMeta(di).hidden) return;
      for (const p of ds.data) {
        if (!p || !p.ci) continue;
        scale.min = Math.min(scale.min, p.ci[0]);
        scale.max = Math.max(scale.max, p.ci[1]);
      }
    });
    const margin = Math.max(1, (scale.max - scale.min) * 0.04);
    scale.max += margin;
    scale.min = Math.max(0, scale.min - margin);
  },
  afterDatasetsDraw(chart) {
    const { ctx, scales, chartArea } = chart;
    ctx.save();
    ctx.beginPath(); // and nothing is drawn outside the plot area
    ctx.rect(chartArea.left, chartArea.top, chartArea.right - chartArea.left, chartArea.bottom - chartArea.top);
    ctx.clip();
    ctx.lineWidth = 1;
    chart.data.datasets.forEach((ds, di) => {
      const meta = chart.getDatasetMeta(di);
      if (meta.hidden) return;
      ctx.strokeStyle = ds.borderColor;
      ctx.beginPath(); // one path per dataset: one stroke, not one per point
      ds.data.forEach((p, i) => {
        if (!p.ci || !meta.data[i]) return;
        const x = meta.data[i].x;
        const lo = scales.y.getPixelForValue(p.ci[0]);
        const hi = scales.y.getPixelForValue(p.ci[1]);
        ctx.moveTo(x, lo);
        ctx.lineTo(x, hi);
        ctx.moveTo(x - 3, lo);
        ctx.lineTo(x + 3, lo);
        ctx.moveTo(x - 3, hi);
        ctx.lineTo(x + 3, hi);
      });
      ctx.stroke();
    });
    ctx.restore();
  },
};
