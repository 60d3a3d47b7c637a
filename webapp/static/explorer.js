/* Search type-ahead (an ARIA 1.2 combobox): asks /search.json as the user types and lists matches as options
 * (built with textContent only); arrow keys move the active option, Enter opens it, Escape closes the list. */
(function () {
  "use strict";
  // Filters that apply as soon as a pointer picks a value (no inline onchange= under the Content-Security-Policy).
  // A value changed with the keyboard waits for the form's button: arrow keys step through the options one by
  // one, and leaving the page at the first step would lose the reader's place (WCAG 3.2.2, On Input).
  Array.prototype.forEach.call(document.querySelectorAll("select[data-submit-on-change]"), function (select) {
    var keyed = false;
    select.addEventListener("keydown", function () { keyed = true; });
    select.addEventListener("pointerdown", function () { keyed = false; });
    select.addEventListener("change", function () { if (!keyed) { select.form.submit(); } });
  });
  var inputs = document.querySelectorAll("input[data-typeahead]");
  Array.prototype.forEach.call(inputs, function (input) {
    var list = document.getElementById(input.getAttribute("aria-controls"));
    var timer = null, last = "", active = -1;
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    function options() { return list.querySelectorAll("[role=option]"); }
    function clear() {
      while (list.firstChild) { list.removeChild(list.firstChild); }
      list.hidden = true; active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }
    function open(option) {
      var url = option.getAttribute("data-url");
      // Result URLs are local paths made by the app; anything else is not followed.
      if (url && url.charAt(0) === "/" && url.charAt(1) !== "/") { window.location.href = url; }
    }
    function show(results) {
      clear();
      results.forEach(function (result, index) {
        var item = document.createElement("li");
        item.id = list.id + "-option-" + index;
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", "false");
        item.setAttribute("data-url", result.url);
        var kind = document.createElement("span");
        kind.className = "kind";
        kind.textContent = result.type || result.kind_title;
        item.appendChild(document.createTextNode(result.label));
        if (result.matched !== result.label) {
          var matched = document.createElement("span");
          matched.className = "muted small";
          matched.textContent = " — " + result.matched;
          item.appendChild(matched);
        }
        item.appendChild(kind);
        item.addEventListener("mousedown", function (event) { event.preventDefault(); open(item); });
        list.appendChild(item);
      });
      list.hidden = results.length === 0;
      input.setAttribute("aria-expanded", results.length ? "true" : "false");
    }
    function activate(index) {
      var items = options();
      if (active >= 0 && items[active]) { items[active].classList.remove("active"); items[active].setAttribute("aria-selected", "false"); }
      active = index;
      items[active].classList.add("active");
      items[active].setAttribute("aria-selected", "true");
      input.setAttribute("aria-activedescendant", items[active].id);
    }
    input.addEventListener("input", function () {
      var text = input.value.trim();
      clearTimeout(timer);
      if (text.length < 2) { clear(); return; }
      timer = setTimeout(function () {
        last = text;
        fetch(input.getAttribute("data-typeahead") + "?limit=8&q=" + encodeURIComponent(text), { headers: { Accept: "application/json" } })
          .then(function (response) { return response.ok ? response.json() : { results: [] }; })
          .then(function (data) { if (last === text) { show(data.results || []); } })
          .catch(function () { clear(); });
      }, 150);
    });
    input.addEventListener("keydown", function (event) {
      var items = options();
      if (!items.length) { return; }
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        activate((active + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length);
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        open(items[active]);
      } else if (event.key === "Escape") { clear(); }
    });
    input.addEventListener("blur", function () { setTimeout(clear, 150); });
  });
})();
