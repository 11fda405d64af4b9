/* Run page: follows a RUNNING run without reloading the page.
 *
 * Every POLL_MS it reads the run (GET /api/v1/runs/{id}: status and latest values) and then
 *   - refreshes each chart from the history API (the same downsampled request as the first draw);
 *   - updates the latest values in the metrics table, adding rows for new metrics;
 *   - moves a metric whose second point has arrived from "single value" to a chart of its own.
 * It stops once the run has ended (after one last refresh) and shows the final status. The "live"
 * indicator says which: on (following), ended, or error (the last poll failed; it tries again).
 * Polling pauses while the tab is hidden.
 */
(function () {
  "use strict";

  var POLL_MS = 2000;

  function html(name, className, text, parent) {
    return window.PlimsollCharts.html(name, className, text, parent);
  }

  function byKey(nodes, key) {
    for (var i = 0; i < nodes.length; i++) if (nodes[i].getAttribute("data-key") === key) return nodes[i];
    return null;
  }

  function utc(ms) {
    return new Date(ms).toISOString().slice(0, 19).replace("T", " ") + " UTC";
  }

  function init() {
    var page = document.getElementById("run-page");
    var charts = window.PlimsollCharts;
    if (!page || !charts || page.getAttribute("data-status") !== "RUNNING") return;
    var runId = page.getAttribute("data-run");
    var maxPoints = page.getAttribute("data-max-points") || "500";
    var indicator = document.getElementById("live-indicator");
    var table = document.getElementById("metrics-table");
    var container = document.getElementById("charts");
    var specs = JSON.parse(container.getAttribute("data-series") || "[]");
    var timer = null;
    var stopped = false;

    function setLive(state, title) {
      indicator.hidden = false;
      indicator.setAttribute("data-live", state);
      indicator.textContent = state === "ended" ? "ended" : state === "error" ? "live · retrying" : "live";
      indicator.title = title;
    }

    function row(key) {
      return byKey(table.querySelectorAll("tbody tr"), key);
    }

    function setRowKind(tr, kind) {
      tr.setAttribute("data-kind", kind);
      var cell = tr.querySelector("td.history");
      cell.textContent = "";
      if (kind === "history") cell.textContent = "chart below";
      else html("span", "muted", "single value", cell);
    }

    function showValue(key, value) {
      var tr = row(key);
      if (!tr) {
        tr = document.createElement("tr");
        tr.setAttribute("data-key", key);
        html("th", null, key, tr).setAttribute("scope", "row");
        html("td", "num", null, tr);
        html("td", "history", null, tr);
        setRowKind(tr, "single");
        var body = table.querySelector("tbody");
        var after = Array.prototype.find.call(body.children, function (r) { return r.getAttribute("data-key") > key; });
        body.insertBefore(tr, after || null);
        table.parentNode.hidden = false;
        document.getElementById("no-metrics").hidden = true;
        document.getElementById("metrics-count").textContent = String(body.children.length);
      }
      var text = charts.formatNumber(charts.decode(value));
      var cell = tr.querySelector("td.num");
      if (cell.textContent !== text) {
        cell.textContent = text;
        tr.classList.add("updated");
      }
    }

    function addChart(key) {
      var figure = charts.create(key, specs, maxPoints);
      var after = null;
      Array.prototype.some.call(container.querySelectorAll("figure.chart"), function (f) {
        if (f.getAttribute("data-key") > key) { after = f; return true; }
        return false;
      });
      container.insertBefore(figure, after);
      document.getElementById("charts-card").hidden = false;
      document.getElementById("no-charts").hidden = true;
      document.getElementById("charts-count").textContent = String(container.querySelectorAll("figure.chart").length);
      setRowKind(row(key), "history");
      return charts.load(figure);
    }

    function refresh(key) {
      var figure = byKey(container.querySelectorAll("figure.chart"), key);
      if (figure) return charts.load(figure);
      // A single value so far: a chart once a second point arrives.
      return charts.fetchHistory(runId, key, 2).then(function (history) {
        if (history.total_points > 1) return addChart(key);
        return null;
      });
    }

    function ended(run) {
      stopped = true;
      var status = String(run.status);
      var badge = document.querySelector("#run-status .badge");
      badge.className = "badge status-" + status.toLowerCase();
      badge.textContent = status.toLowerCase();
      document.getElementById("overview-status").textContent = status.toLowerCase();
      page.setAttribute("data-status", status);
      if (run.end_time) {
        var cell = document.getElementById("overview-ended");
        cell.textContent = "";
        var time = html("time", null, utc(run.end_time), cell);
        time.setAttribute("datetime", new Date(run.end_time).toISOString());
      }
      setLive("ended", "The run ended (" + status.toLowerCase() + "): this page no longer follows it");
    }

    function poll() {
      timer = null;
      if (stopped) return;
      if (document.hidden) { schedule(); return; }
      fetch("/api/v1/runs/" + encodeURIComponent(runId), { headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (run) {
          table.querySelectorAll("tr.updated").forEach(function (tr) { tr.classList.remove("updated"); });
          var keys = Object.keys(run.metrics || {}).sort();
          keys.forEach(function (key) { showValue(key, run.metrics[key]); });
          return Promise.all(keys.map(refresh)).then(function () { return run; });
        })
        .then(function (run) {
          if (run.status !== "RUNNING") { ended(run); return; }
          setLive("on", "Following this run: updated " + new Date().toLocaleTimeString());
          schedule();
        })
        .catch(function (err) {
          setLive("error", "Could not refresh (" + err.message + "); trying again");
          schedule();
        });
    }

    function schedule() {
      if (!stopped && timer === null) timer = setTimeout(poll, POLL_MS);
    }

    setLive("on", "Following this run");
    schedule();
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && timer !== null) { clearTimeout(timer); timer = null; poll(); }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
