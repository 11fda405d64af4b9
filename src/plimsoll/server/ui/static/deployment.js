/* A deployment's page: its traffic charts, drawn with uPlot (vendor/uplot, global `uPlot`), one x
 * value per minute (seconds since the epoch, UTC) over the span the page shows:
 *
 *   #rate-chart      requests per second of each version in each role (stable, canary, shadow)
 *   #latency-chart   p50 (solid) and p99 (dashed) latency in ms of each, from the replicas'
 *                    histograms (a bucket's upper bound); a minute without requests is a gap
 *
 * Data: the JSON island #traffic-data (server/ui/deployment_view.py, traffic_charts). Each figure
 * drawn gets data-state="ready" and data-series (the lines drawn); the body gets
 * data-deployment-ready="1" once both are. The uPlot instance is `figure.plimsollChart`.
 */
(function () {
  "use strict";

  var HEIGHT = 260;
  var PALETTE = 8; // --series-0 … --series-7 in app.css
  var ROLE_COLOUR = { stable: 0, canary: 2, shadow: 4 };

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  /* A version keeps its colour on both charts: its role's, shifted for a second version in it. */
  function colour(series, index) {
    var base = ROLE_COLOUR[series.role];
    var slot = base === undefined ? index : base + (series.rank || 0);
    return cssVar("--series-" + (slot % PALETTE), "#2f6f9f");
  }

  function shown(value, unit) {
    if (value === null || value === undefined) return "—";
    return String(Number(Number(value).toPrecision(4))) + (unit || "");
  }

  function utc(seconds) {
    return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  function width(figure) {
    return Math.max(280, Math.floor(figure.querySelector(".plot").getBoundingClientRect().width));
  }

  function draw(figure, data, lines, unit) {
    var opts = {
      width: width(figure),
      height: HEIGHT,
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.08 : 1]; } } },
      axes: [
        { stroke: cssVar("--muted", "#5f6b7a"), grid: { stroke: "#e6e9ee" } },
        { stroke: cssVar("--muted", "#5f6b7a"), grid: { stroke: "#e6e9ee" }, size: 56,
          values: function (u, splits) { return splits.map(function (v) { return shown(v); }); } },
      ],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      series: [{ label: "time (UTC)", value: function (u, v) { return v === null || v === undefined ? "—" : utc(v); } }]
        .concat(lines.map(function (line) {
          return {
            label: line.label,
            stroke: line.colour,
            width: 2,
            dash: line.dash,
            spanGaps: false,
            points: { show: false },
            value: function (u, v) { return shown(v, unit); },
          };
        })),
    };
    var columns = [data.x].concat(lines.map(function (line) { return line.values; }));
    var chart = new uPlot(opts, columns, figure.querySelector(".plot"));
    figure.plimsollChart = chart;
    figure.setAttribute("data-series", String(lines.length));
    figure.setAttribute("data-state", "ready");
    return chart;
  }

  function start() {
    var island = document.getElementById("traffic-data");
    if (!island || typeof uPlot === "undefined") return;
    var data = JSON.parse(island.textContent);
    var ranks = {};
    data.series.forEach(function (s, i) {
      ranks[s.role] = (ranks[s.role] || 0);
      s.rank = ranks[s.role];
      ranks[s.role] += 1;
      s.colour = colour(s, i);
    });
    var charts = [];
    var rate = document.getElementById("rate-chart");
    if (rate) {
      charts.push(draw(rate, data, data.series.map(function (s) {
        return { label: s.label, colour: s.colour, values: s.rate };
      }), "/s"));
    }
    var latency = document.getElementById("latency-chart");
    if (latency) {
      var lines = [];
      data.series.forEach(function (s) {
        lines.push({ label: s.label + " p50", colour: s.colour, values: s.p50 });
        lines.push({ label: s.label + " p99", colour: s.colour, values: s.p99, dash: [6, 4] });
      });
      charts.push(draw(latency, data, lines, " ms"));
    }
    window.addEventListener("resize", function () {
      [rate, latency].forEach(function (figure, i) {
        if (figure && figure.plimsollChart) figure.plimsollChart.setSize({ width: width(figure), height: HEIGHT });
      });
    });
    document.body.setAttribute("data-deployment-ready", "1");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
