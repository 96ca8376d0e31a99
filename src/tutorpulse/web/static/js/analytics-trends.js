/* Trends and Retention charts: specs come from data-analytics-chart attributes (CSP: no inline scripts). */
(function () {
  "use strict";
  var PALETTE = ["#1d4ed8", "#b45309", "#047857", "#7c3aed", "#be123c", "#0e7490",
                 "#4d7c0f", "#a21caf", "#c2410c", "#334155", "#0f766e", "#9f1239"];

  function axes(spec, extraY) {
    var y = { title: { display: true, text: spec.yLabel } };
    if (extraY) { Object.keys(extraY).forEach(function (k) { y[k] = extraY[k]; }); }
    return { x: { title: { display: true, text: spec.xLabel } }, y: y };
  }

  function base(type, data, spec, extraY, plugins) {
    return {
      type: type,
      data: data,
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        scales: axes(spec, extraY),
        plugins: plugins || {}
      }
    };
  }

  function series(canvas, spec) {
    return new window.Chart(canvas, base("line", {
      labels: spec.labels,
      datasets: [
        { label: spec.label, data: spec.value, borderColor: "#94a3b8", backgroundColor: "#94a3b8",
          borderWidth: 1, pointRadius: 1.5, spanGaps: false },
        { label: "Moving average", data: spec.ma, borderColor: "#1d4ed8", borderWidth: 2,
          pointRadius: 0, spanGaps: true },
        { label: "Trend (OLS)", data: spec.trend, borderColor: "#b45309", borderDash: [6, 4],
          borderWidth: 2, pointRadius: 0 },
        { label: "Anomaly", data: spec.anomalies, showLine: false, pointStyle: "triangle",
          pointRadius: 7, borderColor: "#be123c", backgroundColor: "#be123c" }
      ]
    }, spec, null, {
      tooltip: { callbacks: { afterBody: function (items) {
        var i = items[0].dataIndex; return "n = " + spec.n[i];
      } } }
    }));
  }

  function bars(canvas, spec) {
    return new window.Chart(canvas, base("bar", {
      labels: spec.labels,
      datasets: [{ label: spec.yLabel, data: spec.value, backgroundColor: "#1d4ed8" }]
    }, spec, { beginAtZero: false }, { legend: { display: false } }));
  }

  function multi(canvas, spec) {
    return new window.Chart(canvas, base("line", {
      labels: spec.labels,
      datasets: spec.series.map(function (s, i) {
        var c = PALETTE[i % PALETTE.length];
        return { label: s.label, data: s.value, borderColor: c, backgroundColor: c,
                 borderWidth: 1.5, pointRadius: 0, spanGaps: true };
      })
    }, spec));
  }

  function km(canvas, spec) {
    var datasets = [];
    spec.curves.forEach(function (c, i) {
      var colour = PALETTE[i % PALETTE.length];
      var hi = c.points.map(function (p) { return { x: p.x, y: p.hi }; });
      var lo = c.points.map(function (p) { return { x: p.x, y: p.lo }; });
      datasets.push({ label: c.label + " band", data: hi, borderWidth: 0, pointRadius: 0,
                      stepped: "before", backgroundColor: colour + "22", fill: "+1" });
      datasets.push({ label: c.label + " band low", data: lo, borderWidth: 0, pointRadius: 0,
                      stepped: "before", fill: false });
      datasets.push({ label: c.label, data: c.points.map(function (p) { return { x: p.x, y: p.y }; }),
                      borderColor: colour, backgroundColor: colour, borderWidth: i === 0 ? 3 : 1.5,
                      pointRadius: 0, stepped: "before" });
    });
    var cfg = base("line", { datasets: datasets }, spec, { min: 0, max: 1 }, {
      legend: { labels: { filter: function (item) { return item.text.indexOf(" band") < 0; } } },
      tooltip: { filter: function (item) { return item.dataset.label.indexOf(" band") < 0; } }
    });
    cfg.options.scales.x.type = "linear";
    cfg.options.scales.x.min = 0;
    cfg.options.scales.x.max = spec.horizon;
    cfg.options.interaction = { mode: "nearest", intersect: false };
    return new window.Chart(canvas, cfg);
  }

  var DRAW = { series: series, bars: bars, multi: multi, km: km };

  function render(root) {
    if (!window.Chart) { return; }
    var nodes = (root || document).querySelectorAll("canvas[data-analytics-chart]");
    Array.prototype.forEach.call(nodes, function (canvas) {
      if (canvas.dataset.rendered) { return; }
      var spec = JSON.parse(canvas.dataset.analyticsChart);
      if (DRAW[spec.type]) { DRAW[spec.type](canvas, spec); }
      canvas.dataset.rendered = "1";
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { render(document); });
  } else {
    render(document);
  }
  document.addEventListener("htmx:afterSwap", function (evt) { render(evt.target); });
})();
