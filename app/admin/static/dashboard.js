// The dashboard's two charts, drawn with the vendored Chart.js from the page's JSON data
// (no inline script: the admin's Content-Security-Policy allows scripts from the admin only).
document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("chart-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  new Chart(document.getElementById("trend-chart"), {
    data: {
      labels: data.labels,
      datasets: [
        { type: "bar", label: "就诊量", data: data.visits, yAxisID: "visits", backgroundColor: "#0a6cff" },
        { type: "line", label: "挂号费（元）", data: data.fees, yAxisID: "fees", borderColor: "#2ba471" },
      ],
    },
    options: {
      animation: false,
      scales: { visits: { position: "left", beginAtZero: true }, fees: { position: "right", beginAtZero: true } },
    },
  });
  new Chart(document.getElementById("share-chart"), {
    type: "doughnut",
    data: { labels: data.departments.labels, datasets: [{ data: data.departments.values }] },
    options: { animation: false },
  });
  document.body.dataset.chartsDrawn = "true";
});
