/* A model's page: the alias history timeline, drawn with ECharts (vendor/echarts, global
 * `echarts`). Time runs left to right; each alias has a lane; a bar spans the time the alias held
 * one version (labelled with it, coloured by it), and each move is a marker on its lane whose
 * tooltip says what moved, who moved it and why.
 *
 * Data: the JSON island #timeline-data ({aliases, spans: [{lane, start, end, version}], moves:
 * [{lane, at, action, version, previous, actor, reason}], now}), built by server/ui/models.py
 * (alias_timeline). Tooltips use richText, as the page's CSP (style-src 'self') refuses ECharts'
 * default HTML tooltips.
 */
(function () {
  "use strict";

  var PALETTE = 8; // --series-0 … --series-7 in app.css

  function color(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name);
    return value.trim() || fallback;
  }

  function versionColor(version) {
    return color("--series-" + ((version - 1) % PALETTE), "#2f6f9f");
  }

  function when(ms) {
    return new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }

  function moveText(move, alias) {
    var what;
    if (move.action === "removed") what = alias + " removed (held " + move.previous + ")";
    else if (move.action === "rollback") what = alias + " rolled back from " + move.previous + " to " + move.version;
    else if (move.action === "promote") what = alias + " promoted to " + move.version + (move.previous === null ? "" : " from " + move.previous);
    else if (move.previous === null) what = alias + " set to " + move.version;
    else what = alias + " moved from " + move.previous + " to " + move.version;
    var lines = [what, "by " + move.actor + ", " + when(move.at)];
    if (move.reason) lines.push("why: " + move.reason);
    return lines.join("\n");
  }

  // One bar per span: from its start to its end on its lane, two thirds of the lane high.
  function renderSpan(params, api) {
    var lane = api.value(0);
    var start = api.coord([api.value(1), lane]);
    var end = api.coord([api.value(2), lane]);
    var height = api.size([0, 1])[1] * 0.6;
    var shape = echarts.graphic.clipRectByRect(
      { x: start[0], y: start[1] - height / 2, width: Math.max(end[0] - start[0], 2), height: height },
      { x: params.coordSys.x, y: params.coordSys.y, width: params.coordSys.width, height: params.coordSys.height }
    );
    if (!shape) return null;
    return {
      type: "rect",
      shape: shape,
      style: api.style({ fill: versionColor(api.value(3)), opacity: 0.85 }),
      textContent: { style: { text: String(api.value(3)), fill: "#fff", fontWeight: "bold", fontSize: 11 } },
      textConfig: { position: "inside" },
    };
  }

  function option(data) {
    var first = Math.min.apply(null, data.moves.map(function (m) { return m.at; }));
    var pad = Math.max((data.now - first) * 0.04, 1000); // a little room either side
    return {
      animation: false,
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      tooltip: { trigger: "item", renderMode: "richText", confine: true },
      grid: { left: 8, right: 16, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "time", min: first - pad, max: data.now + pad, axisLabel: { hideOverlap: true } },
      yAxis: {
        type: "category",
        data: data.aliases,
        inverse: true,
        axisLabel: { fontFamily: "monospace" },
        splitLine: { show: true, lineStyle: { color: color("--line", "#e3e8ee") } },
      },
      series: [
        {
          name: "held",
          type: "custom",
          renderItem: renderSpan,
          encode: { x: [1, 2], y: 0 },
          data: data.spans.map(function (s) { return [s.lane, s.start, s.end, s.version]; }),
          tooltip: {
            formatter: function (p) {
              var s = data.spans[p.dataIndex];
              return data.aliases[s.lane] + " held " + s.version + "\nfrom " + when(s.start) +
                (s.end >= data.now ? "\nto now" : "\nto " + when(s.end));
            },
          },
        },
        {
          name: "moves",
          type: "scatter",
          symbol: "diamond",
          symbolSize: 11,
          z: 3,
          itemStyle: { color: color("--text", "#1f2933"), borderColor: "#fff", borderWidth: 1 },
          data: data.moves.map(function (m) { return [m.at, m.lane]; }),
          tooltip: {
            formatter: function (p) {
              var m = data.moves[p.dataIndex];
              return moveText(m, data.aliases[m.lane]);
            },
          },
        },
      ],
    };
  }

  function draw() {
    var island = document.getElementById("timeline-data");
    var element = document.getElementById("alias-timeline");
    if (!island || !element) return;
    var data = JSON.parse(island.textContent);
    element.style.height = Math.max(120, 44 * data.aliases.length + 48) + "px";
    var chart = echarts.init(element);
    chart.setOption(option(data));
    window.addEventListener("resize", function () { chart.resize(); });
    document.body.dataset.chartsReady = "1";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
