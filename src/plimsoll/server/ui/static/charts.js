/* Plimsoll charts: small, dependency-free SVG line charts.
 *
 * Every <figure class="chart" data-key="acc" data-series='[{"run": id, "label": name, "color": 0}]'>
 * on the page is filled from the JSON API (GET /api/v1/runs/{id}/metrics/{key}/history?max_points=N):
 * one line per series, overlaid on shared axes, with
 *   - nice ticks on both axes, a legend, a hover tooltip with every series' value at that step;
 *   - gaps where a value is NaN or infinite (the line is broken, never joined across);
 *   - a min/max band when the server downsampled (each point then stands for a bucket of steps).
 * Each line is <path class="series" data-points="N" data-run="id">, N the number of points received.
 * A figure gets data-state="ready" once drawn, or "error" with the reason shown in place.
 */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var HEIGHT = 240;
  var MARGIN = { top: 10, right: 14, bottom: 34, left: 58 };
  var PALETTE_SIZE = 8;
  var clipCounter = 0;

  function svg(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    for (var key in attrs) {
      if (Object.prototype.hasOwnProperty.call(attrs, key)) node.setAttribute(key, String(attrs[key]));
    }
    if (parent) parent.appendChild(node);
    return node;
  }

  function html(name, className, text, parent) {
    var node = document.createElement(name);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function color(index) {
    var name = "--series-" + (index % PALETTE_SIZE);
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || "#2f6f9f";
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
    if (isNaN(value)) return "NaN";
    if (!isFinite(value)) return value > 0 ? "∞" : "−∞";
    var magnitude = Math.abs(value);
    if (magnitude !== 0 && (magnitude >= 1e6 || magnitude < 1e-4)) return value.toExponential(2);
    return String(parseFloat(value.toPrecision(6)));
  }

  function formatTick(value, step) {
    if (value === 0) return "0";
    var magnitude = Math.abs(value);
    if (magnitude >= 1e6 || magnitude < 1e-4) return value.toExponential(1);
    var decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    return value.toFixed(Math.min(decimals, 6));
  }

  /* A "nice" tick spacing (1, 2 or 5 times a power of ten) giving about `count` intervals. */
  function niceStep(span, count, integer) {
    var raw = span / Math.max(count, 1);
    if (!(raw > 0)) return 1;
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var ratio = raw / power;
    var step = (ratio <= 1 ? 1 : ratio <= 2 ? 2 : ratio <= 5 ? 5 : 10) * power;
    return integer ? Math.max(1, Math.round(step)) : step;
  }

  /* The domain widened to whole ticks, and the ticks in it. */
  function scale(lo, hi, count, integer) {
    if (lo === hi) {
      var pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
      lo -= integer ? Math.max(1, Math.round(pad)) : pad;
      hi += integer ? Math.max(1, Math.round(pad)) : pad;
    }
    var step = niceStep(hi - lo, count, integer);
    var start = Math.floor(lo / step) * step;
    var end = Math.ceil(hi / step) * step;
    var ticks = [];
    for (var i = 0; start + i * step <= end + step * 1e-9; i++) {
      var tick = start + i * step;
      ticks.push(Math.abs(tick) < step * 1e-9 ? 0 : tick);
    }
    return { lo: start, hi: end, step: step, ticks: ticks };
  }

  function bisect(steps, target) {
    var lo = 0, hi = steps.length - 1;
    if (hi < 0) return -1;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (steps[mid] < target) lo = mid + 1; else hi = mid;
    }
    if (lo > 0 && Math.abs(steps[lo - 1] - target) <= Math.abs(steps[lo] - target)) return lo - 1;
    return lo;
  }

  /* "M x y L x y ..." over finite values, starting a new segment after every gap. */
  function linePath(steps, values, x, y) {
    var parts = [], pen = false;
    for (var i = 0; i < steps.length; i++) {
      var v = values[i];
      if (!isFinite(v)) { pen = false; continue; }
      parts.push((pen ? "L" : "M") + x(steps[i]).toFixed(2) + " " + y(v).toFixed(2));
      pen = true;
    }
    return parts.join("");
  }

  /* Closed polygons between mins and maxs, one per run of finite buckets. */
  function bandPath(steps, mins, maxs, x, y) {
    var parts = [], top = [], bottom = [];
    function flush() {
      if (top.length > 1) parts.push("M" + top.join("L") + "L" + bottom.reverse().join("L") + "Z");
      top = []; bottom = [];
    }
    for (var i = 0; i < steps.length; i++) {
      if (!isFinite(mins[i]) || !isFinite(maxs[i])) { flush(); continue; }
      var px = x(steps[i]).toFixed(2);
      top.push(px + " " + y(maxs[i]).toFixed(2));
      bottom.push(px + " " + y(mins[i]).toFixed(2));
    }
    flush();
    return parts.join("");
  }

  function isolatedPoints(values) {
    var points = [];
    for (var i = 0; i < values.length; i++) {
      if (isFinite(values[i]) && !isFinite(values[i - 1]) && !isFinite(values[i + 1])) points.push(i);
    }
    return points;
  }

  /* Draw `series` ([{run, label, color, steps, values, mins, maxs, downsampled, total}]) into `body`. */
  function draw(figure, body, series) {
    body.textContent = "";
    var key = figure.getAttribute("data-key");
    var width = Math.max(body.clientWidth || 480, 260);
    var plotW = width - MARGIN.left - MARGIN.right;
    var plotH = HEIGHT - MARGIN.top - MARGIN.bottom;

    var xs = [], ys = [];
    series.forEach(function (s) {
      for (var i = 0; i < s.steps.length; i++) {
        xs.push(s.steps[i]);
        if (isFinite(s.values[i])) ys.push(s.values[i]);
        if (s.mins && isFinite(s.mins[i])) ys.push(s.mins[i]);
        if (s.maxs && isFinite(s.maxs[i])) ys.push(s.maxs[i]);
      }
    });
    if (!ys.length) {
      html("p", "chart-status muted", xs.length ? "No finite values to plot (all NaN or infinite)." : "No points logged.", body);
      figure.setAttribute("data-state", "ready");
      return;
    }
    var xScale = scale(Math.min.apply(null, xs), Math.max.apply(null, xs), Math.max(2, Math.round(plotW / 90)), true);
    var yMin = Math.min.apply(null, ys), yMax = Math.max.apply(null, ys), yPad = (yMax - yMin) * 0.03;
    var yScale = scale(yMin - yPad, yMax + yPad, 5, false);
    function x(v) { return MARGIN.left + ((v - xScale.lo) / (xScale.hi - xScale.lo)) * plotW; }
    function y(v) { return MARGIN.top + plotH - ((v - yScale.lo) / (yScale.hi - yScale.lo)) * plotH; }

    var root = svg("svg", {
      viewBox: "0 0 " + width + " " + HEIGHT, width: width, height: HEIGHT, role: "img",
      "aria-label": key + " by step, " + series.length + " series"
    }, body);
    var clipId = "plimsoll-clip-" + (++clipCounter);
    var clip = svg("clipPath", { id: clipId }, svg("defs", {}, root));
    svg("rect", { x: MARGIN.left, y: MARGIN.top - 2, width: plotW, height: plotH + 4 }, clip);

    var grid = svg("g", { "class": "grid" }, root);
    var yAxis = svg("g", { "class": "axis y" }, root);
    yScale.ticks.forEach(function (t) {
      svg("line", { x1: MARGIN.left, x2: MARGIN.left + plotW, y1: y(t), y2: y(t) }, grid);
      var label = svg("text", { x: MARGIN.left - 6, y: y(t), "text-anchor": "end", "dominant-baseline": "middle" },
        svg("g", { "class": "tick" }, yAxis));
      label.textContent = formatTick(t, yScale.step);
    });
    var xAxis = svg("g", { "class": "axis x" }, root);
    svg("line", { x1: MARGIN.left, x2: MARGIN.left + plotW, y1: MARGIN.top + plotH, y2: MARGIN.top + plotH }, xAxis);
    xScale.ticks.forEach(function (t) {
      var tick = svg("g", { "class": "tick" }, xAxis);
      svg("line", { x1: x(t), x2: x(t), y1: MARGIN.top + plotH, y2: MARGIN.top + plotH + 4 }, tick);
      var label = svg("text", { x: x(t), y: MARGIN.top + plotH + 16, "text-anchor": "middle" }, tick);
      label.textContent = formatTick(t, xScale.step);
    });
    svg("text", { "class": "axis-label", x: MARGIN.left + plotW, y: HEIGHT - 2, "text-anchor": "end" }, root).textContent = "step";

    var plot = svg("g", { "class": "plot", "clip-path": "url(#" + clipId + ")" }, root);
    series.forEach(function (s) {
      if (s.mins && s.maxs) {
        svg("path", { "class": "band", d: bandPath(s.steps, s.mins, s.maxs, x, y), fill: s.stroke, "data-run": s.run }, plot);
      }
    });
    series.forEach(function (s) {
      svg("path", {
        "class": "series", d: linePath(s.steps, s.values, x, y), stroke: s.stroke,
        "data-run": s.run, "data-points": s.steps.length, "data-downsampled": s.downsampled ? "true" : "false"
      }, plot);
      isolatedPoints(s.values).forEach(function (i) {
        svg("circle", { "class": "point", cx: x(s.steps[i]), cy: y(s.values[i]), r: 2.5, fill: s.stroke }, plot);
      });
    });

    legend(body, series);
    hover(body, root, series, x, y, xScale, plotW, plotH);
    figure.setAttribute("data-state", "ready");
  }

  function legend(body, series) {
    var list = html("ul", "legend", null, body);
    series.forEach(function (s) {
      var item = html("li", null, null, list);
      item.setAttribute("data-run", s.run);
      var swatch = html("span", "swatch", null, item);
      swatch.style.background = s.stroke;
      html("span", null, s.label, item);
      var gaps = s.values.filter(function (v) { return !isFinite(v); }).length;
      var notes = [];
      if (gaps) notes.push(gaps + " non-finite");
      if (s.downsampled) notes.push(s.steps.length + " of " + s.total + " points, band = min–max");
      if (notes.length) html("span", "note", "(" + notes.join("; ") + ")", item);
    });
  }

  function hover(body, root, series, x, y, xScale, plotW, plotH) {
    var cursor = svg("g", { "class": "cursor", visibility: "hidden" }, root);
    var guide = svg("line", { y1: MARGIN.top, y2: MARGIN.top + plotH }, cursor);
    var dots = series.map(function (s) { return svg("circle", { r: 3.5, fill: s.stroke }, cursor); });
    var tip = html("div", "tooltip", null, body);
    tip.hidden = true;
    var overlay = svg("rect", {
      x: MARGIN.left, y: MARGIN.top, width: plotW, height: plotH, fill: "transparent", "pointer-events": "all"
    }, root);

    function hide() { cursor.setAttribute("visibility", "hidden"); tip.hidden = true; }
    function show(event) {
      var box = root.getBoundingClientRect();
      var scaleX = box.width ? root.viewBox.baseVal.width / box.width : 1;
      var px = (event.clientX - box.left) * scaleX;
      var step = xScale.lo + ((px - MARGIN.left) / plotW) * (xScale.hi - xScale.lo);
      var nearest = null;
      var rows = [];
      var reach = ((xScale.hi - xScale.lo) / plotW) * 12; // a cursor this close to a series' ends still reads it
      series.forEach(function (s, n) {
        var i = bisect(s.steps, step);
        var outside = i < 0 || step < s.steps[0] - reach || step > s.steps[s.steps.length - 1] + reach;
        if (outside) { dots[n].setAttribute("visibility", "hidden"); return; }
        if (nearest === null || Math.abs(s.steps[i] - step) < Math.abs(nearest - step)) nearest = s.steps[i];
        rows.push({ s: s, i: i, dot: dots[n] });
      });
      if (nearest === null) { hide(); return; }
      guide.setAttribute("x1", x(nearest));
      guide.setAttribute("x2", x(nearest));
      tip.textContent = "";
      html("div", "step", "step " + nearest, tip);
      rows.forEach(function (r) {
        var value = r.s.values[r.i];
        var at = r.s.steps[r.i];
        if (isFinite(value)) {
          r.dot.setAttribute("cx", x(at));
          r.dot.setAttribute("cy", y(value));
          r.dot.setAttribute("visibility", "visible");
        } else {
          r.dot.setAttribute("visibility", "hidden");
        }
        var row = html("div", "row", null, tip);
        html("span", "dot", null, row).style.background = r.s.stroke;
        html("span", null, r.s.label + (at !== nearest ? " (step " + at + ")" : ""), row);
        var text = formatNumber(value);
        if (r.s.mins && r.s.maxs && isFinite(r.s.mins[r.i])) {
          text += "  [" + formatNumber(r.s.mins[r.i]) + " – " + formatNumber(r.s.maxs[r.i]) + "]";
        }
        html("span", "val", text, row);
      });
      cursor.setAttribute("visibility", "visible");
      tip.hidden = false;
      var left = (x(nearest) / scaleX) + 12;
      if (left + tip.offsetWidth > body.clientWidth) left = Math.max(0, (x(nearest) / scaleX) - tip.offsetWidth - 12);
      tip.style.left = left + "px";
      tip.style.top = (MARGIN.top / scaleX) + "px";
    }
    overlay.addEventListener("mousemove", show);
    overlay.addEventListener("mouseleave", hide);
  }

  function historyUrl(run, key, maxPoints) {
    var path = key.split("/").map(encodeURIComponent).join("/");
    return "/api/v1/runs/" + encodeURIComponent(run) + "/metrics/" + path + "/history?max_points=" + maxPoints;
  }

  function fetchSeries(spec, key, maxPoints) {
    return fetch(historyUrl(spec.run, key, maxPoints), { headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) {
            var message = body && body.error ? body.error.message : "HTTP " + response.status;
            throw new Error(spec.label + ": " + message);
          }
          return {
            run: spec.run,
            label: spec.label,
            stroke: color(spec.color || 0),
            steps: body.steps,
            values: body.values.map(decode),
            mins: body.downsampled && body.mins ? body.mins.map(decode) : null,
            maxs: body.downsampled && body.maxs ? body.maxs.map(decode) : null,
            downsampled: !!body.downsampled,
            total: body.total_points
          };
        });
      });
  }

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
    figure.setAttribute("data-state", "loading");
    return Promise.all(specs.map(function (spec) { return fetchSeries(spec, key, maxPoints); }))
      .then(function (series) {
        figure._series = series;
        draw(figure, body, series);
      })
      .catch(function (err) {
        body.textContent = "";
        html("p", "chart-status error", "Could not load " + key + ": " + err.message, body);
        figure.setAttribute("data-state", "error");
      });
  }

  function redrawAll() {
    document.querySelectorAll("figure.chart[data-state='ready']").forEach(function (figure) {
      var body = figure.querySelector(".chart-body");
      if (figure._series && body.clientWidth && body.clientWidth !== figure._width) {
        figure._width = body.clientWidth;
        draw(figure, body, figure._series);
      }
    });
  }

  function init() {
    document.querySelectorAll("figure.chart[data-key]").forEach(function (figure) {
      figure._width = figure.querySelector(".chart-body").clientWidth;
      load(figure);
    });
    var timer = null;
    window.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(redrawAll, 150);
    });
  }

  window.PlimsollCharts = { draw: draw, scale: scale, decode: decode, formatNumber: formatNumber };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
