/* Plimsoll charts: metric histories drawn with uPlot (vendored, global `uPlot`).
 *
 * Every <figure class="chart" data-key="acc" data-series='[{"run": id, "label": name, "color": 0,
 * "start": ms}]'> on the page is filled from the JSON API
 * (GET /api/v1/runs/{id}/metrics/{key}/history?max_points=N): one line per series on shared axes, with
 *   - axes fitted to the data (a 2 % margin, never widened to round numbers);
 *   - gaps where a value is NaN or infinite (the line is broken, never joined across);
 *   - a min/max band when the server downsampled (each point then stands for a bucket of steps);
 *   - a legend below, and a tooltip with every series' value at the cursor.
 * A toolbar before each `.charts` container sets, for every chart on the page: the x axis (step,
 * wall time, time since the run started), a log y scale and EMA smoothing.
 *
 * What tests and people can read from the page: a figure gets data-state="ready" once drawn (or
 * "error", the reason shown in place), data-y-min/data-y-max/data-x-min/data-x-max (uPlot's scales),
 * data-y-scale ("linear", "log" or "symlog") and data-x-axis; each legend item has data-run,
 * data-points (points received) and data-downsampled. The uPlot instance is `figure.plimsollChart`.
 * window.PlimsollCharts lets run-page.js add charts and refresh them while a run is live.
 */
