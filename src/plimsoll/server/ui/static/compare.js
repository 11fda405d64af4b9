/* Compare page: "Only differences" hides parameters every run shares. */
(function () {
  "use strict";

  function init() {
    var toggle = document.getElementById("only-diff");
    var table = document.getElementById("compare-params");
    if (!toggle || !table) return;
    toggle.addEventListener("change", function () {
      table.classList.toggle("only-diff", toggle.checked);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
