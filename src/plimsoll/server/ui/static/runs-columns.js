/* The runs table's column picker: find a column, show or hide it, move it up or down (buttons, or
   Alt+Up / Alt+Down on its checkbox), remembered per experiment in localStorage, with a reset.
   The server's defaults come in the markup: the order of the headers, `data-default-hidden` on
   the keys every run shares, `data-pinned` on those the page sorts or filters on (always shown).
   The name column stays first and is not listed. What is stored is the reader's order and only
   the visibility they changed, so a column that appears later still gets the server's default. */
(function () {
  "use strict";

  var STORE_PREFIX = "plimsoll.runs.columns.";

  function init() {
    var table = document.getElementById("runs-table");
    var picker = document.getElementById("column-picker");
    var openButton = document.getElementById("columns-button");
    if (!table || !picker || !openButton) return;
    var list = document.getElementById("column-list");
    var search = document.getElementById("column-search");
    var storeKey = STORE_PREFIX + (table.getAttribute("data-columns-key") || "all");

    var headers = Array.prototype.slice.call(table.tHead.rows[0].querySelectorAll("th[data-col]"))
      .filter(function (th) { return th.getAttribute("data-kind") !== "name"; });
    var columns = {};
    var defaultOrder = headers.map(function (th) {
      var id = th.getAttribute("data-col");
      columns[id] = {
        id: id,
        label: th.getAttribute("data-label") || id,
        kind: th.getAttribute("data-kind"),
        pinned: th.getAttribute("data-pinned") === "true",
        defaultShown: th.getAttribute("data-default-hidden") !== "true",
      };
      return id;
    });

    function load() {
      try {
        var saved = JSON.parse(window.localStorage.getItem(storeKey) || "null");
        if (saved && Array.isArray(saved.order)) return saved;
      } catch (ignored) { /* unreadable: the defaults */ }
      return null;
    }

    function stateFrom(saved) {
      var order = [];
      var known = saved ? saved.order.filter(function (id) { return columns[id]; }) : [];
      known.forEach(function (id) { if (order.indexOf(id) < 0) order.push(id); });
      // A column the reader has not placed goes after its neighbour in the server's order.
      defaultOrder.forEach(function (id, index) {
        if (order.indexOf(id) >= 0) return;
        var before = index > 0 ? order.indexOf(defaultOrder[index - 1]) : -1;
        order.splice(before + 1, 0, id);
      });
      var shown = {};
      defaultOrder.forEach(function (id) {
        var column = columns[id];
        var value = column.defaultShown;
        if (saved && (saved.hidden || []).indexOf(id) >= 0) value = false;
        if (saved && (saved.shown || []).indexOf(id) >= 0) value = true;
        shown[id] = value || column.pinned;
      });
      return { order: order, shown: shown };
    }

    var state = stateFrom(load());

    function save() {
      var hidden = [], shown = [];
      defaultOrder.forEach(function (id) {
        if (columns[id].pinned) return;
        if (state.shown[id] && !columns[id].defaultShown) shown.push(id);
        if (!state.shown[id] && columns[id].defaultShown) hidden.push(id);
      });
      try {
        window.localStorage.setItem(storeKey, JSON.stringify({ order: state.order, hidden: hidden, shown: shown }));
      } catch (ignored) { /* storage full or off: the choice lasts until the page is left */ }
    }

    function apply() {
      Array.prototype.forEach.call(table.rows, function (row) {
        var cells = {};
        Array.prototype.forEach.call(row.querySelectorAll(":scope > [data-col]"), function (cell) {
          cells[cell.getAttribute("data-col")] = cell;
        });
        var end = row.querySelector(":scope > .actions");
        state.order.forEach(function (id) {
          var cell = cells[id];
          if (!cell) return;
          row.insertBefore(cell, end);
          cell.hidden = !state.shown[id];
        });
      });
    }

    function button(text, label, disabled) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "move";
      b.textContent = text;
      b.setAttribute("aria-label", label);
      b.disabled = disabled;
      return b;
    }

    function move(id, by, focusSelector) {
      var from = state.order.indexOf(id);
      var to = from + by;
      if (from < 0 || to < 0 || to >= state.order.length) return;
      state.order.splice(from, 1);
      state.order.splice(to, 0, id);
      save();
      apply();
      render();
      var item = list.querySelector("li[data-col='" + cssEscape(id) + "']");
      if (item) {
        item.classList.add("moved");
        var target = item.querySelector(focusSelector) || item.querySelector("input");
        if (target && !target.disabled) target.focus();
        else item.querySelector("input").focus();
      }
    }

    function cssEscape(text) {
      return window.CSS && CSS.escape ? CSS.escape(text) : text.replace(/['\\]/g, "\\$&");
    }

    function render() {
      var needle = (search.value || "").trim().toLowerCase();
      list.textContent = "";
      state.order.forEach(function (id, index) {
        var column = columns[id];
        var item = document.createElement("li");
        item.setAttribute("data-col", id);
        var label = document.createElement("label");
        var box = document.createElement("input");
        box.type = "checkbox";
        box.checked = !!state.shown[id];
        box.disabled = column.pinned;
        box.addEventListener("change", function () {
          state.shown[id] = box.checked;
          save();
          apply();
        });
        box.addEventListener("keydown", function (event) {
          if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
          event.preventDefault();
          move(id, event.key === "ArrowUp" ? -1 : 1, "input");
        });
        var name = document.createElement("span");
        name.className = "picker-label";
        name.textContent = column.label;
        name.title = column.label;
        label.appendChild(box);
        if (column.kind === "param" || column.kind === "metric") {
          var kind = document.createElement("span");
          kind.className = "picker-kind";
          kind.textContent = column.kind;
          label.appendChild(kind);
        }
        label.appendChild(name);
        if (column.pinned) {
          var note = document.createElement("span");
          note.className = "pinned-note";
          note.textContent = "pinned";
          note.title = "Always shown while the page sorts or filters on it";
          label.appendChild(note);
        }
        item.appendChild(label);
        var up = button("↑", "Move " + column.label + " left", index === 0);
        var down = button("↓", "Move " + column.label + " right", index === state.order.length - 1);
        up.classList.add("up");
        down.classList.add("down");
        up.addEventListener("click", function () { move(id, -1, ".up"); });
        down.addEventListener("click", function () { move(id, 1, ".down"); });
        item.appendChild(up);
        item.appendChild(down);
        item.hidden = needle !== "" && column.label.toLowerCase().indexOf(needle) < 0 && column.kind.indexOf(needle) < 0;
        list.appendChild(item);
      });
    }

    function setOpen(open) {
      picker.hidden = !open;
      openButton.setAttribute("aria-expanded", open ? "true" : "false");
      if (open) search.focus();
      else openButton.focus();
    }

    openButton.hidden = false;
    openButton.addEventListener("click", function () { setOpen(picker.hidden); });
    document.getElementById("columns-close").addEventListener("click", function () { setOpen(false); });
    picker.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); setOpen(false); }
    });
    search.addEventListener("input", render);
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") event.preventDefault(); // inside the compare form: do not submit it
    });
    document.getElementById("columns-reset").addEventListener("click", function () {
      try { window.localStorage.removeItem(storeKey); } catch (ignored) { /* nothing stored */ }
      state = stateFrom(null);
      apply();
      render();
    });

    apply();
    render();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
