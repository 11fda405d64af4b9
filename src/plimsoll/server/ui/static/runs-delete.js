/* Delete and restore runs from the runs table, through the JSON API (DELETE /api/v1/runs/{id},
   POST /api/v1/runs/{id}/restore), so the permission check and the audit entry are those of every
   other change. Deleting asks first; a deleted row stays on the page, marked, with a Restore
   button. Refusals (403, 404, ...) are shown above the table with the API's message. */
(function () {
  "use strict";

  function init() {
    var table = document.getElementById("runs-table");
    var message = document.getElementById("runs-message");
    var dialog = document.getElementById("confirm-delete");
    if (!table || !message || !dialog) return;
    var deleteSelected = document.getElementById("delete-selected");
    var restoreSelected = document.getElementById("restore-selected");

    function refresh() {
      if (window.plimsollRuns) window.plimsollRuns.update();
    }

    function say(text, isError) {
      message.textContent = text;
      message.classList.toggle("error", !!isError);
      message.setAttribute("role", isError ? "alert" : "status");
      message.hidden = false;
    }

    function describe(status, body) {
      var error = body && body.error;
      var text = error && error.message ? error.message : "the server answered HTTP " + status;
      return (status === 403 ? "Not allowed: " : "") + text;
    }

    function call(runId, verb) {
      var path = "/api/v1/runs/" + encodeURIComponent(runId) + (verb === "restore" ? "/restore" : "");
      // A signed-in session's changes carry its CSRF token (the layout's meta tag; absent with
      // authentication off, where there is no session).
      var csrf = document.querySelector("meta[name='csrf-token']");
      var headers = { Accept: "application/json" };
      if (csrf) headers["X-CSRF-Token"] = csrf.getAttribute("content");
      return fetch(path, {
        method: verb === "restore" ? "POST" : "DELETE",
        headers: headers,
        credentials: "same-origin",
      }).then(function (response) {
        return response.json().catch(function () { return null; }).then(function (body) {
          if (!response.ok) throw new Error(describe(response.status, body));
          return body;
        });
      }, function () {
        throw new Error("the server could not be reached");
      });
    }

    function rowOf(runId) {
      return table.querySelector("tr[data-run-id='" + runId + "']");
    }

    function mark(row, deleted) {
      row.classList.toggle("deleted", deleted);
      var nameCell = row.querySelector(".name-cell");
      var badge = nameCell.querySelector(".status-deleted");
      if (deleted && !badge) {
        badge = document.createElement("span");
        badge.className = "badge status-deleted";
        badge.textContent = "deleted";
        nameCell.appendChild(badge);
      } else if (!deleted && badge) {
        badge.remove();
      }
      var action = row.querySelector(".actions button");
      action.className = "link-button " + (deleted ? "restore-run" : "delete-run");
      action.textContent = deleted ? "Restore" : "Delete";
      action.disabled = false;
      var box = row.querySelector("input[name='runs']");
      if (box) box.checked = false;
    }

    function confirmDelete(names) {
      var text = names.length === 1
        ? "Delete the run “" + names[0] + "”?"
        : "Delete these " + names.length + " runs: " + names.slice(0, 5).join(", ") + (names.length > 5 ? ", …" : "") + "?";
      document.getElementById("confirm-delete-text").textContent = text;
      document.getElementById("confirm-delete-yes").textContent = names.length === 1 ? "Delete run" : "Delete " + names.length + " runs";
      dialog.returnValue = "";
      dialog.showModal();
      return new Promise(function (resolve) {
        dialog.addEventListener("close", function () { resolve(dialog.returnValue === "delete"); }, { once: true });
      });
    }

    // One request after the other: a refusal names its run, and the rest still happen.
    function apply(runs, verb) {
      var done = [];
      var failed = [];
      var chain = Promise.resolve();
      runs.forEach(function (run) {
        chain = chain.then(function () {
          var row = rowOf(run.id);
          var action = row && row.querySelector(".actions button");
          if (action) action.disabled = true;
          return call(run.id, verb).then(function () {
            if (row) mark(row, verb === "delete");
            done.push(run.name);
          }, function (error) {
            if (action) action.disabled = false;
            failed.push(run.name + ": " + error.message);
          });
        });
      });
      return chain.then(function () {
        refresh();
        var past = verb === "delete" ? "Deleted" : "Restored";
        if (failed.length) {
          var head = done.length ? past + " " + done.join(", ") + ". " : "";
          say(head + "Could not " + verb + " " + failed.join("; "), true);
        } else if (done.length === 1) {
          say(past + " run “" + done[0] + "”." + (verb === "delete" ? " Restore brings it back." : ""));
        } else {
          say(past + " " + done.length + " runs.");
        }
      });
    }

    function described(row) {
      var action = row.querySelector(".actions button");
      return { id: row.getAttribute("data-run-id"), name: action.getAttribute("data-name") };
    }

    function selected(deleted) {
      var chosen = window.plimsollRuns ? window.plimsollRuns.chosen() : [];
      return chosen.map(function (box) { return box.closest("tr"); })
        .filter(function (row) { return row.classList.contains("deleted") === deleted; })
        .map(described);
    }

    function remove(runs) {
      if (!runs.length) return;
      confirmDelete(runs.map(function (run) { return run.name; })).then(function (yes) {
        if (yes) apply(runs, "delete");
      });
    }

    table.addEventListener("click", function (event) {
      var action = event.target.closest(".actions button");
      if (!action) return;
      var run = described(action.closest("tr"));
      if (action.classList.contains("delete-run")) remove([run]);
      else apply([run], "restore");
    });
    if (deleteSelected) deleteSelected.addEventListener("click", function () { remove(selected(false)); });
    if (restoreSelected) restoreSelected.addEventListener("click", function () { apply(selected(true), "restore"); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
