/* Star performers, First sessions and Reliability charts.
   Each <canvas data-perf-chart='{...}'> carries its own spec (the CSP forbids inline
   scripts). Confidence intervals are drawn as floating bars from the lower to the upper
   bound with the estimate as a point. */
(function () {
  "use strict";
  var COLORS = ["#1d4ed8", "#b45309", "#047857", "#7c3aed"];

  function scales(xLabel, yLabel, extraX, extraY) {
    var x = { title: { display: !!xLabel, text: xLabel || "" } };
    var y = { title: { display: !!yLabel, text: yLabel || "" } };
    Object.keys(extraX || {}).forEach(function (k) { x[k] = extraX[k]; });
    Object.keys(extraY || {}).forEach(function (k) { y[k] = extraY[k]; });
    return { x: x, y: y };
  }

  function options(spec, horizontal, extraX, extraY, tooltip) {
    return {
      responsive: true, maintainAspectRatio: false, animation: false,
      indexAxis: horizontal ? "y" : "x",
      scales: scales(spec.xLabel, spec.yLabel, extraX, extraY),
      plugins: { tooltip: tooltip || {} }
    };
  }

  function fmt(v) { return v === null || v === undefined ? "—" : Number(v).toFixed(2); }

  // Cohen's d per factor: one floating CI bar per comparison, the estimate in the label.
  function forest(canvas, spec) {
    var datasets = spec.series.map(function (s, i) {
      return {
        label: s.label,
        data: s.ci.map(function (ci) { return ci[0] === null ? null : [ci[0], ci[1]]; }),
        backgroundColor: COLORS[i] + "66", borderColor: COLORS[i], borderWidth: 1,
        estimates: s.d
      };
    });
    return new window.Chart(canvas, {
      type: "bar",
      data: { labels: spec.labels, datasets: datasets },
      options: options(spec, true, {}, {}, { callbacks: { label: function (ctx) {
        var ci = ctx.raw || [null, null];
        return ctx.dataset.label + ": d = " + fmt(ctx.dataset.estimates[ctx.dataIndex]) +
          " (95% CI " + fmt(ci[0]) + " to " + fmt(ci[1]) + ")";
      } } })
    });
  }

  // Ratios with CIs on a log axis (1 = no difference).
  function ratios(canvas, spec) {
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: [
          { label: "95% CI", data: spec.ci.map(function (ci) { return ci[0] === null ? null : [ci[0], ci[1]]; }),
            backgroundColor: "#1d4ed866", borderColor: "#1d4ed8", borderWidth: 1 },
          { type: "line", label: "Estimate", data: spec.value, showLine: false,
            pointRadius: 6, pointStyle: "rectRot", borderColor: "#b45309", backgroundColor: "#b45309" }
        ]
      },
      options: options(spec, true, { type: "logarithmic" }, {}, { callbacks: { label: function (ctx) {
        if (ctx.dataset.type === "line") { return "Estimate " + fmt(ctx.raw); }
        var ci = ctx.raw || [null, null];
        return "95% CI " + fmt(ci[0]) + " to " + fmt(ci[1]);
      } } })
    });
  }

  function bars(canvas, spec) {
    return new window.Chart(canvas, {
      type: "bar",
      data: { labels: spec.labels, datasets: spec.series.map(function (s, i) {
        return { label: s.label, data: s.value, backgroundColor: COLORS[i % COLORS.length] };
      }) },
      options: options(spec, false, {}, { beginAtZero: true })
    });
  }

  function lines(canvas, spec) {
    var pct = spec.percent;
    return new window.Chart(canvas, {
      type: "line",
      data: { labels: spec.labels, datasets: spec.series.map(function (s, i) {
        return { label: s.label, data: s.value, borderColor: COLORS[i % COLORS.length],
                 backgroundColor: COLORS[i % COLORS.length], pointRadius: 2, spanGaps: true };
      }) },
      options: options(spec, false, {}, {
        beginAtZero: true,
        ticks: { callback: function (v) { return pct ? (v * 100).toFixed(1) + "%" : v; } }
      })
    });
  }

  var KINDS = { forest: forest, ratios: ratios, bars: bars, lines: lines };

  function draw() {
    if (!window.Chart) { return; }
    document.querySelectorAll("canvas[data-perf-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) { return; }
      var spec = JSON.parse(canvas.getAttribute("data-perf-chart"));
      var make = KINDS[spec.type];
      if (make) { make(canvas, spec); canvas.dataset.drawn = "1"; }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
