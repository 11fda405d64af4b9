/* A monitor's page: its charts, drawn with ECharts (vendor/echarts, global `echarts`), one entry per
 * window on a shared category axis (the windows' starts), oldest first:
 *
 *   #drift-heatmap        features x windows, coloured by the test's statistic (or its severity:
 *                         the statistic over its threshold), a dot on each drifted cell; a click
 *                         shows that feature's distribution in that window
 *   #distribution-chart   a feature's distribution, reference against current: two overlaid step
 *                         histograms (density) for numbers, side-by-side bars of shares for labels
 *                         and few-valued numbers; fetched from /api/v1/monitors/NAME/distribution
 *   #performance-chart    realised and estimated metric, the estimate's band, the reference's value
 *   #labels-chart         label coverage (left) and median label lag (right)
 *   #outcomes-chart       a business outcome (left) and the model's metric (right)
 *   #quality-chart        invalid rows, missing cells, out-of-range and unseen shares
 *   #rules-strip          each rule's verdict per window: not measured, quiet, active, firing
 *
 * Data: the JSON islands #monitor-data (server/ui/monitor_view.py, chart_data) and
 * #distribution-data (the first distribution shown). A chart whose box the page left out (nothing
 * to draw: the page says why instead) is skipped. Tooltips use richText, as the page's CSP
 * (style-src 'self') refuses ECharts' default HTML tooltips. Each box drawn gets data-drawn="yes";
 * the body gets data-monitor-ready="1" once all are, and the distribution's box data-state="ready"
 * each time one is drawn.
 */
