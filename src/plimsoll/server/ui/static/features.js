/* Feature pages: on /features, the severity of each feature's skew in its latest check (bars,
 * red above 1); on a feature's page, the latest check's two sides (a number's quantiles, or the
 * shares of the labels that moved most), drawn with ECharts (vendor/echarts, global `echarts`).
 *
 * Data: the JSON islands #skew-data ({features, severity, verdicts}) and #shift-data ({type:
 * "quantiles"|"shares", labels, training, serving}), built by server/ui/features.py. Tooltips use
 * richText, as the page's CSP (style-src 'self') refuses ECharts' default HTML tooltips.
 */
(function () {
  "use strict";

  function color(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name);
    return value.trim() || fallback;
  }

  function base() {
    return {
      animation: false,
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      tooltip: { trigger: "axis", renderMode: "richText", confine: true, axisPointer: { type: "shadow" } },
      grid: { left: 8, right: 8, top: 24, bottom: 8, containLabel: true },
    };
  }

  function skewOption(data) {
    var option = base();
    var skewed = color("--danger", "#b8446b");
    var fine = color("--series-0", "#2f6f9f");
    var values = data.severity.map(function (value, index) {
      return { value: value === null ? 0 : value, itemStyle: { color: data.verdicts[index] === "skewed" ? skewed : fine } };
    });
    option.xAxis = { type: "value", name: "severity", nameLocation: "end" };
    option.yAxis = { type: "category", data: data.features.slice().reverse(), axisLabel: { fontFamily: "monospace" } };
    option.series = [{
      type: "bar",
      data: values.reverse(),
      markLine: { silent: true, symbol: "none", data: [{ xAxis: 1 }], lineStyle: { color: color("--muted", "#5f6b7a"), type: "dashed" } },
    }];
    return option;
  }

  function shiftOption(data) {
    var option = base();
    var shares = data.type === "shares";
    option.legend = { top: 0, data: ["training", "serving"] };
    option.xAxis = { type: "category", data: data.labels, axisLabel: { interval: 0, rotate: shares && data.labels.length > 4 ? 30 : 0, width: 80, overflow: "truncate" } };
    option.yAxis = { type: "value", splitNumber: 3, axisLabel: shares ? { formatter: function (v) { return Math.round(v * 100) + "%"; } } : {} };
    option.series = ["training", "serving"].map(function (side, index) {
      return { name: side, type: "bar", data: data[side], itemStyle: { color: color("--series-" + index, index ? "#d9822b" : "#2f6f9f") } };
    });
    return option;
  }

  function island(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function draw() {
    var charts = [];
    var skew = island("skew-data");
    var skewElement = document.getElementById("skew-chart");
    if (skew && skewElement) {
      skewElement.style.height = Math.max(120, 24 * skew.features.length + 40) + "px";
      var chart = echarts.init(skewElement);
      chart.setOption(skewOption(skew));
      charts.push(chart);
    }
    var shift = island("shift-data");
    var shiftElement = document.getElementById("shift-chart");
    if (shift && shiftElement) {
      shiftElement.style.height = "220px";
      var shiftChart = echarts.init(shiftElement);
      shiftChart.setOption(shiftOption(shift));
      charts.push(shiftChart);
    }
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
    document.body.dataset.chartsReady = String(charts.length);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
