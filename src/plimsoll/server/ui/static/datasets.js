/* Dataset pages: each column's profile (a histogram of numbers over equal widths, or bars of the
 * most frequent labels) and, on the diff page, the severity of each column's change, drawn with
 * ECharts (vendor/echarts, global `echarts`).
 *
 * Data: the JSON islands #profile-data (one chart per profiled column, in the order of the
 * .profile-chart elements: {type: "histogram"|"bars", labels, counts}), built by
 * server/ui/datasets.py, and #drift-data ({columns, severity}). Tooltips use richText with plain
 * formatters, as the page's CSP (style-src 'self') refuses ECharts' default HTML tooltips.
 */
(function () {
  "use strict";

  function color(index) {
    var value = getComputedStyle(document.documentElement).getPropertyValue("--series-" + index);
    return value.trim() || "#5f6b7a";
  }

  function base() {
    return {
      animation: false,
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      tooltip: { trigger: "axis", renderMode: "richText", confine: true, axisPointer: { type: "shadow" } },
      grid: { left: 8, right: 8, top: 8, bottom: 8, containLabel: true },
    };
  }

  function profileOption(chart) {
    var histogram = chart.type === "histogram";
    var option = base();
    option.xAxis = {
      type: "category",
      data: chart.labels,
      axisLabel: { show: !histogram, interval: 0, rotate: chart.labels.length > 4 ? 30 : 0, width: 80, overflow: "truncate" },
      axisTick: { show: !histogram },
    };
    option.yAxis = { type: "value", splitNumber: 2 };
    option.series = [{
      type: "bar",
      data: chart.counts,
      barCategoryGap: histogram ? "2%" : "25%",
      itemStyle: { color: color(histogram ? 0 : 1) },
    }];
    if (histogram) {
      option.tooltip.formatter = function (items) {
        return "from " + items[0].name + ": " + Math.round(items[0].value).toLocaleString();
      };
    }
    return option;
  }

  function driftOption(data) {
    var option = base();
    option.xAxis = { type: "value", name: "severity", nameLocation: "end" };
    option.yAxis = { type: "category", data: data.columns.slice().reverse(), axisLabel: { fontFamily: "monospace" } };
    option.series = [{ type: "bar", data: data.severity.slice().reverse(), itemStyle: { color: color(3) } }];
    return option;
  }

  function island(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function draw() {
    var charts = [];
    var profiles = island("profile-data");
    if (profiles) {
      document.querySelectorAll(".profile-chart").forEach(function (element, index) {
        var chart = echarts.init(element);
        chart.setOption(profileOption(profiles[index]));
        charts.push(chart);
      });
    }
    var drift = island("drift-data");
    var driftElement = document.querySelector(".drift-chart");
    if (drift && driftElement) {
      driftElement.style.height = Math.max(120, 24 * drift.columns.length + 40) + "px";
      var chart = echarts.init(driftElement);
      chart.setOption(driftOption(drift));
      charts.push(chart);
    }
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
    document.body.dataset.chartsReady = String(charts.length);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
