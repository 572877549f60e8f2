// The statistics page's two charts — the hours orders were made and the channel share — drawn
// with the vendored Chart.js from the page's JSON data (the CSP allows no inline script).
document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("chart-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  new Chart(document.getElementById("hours-chart"), {
    type: "bar",
    data: {
      labels: data.hours.labels,
      datasets: [
        { label: "挂号数", data: data.hours.orders, backgroundColor: "#0a6cff" },
        { label: "其中已预约", data: data.hours.bookings, backgroundColor: "#2ba471" },
      ],
    },
    options: { animation: false, scales: { y: { beginAtZero: true } } },
  });
  new Chart(document.getElementById("channels-chart"), {
    type: "doughnut",
    data: {
      labels: data.channels.labels,
      datasets: [{ data: data.channels.values, backgroundColor: ["#2ba471", "#0a6cff"] }],
    },
    options: { animation: false },
  });
  document.body.dataset.chartsDrawn = "true";
});
