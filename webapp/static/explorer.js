/* Search type-ahead: asks /search.json as the user types and lists matches (built with textContent only). */
(function () {
  "use strict";
  var inputs = document.querySelectorAll("input[data-typeahead]");
  Array.prototype.forEach.call(inputs, function (input) {
    var list = document.getElementById(input.getAttribute("aria-controls"));
    var timer = null, last = "", active = -1;
    function clear() { while (list.firstChild) { list.removeChild(list.firstChild); } list.hidden = true; active = -1; }
    function show(results) {
      clear();
      results.forEach(function (result) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = result.url;
        link.setAttribute("role", "option");
        var kind = document.createElement("span");
        kind.className = "kind";
        kind.textContent = result.type || result.kind_title;
        link.appendChild(kind);
        link.appendChild(document.createTextNode(result.label));
        if (result.matched !== result.label) {
          var matched = document.createElement("span");
          matched.className = "muted small";
          matched.textContent = " — " + result.matched;
          link.appendChild(matched);
        }
        item.appendChild(link);
        list.appendChild(item);
      });
      list.hidden = results.length === 0;
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
      var links = list.querySelectorAll("a");
      if (!links.length) { return; }
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (active >= 0) { links[active].classList.remove("active"); }
        active = (active + (event.key === "ArrowDown" ? 1 : links.length - 1)) % links.length;
        links[active].classList.add("active");
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        window.location.href = links[active].href;
      } else if (event.key === "Escape") { clear(); }
    });
    document.addEventListener("click", function (event) { if (!list.contains(event.target) && event.target !== input) { clear(); } });
  });
})();