(function () {
  "use strict";

  var PALETTE = 8; // --series-0 … --series-7 in app.css
  var DAY = 86400000;
  var STATES = ["unmeasured", "quiet", "active", "firing"];
  var drawnCharts = [];

  function color(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name);
    return value.trim() || fallback;
  }

  function seriesColor(index) {
    return color("--series-" + (index % PALETTE), "#2f6f9f");
  }

  function island(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function shown(value) {
    if (value === null || value === undefined) return "—";
    return String(Number(Number(value).toPrecision(4)));
  }

  function percent(value) {
    if (value === null || value === undefined) return "—";
    return String(Number((100 * value).toPrecision(3))) + "%";
  }

  function utc(ms, withTime) {
    var text = new Date(ms).toISOString();
    return withTime ? text.slice(0, 16).replace("T", " ") : text.slice(0, 10);
  }

  function windowLabels(data) {
    var daily = data.monitor.every_ms > 0 && data.monitor.every_ms % DAY === 0;
    return data.windows.map(function (w) { return utc(w.start, !daily); });
  }

  function base() {
    return {
      animation: false,
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      tooltip: { trigger: "axis", renderMode: "richText", confine: true },
      grid: { left: 48, right: 48, top: 52, bottom: 40, containLabel: true },
      legend: { top: 0, type: "scroll" },
    };
  }

  function start(id) {
    var element = document.getElementById(id);
    if (!element) return null;
    var chart = echarts.getInstanceByDom(element) || echarts.init(element);
    if (drawnCharts.indexOf(chart) < 0) drawnCharts.push(chart);
    return chart;
  }

  function done(id) {
    document.getElementById(id).setAttribute("data-drawn", "yes");
  }

  function categoryAxis(labels) {
    return { type: "category", data: labels, axisTick: { alignWithLabel: true } };
  }

  function line(name, values, index, extra) {
    var spec = {
      name: name,
      type: "line",
      data: values,
      connectNulls: false,
      showSymbol: values.length <= 60,
      symbolSize: 5,
      sampling: "lttb",
      lineStyle: { width: 2, color: seriesColor(index) },
      itemStyle: { color: seriesColor(index) },
    };
    return Object.assign(spec, extra || {});
  }

  function axisTooltip(labels, describe) {
    return {
      trigger: "axis",
      renderMode: "richText",
      confine: true,
      formatter: function (params) {
        var index = params && params.length ? params[0].dataIndex : 0;
        return [labels[index]].concat(describe(index)).join("\n");
      },
    };
  }

  // -- drift heat map --------------------------------------------------------------------------

  function drawHeatmap(data, mode) {
    var chart = start("drift-heatmap");
    if (!chart) return;
    var drift = data.drift;
    var labels = windowLabels(data);
    var at = mode === "severity" ? 3 : 2;
    var cells = {};
    var values = [];
    var marks = [];
    var top = 0;
    drift.cells.forEach(function (cell) {
      cells[cell[0] + ":" + cell[1]] = cell;
      if (cell[at] === null) return;
      values.push([cell[0], cell[1], cell[at]]);
      top = Math.max(top, cell[at]);
      if (cell[4]) marks.push([cell[0], cell[1]]);
    });
    var element = document.getElementById("drift-heatmap");
    element.style.height = Math.max(220, 34 * drift.features.length + 110) + "px";
    chart.resize();
    var option = base();
    delete option.legend;
    option.grid = { left: 16, right: 24, top: 12, bottom: 72, containLabel: true };
    option.tooltip = {
      trigger: "item",
      renderMode: "richText",
      confine: true,
      formatter: function (p) {
        var cell = cells[p.data[0] + ":" + p.data[1]];
        if (!cell) return "";
        var feature = drift.features[cell[1]];
        return [
          drift.labels[feature] + ", window of " + labels[cell[0]],
          (drift.methods[feature] || "statistic") + " " + shown(cell[2]) + " · severity " + shown(cell[3]),
          "p-value " + shown(cell[5]),
          cell[4] ? "drifted" : "not drifted",
        ].join("\n");
      },
    };
    option.xAxis = Object.assign(categoryAxis(labels), { splitArea: { show: true } });
    option.yAxis = {
      type: "category",
      inverse: true,
      data: drift.features.map(function (f) { return drift.labels[f]; }),
      splitArea: { show: true },
      triggerEvent: true,
    };
    var highest = mode === "severity" ? Math.max(2, top) : Math.max(top, 1e-9);
    option.visualMap = {
      min: 0,
      max: highest,
      calculable: false,
      orient: "horizontal",
      left: "center",
      bottom: 0,
      itemHeight: 180,
      itemWidth: 12,
      seriesIndex: 0,
      text: [shown(highest) + " " + (mode === "severity" ? "severity" : "statistic"), "0"],
      inRange: { color: ["#f2f6fa", "#fbd38d", "#e0703a", "#b3261e"] },
    };
    option.series = [
      // Drawn whole at once (no progressive rendering): a page is "ready" only when every cell is.
      { name: "drift", type: "heatmap", data: values, progressive: 0, emphasis: { itemStyle: { borderColor: "#1f2933", borderWidth: 1 } } },
      { name: "drifted", type: "scatter", data: marks, symbolSize: labels.length > 120 ? 3 : 6, progressive: 0, large: false, itemStyle: { color: "#1f2933" }, z: 3 },
    ];
    chart.setOption(option, true);
    chart.off("click");
    chart.on("click", function (p) {
      if (p.componentType === "yAxis") {
        var row = drift.features.map(function (f) { return drift.labels[f]; }).indexOf(p.value);
        if (row >= 0) chooseDistribution(drift.features[row], null);
        return;
      }
      if (!p.data) return;
      var w = data.windows[p.data[0]];
      chooseDistribution(drift.features[p.data[1]], w.start);
    });
    done("drift-heatmap");
  }

  // -- distribution ----------------------------------------------------------------------------

  function side(body, name) {
    return body.histogram[name];
  }

  function densities(edges, side) {
    if (!side || !side.finite) return null;
    var points = [];
    for (var k = 0; k + 1 < edges.length; k++) {
      var width = edges[k + 1] - edges[k];
      var value = width > 0 ? side.counts[k] / (side.finite * width) : 0;
      points.push([edges[k], value]);
    }
    if (points.length) points.push([edges[edges.length - 1], points[points.length - 1][1]]);
    return points;
  }

  function drawDistribution(body) {
    var chart = start("distribution-chart");
    if (!chart) return;
    var h = body.histogram;
    var reference = side(body, "reference");
    var current = side(body, "current");
    var option = base();
    option.grid = { left: 16, right: 24, top: 52, bottom: 36, containLabel: true };
    var refColor = seriesColor(7);
    var curColor = seriesColor(1);
    if (h.kind === "numeric") {
      var edges = h.edges;
      var ref = densities(edges, reference);
      var cur = densities(edges, current);
      option.xAxis = {
        type: "value",
        min: edges[0],
        max: edges[edges.length - 1],
        name: body.feature,
        nameLocation: "middle",
        nameGap: 26,
        // The ends are the bins' edges, not round numbers: only the ticks between are labelled.
        axisLabel: { showMinLabel: false, showMaxLabel: false, formatter: function (v) { return String(Number(Number(v).toPrecision(4))); } },
      };
      option.yAxis = { type: "value", name: "density", splitLine: { lineStyle: { color: color("--line", "#e3e8ee") } } };
      option.tooltip = {
        trigger: "axis",
        renderMode: "richText",
        confine: true,
        formatter: function (params) {
          var x = params.length ? params[0].value[0] : null;
          var k = Math.max(0, Math.min(edges.length - 2, edges.indexOf(x)));
          var lines = ["(" + shown(edges[k]) + ", " + shown(edges[k + 1]) + "]"];
          if (reference && reference.finite) lines.push("reference " + percent(reference.counts[k] / reference.finite));
          if (current && current.finite) lines.push("current " + percent(current.counts[k] / current.finite));
          return lines.join("\n");
        },
      };
      option.series = [];
      if (ref) option.series.push({ name: "reference", type: "line", step: "end", data: ref, symbol: "none", lineStyle: { color: refColor, width: 1.5 }, itemStyle: { color: refColor }, areaStyle: { color: refColor, opacity: 0.25 } });
      if (cur) option.series.push({ name: "current", type: "line", step: "end", data: cur, symbol: "none", lineStyle: { color: curColor, width: 2 }, itemStyle: { color: curColor }, areaStyle: { color: curColor, opacity: 0.2 } });
    } else {
      var labels = h.labels.slice();
      var keep = labels.map(function (_, i) {
        var last = i === labels.length - 1;
        return !last || (reference && reference.counts[i] > 0) || (current && current.counts[i] > 0);
      });
      var total = function (s) { return s ? (h.kind === "categorical" ? s.present : s.finite) : 0; };
      var shares = function (s) {
        if (!s || !total(s)) return null;
        return s.counts.filter(function (_, i) { return keep[i]; }).map(function (c) { return c / total(s); });
      };
      var names = labels.filter(function (_, i) { return keep[i]; }).map(function (label, i) {
        return h.unseen && h.unseen[labels.indexOf(label)] ? label + " (new)" : label;
      });
      option.xAxis = { type: "category", data: names, axisLabel: { interval: names.length > 30 ? "auto" : 0, rotate: names.length > 8 ? 40 : 0 } };
      option.yAxis = { type: "value", name: "share of rows", axisLabel: { formatter: function (v) { return percent(v); } } };
      option.tooltip = axisTooltip(names, function (i) {
        var lines = [];
        if (shares(reference)) lines.push("reference " + percent(shares(reference)[i]));
        if (shares(current)) lines.push("current " + percent(shares(current)[i]));
        return lines;
      });
      option.series = [];
      if (shares(reference)) option.series.push({ name: "reference", type: "bar", data: shares(reference), itemStyle: { color: refColor } });
      if (shares(current)) option.series.push({ name: "current", type: "bar", data: shares(current), itemStyle: { color: curColor } });
    }
    chart.setOption(option, true);
    caption(body);
    var element = document.getElementById("distribution-chart");
    element.setAttribute("data-feature", body.feature);
    element.setAttribute("data-kind", h.kind);
    element.setAttribute("data-state", "ready");
    done("distribution-chart");
  }

  function caption(body) {
    var element = document.getElementById("distribution-caption");
    element.textContent = "";
    var h = body.histogram;
    var reference = h.reference;
    var current = h.current;
    var parts = [];
    var rows = function (s) {
      return s.rows.toLocaleString("en-US") + " rows" + (s.missing ? " (" + s.missing.toLocaleString("en-US") + " missing)" : "");
    };
    parts.push("Reference: " + rows(reference) + ".");
    if (!current) {
      parts.push(body.windows ? "The window holds no value of this column." : "No window yet: the reference alone.");
    } else {
      var when = body.windows === 1 ? "the window from " + utc(body.since, true) + " UTC" : body.windows + " windows merged, " + utc(body.since) + " to " + utc(body.until);
      parts.push("Current: " + rows(current) + " in " + when + ".");
    }
    if (h.kind === "numeric" && current && reference.finite && current.finite) {
      var tails = [];
      var lo = h.edges[0];
      var hi = h.edges[h.edges.length - 1];
      if (reference.below || current.below) tails.push(percent(reference.below / reference.finite) + " of the reference and " + percent(current.below / current.finite) + " of the current at or below " + shown(lo));
      if (reference.above || current.above) tails.push(percent(reference.above / reference.finite) + " and " + percent(current.above / current.finite) + " above " + shown(hi));
      if (tails.length) parts.push("Outside the chart: " + tails.join("; ") + ".");
    }
    if (h.note) parts.push(h.note + ".");
    element.appendChild(document.createTextNode(parts.join(" ") + " "));
    var drift = body.drift;
    if (drift && drift.statistic !== undefined) {
      var verdict = document.createElement("span");
      verdict.className = drift.drifted ? "drifted" : "stable";
      verdict.textContent = drift.drifted ? "Drifted" : "Not drifted";
      element.appendChild(verdict);
      element.appendChild(document.createTextNode(
        ": " + drift.method + " " + shown(drift.statistic) + " against a threshold of " + shown(drift.threshold) +
        ", p-value " + shown(drift.p_value) + (body.windows > 1 ? " (the merged windows tested together)" : "") + "."
      ));
    } else if (drift && drift.untested) {
      element.appendChild(document.createTextNode("Not tested: " + drift.untested + "."));
    }
  }

  function loadDistribution(feature, since, until) {
    var element = document.getElementById("distribution-chart");
    var query = new URLSearchParams({ feature: feature, project: element.getAttribute("data-project") });
    if (element.getAttribute("data-segment")) query.set("segment", element.getAttribute("data-segment"));
    if (since !== null) {
      query.set("since", since);
      query.set("until", until);
    }
    element.setAttribute("data-state", "loading");
    fetch(element.getAttribute("data-url") + "?" + query.toString(), { headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body && body.error ? body.error.message : "HTTP " + response.status);
          return body;
        });
      })
      .then(drawDistribution)
      .catch(function (error) {
        element.setAttribute("data-state", "error");
        document.getElementById("distribution-caption").textContent = "Could not load the distribution: " + error.message;
      });
  }

  // A feature (and a window's start, or null: keep the window chosen) picked in the heat map.
  function chooseDistribution(feature, windowStart) {
    var features = document.getElementById("distribution-feature");
    var windows = document.getElementById("distribution-window");
    features.value = feature;
    if (windows && windowStart !== null) windows.value = windowStart + ":" + (windowStart + 1);
    distributionChanged();
    document.getElementById("distribution").scrollIntoView({ block: "nearest" });
  }

  function distributionChanged() {
    var feature = document.getElementById("distribution-feature").value;
    var windows = document.getElementById("distribution-window");
    if (!windows) return loadDistribution(feature, null, null);
    var range = windows.value.split(":");
    loadDistribution(feature, Number(range[0]), Number(range[1]));
  }

  // -- time series -----------------------------------------------------------------------------

  function drawPerformance(data, metric) {
    var chart = start("performance-chart");
    if (!chart) return;
    var p = data.performance;
    var labels = windowLabels(data);
    var nulls = data.windows.map(function () { return null; });
    var realised = p.realised[metric] || nulls;
    var estimated = p.estimated[metric] || { value: nulls, lower: nulls, upper: nulls };
    var width = estimated.upper.map(function (u, i) {
      var l = estimated.lower[i];
      return u === null || l === null ? null : u - l;
    });
    var reference = p.reference[metric];
    var option = base();
    option.xAxis = categoryAxis(labels);
    option.yAxis = { type: "value", scale: true, name: metric };
    option.tooltip = axisTooltip(labels, function (i) {
      var lines = ["realised " + shown(realised[i])];
      if (p.estimated[metric]) lines.push("estimated " + shown(estimated.value[i]) + " [" + shown(estimated.lower[i]) + ", " + shown(estimated.upper[i]) + "]");
      if (reference !== undefined && reference !== null) lines.push("reference " + shown(reference));
      return lines;
    });
    var band = seriesColor(0);
    option.series = [
      { name: "band low", type: "line", data: estimated.lower, stack: "band", symbol: "none", lineStyle: { opacity: 0 }, silent: true, tooltip: { show: false } },
      { name: "estimate's band", type: "line", data: width, stack: "band", symbol: "none", lineStyle: { opacity: 0 }, areaStyle: { color: band, opacity: 0.18 }, itemStyle: { color: band }, silent: true },
      line("estimated", estimated.value, 0, { lineStyle: { width: 2, type: "dashed", color: band } }),
      line("realised", realised, 1),
    ];
    if (reference !== undefined && reference !== null) {
      option.series[3].markLine = {
        silent: true,
        symbol: "none",
        data: [{ yAxis: reference, name: "reference" }],
        label: { formatter: "reference " + shown(reference), position: "insideStartTop" },
        lineStyle: { color: seriesColor(7), type: "dotted", width: 1.5 },
      };
    }
    option.legend = { top: 0, data: ["realised", "estimated", "estimate's band"] };
    chart.setOption(option, true);
    done("performance-chart");
  }

  function drawLabels(data) {
    var chart = start("labels-chart");
    if (!chart) return;
    var labels = windowLabels(data);
    var lags = data.labels.lag_s;
    var longest = Math.max.apply(null, lags.map(function (v) { return v || 0; }).concat([0]));
    var unit = longest >= 3 * 86400 ? { name: "days", s: 86400 } : longest >= 3 * 3600 ? { name: "hours", s: 3600 } : { name: "minutes", s: 60 };
    var lag = lags.map(function (v) { return v === null ? null : v / unit.s; });
    var option = base();
    option.xAxis = categoryAxis(labels);
    option.yAxis = [
      { type: "value", min: 0, max: 1, name: "coverage", axisLabel: { formatter: function (v) { return percent(v); } } },
      { type: "value", min: 0, name: "lag (" + unit.name + ")", splitLine: { show: false } },
    ];
    option.tooltip = axisTooltip(labels, function (i) {
      return [
        "coverage " + percent(data.labels.coverage[i]) + (data.labels.labelled[i] !== null && data.labels.labelled[i] !== undefined ? " (" + data.labels.labelled[i] + " of " + data.windows[i].rows + " rows)" : ""),
        "median lag " + shown(lag[i]) + " " + unit.name,
      ];
    });
    option.series = [
      line("coverage", data.labels.coverage, 2, { areaStyle: { color: seriesColor(2), opacity: 0.12 } }),
      { name: "median lag", type: "bar", yAxisIndex: 1, data: lag, barMaxWidth: 14, itemStyle: { color: seriesColor(4), opacity: 0.7 } },
    ];
    chart.setOption(option, true);
    done("labels-chart");
  }

  function drawOutcomes(data, name, stat) {
    var chart = start("outcomes-chart");
    if (!chart) return;
    var o = data.outcomes;
    var labels = windowLabels(data);
    var values = o[stat][name];
    var metric = o.metric;
    var metricName = metric.kind + " " + metric.name;
    var option = base();
    option.xAxis = categoryAxis(labels);
    option.yAxis = [
      { type: "value", scale: true, name: name + " (" + stat + ")" },
      { type: "value", scale: true, name: metric.name, splitLine: { show: false } },
    ];
    option.tooltip = axisTooltip(labels, function (i) {
      return [name + " " + stat + " " + shown(values[i]), metricName + " " + shown(metric.values[i])];
    });
    option.series = [
      line(name + " (" + stat + ")", values, 5),
      line(metricName, metric.values, 1, { yAxisIndex: 1, lineStyle: { width: 1.5, type: "dashed", color: seriesColor(1) } }),
    ];
    chart.setOption(option, true);
    done("outcomes-chart");
  }

  function drawQuality(data) {
    var chart = start("quality-chart");
    if (!chart) return;
    var labels = windowLabels(data);
    var q = data.quality;
    var names = [
      ["invalid", "rows breaking the signature"],
      ["missing", "missing cells"],
      ["out_of_range", "outside the reference's range"],
      ["unseen", "unseen categories"],
    ];
    var option = base();
    option.xAxis = categoryAxis(labels);
    option.yAxis = { type: "value", min: 0, name: "share", axisLabel: { formatter: function (v) { return percent(v); } } };
    option.tooltip = axisTooltip(labels, function (i) {
      return names.map(function (n) { return n[1] + " " + percent(q[n[0]][i]); });
    });
    option.series = names.map(function (n, index) { return line(n[1], q[n[0]], [3, 0, 1, 4][index]); });
    chart.setOption(option, true);
    done("quality-chart");
  }

  function drawRules(data) {
    var chart = start("rules-strip");
    if (!chart) return;
    var labels = windowLabels(data);
    var rules = data.rules;
    var values = [];
    rules.forEach(function (rule, j) {
      rule.states.forEach(function (state, i) {
        if (state !== null) values.push([i, j, STATES.indexOf(state)]);
      });
    });
    var element = document.getElementById("rules-strip");
    element.style.height = Math.max(140, 26 * rules.length + 90) + "px";
    chart.resize();
    var option = base();
    delete option.legend;
    option.grid = { left: 40, right: 24, top: 8, bottom: 56, containLabel: true };
    option.xAxis = Object.assign(categoryAxis(labels), { splitArea: { show: true } });
    option.yAxis = { type: "category", inverse: true, data: rules.map(function (r) { return r.name; }) };
    option.tooltip = {
      trigger: "item",
      renderMode: "richText",
      confine: true,
      formatter: function (p) {
        var rule = rules[p.data[1]];
        var value = rule.values[p.data[0]];
        return [rule.name + ", window of " + labels[p.data[0]], rule.condition, STATES[p.data[2]] + (value === null ? "" : " (value " + shown(value) + ")")].join("\n");
      },
    };
    option.visualMap = {
      type: "piecewise",
      orient: "horizontal",
      left: "center",
      bottom: 0,
      dimension: 2,
      pieces: [
        { value: 0, label: "not measured", color: "#e1e6ec" },
        { value: 1, label: "quiet", color: "#cde9d6" },
        { value: 2, label: "active", color: "#f2b950" },
        { value: 3, label: "firing", color: "#c62828" },
      ],
    };
    option.series = [{ name: "rules", type: "heatmap", data: values, progressive: 0, itemStyle: { borderColor: "#fff", borderWidth: labels.length > 120 ? 0 : 1 } }];
    chart.setOption(option, true);
    done("rules-strip");
  }

  // -- the page ----------------------------------------------------------------------------------

  function onChange(id, handler) {
    var element = document.getElementById(id);
    if (element) element.addEventListener("change", handler);
  }

  function main() {
    var data = island("monitor-data");
    if (!data || typeof echarts === "undefined") return;
    var colour = document.getElementById("drift-colour");
    drawHeatmap(data, colour ? colour.value : "statistic");
    onChange("drift-colour", function () { drawHeatmap(data, colour.value); });

    drawDistribution(island("distribution-data"));
    onChange("distribution-feature", distributionChanged);
    onChange("distribution-window", distributionChanged);

    var metric = document.getElementById("performance-metric");
    if (metric) drawPerformance(data, metric.value);
    onChange("performance-metric", function () { drawPerformance(data, metric.value); });

    drawLabels(data);

    var outcome = document.getElementById("outcome-name");
    var stat = document.getElementById("outcome-stat");
    if (outcome) drawOutcomes(data, outcome.value, stat.value);
    var redrawOutcomes = function () { drawOutcomes(data, outcome.value, stat.value); };
    onChange("outcome-name", redrawOutcomes);
    onChange("outcome-stat", redrawOutcomes);

    drawQuality(data);
    drawRules(data);

    var linked = ["performance-chart", "labels-chart", "outcomes-chart", "quality-chart"]
      .map(function (id) { var e = document.getElementById(id); return e && echarts.getInstanceByDom(e); })
      .filter(Boolean);
    linked.forEach(function (chart) { chart.group = "monitor-windows"; });
    if (linked.length > 1) echarts.connect("monitor-windows");

    window.addEventListener("resize", function () {
      drawnCharts.forEach(function (chart) { chart.resize(); });
    });
    document.body.setAttribute("data-monitor-ready", "1");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
  else main();
})();
