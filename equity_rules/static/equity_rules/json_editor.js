// Rules editor: checks each JSON textarea as you type, formats it, and keeps tab for indenting.
(function () {
  "use strict";

  function position(text, error) {
    var match = /position (\d+)/.exec(error.message);
    if (!match) return "";
    var offset = Number(match[1]);
    var before = text.slice(0, offset).split("\n");
    return " (line " + before.length + ", column " + (before[before.length - 1].length + 1) + ")";
  }

  function check(area, status) {
    try {
      var value = JSON.parse(area.value);
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw new Error("the rules must be a JSON object { … }");
      }
      status.textContent = "✓ valid JSON (the server also checks the rules themselves)";
      status.className = "json-editor-status ok";
      area.setCustomValidity("");
      return true;
    } catch (error) {
      status.textContent = "✗ " + error.message + position(area.value, error);
      status.className = "json-editor-status error";
      area.setCustomValidity("invalid JSON: " + error.message);
      return false;
    }
  }

  function enhance(area) {
    var bar = document.createElement("div");
    bar.className = "json-editor-bar";
    var format = document.createElement("button");
    format.type = "button";
    format.textContent = "Format";
    var status = document.createElement("span");
    status.setAttribute("role", "status");
    bar.appendChild(format);
    bar.appendChild(status);
    var wrap = document.createElement("div");
    wrap.className = "json-editor-wrap";
    area.parentNode.insertBefore(wrap, area);
    wrap.appendChild(area);
    wrap.appendChild(bar);
    area.rows = Math.min(30, Math.max(4, area.value.split("\n").length + 1));

    format.addEventListener("click", function () {
      if (check(area, status)) {
        area.value = JSON.stringify(JSON.parse(area.value), null, 2);
      }
    });
    area.addEventListener("input", function () { check(area, status); });
    area.addEventListener("keydown", function (event) {
      if (event.key !== "Tab" || event.shiftKey) return;
      event.preventDefault();
      var start = area.selectionStart;
      area.setRangeText("  ", start, area.selectionEnd, "end");
      check(area, status);
    });
    check(area, status);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea.json-editor").forEach(enhance);
  });
})();
