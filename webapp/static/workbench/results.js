// The workbench's readable answer: terms as labelled links (prefixed name on hover, copy button), a sortable,
// filterable, paged table with a sticky header. Data reaches the page only through textContent and attributes.
(function () {
  "use strict";

  const PAGE_SIZE = 100;
  const LABEL_BATCH = 500;
  const XSD = "http://www.w3.org/2001/XMLSchema#";
  const NUMERIC = ["integer", "decimal", "double", "float", "long", "int", "short", "nonNegativeInteger",
                   "positiveInteger", "nonPositiveInteger", "negativeInteger", "unsignedInt", "unsignedLong"]
    .map(function (name) { return XSD + name; });
  const TEMPORAL = ["date", "dateTime", "gYear", "gYearMonth"].map(function (name) { return XSD + name; });
  // A literal that is nothing but IRIs (a GROUP_CONCAT of sources) is shown as a list of links.
  const IRI_LIST = /^\s*(?:https?:\/\/[^\s,;|<>"]+)(?:\s*[\s,;|]\s*https?:\/\/[^\s,;|<>"]+)*\s*$/;

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function isNumeric(term) {
    return Boolean(term && term.type !== "uri" && term.type !== "bnode" && NUMERIC.indexOf(term.datatype) >= 0);
  }

  function isTemporal(term) {
    return Boolean(term && term.type !== "uri" && term.type !== "bnode" && TEMPORAL.indexOf(term.datatype) >= 0);
  }

  function iriList(term) {
    if (!term || term.type === "uri" || term.type === "bnode" || !IRI_LIST.test(term.value)) return null;
    return term.value.trim().split(/\s*[\s,;|]\s*/);
  }

  // --- labels ----------------------------------------------------------------------------

  // Every IRI in the answer (cells and IRI lists), once.
  function iris(shape) {
    const seen = new Set();
    shape.rows.forEach(function (row) {
      shape.vars.forEach(function (name) {
        const term = row[name];
        if (!term) return;
        if (term.type === "uri") seen.add(term.value);
        (iriList(term) || []).forEach(function (iri) { seen.add(iri); });
      });
    });
    return Array.from(seen);
  }

  function fetchLabels(url, wanted, language) {
    const batches = [];
    for (let start = 0; start < wanted.length; start += LABEL_BATCH) {
      batches.push(wanted.slice(start, start + LABEL_BATCH));
    }
    return Promise.all(batches.map(function (batch) {
      return fetch(url, {
        method: "POST",
        headers: {"Content-Type": "application/json", "Accept": "application/json"},
        body: JSON.stringify({iris: batch, lang: language}),
      }).then(function (response) { return response.ok ? response.json() : {labels: {}}; })
        .catch(function () { return {labels: {}}; });
    })).then(function (answers) {
      const labels = {};
      answers.forEach(function (answer) { Object.assign(labels, answer.labels || {}); });
      return labels;
    });
  }

  // --- cells -----------------------------------------------------------------------------

  function Cells(config, labels) {
    this.config = config;
    this.labels = labels;
  }

  Cells.prototype.label = function (iri) {
    const known = this.labels[iri];
    if (known && known.known) return known.label;
    const prefixed = this.prefixed(iri);
    return prefixed || iri;
  };

  Cells.prototype.prefixed = function (iri) {
    const known = this.labels[iri];
    if (known && known.prefixed) return known.prefixed;
    const prefixes = this.config.prefixes || {};
    let best = null;
    Object.keys(prefixes).forEach(function (prefix) {
      const namespace = prefixes[prefix];
      if (iri.indexOf(namespace) === 0 && (!best || namespace.length > prefixes[best].length)) best = prefix;
    });
    return best ? best + ":" + iri.slice(prefixes[best].length) : null;
  };

  Cells.prototype.href = function (iri) {
    const known = this.labels[iri];
    if (known && known.href) return known.href;
    const base = this.config.resourceBase || "";
    if (base && iri.indexOf(base + "id/") === 0) return "/" + iri.slice(base.length);
    return /^https?:\/\//i.test(iri) ? iri : null;
  };

  // The text a term sorts and filters by: what the reader sees.
  Cells.prototype.text = function (term) {
    if (!term) return "";
    if (term.type === "uri") return this.label(term.value);
    const list = iriList(term);
    if (list) return list.map(this.label, this).join(" ");
    return term.value;
  };

  Cells.prototype.link = function (iri) {
    const wrapper = element("span", null, "term-iri");
    const href = this.href(iri);
    const link = href ? element("a", this.label(iri)) : element("span", this.label(iri));
    if (href) link.href = href;
    const prefixed = this.prefixed(iri);
    link.title = this.label(iri) + "\n" + (prefixed ? prefixed + "\n" : "") + iri;
    link.className = "iri-label";
    const copy = element("button", null, "copy-iri");
    copy.type = "button";
    copy.title = "Copy the IRI";
    copy.setAttribute("aria-label", "Copy the IRI " + iri);
    copy.dataset.iri = iri;
    wrapper.append(link, copy);
    return wrapper;
  };

  Cells.prototype.cell = function (term) {
    const cell = element("td");
    if (!term) return cell;
    if (term.type === "uri") {
      cell.append(this.link(term.value));
      return cell;
    }
    if (term.type === "bnode") {
      cell.append(element("span", "_:" + term.value, "bnode"));
      return cell;
    }
    if (term.type === "triple") {
      cell.append(element("span", "<< " + JSON.stringify(term.value) + " >>", "muted"));
      return cell;
    }
    const list = iriList(term);
    if (list) {
      const items = element("ul", null, "iri-list");
      list.forEach(function (iri) {
        const item = element("li");
        item.append(this.link(iri));
        items.append(item);
      }, this);
      cell.append(items);
      return cell;
    }
    if (isNumeric(term)) cell.className = "number";
    cell.append(element("span", term.value, term.value.length > 60 ? "literal long" : "literal"));
    if (term["xml:lang"]) {
      cell.append(element("span", "@" + term["xml:lang"], "term-meta"));
    } else if (term.datatype && term.datatype !== XSD + "string" && !isNumeric(term)) {
      cell.append(element("span", this.prefixed(term.datatype) || term.datatype, "term-meta"));
    }
    return cell;
  };

  // --- the table -------------------------------------------------------------------------

  function compare(a, b) {
    const x = Number(a), y = Number(b);
    if (a !== "" && b !== "" && !isNaN(x) && !isNaN(y)) return x - y;
    return a.localeCompare(b, undefined, {sensitivity: "base", numeric: true});
  }

  function drawTable(container, shape, cells) {
    const state = {sortBy: null, descending: false, filter: "", page: 0};
    const rows = shape.rows.map(function (row, index) {
      const texts = shape.vars.map(function (name) { return cells.text(row[name]); });
      return {row: row, index: index, texts: texts, haystack: texts.join("\u0001").toLowerCase()};
    });

    const tools = element("div", null, "table-tools");
    const filter = element("input");
    filter.type = "search";
    filter.placeholder = "Filter rows";
    filter.setAttribute("aria-label", "Filter the rows");
    filter.className = "table-filter";
    const shown = element("span", null, "muted table-count");
    const pager = element("span", null, "table-pager");
    const previous = element("button", "‹ Previous");
    const next = element("button", "Next ›");
    previous.type = next.type = "button";
    const pageText = element("span", null, "muted");
    pager.append(previous, pageText, next);
    tools.append(filter, shown, pager);

    const scroller = element("div", null, "table-scroller");
    const table = element("table", null, "results-table");
    const head = element("thead");
    const headRow = element("tr");
    headRow.append(element("th", "#", "row-number"));
    const headers = shape.vars.map(function (name, column) {
      const th = element("th");
      const button = element("button", "?" + name, "sort");
      button.type = "button";
      button.title = "Sort by ?" + name;
      button.addEventListener("click", function () {
        state.descending = state.sortBy === column ? !state.descending : false;
        state.sortBy = column;
        state.page = 0;
        update();
      });
      th.append(button);
      th.setAttribute("aria-sort", "none");
      headRow.append(th);
      return th;
    });
    head.append(headRow);
    const body = element("tbody");
    table.append(head, body);
    scroller.append(table);
    container.replaceChildren(tools, scroller);

    function visible() {
      const words = state.filter.toLowerCase().split(/\s+/).filter(Boolean);
      let selected = rows.filter(function (entry) {
        return words.every(function (word) { return entry.haystack.indexOf(word) >= 0; });
      });
      if (state.sortBy !== null) {
        const column = state.sortBy, sign = state.descending ? -1 : 1;
        selected = selected.slice().sort(function (a, b) {
          return sign * compare(a.texts[column], b.texts[column]) || a.index - b.index;
        });
      }
      return selected;
    }

    function update() {
      const selected = visible();
      const pages = Math.max(1, Math.ceil(selected.length / PAGE_SIZE));
      state.page = Math.min(state.page, pages - 1);
      const start = state.page * PAGE_SIZE;
      const fragment = document.createDocumentFragment();
      selected.slice(start, start + PAGE_SIZE).forEach(function (entry) {
        const tr = element("tr");
        tr.append(element("td", String(entry.index + 1), "row-number"));
        shape.vars.forEach(function (name) { tr.append(cells.cell(entry.row[name])); });
        fragment.append(tr);
      });
      body.replaceChildren(fragment);
      headers.forEach(function (th, column) {
        th.setAttribute("aria-sort", state.sortBy === column ? (state.descending ? "descending" : "ascending") : "none");
      });
      shown.textContent = selected.length === rows.length ? "" : selected.length + " of " + rows.length + " rows match";
      pager.hidden = pages === 1;
      pageText.textContent = "page " + (state.page + 1) + " of " + pages;
      previous.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
    }

    filter.addEventListener("input", function () { state.filter = filter.value; state.page = 0; update(); });
    previous.addEventListener("click", function () { state.page -= 1; update(); });
    next.addEventListener("click", function () { state.page += 1; update(); });
    update();
  }

  function copyText(text, button) {
    const done = function () {
      button.classList.add("copied");
      button.textContent = "✓";
      window.setTimeout(function () { button.classList.remove("copied"); button.textContent = ""; }, 1200);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
    } else {
      const scratch = element("textarea");
      scratch.value = text;
      document.body.append(scratch);
      scratch.select();
      if (document.execCommand && document.execCommand("copy")) done();
      scratch.remove();
    }
  }

  // One listener for every copy button the table ever draws.
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("button.copy-iri");
    if (button) copyText(button.dataset.iri, button);
  });

  window.migkgResults = {
    isNumeric: isNumeric,
    isTemporal: isTemporal,
    iris: iris,
    fetchLabels: fetchLabels,
    Cells: Cells,
    drawTable: drawTable,
    element: element,
  };
})();
