/* Runs table: the selection ("select all", "Compare N runs", "Delete N runs"), kept right when the
   browser restores ticked boxes on Back, and the tree of nested runs (expand, collapse).
   Exposes window.plimsollRuns.update() for runs-delete.js, which changes rows. */
(function () {
  "use strict";

  function plural(count, word) {
    return count + " " + word + (count === 1 ? "" : "s");
  }

  function init() {
    var form = document.getElementById("compare-form");
    var button = document.getElementById("compare-button");
    if (!form || !button) return;
    var maxCompare = parseInt(form.getAttribute("data-max-compare") || "20", 10);
    var hint = document.getElementById("compare-hint");
    var all = document.getElementById("select-all");
    var deleteButton = document.getElementById("delete-selected");
    var restoreButton = document.getElementById("restore-selected");

    function boxes() {
      return Array.prototype.slice.call(form.querySelectorAll("input[name='runs']"));
    }
    function rowOf(box) { return box.closest("tr"); }
    function visibleBoxes() {
      return boxes().filter(function (box) { return !rowOf(box).hidden; });
    }
    function chosen() {
      return boxes().filter(function (box) { return box.checked; });
    }

    function update() {
      var picked = chosen();
      var count = picked.length;
      var deleted = picked.filter(function (box) { return rowOf(box).classList.contains("deleted"); }).length;
      button.disabled = count < 2 || count > maxCompare;
      button.textContent = count >= 2 ? "Compare " + plural(count, "run") : "Compare selected";
      var why = "";
      if (count === 0) why = "Tick two or more runs to compare them";
      else if (count === 1) why = "1 run selected: tick one more to compare";
      else if (count > maxCompare) why = "Compare takes at most " + maxCompare + " runs";
      button.title = why;
      if (hint) hint.textContent = count === 0 ? "" : why;
      if (deleteButton) {
        var active = count - deleted;
        deleteButton.hidden = false;
        deleteButton.disabled = active === 0;
        deleteButton.textContent = active ? "Delete " + plural(active, "run") : "Delete selected";
      }
      if (restoreButton) {
        restoreButton.hidden = !form.querySelector("tr.deleted");
        restoreButton.disabled = deleted === 0;
        restoreButton.textContent = deleted ? "Restore " + plural(deleted, "run") : "Restore selected";
      }
      if (all) {
        var shown = visibleBoxes();
        var ticked = shown.filter(function (box) { return box.checked; }).length;
        all.checked = ticked > 0 && ticked === shown.length;
        all.indeterminate = ticked > 0 && ticked < shown.length;
      }
    }

    form.addEventListener("change", function (event) {
      if (event.target.name === "runs") update();
    });
    if (all) {
      all.addEventListener("change", function () {
        visibleBoxes().forEach(function (box) { box.checked = all.checked; });
        update();
      });
    }

    // -- the tree ---------------------------------------------------------------------------------
    function childRows(runId) {
      return Array.prototype.slice.call(form.querySelectorAll("tr[data-parent='" + runId + "']"));
    }
    function setShown(row, shown) {
      row.hidden = !shown;
      var toggle = row.querySelector(".tree-toggle");
      var expanded = toggle && toggle.getAttribute("aria-expanded") === "true";
      childRows(row.getAttribute("data-run-id")).forEach(function (child) { setShown(child, shown && expanded); });
    }
    form.addEventListener("click", function (event) {
      var toggle = event.target.closest(".tree-toggle");
      if (!toggle) return;
      var expanded = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", expanded ? "true" : "false");
      var label = toggle.getAttribute("aria-label") || "";
      toggle.setAttribute("aria-label", label.replace(/^(Show|Hide)/, expanded ? "Hide" : "Show"));
      childRows(toggle.getAttribute("data-run")).forEach(function (child) { setShown(child, expanded); });
      update();
    });

    // Back (from the bfcache, or with the form state restored after this ran) brings ticked boxes
    // back without change events: recount them whenever the page is shown.
    window.addEventListener("pageshow", update);
    update();
    window.plimsollRuns = { update: update, chosen: chosen };
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
