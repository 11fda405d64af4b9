"""A monitor check as one self-contained HTML file: its verdict, the rules broken, and charts
(drift per feature over time as a heat map, realised vs estimated performance with its band,
label coverage, data quality), drawn by ECharts inlined from the package (no network)."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any


def render(check: dict[str, Any]) -> str:
    monitor = check["monitor"]
    windows = [w for w in check["windows"] if w["segment"] == ""]
    days = [_day(w["start"]) for w in windows]
    features = monitor["features"]
    heat = [
        [i, j, _round((w["drift"].get("features", {}).get(f) or {}).get("statistic"))]
        for i, w in enumerate(windows)
        for j, f in enumerate(features)
    ]
    drifted = [
        [i, j, 1 if (w["drift"].get("features", {}).get(f) or {}).get("drifted") else 0]
        for i, w in enumerate(windows)
        for j, f in enumerate(features)
    ]
    metric = "accuracy" if monitor["task"] == "classification" else "mae"
    estimated = [
        ((w["performance"].get("estimated") or {}).get("metrics") or {}).get(metric) or {} for w in windows
    ]
    data = {
        "days": days,
        "features": features,
        "heat": heat,
        "drifted": drifted,
        "metric": metric,
        "reference": monitor["reference_metrics"].get(metric),
        "realised": [_round(w["values"].get(f"performance.{metric}")) for w in windows],
        "estimated": [_round(e.get("value")) for e in estimated],
        "lower": [_round(e.get("lower")) for e in estimated],
        "upper": [_round(e.get("upper")) for e in estimated],
        "coverage": [_round(w["values"].get("labels.coverage")) for w in windows],
        "invalid": [_round(w["values"].get("quality.invalid_share")) for w in windows],
        "rows": [w["rows"] for w in windows],
    }
    verdict = "passed" if check["passed"] else "failed"
    firing = "".join(
        f"<tr><td>{html.escape(s['rule'])}</td><td>{html.escape(s['severity'])}</td><td>{_day(s['start'])}</td>"
        f"<td>{html.escape(s['segment'] or 'all')}</td><td>{s['value'] if s['value'] is not None else '—'} "
        f"{html.escape(s['op'])} {s['threshold']:g}</td><td>{s['consecutive']}/{s['for_windows']}</td>"
        f"<td>{html.escape(s['annotations'].get('summary', ''))}</td></tr>"
        for s in check["active"]
    )
    script = (
        resources.files("plimsoll.server.ui").joinpath("static/vendor/echarts/echarts.min.js").read_text()
    )
    title = f"Monitor {monitor['name']} — {verdict}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}.passed{{color:#1a7f37}}.failed{{color:#c62828}}
.chart{{width:100%;max-width:1100px;height:340px;margin:1em 0}}</style></head><body>
<h1>{html.escape(monitor["name"])}: <span class="{verdict}">{verdict}</span></h1>
<p>{html.escape(monitor["model"])}@{html.escape(monitor["alias"])} against {html.escape(_reference(monitor))};
{len(windows)} windows from {days[0] if days else "—"} to {days[-1] if days else "—"}; alpha {monitor["alpha"]}.</p>
<h2>Rules broken</h2>
{"<p>None.</p>" if not firing else "<table><tr><th>rule</th><th>severity</th><th>window</th><th>segment</th><th>value</th><th>in a row / needed</th><th>summary</th></tr>" + firing + "</table>"}
<h2>Drift per feature</h2><div id="drift" class="chart"></div>
<h2>Performance ({metric})</h2><div id="performance" class="chart"></div>
<h2>Labels and data quality</h2><div id="quality" class="chart"></div>
<script>{script}</script>
<script>const data = {json.dumps(data)};
{_CHARTS}</script></body></html>
"""


_CHARTS = """
const drift = echarts.init(document.getElementById('drift'));
drift.setOption({tooltip: {}, grid: {left: 110, bottom: 60},
  xAxis: {type: 'category', data: data.days}, yAxis: {type: 'category', data: data.features},
  visualMap: {min: 0, max: Math.max(0.01, ...data.heat.map(c => c[2] || 0)), calculable: true, orient: 'horizontal', left: 'center', bottom: 0},
  series: [{type: 'heatmap', data: data.heat, label: {show: false}}]});
const performance = echarts.init(document.getElementById('performance'));
performance.setOption({tooltip: {trigger: 'axis'}, legend: {}, xAxis: {type: 'category', data: data.days}, yAxis: {type: 'value', scale: true},
  series: [
    {name: 'estimated band (lower)', type: 'line', data: data.lower, stack: 'band', lineStyle: {opacity: 0}, symbol: 'none'},
    {name: 'estimated band', type: 'line', data: data.upper.map((u, i) => u == null || data.lower[i] == null ? null : u - data.lower[i]), stack: 'band', lineStyle: {opacity: 0}, areaStyle: {opacity: 0.2}, symbol: 'none'},
    {name: 'estimated', type: 'line', data: data.estimated},
    {name: 'realised', type: 'line', data: data.realised},
    {name: 'reference', type: 'line', data: data.days.map(() => data.reference), lineStyle: {type: 'dashed'}, symbol: 'none'}]});
const quality = echarts.init(document.getElementById('quality'));
quality.setOption({tooltip: {trigger: 'axis'}, legend: {}, xAxis: {type: 'category', data: data.days},
  yAxis: [{type: 'value', min: 0, max: 1}, {type: 'value', name: 'rows'}],
  series: [{name: 'label coverage', type: 'line', data: data.coverage}, {name: 'invalid rows', type: 'line', data: data.invalid},
           {name: 'rows', type: 'bar', yAxisIndex: 1, data: data.rows, itemStyle: {opacity: 0.3}}]});
"""


def _reference(monitor: dict[str, Any]) -> str:
    ref = monitor["reference"]
    if ref["kind"] == "dataset":
        return f"dataset {ref['dataset']}"
    if ref["kind"] == "traffic":
        return f"its traffic from {_day(ref['since'])} to {_day(ref['until'])}"
    return "the version's evaluation data"


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 5)
