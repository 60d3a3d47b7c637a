// The SPARQL query editor: pick an example, fill its parameters, run it, see a table; share it as a link or curl.
// Everything from the data or the user is put into the page with textContent, never as HTML.
(function () {
  "use strict";

  const RESULTS_ACCEPT = "application/sparql-results+json, text/turtle;q=0.9";
  const form = document.getElementById("sparql-form");
  const queryBox = document.getElementById("query");
  const parameterBox = document.getElementById("parameters");
  const parameterInputs = document.getElementById("parameter-inputs");
  const statusLine = document.getElementById("status");
  const results = document.getElementById("results");
  const shareLink = document.getElementById("share-link");
  const curlCommand = document.getElementById("curl-command");
  const endpoint = new URL(form.getAttribute("action"), window.location.href).href;
  const examples = JSON.parse(document.getElementById("sparql-examples").textContent) || [];
  const initial = JSON.parse(document.getElementById("sparql-initial").textContent);
  const config = JSON.parse(document.getElementById("sparql-config").textContent) || {};
  const idBase = (config.resourceBase || "") + "id/";
  let running = null;

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  // --- parameters -------------------------------------------------------------------------

  function showParameters(parameters, values) {
    parameterInputs.replaceChildren();
    parameters.forEach(function (parameter) {
      const id = "param-" + parameter.name;
      const row = element("div", null, "parameter-row");
      const label = element("label", "?" + parameter.name);
      label.htmlFor = id;
      const input = element("input");
      input.type = "text";
      input.id = id;
      input.dataset.parameter = parameter.name;
      input.placeholder = parameter.default || "";
      input.value = (values && values[parameter.name]) || parameter.default || "";
      input.addEventListener("input", refreshShare);
      input.addEventListener("keydown", runOnCtrlEnter);
      row.append(label, input);
      parameterInputs.append(row);
    });
    parameterBox.hidden = parameters.length === 0;
  }

  function bindings() {
    const bound = [];
    parameterInputs.querySelectorAll("input[data-parameter]").forEach(function (input) {
      if (input.value.trim() !== "") bound.push(["$" + input.dataset.parameter, input.value.trim()]);
    });
    return bound;
  }

  function requestParameters(extra) {
    const params = new URLSearchParams();
    params.append("query", queryBox.value);
    bindings().forEach(function (pair) { params.append(pair[0], pair[1]); });
    (extra || []).forEach(function (pair) { params.append(pair[0], pair[1]); });
    return params;
  }

  // --- sharing ----------------------------------------------------------------------------

  function shellQuote(text) {
    return "'" + text.replace(/'/g, "'\\''") + "'";
  }

  function refreshShare() {
    shareLink.value = endpoint + "?" + requestParameters().toString();
    const parts = ["curl", "-G", shellQuote(endpoint), "-H", shellQuote("Accept: application/sparql-results+json"),
                   "--data-urlencode", shellQuote("query=" + queryBox.value)];
    bindings().forEach(function (pair) {
      parts.push("--data-urlencode", shellQuote(pair[0] + "=" + pair[1]));
    });
    curlCommand.value = parts.join(" ");
  }

  function copy(targetId, button) {
    const target = document.getElementById(targetId);
    const done = function () {
      const label = button.textContent;
      button.textContent = "Copied";
      window.setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(target.value).then(done, function () { target.select(); });
    } else {
      target.select();
      if (document.execCommand && document.execCommand("copy")) done();
    }
  }

  // --- results ----------------------------------------------------------------------------

  function localHref(iri) {
    // Resource IRIs are served by this explorer under /id/...; other web IRIs link out.
    if (idBase && iri.indexOf(idBase) === 0) return "/id/" + iri.slice(idBase.length);
    return /^https?:\/\//i.test(iri) ? iri : null;
  }

  function termCell(term) {
    const cell = element("td");
    if (!term) return cell;
    if (term.type === "uri") {
      const href = localHref(term.value);
      const node = href ? element("a", term.value) : element("span", term.value);
      if (href) node.href = href;
      node.className = "iri";
      cell.append(node);
    } else if (term.type === "bnode") {
      cell.append(element("span", "_:" + term.value, "bnode"));
    } else if (term.type === "triple") {
      cell.append(element("span", "<< " + JSON.stringify(term.value) + " >>", "muted"));
    } else {
      cell.append(element("span", term.value, "literal"));
      if (term["xml:lang"]) cell.append(element("span", "@" + term["xml:lang"], "term-meta"));
      else if (term.datatype && term.datatype !== "http://www.w3.org/2001/XMLSchema#string") {
        cell.append(element("span", "^^" + term.datatype.replace("http://www.w3.org/2001/XMLSchema#", "xsd:"),
                            "term-meta"));
      }
    }
    return cell;
  }

  function showTable(answer) {
    const variables = answer.head.vars || [];
    const rows = answer.results.bindings;
    const table = element("table", null, "results-table");
    const head = element("thead");
    const headRow = element("tr");
    headRow.append(element("th", "#", "row-number"));
    variables.forEach(function (name) { headRow.append(element("th", "?" + name)); });
    head.append(headRow);
    const body = element("tbody");
    rows.forEach(function (row, index) {
      const tr = element("tr");
      tr.append(element("td", String(index + 1), "row-number"));
      variables.forEach(function (name) { tr.append(termCell(row[name])); });
      body.append(tr);
    });
    table.append(head, body);
    results.replaceChildren(table);
    return rows.length + (rows.length === 1 ? " row" : " rows");
  }

  function showAnswer(contentType, text) {
    if (contentType.indexOf("application/sparql-results+json") === 0) {
      const answer = JSON.parse(text);
      if (typeof answer.boolean === "boolean") {
        results.replaceChildren(element("p", "Answer: " + (answer.boolean ? "yes (true)" : "no (false)"),
                                        "boolean-answer"));
        return "ASK answered";
      }
      return showTable(answer);
    }
    results.replaceChildren(element("pre", text, "graph-answer"));
    const triples = text.split("\n").filter(function (line) { return /\.\s*$/.test(line); }).length;
    return "graph (" + contentType.split(";")[0] + ")" + (triples ? ", about " + triples + " statements" : "");
  }

  function setStatus(text, isError) {
    statusLine.textContent = text;
    statusLine.classList.toggle("error", Boolean(isError));
  }

  function run() {
    if (!queryBox.value.trim()) {
      setStatus("Write a query first.", true);
      return;
    }
    if (running) running.abort();
    const controller = new AbortController();
    running = controller;
    const started = performance.now();
    setStatus("Running…");
    document.getElementById("run").disabled = true;
    refreshShare();
    fetch(endpoint, {
      method: "POST",
      headers: {"Content-Type": "application/x-www-form-urlencoded", "Accept": RESULTS_ACCEPT},
      body: requestParameters().toString(),
      signal: controller.signal,
    }).then(function (response) {
      return response.text().then(function (text) {
        const seconds = ((performance.now() - started) / 1000).toFixed(2);
        if (!response.ok) {
          results.replaceChildren(element("pre", text, "error-answer"));
          setStatus("The endpoint said " + response.status + " after " + seconds + " s.", true);
          return;
        }
        const summary = showAnswer(response.headers.get("Content-Type") || "", text);
        setStatus(summary + " in " + seconds + " s.");
      });
    }).catch(function (error) {
      if (error.name !== "AbortError") setStatus("The request failed: " + error.message, true);
    }).finally(function () {
      if (running === controller) running = null;
      document.getElementById("run").disabled = false;
    });
  }

  function runOnCtrlEnter(event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      run();
    }
  }

  // --- examples ---------------------------------------------------------------------------

  function pick(slug) {
    const example = examples.find(function (candidate) { return candidate.slug === slug; });
    if (!example) return;
    queryBox.value = example.text;
    document.getElementById("example-heading").hidden = false;
    document.getElementById("example-title").textContent = example.title;
    document.getElementById("example-description").textContent = example.description;
    showParameters(example.parameters, null);
    document.querySelectorAll("button.example").forEach(function (button) {
      button.classList.toggle("selected", button.dataset.slug === slug);
      button.setAttribute("aria-pressed", button.dataset.slug === slug ? "true" : "false");
    });
    results.replaceChildren();
    setStatus("");
    refreshShare();
    queryBox.focus();
  }

  document.querySelectorAll("button.example").forEach(function (button) {
    button.addEventListener("click", function () { pick(button.dataset.slug); });
  });

  document.getElementById("example-filter").addEventListener("input", function (event) {
    const words = event.target.value.toLowerCase().split(/\s+/).filter(Boolean);
    document.querySelectorAll("#example-list li").forEach(function (item) {
      const text = item.textContent.toLowerCase();
      item.hidden = !words.every(function (word) { return text.indexOf(word) >= 0; });
    });
  });

  // --- wiring -----------------------------------------------------------------------------

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    run();
  });
  queryBox.addEventListener("keydown", function (event) {
    runOnCtrlEnter(event);
    if (event.key === "Tab" && !event.shiftKey && !event.ctrlKey && !event.altKey) {
      // Indent inside the editor; Shift+Tab still leaves it for keyboard users.
      event.preventDefault();
      const start = queryBox.selectionStart;
      queryBox.setRangeText("  ", start, queryBox.selectionEnd, "end");
      refreshShare();
    }
  });
  queryBox.addEventListener("input", refreshShare);
  document.getElementById("download").addEventListener("click", function () {
    const format = document.getElementById("download-format").value;
    window.location.href = endpoint + "?" + requestParameters([["format", format]]).toString();
  });
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () { copy(button.dataset.copy, button); });
  });

  if (initial && initial.query) {
    // Opened from a shared link: show its parameters (those of a matching example, else as given) and run it.
    const example = examples.find(function (candidate) { return candidate.text === initial.query; });
    const given = Object.keys(initial.bindings || {}).map(function (key) {
      return {name: key.replace(/^\$/, ""), default: ""};
    });
    const values = {};
    Object.keys(initial.bindings || {}).forEach(function (key) { values[key.replace(/^\$/, "")] = initial.bindings[key]; });
    if (example) {
      document.getElementById("example-heading").hidden = false;
      document.getElementById("example-title").textContent = example.title;
      document.getElementById("example-description").textContent = example.description;
    }
    showParameters(example ? example.parameters : given, values);
    refreshShare();
    run();
  } else {
    refreshShare();
  }
})();
