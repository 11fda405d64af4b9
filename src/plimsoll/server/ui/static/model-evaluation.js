/* A model version's page: the charts of the evaluation shown, drawn with ECharts (vendor/echarts,
 * global `echarts`). For classification: the ROC and precision-recall curves, the calibration
 * plot against the diagonal of perfect calibration, and the confusion matrix as a heat map. For
 * every task: per slice column, a bar per slice value of one metric (chosen in the select beside
 * it, labelled with the slice's rows), and per sensitive feature, a bar per group of one rate with
 * its bootstrap interval as an error bar (a group too small to be used is drawn faint).
 *
 * Data: the JSON island #evaluation-data, built by server/ui/model_evidence.py (chart_data):
 *   {curves: null | {roc, pr, calibration, confusion, labels}, slices: [{column, metrics, values}],
 *    fairness: [{feature, metrics, min_group_size, groups}]}
 * Nothing here knows a metric's name: the selects list what the evaluation holds. Tooltips use
 * richText, as the page's CSP (style-src 'self') refuses ECharts' default HTML tooltips. Each
 * container drawn gets data-drawn="yes"; the body gets data-evaluation-ready="1" once all are.
 */
(function () {
  "use strict";

  var PALETTE = 8; // --series-0 … --series-7 in app.css
  var charts = [];

  function color(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name);
    return value.trim() || fallback;
  }

  function seriesColor(index) {
    return color("--series-" + (index % PALETTE), "#2f6f9f");
  }

  function shown(value) {
    if (value === null || value === undefined) return "—";
    return String(Number(value.toPrecision(4)));
  }

  function rows(count) {
    return Number(count).toLocaleString("en-US") + (count === 1 ? " row" : " rows");
  }

  function base() {
    return {
      animation: false,
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      tooltip: { trigger: "item", renderMode: "richText", confine: true },
      // Room beyond the tick labels for the axes' names (containLabel leaves them out).
      grid: { left: 36, right: 24, top: 16, bottom: 36, containLabel: true },
    };
  }

  function unitAxis(name) {
    return {
      type: "value",
      min: 0,
      max: 1,
      name: name,
      nameLocation: "middle",
      nameGap: 30,
      splitLine: { lineStyle: { color: color("--line", "#e3e8ee") } },
    };
  }

  function diagonal(name) {
    return {
      name: name,
      type: "line",
      data: [[0, 0], [1, 1]],
      symbol: "none",
      silent: true,
      tooltip: { show: false },
      lineStyle: { type: "dashed", width: 1, color: color("--muted", "#5f6b7a") },
    };
  }

  // A curve of [x, y, threshold] points: its tooltip (on the point nearest the pointer) names
  // both axes and the threshold.
  function curveOption(points, xName, yName, withDiagonal) {
    var option = base();
    option.tooltip = {
      trigger: "axis",
      renderMode: "richText",
      confine: true,
      formatter: function (params) {
        var p = (params || []).filter(function (q) { return q.seriesIndex === 0; })[0];
        if (!p) return "";
        var point = points[p.dataIndex];
        var text = xName + " " + shown(point[0]) + "\n" + yName + " " + shown(point[1]);
        return point[2] === null || point[2] === undefined ? text : text + "\nthreshold " + shown(point[2]);
      },
    };
    option.xAxis = unitAxis(xName);
    option.yAxis = unitAxis(yName);
    option.series = [
      {
        name: yName,
        type: "line",
        data: points,
        showSymbol: false,
        lineStyle: { width: 2, color: seriesColor(0) },
        itemStyle: { color: seriesColor(0) },
      },
    ];
    if (withDiagonal) option.series.push(diagonal("chance"));
    return option;
  }

  function calibrationOption(bins) {
    var filled = bins.filter(function (b) { return b.score !== null && b.positive !== null && b.rows > 0; });
    var option = base();
    option.xAxis = unitAxis("mean score");
    option.yAxis = unitAxis("fraction positive");
    option.series = [
      {
        name: "calibration",
        type: "line",
        data: filled.map(function (b) { return [b.score, b.positive]; }),
        symbolSize: 7,
        lineStyle: { width: 2, color: seriesColor(1) },
        itemStyle: { color: seriesColor(1) },
        tooltip: {
          formatter: function (p) {
            var b = filled[p.dataIndex];
            return "scores " + shown(b.lower) + "–" + shown(b.upper) + ": " + rows(b.rows) +
              "\nmean score " + shown(b.score) + "\nfraction positive " + shown(b.positive);
          },
        },
      },
      diagonal("perfectly calibrated"),
    ];
    return option;
  }

  function confusionOption(matrix, labels) {
    var negative = labels.length === 2 ? String(labels[0]) : "negative";
    var positive = labels.length === 2 ? String(labels[1]) : "positive";
    var names = [negative, positive];
    var cells = [];
    var most = 0;
    matrix.forEach(function (row, actual) {
      row.forEach(function (count, predicted) {
        cells.push([predicted, actual, count]);
        most = Math.max(most, count);
      });
    });
    var option = base();
    option.xAxis = { type: "category", data: names, name: "predicted", nameLocation: "middle", nameGap: 28 };
    option.yAxis = { type: "category", data: names, name: "actual", nameLocation: "middle", nameGap: 28, inverse: true };
    option.visualMap = {
      min: 0,
      max: Math.max(most, 1),
      show: false,
      inRange: { color: ["#f4f7fa", color("--accent", "#2f6f9f")] },
    };
    option.series = [
      {
        name: "confusion matrix",
        type: "heatmap",
        data: cells,
        label: { show: true, fontSize: 14, fontWeight: "bold" },
        tooltip: {
          formatter: function (p) {
            var cell = cells[p.dataIndex];
            return "actual " + names[cell[1]] + ", predicted " + names[cell[0]] + ": " + rows(cell[2]);
          },
        },
      },
    ];
    return option;
  }

  // Horizontal bars, one per category, of one metric; `bars` [{label, value, faint, interval}].
  function barsOption(bars, metric, withIntervals) {
    var option = base();
    option.grid = { left: 16, right: 56, top: 8, bottom: 36, containLabel: true };
    option.xAxis = { type: "value", name: metric, nameLocation: "middle", nameGap: 26, splitLine: { lineStyle: { color: color("--line", "#e3e8ee") } } };
    option.yAxis = { type: "category", data: bars.map(function (b) { return b.label; }), inverse: true };
    option.series = [
      {
        name: metric,
        type: "bar",
        barMaxWidth: 22,
        data: bars.map(function (b) {
          return {
            value: b.value === null || b.value === undefined ? "-" : b.value,
            itemStyle: { color: seriesColor(0), opacity: b.faint ? 0.35 : 0.9 },
          };
        }),
        label: { show: true, position: "right", formatter: function (p) { return p.value === "-" ? "—" : shown(p.value); } },
        tooltip: { formatter: function (p) { return bars[p.dataIndex].tip; } },
      },
    ];
    if (withIntervals) {
      var spans = [];
      bars.forEach(function (b, index) {
        if (b.interval && b.interval.lower !== null && b.interval.upper !== null) {
          spans.push([index, b.interval.lower, b.interval.upper]);
        }
      });
      option.series.push({
        name: "interval",
        type: "custom",
        renderItem: renderErrorBar,
        encode: { x: [1, 2], y: 0 },
        data: spans,
        z: 3,
        tooltip: { formatter: function (p) { return bars[spans[p.dataIndex][0]].tip; } },
      });
    }
    return option;
  }

  // An interval as a horizontal error bar with caps, on a bar's category.
  function renderErrorBar(params, api) {
    var at = api.value(0);
    var low = api.coord([api.value(1), at]);
    var high = api.coord([api.value(2), at]);
    var half = Math.min(api.size([0, 1])[1] * 0.2, 7);
    var style = { stroke: color("--text", "#1f2933"), lineWidth: 1.5 };
    return {
      type: "group",
      children: [
        { type: "line", shape: { x1: low[0], y1: low[1], x2: high[0], y2: high[1] }, style: style },
        { type: "line", shape: { x1: low[0], y1: low[1] - half, x2: low[0], y2: low[1] + half }, style: style },
        { type: "line", shape: { x1: high[0], y1: high[1] - half, x2: high[0], y2: high[1] + half }, style: style },
      ],
    };
  }

  function sliceBars(slice, metric) {
    return slice.values.map(function (v) {
      var value = v.metrics[metric];
      return {
        label: v.value + " (" + rows(v.rows) + ")",
        value: value,
        faint: false,
        tip: slice.column + " = " + v.value + ": " + metric + " " + shown(value) + " on " + rows(v.rows),
      };
    });
  }

  function fairnessBars(fairness, metric) {
    return fairness.groups.map(function (g) {
      var interval = g.metrics[metric] || { value: null, lower: null, upper: null };
      var range = interval.lower !== null && interval.upper !== null
        ? " [" + shown(interval.lower) + ", " + shown(interval.upper) + "]"
        : "";
      var note = g.used ? "" : "\nfewer than " + fairness.min_group_size + " rows: reported, not used";
      return {
        label: g.name + " (" + rows(g.rows) + (g.used ? "" : ", not used") + ")",
        value: interval.value,
        faint: !g.used,
        interval: interval,
        tip: fairness.feature + " = " + g.name + ": " + metric + " " + shown(interval.value) + range +
          " on " + rows(g.rows) + note,
      };
    });
  }

  function draw(element, option, height) {
    if (height) element.style.height = height + "px";
    var chart = echarts.getInstanceByDom(element) || echarts.init(element);
    chart.setOption(option, true);
    element.dataset.drawn = "yes";
    if (charts.indexOf(chart) < 0) charts.push(chart);
  }

  function barsHeight(count) {
    return Math.max(140, 30 * count + 56);
  }

  // A bar chart with a select choosing its metric: drawn now, and again on each choice.
  function chooser(kind, index, render) {
    var select = document.querySelector("select.chart-metric[data-chart='" + kind + "-" + index + "']");
    if (!select) return;
    render(select.value);
    select.addEventListener("change", function () { render(select.value); });
  }

  function start() {
    var island = document.getElementById("evaluation-data");
    if (!island) return;
    var data = JSON.parse(island.textContent);
    var curves = data.curves;
    var byId = function (id) { return document.getElementById(id); };
    if (curves) {
      if (curves.roc.length && byId("roc-chart")) {
        draw(byId("roc-chart"), curveOption(curves.roc, "false positive rate", "true positive rate", true));
      }
      if (curves.pr.length && byId("pr-chart")) {
        draw(byId("pr-chart"), curveOption(curves.pr, "recall", "precision", false));
      }
      if (curves.calibration.length && byId("calibration-chart")) {
        draw(byId("calibration-chart"), calibrationOption(curves.calibration));
      }
      if (curves.confusion.length && byId("confusion-chart")) {
        draw(byId("confusion-chart"), confusionOption(curves.confusion, curves.labels));
      }
    }
    data.slices.forEach(function (slice, index) {
      var element = byId("slice-chart-" + index);
      if (!element || !slice.metrics.length) return;
      chooser("slice", index, function (metric) {
        draw(element, barsOption(sliceBars(slice, metric), metric, false), barsHeight(slice.values.length));
      });
    });
    data.fairness.forEach(function (fairness, index) {
      var element = byId("fairness-chart-" + index);
      if (!element || !fairness.metrics.length) return;
      chooser("fairness", index, function (metric) {
        draw(element, barsOption(fairnessBars(fairness, metric), metric, true), barsHeight(fairness.groups.length));
      });
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (chart) { chart.resize(); });
    });
    document.body.dataset.evaluationReady = "1";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