(function () {
  "use strict";

  var HEIGHT = 240;
  var PALETTE_SIZE = 8;
  var MARGIN = 0.02; // of the data's span, above and below, so a line at the edge is not cut
  var X_AXES = { step: "Step", wall: "Wall time", relative: "Relative time" };
  var DURATION_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
    43200, 86400, 172800, 604800];

  var options = { xAxis: "step", log: false, smoothing: 0 };

  function html(name, className, text, parent) {
    var node = document.createElement(name);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function color(index) {
    return cssVar("--series-" + (index % PALETTE_SIZE), "#2f6f9f");
  }

  /* "#2f6f9f" with an alpha (0..1), as canvas reads it. */
  function faded(hex, alpha) {
    if (!/^#[0-9a-fA-F]{6}$/.test(hex)) return hex;
    return hex + ("0" + Math.round(alpha * 255).toString(16)).slice(-2);
  }

  /* JSON has no NaN: the API sends "NaN", "Infinity" and "-Infinity" as strings. */
  function decode(value) {
    if (typeof value === "number") return value;
    if (value === "NaN" || value === null || value === undefined) return NaN;
    if (value === "Infinity") return Infinity;
    if (value === "-Infinity") return -Infinity;
    return Number(value);
  }

  function formatNumber(value) {
    if (value === null || value === undefined) return "—";
    if (isNaN(value)) return "NaN";
    if (!isFinite(value)) return value > 0 ? "∞" : "−∞";
    var magnitude = Math.abs(value);
    if (magnitude !== 0 && (magnitude >= 1e6 || magnitude < 1e-4)) return value.toExponential(2);
    return String(parseFloat(value.toPrecision(6)));
  }

  function formatDuration(seconds) {
    var sign = seconds < 0 ? "−" : "";
    var s = Math.abs(seconds);
    if (s < 60) return sign + parseFloat(s.toPrecision(4)) + "s";
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60), rest = Math.round(s % 60);
    if (d) return sign + d + "d" + (h ? " " + h + "h" : "");
    if (h) return sign + h + "h" + (m ? " " + m + "m" : "");
    return sign + m + "m" + (rest ? " " + rest + "s" : "");
  }

  function formatX(value) {
    if (options.xAxis === "wall") return new Date(value * 1000).toISOString().slice(0, 19).replace("T", " ") + " UTC";
    if (options.xAxis === "relative") return "+" + formatDuration(value);
    return "step " + value;
  }

  /* Tick labels: short, and as precise as the spacing between ticks needs. */
  function tickLabels(u, splits) {
    var span = splits.length > 1 ? Math.abs(splits[1] - splits[0]) : 0;
    return splits.map(function (v) {
      if (v === null || v === undefined) return "";
      if (v === 0) return "0";
      var magnitude = Math.abs(v);
      if (magnitude >= 1e6 || magnitude < 1e-4) return v.toExponential(1);
      var decimals = span > 0 ? Math.max(0, -Math.floor(Math.log10(span) + 1e-9)) : 2;
      if (options.log) decimals = Math.max(decimals, -Math.floor(Math.log10(magnitude) + 1e-9));
      return v.toFixed(Math.min(decimals, 6));
    });
  }

  /* TensorBoard's smoothing: an exponential moving average, debiased at the start, that skips
     non-finite values (they stay gaps). */
  function smooth(values, weight) {
    if (!(weight > 0)) return values;
    var last = 0, count = 0;
    return values.map(function (v) {
      if (!isFinite(v)) return v;
      last = last * weight + (1 - weight) * v;
      count += 1;
      return last / (1 - Math.pow(weight, count));
    });
  }

  function bisect(xs, target) {
    var lo = 0, hi = xs.length - 1;
    if (hi < 0) return -1;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (xs[mid] < target) lo = mid + 1; else hi = mid;
    }
    if (lo > 0 && Math.abs(xs[lo - 1] - target) <= Math.abs(xs[lo] - target)) return lo - 1;
    return lo;
  }

  function finiteOrNull(v) {
    return isFinite(v) ? v : null;
  }

  /* One series as the chart draws it under the current options: x values ascending, and its
     values, raw values (when smoothed) and band, index for index. */
  function shape(s) {
    var xs;
    if (options.xAxis === "step") {
      xs = s.steps.slice();
    } else {
      var origin = options.xAxis === "relative" ? (s.start || s.timestamps[0] || 0) : 0;
      xs = s.timestamps.map(function (t) { return (t - origin) / 1000; });
    }
    var order = xs.map(function (_x, i) { return i; });
    var sorted = true;
    for (var i = 1; i < xs.length; i++) if (xs[i] < xs[i - 1]) { sorted = false; break; }
    if (!sorted) order.sort(function (a, b) { return xs[a] - xs[b] || a - b; });
    function pick(list) { return list ? order.map(function (i) { return list[i]; }) : null; }
    var raw = pick(s.values);
    return {
      xs: pick(xs),
      steps: pick(s.steps),
      raw: raw,
      values: smooth(raw, options.smoothing),
      mins: pick(s.mins),
      maxs: pick(s.maxs)
    };
  }

  /* The y scale: log where every value is positive; a symmetric log (uPlot's asinh) where some
     are zero or negative, linear up to the smallest magnitude logged. */
  function yScale(series) {
    if (!options.log) return { kind: "linear", scale: { distr: 1 } };
    var smallest = Infinity, positive = true;
    series.forEach(function (s) {
      [s.raw, s.mins, s.maxs].forEach(function (list) {
        (list || []).forEach(function (v) {
          if (!isFinite(v)) return;
          if (v <= 0) positive = false;
          if (v !== 0) smallest = Math.min(smallest, Math.abs(v));
        });
      });
    });
    if (positive) return { kind: "log", scale: { distr: 3, log: 10 } };
    return { kind: "symlog", scale: { distr: 4, asinh: isFinite(smallest) ? smallest : 1 } };
  }

  /* The data's own range with a small margin: no rounding out to "nice" numbers. */
  function fitRange(kind) {
    return function (u, min, max) {
      if (min === null || max === null || !isFinite(min) || !isFinite(max)) return [0, 1];
      if (kind === "log") {
        if (min === max) return [min / 1.5, max * 1.5];
        var factor = Math.pow(max / min, MARGIN);
        return [min / factor, max * factor];
      }
      if (min === max) {
        var pad = min === 0 ? 1 : Math.abs(min) * 0.05;
        return [min - pad, max + pad];
      }
      var margin = (max - min) * MARGIN;
      return [min - margin, max + margin];
    };
  }

  function xRange(u, min, max) {
    if (min === null || max === null) return [0, 1];
    if (min === max) return [min - 1, max + 1];
    return [min, max];
  }

  /* uPlot wants one x array shared by every series: uPlot.join aligns them (a series without a
     point at some x gets `undefined` there, which its line passes over; `null` is a real gap). */
  function chartData(shaped) {
    var tables = [];
    var layout = []; // per series: index of its line, raw line (or -1), band min and max (or -1)
    var column = 1;
    shaped.forEach(function (s) {
      var table = [s.xs, s.values.map(finiteOrNull)];
      var entry = { line: column++, raw: -1, min: -1, max: -1 };
      if (options.smoothing > 0) {
        table.push(s.raw.map(finiteOrNull));
        entry.raw = column++;
      }
      if (s.mins && s.maxs) {
        table.push(s.mins.map(finiteOrNull), s.maxs.map(finiteOrNull));
        entry.min = column++;
        entry.max = column++;
      }
      tables.push(table);
      layout.push(entry);
    });
    var data = tables.length === 1 ? tables[0] : uPlot.join(tables);
    return { data: data, layout: layout };
  }

  function plotOptions(figure, series, shaped, layout, width) {
    var y = yScale(shaped);
    var axisColor = cssVar("--muted", "#5f6b7a");
    var gridColor = cssVar("--line", "#e1e6ec");
    var uSeries = [{ label: X_AXES[options.xAxis] }];
    var bands = [];
    series.forEach(function (s, n) {
      var entry = layout[n];
      uSeries.push({ label: s.label, stroke: s.stroke, width: 1.6, spanGaps: false });
      if (entry.raw >= 0) {
        uSeries.push({ label: s.label + " (raw)", stroke: faded(s.stroke, 0.3), width: 1, spanGaps: false,
          points: { show: false } });
      }
      if (entry.min >= 0) {
        uSeries.push({ label: s.label + " min", stroke: "transparent", width: 0, points: { show: false } });
        uSeries.push({ label: s.label + " max", stroke: "transparent", width: 0, points: { show: false } });
        bands.push({ series: [entry.max, entry.min], fill: faded(s.stroke, 0.16) });
      }
    });
    var xAxis = { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor, width: 1 } };
    if (options.xAxis === "relative") {
      xAxis.incrs = DURATION_STEPS;
      xAxis.values = function (u, splits) { return splits.map(formatDuration); };
    } else if (options.xAxis === "step") {
      xAxis.values = tickLabels;
    }
    return {
      width: width,
      height: HEIGHT,
      legend: { show: false },
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); }, // the pages show UTC
      cursor: { drag: { x: true, y: false }, points: { size: 7 } },
      scales: {
        x: { time: options.xAxis === "wall", range: xRange },
        y: Object.assign({ range: fitRange(y.kind) }, y.scale)
      },
      axes: [
        xAxis,
        {
          stroke: axisColor,
          grid: { stroke: gridColor, width: 1 },
          ticks: { stroke: gridColor, width: 1 },
          values: tickLabels,
          size: function (u, values) {
            var longest = (values || []).reduce(function (n, v) { return Math.max(n, String(v).length); }, 3);
            return Math.ceil(longest * 7 + 18);
          }
        }
      ],
      series: uSeries,
      bands: bands,
      hooks: {
        setScale: [function (u, key) { recordScale(figure, u, key); }],
        setCursor: [function (u) { showTooltip(figure, u); }]
      },
      yKind: y.kind
    };
  }

  function recordScale(figure, u, key) {
    var scale = u.scales[key];
    if (!scale || scale.min === null || scale.min === undefined) return;
    figure.setAttribute("data-" + key + "-min", String(scale.min));
    figure.setAttribute("data-" + key + "-max", String(scale.max));
  }

  function legend(body, series) {
    var list = body.querySelector("ul.legend") || html("ul", "legend", null, body);
    list.textContent = "";
    series.forEach(function (s) {
      var item = html("li", null, null, list);
      item.setAttribute("data-run", s.run);
      item.setAttribute("data-points", String(s.steps.length));
      item.setAttribute("data-downsampled", s.downsampled ? "true" : "false");
      html("span", "swatch", null, item).style.background = s.stroke;
      html("span", null, s.label, item);
      var gaps = s.values.filter(function (v) { return !isFinite(v); }).length;
      var notes = [];
      if (gaps) notes.push(gaps + " non-finite");
      if (s.downsampled) notes.push(s.steps.length + " of " + s.total + " points, band = min–max");
      if (notes.length) html("span", "note", "(" + notes.join("; ") + ")", item);
    });
  }

  function showTooltip(figure, u) {
    var tip = figure.querySelector(".tooltip");
    var shaped = figure.plimsollShaped;
    if (!tip || !shaped) return;
    var left = u.cursor.left;
    if (left === null || left === undefined || left < 0) { tip.hidden = true; return; }
    var target = u.posToVal(left, "x");
    var span = u.scales.x.max - u.scales.x.min;
    var reach = (span / Math.max(u.bbox.width / (window.devicePixelRatio || 1), 1)) * 12;
    tip.textContent = "";
    var header = html("div", "step", "", tip);
    var nearestX = null;
    var rows = 0;
    shaped.forEach(function (s, n) {
      var i = bisect(s.xs, target);
      if (i < 0 || target < s.xs[0] - reach || target > s.xs[s.xs.length - 1] + reach) return;
      if (nearestX === null || Math.abs(s.xs[i] - target) < Math.abs(nearestX - target)) nearestX = s.xs[i];
      var spec = figure.plimsollSeries[n];
      var row = html("div", "row", null, tip);
      html("span", "dot", null, row).style.background = spec.stroke;
      var label = spec.label;
      if (options.xAxis !== "step") label += " (step " + s.steps[i] + ")";
      html("span", null, label, row);
      var text = formatNumber(s.values[i]);
      if (options.smoothing > 0) text += "  (raw " + formatNumber(s.raw[i]) + ")";
      if (s.mins && s.maxs && isFinite(s.mins[i])) {
        text += "  [" + formatNumber(s.mins[i]) + " – " + formatNumber(s.maxs[i]) + "]";
      }
      html("span", "val", text, row);
      rows += 1;
    });
    if (!rows) { tip.hidden = true; return; }
    header.textContent = formatX(nearestX);
    tip.hidden = false;
    var body = figure.querySelector(".chart-body");
    var over = u.over.getBoundingClientRect();
    var box = body.getBoundingClientRect();
    var x = over.left - box.left + left;
    var place = x + 14;
    if (place + tip.offsetWidth > body.clientWidth) place = Math.max(0, x - tip.offsetWidth - 14);
    tip.style.left = place + "px";
    tip.style.top = (over.top - box.top + 4) + "px";
  }

  /* Draw, or redraw with new data or options, `series` ([{run, label, stroke, steps, timestamps,
     values, mins, maxs, downsampled, total, start}]) in `figure`. */
  function draw(figure, series) {
    var body = figure.querySelector(".chart-body");
    figure.plimsollSeries = series;
    var shaped = series.map(shape);
    figure.plimsollShaped = shaped;
    var hasFinite = shaped.some(function (s) { return s.raw.some(isFinite); });
    var old = figure.plimsollChart;
    if (!hasFinite) {
      if (old) { old.destroy(); figure.plimsollChart = null; }
      body.textContent = "";
      var total = series.reduce(function (n, s) { return n + s.steps.length; }, 0);
      html("p", "chart-status muted", total ? "No finite values to plot (all NaN or infinite)." : "No points logged.", body);
      figure.setAttribute("data-state", "ready");
      return;
    }
    var built = chartData(shaped);
    var width = Math.max(body.clientWidth || 480, 240);
    var opts = plotOptions(figure, series, shaped, built.layout, width);
    var signature = JSON.stringify([options, opts.yKind, built.layout]);
    if (old && figure.plimsollSignature === signature) {
      old.setData(built.data); // same shape of chart: keep the instance (no flicker while live)
    } else {
      if (old) old.destroy();
      body.textContent = "";
      var plot = html("div", "chart-plot", null, body);
      html("div", "tooltip", null, body).hidden = true;
      figure.plimsollChart = new uPlot(opts, built.data, plot);
      figure.plimsollSignature = signature;
      figure.plimsollWidth = width;
      var root = figure.plimsollChart.root;
      root.setAttribute("role", "img");
      root.setAttribute("aria-label", figure.getAttribute("data-key") + " by " + X_AXES[options.xAxis].toLowerCase() +
        ", " + series.length + " series");
      root.querySelector(".u-over").addEventListener("mouseleave", function () {
        var tip = figure.querySelector(".tooltip");
        if (tip) tip.hidden = true;
      });
    }
    legend(body, series);
    recordScale(figure, figure.plimsollChart, "x");
    recordScale(figure, figure.plimsollChart, "y");
    figure.setAttribute("data-y-scale", opts.yKind);
    figure.setAttribute("data-x-axis", options.xAxis);
    figure.setAttribute("data-state", "ready");
  }

  function historyUrl(run, key, maxPoints) {
    var path = key.split("/").map(encodeURIComponent).join("/");
    return "/api/v1/runs/" + encodeURIComponent(run) + "/metrics/" + path + "/history?max_points=" + maxPoints;
  }

  function fetchHistory(run, key, maxPoints) {
    return fetch(historyUrl(run, key, maxPoints), { headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) {
            throw new Error(body && body.error ? body.error.message : "HTTP " + response.status);
          }
          return body;
        });
      });
  }

  function fetchSeries(spec, key, maxPoints) {
    return fetchHistory(spec.run, key, maxPoints).then(function (body) {
      return {
        run: spec.run,
        label: spec.label,
        stroke: color(spec.color || 0),
        start: spec.start,
        steps: body.steps,
        timestamps: body.timestamps,
        values: body.values.map(decode),
        mins: body.downsampled && body.mins ? body.mins.map(decode) : null,
        maxs: body.downsampled && body.maxs ? body.maxs.map(decode) : null,
        downsampled: !!body.downsampled,
        total: body.total_points
      };
    }, function (err) {
      throw new Error(spec.label + ": " + err.message);
    });
  }

  /* Fetch the figure's series and draw them; again later to refresh a live chart in place. */
  function load(figure) {
    var body = figure.querySelector(".chart-body");
    var key = figure.getAttribute("data-key");
    var maxPoints = figure.getAttribute("data-max-points") || "500";
    var specs;
    try {
      specs = JSON.parse(figure.getAttribute("data-series") || "[]");
    } catch (err) {
      specs = [];
    }
    if (!figure.plimsollChart) figure.setAttribute("data-state", "loading");
    return Promise.all(specs.map(function (spec) { return fetchSeries(spec, key, maxPoints); }))
      .then(function (series) { draw(figure, series); })
      .catch(function (err) {
        if (figure.plimsollChart) { figure.plimsollChart.destroy(); figure.plimsollChart = null; }
        body.textContent = "";
        html("p", "chart-status error", "Could not load " + key + ": " + err.message, body);
        figure.setAttribute("data-state", "error");
      });
  }

  /* A figure like the `chart` macro's, for a metric that gets a history while the page is open. */
  function create(key, specs, maxPoints) {
    var figure = html("figure", "chart");
    figure.setAttribute("data-key", key);
    figure.setAttribute("data-series", JSON.stringify(specs));
    figure.setAttribute("data-max-points", String(maxPoints));
    html("figcaption", "chart-title", key, figure);
    var body = html("div", "chart-body", null, figure);
    body.setAttribute("aria-live", "polite");
    html("p", "chart-status muted", "Loading " + key + "…", body);
    return figure;
  }

  function redrawAll(resizedOnly) {
    document.querySelectorAll("figure.chart").forEach(function (figure) {
      if (!figure.plimsollSeries) return;
      var body = figure.querySelector(".chart-body");
      if (resizedOnly) {
        if (figure.plimsollChart && body.clientWidth && body.clientWidth !== figure.plimsollWidth) {
          figure.plimsollWidth = body.clientWidth;
          figure.plimsollChart.setSize({ width: body.clientWidth, height: HEIGHT });
        }
        return;
      }
      draw(figure, figure.plimsollSeries);
    });
  }

  function toolbar(container) {
    var bar = html("div", "chart-toolbar");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", "Chart options");

    var xLabel = html("label", null, "X axis ", bar);
    var select = html("select", null, null, xLabel);
    select.className = "chart-x-axis";
    Object.keys(X_AXES).forEach(function (value) {
      var option = html("option", null, X_AXES[value], select);
      option.value = value;
    });
    select.value = options.xAxis;

    var logLabel = html("label", null, null, bar);
    var log = html("input", null, null, logLabel);
    log.type = "checkbox";
    log.className = "chart-log";
    log.checked = options.log;
    logLabel.appendChild(document.createTextNode(" Log scale"));
    logLabel.title = "Log y axis (a symmetric log where a metric has zero or negative values)";

    var smoothLabel = html("label", null, "Smoothing ", bar);
    var slider = html("input", null, null, smoothLabel);
    slider.type = "range";
    slider.min = "0";
    slider.max = "0.99";
    slider.step = "0.01";
    slider.value = String(options.smoothing);
    slider.className = "chart-smoothing";
    var shown = html("output", "mono", String(options.smoothing), smoothLabel);
    smoothLabel.title = "Exponential moving average weight (0: raw values)";

    function sync() {
      document.querySelectorAll(".chart-toolbar").forEach(function (other) {
        other.querySelector(".chart-x-axis").value = options.xAxis;
        other.querySelector(".chart-log").checked = options.log;
        other.querySelector(".chart-smoothing").value = String(options.smoothing);
        other.querySelector("output").textContent = options.smoothing.toFixed(2);
      });
      redrawAll(false);
    }
    select.addEventListener("change", function () { options.xAxis = select.value; sync(); });
    log.addEventListener("change", function () { options.log = log.checked; sync(); });
    slider.addEventListener("input", function () {
      options.smoothing = Number(slider.value);
      shown.textContent = options.smoothing.toFixed(2);
    });
    slider.addEventListener("change", function () { options.smoothing = Number(slider.value); sync(); });
    container.parentNode.insertBefore(bar, container);
  }

  function init() {
    document.querySelectorAll(".charts").forEach(toolbar);
    document.querySelectorAll("figure.chart[data-key]").forEach(load);
    var timer = null;
    window.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { redrawAll(true); }, 150);
    });
  }

  window.PlimsollCharts = {
    load: load,
    create: create,
    fetchHistory: fetchHistory,
    decode: decode,
    formatNumber: formatNumber,
    html: html,
    options: options
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
