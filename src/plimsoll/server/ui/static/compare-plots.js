/* Compare page: a parallel-coordinates plot (the params that differ, then the chosen metric), a
 * scatter of any two columns and bars of a single-valued metric per run, drawn with ECharts
 * (vendor/echarts, global `echarts`).
 *
 * The data is the JSON island #compare-plots-data, built by views.comparison_plots():
 *   {runs: [{id, label, color}], columns: [{source, key, numeric, values: [one per run, or null]}],
 *    parallel: [column indices of the parallel plot's param axes], ...}
 * Tooltips use ECharts' richText mode with plain-text formatters: its default HTML tooltips carry
 * style attributes, which the page's CSP (style-src 'self') refuses. Colours come from the same
 * --series-N variables as the tables' swatches and charts.js.
 */
(function () {
  "use strict";

  var PALETTE_SIZE = 8;
  var MISSING = "(none)";

  function color(index) {
    var value = getComputedStyle(document.documentElement).getPropertyValue("--series-" + (index % PALETTE_SIZE));
    return value.trim() || "#5f6b7a";
  }

  function shown(value) {
    if (value === null || value === undefined) return MISSING;
    if (typeof value === "number") return String(Number(value.toPrecision(6)));
    return String(value);
  }

  /* A categorical column's axis values: its distinct values in order, and (none) if a run lacks it. */
  function categories(column) {
    var seen = {};
    var list = [];
    var missing = false;
    column.values.forEach(function (value) {
      if (value === null) missing = true;
      else if (!seen[value]) {
        seen[value] = true;
        list.push(value);
      }
    });
    list.sort();
    if (missing) list.push(MISSING);
    return list;
  }

  function axisValue(column, value) {
    if (column.numeric) return value === null ? "-" : value; // "-": ECharts' word for "no value"
    return value === null ? MISSING : value;
  }

  function baseOption() {
    return {
      animation: false,
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      tooltip: { trigger: "item", renderMode: "richText", confine: true },
    };
  }

  function parallelOption(data, metricIndex, width) {
    var params = data.parallel.map(function (index) { return data.columns[index]; });
    var axes = metricIndex >= 0 ? params.concat([data.columns[metricIndex]]) : params;
    var option = baseOption();
    option.parallel = { left: 60, right: 90, top: 50, bottom: 30 };
    var spacing = (width - 150) / Math.max(axes.length - 1, 1);
    option.parallelAxis = axes.map(function (column, dim) {
      var metricAxis = column.source === "metric";
      var axis = {
        dim: dim,
        name: column.key,
        nameTruncate: { maxWidth: Math.max(spacing - 10, 40) },
        nameTextStyle: { color: metricAxis ? "#245a82" : "#5f6b7a", fontWeight: metricAxis ? 700 : 600 },
      };
      if (column.numeric) axis.type = "value";
      else {
        axis.type = "category";
        axis.data = categories(column);
      }
      if (column.numeric) axis.scale = true;
      return axis;
    });
    option.tooltip.formatter = function (item) {
      var run = item.dataIndex;
      return [data.runs[run].label].concat(axes.map(function (column) {
        return column.key + " = " + shown(column.values[run]);
      })).join("\n");
    };
    option.series = [{
      type: "parallel",
      lineStyle: { width: 2, opacity: 0.85 },
      emphasis: { lineStyle: { width: 3.5, opacity: 1 } },
      data: data.runs.map(function (run, i) {
        return {
          name: run.label,
          value: axes.map(function (column) { return axisValue(column, column.values[i]); }),
          lineStyle: { color: color(run.color) },
        };
      }),
    }];
    return option;
  }

  function scatterAxis(column) {
    var axis = { name: column.key, nameLocation: "middle", nameGap: 32, nameTextStyle: { fontWeight: 600 } };
    if (column.numeric) {
      axis.type = "value";
      axis.scale = true;
    } else {
      axis.type = "category";
      axis.data = categories(column).filter(function (v) { return v !== MISSING; });
    }
    return axis;
  }

  function scatterOption(data, xIndex, yIndex) {
    var x = data.columns[xIndex];
    var y = data.columns[yIndex];
    var option = baseOption();
    var points = [];
    data.runs.forEach(function (run, i) {
      if (x.values[i] === null || y.values[i] === null) return;
      points.push({
        name: run.label,
        value: [x.values[i], y.values[i]],
        itemStyle: { color: color(run.color) },
      });
    });
    option.grid = { left: 80, right: 30, top: 20, bottom: 55 };
    option.xAxis = scatterAxis(x);
    option.yAxis = scatterAxis(y);
    option.yAxis.nameGap = 56;
    option.tooltip.formatter = function (item) {
      return item.name + "\n" + x.key + " = " + shown(item.value[0]) + "\n" + y.key + " = " + shown(item.value[1]);
    };
    option.series = [{ type: "scatter", symbolSize: 12, data: points }];
    return option;
  }

  var BAR_ROW_PX = 30;

  /* One horizontal bar per run for a metric logged once, in the runs table's order; a run without
   * it (or with NaN) has no bar, and its label says so. */
  function barsOption(data, columnIndex) {
    var column = data.columns[columnIndex];
    var option = baseOption();
    var labels = data.runs.map(function (run) { return run.label; });
    option.grid = { left: 24, right: 80, top: 10, bottom: 30, containLabel: true };
    option.xAxis = { type: "value", name: column.key, nameLocation: "middle", nameGap: 24,
      nameTextStyle: { fontWeight: 600 } };
    option.yAxis = { type: "category", data: labels, inverse: true };
    option.tooltip.formatter = function (item) {
      return item.name + "\n" + column.key + " = " + shown(column.values[item.dataIndex]);
    };
    option.series = [{
      type: "bar",
      barMaxWidth: 18,
      label: { show: true, position: "right", formatter: function (item) {
        return shown(column.values[item.dataIndex]);
      } },
      data: data.runs.map(function (run, i) {
        return { name: run.label, value: column.values[i] === null ? "-" : column.values[i],
          itemStyle: { color: color(run.color) } };
      }),
    }];
    return option;
  }

  function selected(select) {
    return select ? Number(select.value) : -1;
  }

  function init() {
    var island = document.getElementById("compare-plots-data");
    if (!island || typeof echarts === "undefined") return;
    var data = JSON.parse(island.textContent);
    var parallelEl = document.getElementById("parallel-plot");
    var scatterEl = document.getElementById("scatter-plot");
    var metric = document.getElementById("parallel-metric");
    var xPick = document.getElementById("scatter-x");
    var yPick = document.getElementById("scatter-y");
    var charts = [];
    var drawParallel = null;
    var status = document.getElementById("scatter-count");

    if (parallelEl) {
      var parallel = echarts.init(parallelEl);
      charts.push(parallel);
      drawParallel = function () {
        parallel.setOption(parallelOption(data, selected(metric), parallelEl.clientWidth), true);
      };
      drawParallel();
      if (metric) metric.addEventListener("change", drawParallel);
    }
    if (scatterEl && xPick && yPick) {
      var scatter = echarts.init(scatterEl);
      charts.push(scatter);
      var drawScatter = function () {
        var option = scatterOption(data, selected(xPick), selected(yPick));
        scatter.setOption(option, true);
        var count = option.series[0].data.length;
        var missing = data.runs.length - count;
        status.textContent = count + " of " + data.runs.length + " runs" +
          (missing ? " (" + missing + " lack one of the two values)" : "");
      };
      drawScatter();
      xPick.addEventListener("change", drawScatter);
      yPick.addEventListener("change", drawScatter);
    }
    var barsEl = document.getElementById("single-plot");
    var barsPick = document.getElementById("single-metric");
    if (barsEl && barsPick) {
      barsEl.style.height = (data.runs.length * BAR_ROW_PX + 60) + "px";
      var bars = echarts.init(barsEl);
      charts.push(bars);
      var drawBars = function () { bars.setOption(barsOption(data, selected(barsPick)), true); };
      drawBars();
      barsPick.addEventListener("change", drawBars);
    }
    if (charts.length && typeof ResizeObserver !== "undefined") {
      var observer = new ResizeObserver(function () {
        charts.forEach(function (c) { c.resize(); });
        if (drawParallel) drawParallel(); // axis names are cut to the room between axes
      });
      charts.forEach(function (c) { observer.observe(c.getDom()); });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
