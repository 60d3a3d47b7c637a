// The workbench's result views besides the table: bar chart (label + number), timeline (dates), network
// (CONSTRUCT/DESCRIBE or rows linking IRIs, drawn with the explorer's offline vis-network) and map (rows naming states).
(function () {
  "use strict";

  const R = window.migkgResults;
  const SVG = "http://www.w3.org/2000/svg";
  const STATE_IRI = /\/id\/state\/([A-Z]{3})$/;
  const MAX_BARS = 60;
  const MAX_NETWORK_EDGES = 1500;

  function svg(tag, attributes, text) {
    const node = document.createElementNS(SVG, tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function columns(shape, test) {
    return shape.vars.filter(function (name) {
      let seen = 0;
      const all = shape.rows.every(function (row) {
        if (!row[name]) return true;
        seen += 1;
        return test(row[name]);
      });
      return all && seen > 0;
    });
  }

  const isIri = function (term) { return term.type === "uri"; };
  const isState = function (term) { return term.type === "uri" && STATE_IRI.test(term.value); };

  function year(term) {
    const match = /^(-?\d{4})(?:-(\d{2}))?(?:-(\d{2}))?/.exec(term.value);
    if (!match) return null;
    return Number(match[1]) + ((Number(match[2] || 1) - 1) / 12) + ((Number(match[3] || 1) - 1) / 365);
  }

  // What the answer's shape allows: the first entry is the view chosen by default.
  function available(shape) {
    if (shape.graph) return ["network", "table"];
    const numbers = columns(shape, R.isNumeric);
    const dates = columns(shape, R.isTemporal);
    const resources = columns(shape, isIri);
    const states = columns(shape, isState);
    const views = ["table"];
    const labelled = shape.vars.length > numbers.length;
    if (numbers.length && labelled && shape.rows.length > 1) views.push("chart");
    if (dates.length && shape.rows.length > 1) views.push("timeline");
    if (resources.length >= 2 || (resources.length >= 1 && shape.vars.length >= 3 && spo(shape))) views.push("network");
    if (states.length) views.push("map");
    // A label + a count reads best as bars; dates as a timeline; a list of states with a number as a map.
    if (views.indexOf("map") >= 0 && numbers.length && shape.vars.length <= 3) return move(views, "map");
    if (views.indexOf("chart") >= 0 && shape.vars.length <= 3 && shape.rows.length <= MAX_BARS) return move(views, "chart");
    if (views.indexOf("timeline") >= 0 && shape.vars.length <= 4) return move(views, "timeline");
    return views;
  }

  function move(views, first) {
    return [first].concat(views.filter(function (view) { return view !== first; }));
  }

  function spo(shape) {
    // Subject–predicate–object rows: an IRI column followed by a column of IRIs used as predicates.
    return shape.vars.length >= 3 && shape.rows.every(function (row) {
      return !row[shape.vars[1]] || row[shape.vars[1]].type === "uri";
    });
  }

  function empty(container, message) {
    container.replaceChildren(R.element("p", message, "muted view-empty"));
  }

  // --- bar chart -------------------------------------------------------------------------

  function drawChart(container, shape, cells) {
    const value = columns(shape, R.isNumeric)[0];
    const label = shape.vars.filter(function (name) { return name !== value; })
      .sort(function (a, b) { return labelScore(shape, b) - labelScore(shape, a); })[0];
    const bars = shape.rows.filter(function (row) { return row[value]; }).map(function (row) {
      return {label: cells.text(row[label]) || "(none)", value: Number(row[value].value), term: row[label]};
    }).sort(function (a, b) { return b.value - a.value; }).slice(0, MAX_BARS);
    if (!bars.length) return empty(container, "No numbers to draw.");
    const max = Math.max.apply(null, bars.map(function (bar) { return bar.value; })) || 1;
    const rowHeight = 24, labelWidth = 300, width = 860, barSpace = width - labelWidth - 60;
    const chart = svg("svg", {viewBox: "0 0 " + width + " " + (bars.length * rowHeight + 30), role: "img",
                              class: "bar-chart", "aria-label": "?" + value + " by ?" + label});
    chart.append(svg("text", {x: labelWidth, y: 14, class: "axis-title"}, "?" + value));
    bars.forEach(function (bar, index) {
      const y = 22 + index * rowHeight;
      const group = svg("g", {class: "bar"});
      const name = svg("text", {x: labelWidth - 8, y: y + 15, "text-anchor": "end", class: "bar-label"},
                       bar.label.length > 42 ? bar.label.slice(0, 40) + "…" : bar.label);
      const title = svg("title", {}, bar.label + ": " + bar.value);
      const length = Math.max(1, (bar.value / max) * barSpace);
      group.append(title, name, svg("rect", {x: labelWidth, y: y + 3, width: length, height: rowHeight - 7, rx: 2}),
                   svg("text", {x: labelWidth + length + 6, y: y + 15, class: "bar-value"}, String(bar.value)));
      if (bar.term && bar.term.type === "uri" && cells.href(bar.term.value)) {
        const link = svg("a", {href: cells.href(bar.term.value)});
        link.append(group);
        chart.append(link);
      } else {
        chart.append(group);
      }
    });
    container.replaceChildren(chart);
  }

  function labelScore(shape, name) {
    // Prefer a column of readable text, then of IRIs (shown as their labels).
    const first = shape.rows.find(function (row) { return row[name]; });
    if (!first) return 0;
    const term = first[name];
    if (term.type === "literal" || term.type === "typed-literal") return R.isNumeric(term) ? 0 : 3;
    return term.type === "uri" ? 2 : 1;
  }

  // --- timeline --------------------------------------------------------------------------

  function drawTimeline(container, shape, cells) {
    const date = columns(shape, R.isTemporal)[0];
    const label = shape.vars.filter(function (name) { return name !== date; })
      .sort(function (a, b) { return labelScore(shape, b) - labelScore(shape, a); })[0];
    const events = shape.rows.filter(function (row) { return row[date] && year(row[date]) !== null; })
      .map(function (row) {
        return {when: year(row[date]), date: row[date].value, label: label ? cells.text(row[label]) : row[date].value,
                term: label ? row[label] : null};
      }).sort(function (a, b) { return a.when - b.when; });
    if (!events.length) return empty(container, "No dates to draw.");
    const first = Math.floor(events[0].when), last = Math.ceil(events[events.length - 1].when) + 1;
    // Drawn at the width it is shown at (a phone's 360 px as much as a desktop's 960 px), so that labels keep the
    // page's 12 px instead of shrinking with a fixed viewBox.
    const width = Math.max(300, Math.min(960, container.clientWidth || 860));
    const left = 20, right = 20, rowHeight = 22, top = 36, gap = 9;
    const span = Math.max(1, last - first);
    const x = function (when) { return left + ((when - first) / span) * (width - left - right); };
    const height = top + events.length * rowHeight + 10;
    const drawing = svg("svg", {viewBox: "0 0 " + width + " " + height, role: "img", class: "timeline",
                                "aria-label": "?" + (label || date) + " by ?" + date});
    const step = Math.max(1, Math.ceil(span / Math.max(2, Math.floor((width - left - right) / 56))));
    for (let tick = first; tick <= last; tick += step) {
      drawing.append(svg("line", {x1: x(tick), x2: x(tick), y1: top - 8, y2: height, class: "tick"}),
                     svg("text", {x: x(tick), y: top - 14, "text-anchor": "middle", class: "tick-label"}, String(tick)));
    }
    const labels = [];
    events.forEach(function (event, index) {
      const y = top + index * rowHeight + 8;  // one row per event: events of the same date never share a line
      const cx = x(event.when);
      const group = svg("g", {class: "event"});
      const when = " (" + event.date.slice(0, 10) + ")";
      const text = svg("text", {y: y + 4, class: "event-label"}, event.label + when);
      group.append(svg("title", {}, event.label + " — " + event.date), svg("circle", {cx: cx, cy: y, r: 5}), text);
      labels.push({text: text, cx: cx, name: event.label, when: when});
      if (event.term && event.term.type === "uri" && cells.href(event.term.value)) {
        const link = svg("a", {href: cells.href(event.term.value)});
        link.append(group);
        drawing.append(link);
      } else {
        drawing.append(group);
      }
    });
    container.replaceChildren(drawing);
    // Only now can text be measured: each label goes on the side of its dot where it fits, else on the roomier
    // side with its name shortened by an ellipsis (the date stays; the whole label is in the tooltip), never past
    // the drawing's edge.
    labels.forEach(function (entry) {
      const roomRight = width - 4 - (entry.cx + gap), roomLeft = entry.cx - gap - 4;
      const length = entry.text.getComputedTextLength();
      const onRight = length <= roomRight || (length > roomLeft && roomRight >= roomLeft);
      entry.text.setAttribute("x", onRight ? entry.cx + gap : entry.cx - gap);
      entry.text.setAttribute("text-anchor", onRight ? "start" : "end");
      fitText(entry.text, entry.name, entry.when, onRight ? roomRight : roomLeft);
    });
  }

  function fitText(text, name, suffix, room) {
    if (text.getComputedTextLength() <= room) return;
    let low = 0, high = name.length;  // the longest start of the name that fits with its ellipsis and the suffix
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      text.textContent = name.slice(0, middle) + "…" + suffix;
      if (text.getComputedTextLength() <= room) low = middle; else high = middle - 1;
    }
    text.textContent = name.slice(0, low).trimEnd() + "…" + suffix;
  }

  // --- network ---------------------------------------------------------------------------

  function edges(shape) {
    if (shape.graph || spo(shape)) {
      const [s, p, o] = shape.vars;
      return shape.rows.filter(function (row) { return row[s] && row[o]; })
        .map(function (row) { return {from: row[s], to: row[o], via: row[p]}; });
    }
    const resources = columns(shape, isIri);
    const found = [];
    shape.rows.forEach(function (row) {
      for (let i = 0; i + 1 < resources.length; i += 1) {
        if (row[resources[i]] && row[resources[i + 1]]) {
          found.push({from: row[resources[i]], to: row[resources[i + 1]], via: null, name: resources[i + 1]});
        }
      }
    });
    return found;
  }

  function drawNetwork(container, shape, cells) {
    if (!window.vis || !window.vis.Network) return empty(container, "The network library did not load.");
    const links = edges(shape).slice(0, MAX_NETWORK_EDGES);
    if (!links.length) return empty(container, "No links to draw.");
    const nodes = new Map(), drawnEdges = [], seen = new Set();
    function node(term) {
      const key = term.type + ":" + term.value;
      if (!nodes.has(key)) {
        const text = term.type === "uri" ? cells.label(term.value) : term.value;
        nodes.set(key, {id: key, label: text.length > 40 ? text.slice(0, 38) + "…" : text,
                        title: term.type === "uri" ? (cells.prefixed(term.value) || term.value) : text,
                        shape: term.type === "uri" ? "dot" : "box", group: term.type === "uri" ? "resource" : "literal",
                        href: term.type === "uri" ? cells.href(term.value) : null});
      }
      return key;
    }
    links.forEach(function (link) {
      const from = node(link.from), to = node(link.to);
      const label = link.via ? cells.label(link.via.value) : "";
      const key = from + "|" + label + "|" + to;
      if (seen.has(key)) return;
      seen.add(key);
      drawnEdges.push({from: from, to: to, label: label, arrows: "to"});
    });
    const canvas = R.element("div", null, "network-view");
    canvas.id = "result-network";
    container.replaceChildren(canvas);
    const network = new window.vis.Network(canvas, {nodes: Array.from(nodes.values()), edges: drawnEdges}, {
      nodes: {size: 12, font: {size: 13, color: "#1d2733"}, color: {background: "#7fa7cf", border: "#1f5f99"}},
      groups: {literal: {color: {background: "#f4efe1", border: "#b9a66f"}}},
      edges: {color: {color: "#9aa5b1"}, font: {size: 10, color: "#5b6877", strokeWidth: 3, align: "middle"},
              smooth: {enabled: true, type: "dynamic"}},
      physics: {solver: "forceAtlas2Based", forceAtlas2Based: {gravitationalConstant: -60, springLength: 110},
                stabilization: {enabled: true, iterations: 300, fit: true}},
      interaction: {hover: true, tooltipDelay: 150},
    });
    network.once("stabilizationIterationsDone", function () { canvas.dataset.stabilized = "true"; });
    network.on("doubleClick", function (event) {
      const picked = event.nodes.length && nodes.get(event.nodes[0]);
      if (picked && picked.href) window.location.href = picked.href;
    });
    window.migkgResultNetwork = network;
  }

  // --- map -------------------------------------------------------------------------------

  function drawMap(container, shape, cells) {
    const state = columns(shape, isState)[0];
    const value = columns(shape, R.isNumeric)[0];
    const byCode = {};
    shape.rows.forEach(function (row) {
      if (!row[state]) return;
      const code = STATE_IRI.exec(row[state].value)[1];
      const entry = byCode[code] || (byCode[code] = {code: code, iri: row[state].value, value: 0, rows: 0});
      entry.rows += 1;
      entry.value = value && row[value] ? Math.max(entry.value, Number(row[value].value)) : entry.rows;
    });
    if (!window.MigkgMap || !window.MigkgMap.draw) return empty(container, "The map library did not load.");
    // The explorer's map (static/map.js, MigkgMap): states by ISO alpha-3, shaded by the number or the row count.
    const options = {states: {}, labels: {}, links: {}, unit: value ? "" : "rows",
                     title: "States in the answer" + (value ? ", by ?" + value : ", by number of rows")};
    Object.keys(byCode).forEach(function (code) {
      const entry = byCode[code];
      options.states[code] = entry.value;
      options.labels[code] = cells.label(entry.iri);
      options.links[code] = cells.href(entry.iri);
    });
    const holder = R.element("div", null, "map-view");
    holder.id = "result-map";
    container.replaceChildren(holder);
    window.MigkgMap.draw(holder, options).catch(function (error) {
      holder.dataset.drawn = "error";
      holder.append(R.element("p", "The map could not be drawn: " + error.message, "muted view-empty"));
    });
  }

  window.migkgViews = {
    available: available,
    draw: {chart: drawChart, timeline: drawTimeline, network: drawNetwork, map: drawMap},
  };
})();
