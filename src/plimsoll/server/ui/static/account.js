// The "Copy" button beside a secret shown once (a new API token, a temporary password): copies
// the text of the element named by its data-copy. Where the clipboard is refused (an insecure
// origin, a denied permission) it selects the text instead, for the user to copy by hand.
(function () {
  "use strict";

  function selectText(element) {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copied(button, label) {
    button.textContent = label;
    window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    const target = document.getElementById(button.dataset.copy);
    if (!target) return;
    button.addEventListener("click", function () {
      const text = target.textContent.trim();
      if (!navigator.clipboard) {
        selectText(target);
        copied(button, "Selected: press Ctrl+C");
        return;
      }
      navigator.clipboard.writeText(text).then(
        function () { copied(button, "Copied"); },
        function () { selectText(target); copied(button, "Selected: press Ctrl+C"); }
      );
    });
  });
})();
