// Report page: search cost per dataset as bars (the paper's Figure 3), ours next to the paper's.
const canvas = document.getElementById("cost-chart");
const data = JSON.parse(document.getElementById("report-chart").textContent);

if (canvas && window.Chart && data.labels.length) {
  const datasets = [{ label: `ours (${data.unit})`, data: data.hours, backgroundColor: "#2456c8" }];
  if (data.paper.some((v) => v !== null)) {
    datasets.push({ label: "paper (V100 GPU-hours)", data: data.paper, backgroundColor: "#b0b8c8" });
  }
  new Chart(canvas, {
    type: "bar",
    data: { labels: data.labels, datasets },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: {
        x: { ticks: { autoSkip: false, maxRotation: 60, minRotation: 30 } },
        y: { beginAtZero: true, title: { display: true, text: "hours" } },
      },
    },
  });
}
