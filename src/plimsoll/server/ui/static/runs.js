/* Runs table: "select all" and the "Compare selected" button (enabled from two runs up). */
(function () {
  "use strict";

  function init() {
    var form = document.getElementById("compare-form");
    var button = document.getElementById("compare-button");
    if (!form || !button) return;
    var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name='runs']"));
    var all = document.getElementById("select-all");

    function update() {
      var chosen = boxes.filter(function (box) { return box.checked; }).length;
      button.disabled = chosen < 2;
      button.textContent = chosen ? "Compare selected (" + chosen + ")" : "Compare selected";
      button.title = chosen < 2 ? "Tick two or more runs to compare them" : "";
      if (all) {
        all.checked = chosen > 0 && chosen === boxes.length;
        all.indeterminate = chosen > 0 && chosen < boxes.length;
      }
    }

    boxes.forEach(function (box) { box.addEventListener("change", update); });
    if (all) {
      all.addEventListener("change", function () {
        boxes.forEach(function (box) { box.checked = all.checked; });
        update();
      });
    }
    update();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
