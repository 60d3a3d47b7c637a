/* MigkgMap: a world map of states coloured by a value, drawn as SVG from Natural Earth 110m (npm world-atlas)
 * with d3-geo and topojson-client, all served by this host. Reusable by any page:
 *
 *   MigkgMap.draw(element, {
 *     states: {"THA": 3, "PHL": 5},        // ISO 3166-1 alpha-3 -> a number (shaded in steps) or a category (text)
 *     labels: {"THA": "Thailand"},          // optional: names to show (else the atlas's name, else the code)
 *     links:  {"THA": "/id/state/THA"},     // optional: local pages to open from a state
 *     title: "States by number of processes", // the map's accessible name
 *     unit: "processes", unitOne: "process", // optional: the word after a number (and after 1) in legends and tooltips
 *     listMissing: true                     // list the states the atlas cannot draw under the map (default true)
 *   }).then(function (result) { result.drawn; result.missing; });
 *
 * Nothing from the data is parsed as HTML: names go in with textContent and setAttribute only.
 */
(function (global) {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  // In order (d3-geo needs d3-array); each is loaded only if the page has not loaded it already.
  var DEPENDENCIES = [
    [function () { return global.d3 && global.d3.range; }, "/assets/d3-array/dist/d3-array.min.js"],
    [function () { return global.d3 && global.d3.geoPath; }, "/assets/d3-geo/dist/d3-geo.min.js"],
    [function () { return global.topojson && global.topojson.feature; },
     "/assets/topojson-client/dist/topojson-client.min.js"]
  ];
  var ATLAS_URL = "/assets/world-atlas/countries-110m.json";
  var CODES_URL = "/map/codes.json";  // ISO 3166 numeric (the atlas's ids) -> alpha-3, from pycountry
  // Sequential steps (ColorBrewer YlGnBu, colour-blind safe) for numbers; Okabe-Ito for categories.
  var STEPS = ["#c7e9b4", "#7fcdbb", "#41b6c4", "#2c7fb8", "#253494"];
  var CATEGORIES = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000"];
  var EMPTY = "#e4e8ed";
  var loaded = {};
  var shared = null;

  function loadScript(url) {
    if (!loaded[url]) {
      loaded[url] = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = url;
        script.onload = resolve;
        script.onerror = function () { reject(new Error("could not load " + url)); };
        document.head.appendChild(script);
      });
    }
    return loaded[url];
  }

  function ready() {
    if (!shared) {
      var chain = Promise.resolve();
      DEPENDENCIES.forEach(function (dependency) {
        chain = chain.then(function () { return dependency[0]() ? null : loadScript(dependency[1]); });
      });
      shared = chain.then(function () {
        return Promise.all([fetchJson(ATLAS_URL), fetchJson(CODES_URL)]);
      }).then(function (answers) {
        var topology = answers[0], codes = answers[1];
        var countries = global.topojson.feature(topology, topology.objects.countries).features
          .filter(function (feature) { return feature.id !== "010"; });  // Antarctica: no state, much space
        countries.forEach(function (feature) { feature.alpha3 = codes[feature.id] || null; });
        return countries;
      });
    }
    return shared;
  }

  function fetchJson(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) { throw new Error(url + " answered " + response.status); }
      return response.json();
    });
  }

  function element(name, attributes) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attributes || {}).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    return node;
  }

  function isNumber(value) { return typeof value === "number" && isFinite(value); }

  /* value -> colour, and the legend entries [{colour, text}] */
  function scale(values, unitFor) {
    var numbers = values.filter(isNumber);
    if (numbers.length === values.length && numbers.length) {
      var max = Math.max.apply(null, numbers), min = Math.min.apply(null, numbers);
      var steps = Math.min(STEPS.length, max - min + 1);
      var palette = STEPS.slice(STEPS.length - steps);
      var width = (max - min + 1) / steps;
      var stepOf = function (value) { return Math.min(steps - 1, Math.floor((value - min) / width)); };
      var legend = palette.map(function (colour, index) {
        var low = Math.ceil(min + index * width), high = Math.ceil(min + (index + 1) * width) - 1;
        var text = low >= high ? String(low) : low + "–" + high;
        var word = unitFor(low === high ? low : high);
        return { colour: colour, text: text + (word ? " " + word : "") };
      });
      return { colour: function (value) { return palette[stepOf(value)]; }, legend: legend };
    }
    var categories = [];
    values.forEach(function (value) { if (categories.indexOf(String(value)) < 0) { categories.push(String(value)); } });
    return {
      colour: function (value) { return CATEGORIES[categories.indexOf(String(value)) % CATEGORIES.length]; },
      legend: categories.map(function (category, index) {
        return { colour: CATEGORIES[index % CATEGORIES.length], text: category };
      })
    };
  }

  function describe(name, value, unitFor) {
    if (value === true || value === undefined || value === null || value === "") { return name; }
    var word = isNumber(value) ? unitFor(value) : "";
    return name + ": " + value + (word ? " " + word : "");
  }

  function localLink(url) {
    // Only paths on this host are followed.
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" ? url : null;
  }

  function draw(container, options) {
    options = options || {};
    var states = options.states || {};
    var labels = options.labels || {};
    var links = options.links || {};
    var unitFor = function (count) { return count === 1 && options.unitOne ? options.unitOne : options.unit || ""; };
    container.classList.add("migkg-map");
    container.setAttribute("data-drawn", "false");
    return ready().then(function (countries) {
      while (container.firstChild) { container.removeChild(container.firstChild); }
      var width = 960, height = 470;
      var collection = { type: "FeatureCollection", features: countries };
      var projection = global.d3.geoEqualEarth().fitExtent([[4, 4], [width - 4, height - 4]], collection);
      var path = global.d3.geoPath(projection);
      var codes = Object.keys(states);
      var colouring = scale(codes.map(function (code) { return states[code]; }), unitFor);
      var svg = element("svg", { viewBox: "0 0 " + width + " " + height, width: "100%", role: "group",
                                 "aria-label": options.title || "World map", focusable: "false" });
      var background = element("g", { "aria-hidden": "true" });
      var coloured = element("g", {});
      svg.appendChild(background);
      svg.appendChild(coloured);
      var drawn = [];
      countries.forEach(function (feature) {
        var code = feature.alpha3;
        var d = path(feature);
        if (!d) { return; }
        var shape = element("path", { d: d, "class": "country", "data-iso": code || "" });
        if (code && Object.prototype.hasOwnProperty.call(states, code)) {
          drawn.push(code);
          var name = labels[code] || (feature.properties && feature.properties.name) || code;
          var text = describe(name, states[code], unitFor);
          shape.setAttribute("fill", colouring.colour(states[code]));
          var tooltip = element("title", {});
          tooltip.textContent = text;
          shape.appendChild(tooltip);
          var href = localLink(links[code]);
          if (href) {
            var anchor = element("a", { href: href, "aria-label": text, "class": "country-link" });
            anchor.appendChild(shape);
            coloured.appendChild(anchor);
          } else {
            shape.setAttribute("role", "img");
            shape.setAttribute("aria-label", text);
            coloured.appendChild(shape);
          }
        } else {
          shape.setAttribute("fill", EMPTY);
          background.appendChild(shape);
        }
      });
      container.appendChild(svg);

      if (colouring.legend.length) {
        var legend = document.createElement("ul");
        legend.className = "map-legend";
        if (options.legendTitle) { legend.setAttribute("aria-label", options.legendTitle); }
        colouring.legend.forEach(function (entry) {
          var item = document.createElement("li");
          var swatch = document.createElement("span");
          swatch.className = "swatch";
          swatch.setAttribute("aria-hidden", "true");
          swatch.style.backgroundColor = entry.colour;  // CSSOM, allowed under style-src 'self'
          item.appendChild(swatch);
          item.appendChild(document.createTextNode(entry.text));
          legend.appendChild(item);
        });
        container.appendChild(legend);
      }

      var missing = codes.filter(function (code) { return drawn.indexOf(code) < 0; }).sort();
      if (missing.length && options.listMissing !== false) {
        var note = document.createElement("p");
        note.className = "map-missing";
        note.appendChild(document.createTextNode("Too small for this map (" + missing.length + "): "));
        missing.forEach(function (code, index) {
          var name = labels[code] || code;
          var href = localLink(links[code]);
          var item = href ? document.createElement("a") : document.createElement("span");
          if (href) { item.href = href; }
          item.textContent = describe(name, states[code], unitFor);
          note.appendChild(item);
          if (index < missing.length - 1) { note.appendChild(document.createTextNode(" · ")); }
        });
        container.appendChild(note);
      }
      container.setAttribute("data-drawn", "true");
      return { drawn: drawn.sort(), missing: missing, svg: svg };
    });
  }

  /* Draw every element with data-map="<id of a JSON block>": {states, labels, links, title, unit, listMissing}. */
  function drawDeclared() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-map]"), function (container) {
      var source = document.getElementById(container.getAttribute("data-map"));
      if (!source) { return; }
      draw(container, JSON.parse(source.textContent)).catch(function (error) {
        container.setAttribute("data-drawn", "error");
        var message = document.createElement("p");
        message.className = "notice";
        message.textContent = "The map could not be drawn: " + error.message;
        container.appendChild(message);
      });
    });
  }

  global.MigkgMap = { draw: draw, drawDeclared: drawDeclared };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawDeclared);
  } else {
    drawDeclared();
  }
})(window);
