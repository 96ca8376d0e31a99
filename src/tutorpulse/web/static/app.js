/* TutorPulse dashboard behaviour: charts from data attributes (no inline scripts, CSP-safe). */
(function () {
  "use strict";

  function ratingBand(canvas, spec) {
    var gap = function (v) { return v === null || v === undefined ? null : v; };
    // The interval is cut at the rating scale so the band stays readable.
    var clip = function (v) { return v === null || v === undefined ? null : Math.min(5, Math.max(1, v)); };
    return new window.Chart(canvas, {
      type: "line",
      data: {
        labels: spec.labels,
        datasets: [
          { label: "95% interval", data: spec.high.map(clip), borderWidth: 0, pointRadius: 0,
            backgroundColor: "rgba(29, 78, 216, 0.15)", fill: "+1", spanGaps: false },
          { label: "95% interval (low)", data: spec.low.map(clip), borderWidth: 0, pointRadius: 0,
            fill: false, spanGaps: false },
          { label: "Mean rating", data: spec.mean.map(gap), borderColor: "#1d4ed8",
            backgroundColor: "#1d4ed8", borderWidth: 2, pointRadius: 3, spanGaps: true }
        ]
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: {
          y: { min: 1, max: 5, title: { display: true, text: spec.yLabel } },
          x: { title: { display: true, text: spec.xLabel } }
        },
        plugins: {
          legend: { labels: { filter: function (item) { return item.text !== "95% interval (low)"; } } },
          tooltip: {
            callbacks: {
              afterBody: function (items) {
                var i = items[0].dataIndex;
                return "n = " + spec.n[i] + " rating" + (spec.n[i] === 1 ? "" : "s");
              }
            }
          }
        }
      }
    });
  }

  var PALETTE = ["#1d4ed8", "#0f766e", "#b45309", "#7c3aed", "#be123c", "#475569"];

  // A plain line or bar chart described entirely by the data-chart attribute:
  // {type: "generic", kind: "line"|"bar", labels, datasets: [{label, data, stack?}],
  //  yLabel, xLabel, stacked?, yMin?, yMax?, percent?}
  function generic(canvas, spec) {
    var datasets = spec.datasets.map(function (d, i) {
      var colour = d.color || PALETTE[i % PALETTE.length];
      return { label: d.label, data: d.data, stack: d.stack, borderColor: colour,
               backgroundColor: spec.kind === "bar" ? colour : colour, borderWidth: 2,
               pointRadius: spec.kind === "line" ? 0 : undefined, spanGaps: true, fill: false };
    });
    var yTicks = spec.percent ? { callback: function (v) { return Math.round(v * 1000) / 10 + "%"; } } : {};
    return new window.Chart(canvas, {
      type: spec.kind,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: !!spec.stacked, title: { display: !!spec.xLabel, text: spec.xLabel } },
          y: { stacked: !!spec.stacked, min: spec.yMin, max: spec.yMax, ticks: yTicks,
               title: { display: !!spec.yLabel, text: spec.yLabel } }
        }
      }
    });
  }

  function renderCharts(root) {
    if (!window.Chart) { return; }
    var nodes = (root || document).querySelectorAll("canvas[data-chart]");
    Array.prototype.forEach.call(nodes, function (canvas) {
      if (canvas.dataset.rendered) { return; }
      var spec = JSON.parse(canvas.dataset.chart);
      if (spec.type === "rating-band") { ratingBand(canvas, spec); }
      if (spec.type === "generic") { generic(canvas, spec); }
      canvas.dataset.rendered = "1";
    });
  }

  document.addEventListener("DOMContentLoaded", function () { renderCharts(document); });
  document.addEventListener("htmx:afterSwap", function (evt) { renderCharts(evt.target); });
})();
