/* The lineage page: the graph of the JSON island #lineage-data ({start, nodes: [{id, kind, label,
 * href, start, tombstoned}], edges: [{source, target, role, context}]}, built by
 * server/ui/lineage.py), drawn left to right in the direction data flows with cytoscape.js
 * (vendor/cytoscape, global `cytoscape`). Drag to pan, scroll to zoom, click a node to open it.
 * Colours come from the page's --series-N variables, like every chart of the UI.
 */
(function () {
  "use strict";

  var KIND_COLOURS = { dataset: 0, run: 1, model: 2, feature: 4 };

  function css(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name);
    return value.trim() || fallback;
  }

  function draw() {
    var element = document.getElementById("lineage-graph");
    var source = document.getElementById("lineage-data");
    if (!element || !source) return;
    var data = JSON.parse(source.textContent);
    var elements = data.nodes.map(function (node) {
      var classes = [node.kind in KIND_COLOURS ? node.kind : "other"];
      if (node.start) classes.push("start");
      if (node.tombstoned) classes.push("tombstoned");
      return { group: "nodes", data: { id: node.id, label: node.label, href: node.href, kind: node.kind }, classes: classes.join(" ") };
    }).concat(data.edges.map(function (edge, index) {
      var label = edge.context ? edge.role + " (" + edge.context + ")" : edge.role;
      return { group: "edges", data: { id: "e" + index, source: edge.source, target: edge.target, label: label } };
    }));
    var text = css("--text", "#1d2733");
    var style = [
      { selector: "node", style: {
        "label": "data(label)", "font-size": 14, "color": text, "text-valign": "bottom", "text-margin-y": 4,
        "width": 22, "height": 22, "background-color": css("--muted", "#5f6b7a"), "border-width": 0,
      } },
      { selector: "node.dataset", style: { "shape": "round-rectangle", "background-color": css("--series-0", "#2f6f9f") } },
      { selector: "node.run", style: { "shape": "ellipse", "background-color": css("--series-1", "#d9822b") } },
      { selector: "node.model", style: { "shape": "diamond", "background-color": css("--series-2", "#3d9970") } },
      { selector: "node.feature", style: { "shape": "hexagon", "background-color": css("--series-4", "#7a5cb8") } },
      { selector: "node.start", style: { "border-width": 3, "border-color": text, "width": 28, "height": 28 } },
      { selector: "node.tombstoned", style: { "opacity": 0.45, "border-style": "dashed", "border-width": 2, "border-color": text } },
      { selector: "edge", style: {
        "width": 1.5, "curve-style": "bezier", "target-arrow-shape": "triangle", "line-color": css("--line-strong", "#9aa5b1"),
        "target-arrow-color": css("--line-strong", "#9aa5b1"), "label": "data(label)", "font-size": 11,
        "color": css("--muted", "#5f6b7a"), "text-rotation": "autorotate", "text-background-opacity": 0,
      } },
    ];
    var graph = cytoscape({
      container: element,
      elements: elements,
      style: style,
      layout: { name: "breadthfirst", directed: true, roots: rootsOf(data), spacingFactor: 1.1, padding: 24 },
      wheelSensitivity: 0.3,
      minZoom: 0.1,
      maxZoom: 4,
    });
    // breadthfirst stacks levels top to bottom; data flows left to right here, so turn it, and
    // give the levels room for their edges' labels (a page is wider than it is tall).
    graph.nodes().positions(function (node) { var p = node.position(); return { x: p.y * 2.5, y: p.x }; });
    graph.fit(undefined, 24);
    if (graph.zoom() > 1.5) { graph.zoom(1.5); graph.center(); } // a few nodes: not blown up
    graph.on("tap", "node", function (event) {
      var href = event.target.data("href");
      if (href) window.location.assign(href);
    });
    element.dataset.ready = "true";
    window.plimsollLineage = graph; // for the browser tests and the curious
  }

  /* The nodes nothing in the drawing points to: where the drawn data flow begins. */
  function rootsOf(data) {
    var targets = {};
    data.edges.forEach(function (edge) { targets[edge.target] = true; });
    var roots = data.nodes.filter(function (node) { return !targets[node.id]; }).map(function (node) { return "#" + CSS.escape(node.id); });
    return roots.length ? roots.join(", ") : undefined;
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
