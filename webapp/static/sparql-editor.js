// The SPARQL workbench: a YASQE editor (highlighting, completion of the project's prefixes, classes and properties,
// syntax markers), the example catalogue with parameters by name, readable answers with views, short share links
// and named downloads. Everything from the data or the user is put into the page with textContent, never as HTML.
(function () {
  "use strict";

  const RESULTS_ACCEPT = "application/sparql-results+json, application/n-triples;q=0.9";
  const R = window.migkgResults, V = window.migkgViews;
  const form = document.getElementById("sparql-form");
  const queryBox = document.getElementById("query");
  const parameterBox = document.getElementById("parameters");
  const parameterInputs = document.getElementById("parameter-inputs");
  const statusLine = document.getElementById("status");
  const answerSection = document.getElementById("answer");
  const results = document.getElementById("results");
  const viewTabs = document.getElementById("views");
  const downloads = document.getElementById("downloads");
  const shareLink = document.getElementById("share-link");
  const curlCommand = document.getElementById("curl-command");
  const endpoint = new URL(form.getAttribute("action"), window.location.href).href;
  const examples = JSON.parse(document.getElementById("sparql-examples").textContent) || [];
  const initial = JSON.parse(document.getElementById("sparql-initial").textContent);
  const config = JSON.parse(document.getElementById("sparql-config").textContent) || {};
  const prefixes = config.prefixes || {};
  const element = R.element;
  let running = null;
  let current = null; // the example on screen, if the editor still holds its text
  let answer = null; // {shape, cells, views, view}
  let errorMark = null;

  // --- the editor ------------------------------------------------------------------------

  const YasqeClass = window.Yasqe && (window.Yasqe.default || window.Yasqe);
  let yasqe = null;
  const vocabulary = fetch(config.vocabulary, {headers: {Accept: "application/json"}})
    .then(function (response) { return response.ok ? response.json() : {}; })
    .catch(function () { return {}; });
  const describe = {};
  vocabulary.then(function (found) {
    (found.classes || []).concat(found.properties || []).forEach(function (term) {
      describe[term.name] = term.label || term.description || "";
    });
  });

  function termCompleter(name, kind, validPosition) {
    return {
      name: name,
      bulk: true,
      autoShow: true,
      persistenceId: null,
      get: function () {
        return vocabulary.then(function (found) {
          return (found[kind] || []).map(function (term) { return term.name; });
        });
      },
      isValidCompletionPosition: function (editor) {
        const token = editor.getCompleteToken();
        if (!/^[A-Za-z][\w-]*:[\w.-]*$/.test(token.string)) return false;
        return validPosition(editor, token);
      },
      preProcessToken: function (editor, token) {
        token.autocompletionString = token.string;
        return token;
      },
      postprocessHints: function (editor, hints) {
        return hints.map(function (hint) {
          const about = describe[hint.text];
          return Object.assign({}, hint, {displayText: about ? hint.text + "  — " + about.slice(0, 60) : hint.text});
        });
      },
    };
  }

  function afterTypeKeyword(editor, token) {
    const previous = editor.getPreviousNonWsToken(editor.getDoc().getCursor().line, token);
    const property = previous && previous.state && previous.state.lastProperty;
    return property === "a" || property === "rdf:type";
  }

  function inPredicatePosition(editor, token) {
    return !afterTypeKeyword(editor, token) && token.state.possibleCurrent.indexOf("a") >= 0;
  }

  function createEditor() {
    if (!YasqeClass) return null; // the plain textarea still works
    YasqeClass.registerAutocompleter(termCompleter("migkg-classes", "classes", afterTypeKeyword), false);
    YasqeClass.registerAutocompleter(termCompleter("migkg-properties", "properties", inPredicatePosition), false);
    // PREFIX lines complete from the project's namespaces, never from prefix.cc.
    YasqeClass.forkAutocompleter("prefixes", {
      name: "migkg-prefixes", persistenceId: null, onInitialize: function () {},
      get: function () {
        return Object.keys(prefixes).sort().map(function (prefix) { return prefix + ": <" + prefixes[prefix] + ">"; });
      },
    }, false);
    const holder = element("div", null, "query-editor");
    holder.id = "query-editor";
    queryBox.after(holder);
    const editor = new YasqeClass(holder, {
      value: "",
      persistenceId: null, // no local storage: a link or an example is the state
      createShareableLink: null, // the page's own share box gives short links
      consumeShareLink: null,
      createShortLink: undefined,
      showQueryButton: false,
      prefixCcApi: null,
      resizeable: true,
      editorHeight: "18rem",
      // The editable surface is CodeMirror's contenteditable div inside the scrolled area (not a hidden textarea
      // outside it): screen readers read the query itself, and the scrolled area holds its own focusable content.
      inputStyle: "contenteditable",
      screenReaderLabel: "SPARQL query",
      autocompleters: ["migkg-prefixes", "migkg-classes", "migkg-properties", "variables"],
      requestConfig: {endpoint: endpoint, method: "POST"},
      extraKeys: Object.assign({}, YasqeClass.defaults.extraKeys, {
        "Ctrl-Enter": function () { run(); },
        "Cmd-Enter": function () { run(); },
        "Ctrl-S": function () {},
      }),
    });
    // The project's prefixes are known to every query without PREFIX lines: tell the syntax checker.
    const mode = editor.getMode();
    const startState = mode.startState;
    mode.startState = function () {
      const state = startState.apply(mode, arguments);
      Object.keys(prefixes).forEach(function (prefix) {
        if (state.prefixes[prefix] === undefined) state.prefixes[prefix] = prefixes[prefix];
      });
      return state;
    };
    editor.setValue(queryBox.value);
    editor.on("change", function () {
      queryBox.value = editor.getValue();
      clearErrorMark();
      if (current && queryBox.value !== current.text) current = null;
      refreshShare();
    });
    queryBox.hidden = true;
    queryBox.removeAttribute("required");
    document.querySelector("label[for=query]").htmlFor = "";
    return editor;
  }

  function queryText() {
    return yasqe ? yasqe.getValue() : queryBox.value;
  }

  function setQueryText(text) {
    queryBox.value = text;
    if (yasqe) {
      yasqe.setValue(text);
      yasqe.clearHistory();
    }
  }

  function clearErrorMark() {
    if (errorMark && yasqe) {
      yasqe.removeLineClass(errorMark, "background", "server-error-line");
    }
    errorMark = null;
  }

  // The endpoint reports parse errors as "at LINE:COLUMN"; mark that line in the editor.
  function markServerError(message) {
    const match = /at (\d+):(\d+)/.exec(message);
    if (!match || !yasqe) return;
    const line = Number(match[1]) - 1, column = Number(match[2]) - 1;
    if (line < 0 || line >= yasqe.lineCount()) return;
    clearErrorMark();
    errorMark = yasqe.addLineClass(line, "background", "server-error-line");
    yasqe.getDoc().setCursor({line: line, ch: Math.max(0, column)});
  }

  // --- parameters ------------------------------------------------------------------------

  const TERM_SYNTAX = /^(<.*>|"[^]*|'[^]*|[A-Za-z][\w-]*:[\w.\-\/]*|[a-zA-Z][a-zA-Z0-9+.-]*:\/\/\S+|[+-]?\d+(\.\d+)?|true|false)$/;

  function prefixedName(iri) {
    let best = null;
    Object.keys(prefixes).forEach(function (prefix) {
      const namespace = prefixes[prefix];
      if (iri.indexOf(namespace) === 0 && /^[\w-]+$/.test(iri.slice(namespace.length)) &&
          (!best || namespace.length > prefixes[best].length)) best = prefix;
    });
    return best ? best + ":" + iri.slice(prefixes[best].length) : "<" + iri + ">";
  }

  function search(text, limit) {
    const url = config.search + "?" + new URLSearchParams({q: text, limit: String(limit)}).toString();
    return fetch(url, {headers: {Accept: "application/json"}})
      .then(function (response) { return response.ok ? response.json() : {results: []}; })
      .then(function (found) { return found.results || []; });
  }

  function typeAhead(input, hint) {
    const list = element("ul", null, "suggestions");
    list.setAttribute("role", "listbox");
    list.id = input.id + "-suggestions";
    list.hidden = true;
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);
    let timer = null, active = -1, choices = [];

    function choose(result) {
      input.value = prefixedName(result.iri);
      hint.textContent = result.label;
      hint.classList.remove("error");
      list.hidden = true;
      refreshShare();
    }

    function highlight(index) {
      active = index;
      Array.from(list.children).forEach(function (item, position) {
        item.setAttribute("aria-selected", position === index ? "true" : "false");
      });
    }

    input.addEventListener("input", function () {
      hint.textContent = "";
      hint.classList.remove("error");
      window.clearTimeout(timer);
      const text = input.value.trim();
      if (text.length < 2 || TERM_SYNTAX.test(text)) {
        list.hidden = true;
        return;
      }
      timer = window.setTimeout(function () {
        search(text, 8).then(function (found) {
          if (input.value.trim() !== text) return;
          choices = found;
          list.replaceChildren();
          found.forEach(function (result, index) {
            const item = element("li", null, "suggestion");
            item.setAttribute("role", "option");
            item.append(element("span", result.label, "suggestion-label"),
                        element("span", result.type || result.kind_title || "", "suggestion-type"));
            item.addEventListener("mousedown", function (event) { event.preventDefault(); choose(result); });
            item.addEventListener("mouseenter", function () { highlight(index); });
            list.append(item);
          });
          if (!found.length) {
            hint.textContent = "No resource is named “" + text + "”.";
            hint.classList.add("error");
          }
          list.hidden = found.length === 0;
          highlight(found.length ? 0 : -1);
        });
      }, 150);
    });
    input.addEventListener("keydown", function (event) {
      if (list.hidden) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        highlight((active + step + choices.length) % choices.length);
      } else if (event.key === "Enter" && active >= 0 && !(event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        choose(choices[active]);
      } else if (event.key === "Escape") {
        list.hidden = true;
      }
    });
    input.addEventListener("blur", function () { window.setTimeout(function () { list.hidden = true; }, 100); });
    return list;
  }

  function showParameters(parameters, values) {
    parameterInputs.replaceChildren();
    parameters.forEach(function (parameter) {
      const id = "param-" + parameter.name;
      const row = element("div", null, "parameter-row");
      const label = element("label", "?" + parameter.name);
      label.htmlFor = id;
      const field = element("div", null, "parameter-field");
      const input = element("input");
      input.type = "text";
      input.id = id;
      input.autocomplete = "off";
      input.dataset.parameter = parameter.name;
      input.dataset.default = parameter.default || "";
      input.placeholder = "a name, or " + (parameter.default || "an IRI");
      input.value = (values && values[parameter.name]) || parameter.default || "";
      const hint = element("span", null, "parameter-hint");
      hint.setAttribute("aria-live", "polite");
      input.addEventListener("input", refreshShare);
      input.addEventListener("keydown", runOnCtrlEnter);
      field.append(input, typeAhead(input, hint), hint);
      row.append(label, field);
      parameterInputs.append(row);
    });
    parameterBox.hidden = parameters.length === 0;
  }

  function parameterFields() {
    return Array.from(parameterInputs.querySelectorAll("input[data-parameter]"));
  }

  // Names typed in parameter fields become IRIs before the query runs; an unknown name stops the run.
  function resolveNames() {
    return Promise.all(parameterFields().map(function (input) {
      const text = input.value.trim();
      const hint = input.parentNode.querySelector(".parameter-hint");
      if (!text || TERM_SYNTAX.test(text)) return Promise.resolve(true);
      return search(text, 5).then(function (found) {
        const folded = text.toLowerCase();
        let exact = found.filter(function (result) {
          return result.score === 100 || (result.label || "").toLowerCase() === folded;
        });
        if (exact.length > 1) {
          // A source page titled after a process is not the process: prefer the graph's own resources.
          const resources = exact.filter(function (result) {
            return result.iri.indexOf((config.resourceBase || "") + "id/") === 0;
          });
          if (resources.length) exact = resources;
        }
        if (exact.length === 1 || (exact.length === 0 && found.length === 1)) {
          const chosen = exact[0] || found[0];
          input.value = prefixedName(chosen.iri);
          hint.textContent = chosen.label;
          hint.classList.remove("error");
          return true;
        }
        hint.classList.add("error");
        hint.textContent = found.length
          ? "Several resources match “" + text + "”: pick one from the list."
          : "No resource is named “" + text + "”.";
        return false;
      });
    })).then(function (answers) { return answers.every(Boolean); });
  }

  function bindings() {
    return parameterFields().filter(function (input) { return input.value.trim() !== ""; })
      .map(function (input) { return [input.dataset.parameter, input.value.trim()]; });
  }

  function requestParameters(extra) {
    const params = new URLSearchParams();
    params.append("query", queryText());
    bindings().forEach(function (pair) { params.append("$" + pair[0], pair[1]); });
    (extra || []).forEach(function (pair) { params.append(pair[0], pair[1]); });
    return params;
  }

  // An example keeps its short name; only values that differ from the defaults travel.
  function exampleParameters(extra) {
    const params = new URLSearchParams();
    params.append("example", current.slug);
    parameterFields().forEach(function (input) {
      const value = input.value.trim();
      if (value && value !== input.dataset.default) params.append(input.dataset.parameter, value);
    });
    (extra || []).forEach(function (pair) { params.append(pair[0], pair[1]); });
    return params;
  }

  // --- sharing ---------------------------------------------------------------------------

  function toBase64Url(bytes) {
    let binary = "";
    bytes.forEach(function (byte) { binary += String.fromCharCode(byte); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function fromBase64Url(text) {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(binary, function (char) { return char.charCodeAt(0); });
  }

  function streamBytes(bytes, transform) {
    const stream = new Blob([bytes]).stream().pipeThrough(transform);
    return new Response(stream).arrayBuffer().then(function (buffer) { return new Uint8Array(buffer); });
  }

  // Ad hoc queries travel in the URL fragment, deflated and base64url-encoded: nothing is stored on the server.
  function compressedFragment() {
    const state = JSON.stringify({q: queryText(), b: bindings()});
    return streamBytes(new TextEncoder().encode(state), new CompressionStream("deflate-raw"))
      .then(function (bytes) { return "#q=" + toBase64Url(bytes); });
  }

  function readFragment() {
    const match = /^#q=([A-Za-z0-9_-]+)$/.exec(window.location.hash);
    if (!match) return Promise.resolve(null);
    return streamBytes(fromBase64Url(match[1]), new DecompressionStream("deflate-raw"))
      .then(function (bytes) { return JSON.parse(new TextDecoder().decode(bytes)); })
      .catch(function () { return null; });
  }

  function shellQuote(text) {
    return "'" + text.replace(/'/g, "'\\''") + "'";
  }

  // The address bar holds the query last run (its share link), so that Back from a result's page, or a reload,
  // opens the editor with that query and its answer, not the one the page was first loaded with.
  function remember(link) {
    if (link !== window.location.href) window.history.replaceState(window.history.state, "", link);
  }

  let shareTicket = 0;
  function refreshShare(running) {
    const ticket = ++shareTicket;
    const base = endpoint.split("?")[0];
    if (current) {
      shareLink.value = base + "?" + exampleParameters().toString();
      if (running === true) remember(shareLink.value);
      const parts = ["curl", "-G", shellQuote(base), "-H", shellQuote("Accept: text/csv")];
      exampleParameters().forEach(function (value, key) {
        parts.push("--data-urlencode", shellQuote(key + "=" + value));
      });
      curlCommand.value = parts.join(" ");
    } else {
      compressedFragment().then(function (fragment) {
        if (ticket !== shareTicket) return;
        shareLink.value = base + fragment;
        if (running === true) remember(shareLink.value);
      });
      const parts = ["curl", "-G", shellQuote(base), "-H", shellQuote("Accept: application/sparql-results+json"),
                     "--data-urlencode", shellQuote("query=" + queryText())];
      bindings().forEach(function (pair) {
        parts.push("--data-urlencode", shellQuote("$" + pair[0] + "=" + pair[1]));
      });
      curlCommand.value = parts.join(" ");
    }
    refreshDownloads();
  }

  function refreshDownloads() {
    const base = endpoint.split("?")[0];
    const name = current ? current.slug : "query";
    downloads.querySelectorAll("a[data-format]").forEach(function (link) {
      const extra = [["format", link.dataset.format], ["download", name]];
      const params = current ? exampleParameters(extra) : requestParameters(extra);
      link.href = base + "?" + params.toString();
      link.setAttribute("download", "");
    });
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

  // --- answers ---------------------------------------------------------------------------

  // N-Triples (what the endpoint sends for CONSTRUCT/DESCRIBE here) as subject–predicate–object rows.
  const NT_TERM = /\s*(<[^>]*>|_:\S+|"(?:[^"\\]|\\.)*"(?:@[A-Za-z0-9-]+|\^\^<[^>]*>)?)/y;

  function ntTerm(text) {
    if (text[0] === "<") return {type: "uri", value: text.slice(1, -1)};
    if (text.indexOf("_:") === 0) return {type: "bnode", value: text.slice(2)};
    const end = text.lastIndexOf('"');
    const term = {type: "literal", value: JSON.parse(text.slice(0, end + 1))};
    const rest = text.slice(end + 1);
    if (rest[0] === "@") term["xml:lang"] = rest.slice(1);
    else if (rest.indexOf("^^<") === 0) term.datatype = rest.slice(3, -1);
    return term;
  }

  function parseTriples(text) {
    const rows = [];
    text.split("\n").forEach(function (line) {
      if (!line.trim() || line.trim()[0] === "#") return;
      NT_TERM.lastIndex = 0;
      const terms = [];
      for (let i = 0; i < 3; i += 1) {
        const match = NT_TERM.exec(line);
        if (!match) return;
        terms.push(ntTerm(match[1]));
      }
      rows.push({subject: terms[0], predicate: terms[1], object: terms[2]});
    });
    return {vars: ["subject", "predicate", "object"], rows: rows, graph: true};
  }

  function setStatus(text, isError) {
    statusLine.textContent = text;
    statusLine.classList.toggle("error", Boolean(isError));
  }

  function showView(name) {
    if (!answer) return;
    answer.view = name;
    viewTabs.querySelectorAll("button[data-view]").forEach(function (button) {
      button.setAttribute("aria-selected", button.dataset.view === name ? "true" : "false");
    });
    results.dataset.view = name;
    const draw = name === "table" ? R.drawTable : V.draw[name];
    draw(results, answer.shape, answer.cells);
  }

  function showAnswer(shape, labels, seconds) {
    const cells = new R.Cells(config, labels);
    const views = V.available(shape);
    answer = {shape: shape, cells: cells, views: views, view: views[0]};
    viewTabs.hidden = false;
    viewTabs.querySelectorAll("button[data-view]").forEach(function (button) {
      button.hidden = views.indexOf(button.dataset.view) < 0;
    });
    downloads.hidden = false;
    downloads.querySelectorAll("a[data-kind]").forEach(function (link) {
      link.hidden = (link.dataset.kind === "graph") !== Boolean(shape.graph);
    });
    const count = shape.rows.length;
    const noun = shape.graph ? (count === 1 ? " statement" : " statements") : (count === 1 ? " row" : " rows");
    setStatus(count + noun + " in " + seconds + " s.");
    showView(answer.view);
  }

  function clearAnswer() {
    answer = null;
    viewTabs.hidden = true;
    downloads.hidden = true;
    results.replaceChildren();
    delete results.dataset.view;
  }

  function run() {
    if (!queryText().trim()) {
      setStatus("Write a query first.", true);
      return;
    }
    if (running) running.abort();
    const controller = new AbortController();
    running = controller;
    const runButton = document.getElementById("run");
    runButton.disabled = true;
    setStatus("Running…");
    clearErrorMark();
    const started = performance.now();
    resolveNames().then(function (resolved) {
      if (!resolved) {
        setStatus("A parameter names nothing in the graph; see the note beside it.", true);
        return null;
      }
      refreshShare(true);
      return fetch(endpoint.split("?")[0], {
        method: "POST",
        headers: {"Content-Type": "application/x-www-form-urlencoded", "Accept": RESULTS_ACCEPT},
        body: requestParameters().toString(),
        signal: controller.signal,
      }).then(function (response) {
        return response.text().then(function (text) {
          if (!response.ok) {
            clearAnswer();
            results.replaceChildren(element("pre", text, "error-answer"));
            markServerError(text);
            setStatus("The endpoint said " + response.status + " after " +
                      ((performance.now() - started) / 1000).toFixed(2) + " s.", true);
            return;
          }
          const type = response.headers.get("Content-Type") || "";
          let shape;
          if (type.indexOf("application/sparql-results+json") === 0) {
            const parsed = JSON.parse(text);
            if (typeof parsed.boolean === "boolean") {
              clearAnswer();
              results.replaceChildren(element("p", "Answer: " + (parsed.boolean ? "yes (true)" : "no (false)"),
                                              "boolean-answer"));
              setStatus("ASK answered in " + ((performance.now() - started) / 1000).toFixed(2) + " s.");
              return;
            }
            shape = {vars: parsed.head.vars || [], rows: parsed.results.bindings, graph: false};
          } else {
            shape = parseTriples(text);
          }
          const language = (navigator.language || "en").split("-")[0];
          return R.fetchLabels(config.labels, R.iris(shape), language).then(function (labels) {
            showAnswer(shape, labels, ((performance.now() - started) / 1000).toFixed(2));
          });
        });
      });
    }).then(function () {
      if (answer || results.firstChild) answerSection.scrollIntoView({block: "start"});
    }).catch(function (error) {
      if (error.name !== "AbortError") setStatus("The request failed: " + error.message, true);
    }).finally(function () {
      if (running === controller) running = null;
      runButton.disabled = false;
    });
  }

  function runOnCtrlEnter(event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      run();
    }
  }

  // --- examples --------------------------------------------------------------------------

  function showExample(example) {
    current = example;
    document.getElementById("example-heading").hidden = !example;
    if (example) {
      document.getElementById("example-title").textContent = example.title;
      document.getElementById("example-description").textContent = example.description;
    }
    document.querySelectorAll("button.example").forEach(function (button) {
      const selected = Boolean(example) && button.dataset.slug === example.slug;
      button.classList.toggle("selected", selected);
      button.setAttribute("aria-pressed", selected ? "true" : "false");
    });
  }

  function pick(slug) {
    const example = examples.find(function (candidate) { return candidate.slug === slug; });
    if (!example) return;
    setQueryText(example.text);
    showExample(example);
    showParameters(example.parameters, null);
    clearAnswer();
    setStatus("");
    refreshShare();
    if (yasqe) yasqe.focus();
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

  // --- wiring ----------------------------------------------------------------------------

  yasqe = createEditor();
  window.migkgEditor = yasqe;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    run();
  });
  queryBox.addEventListener("keydown", runOnCtrlEnter);
  queryBox.addEventListener("input", function () {
    if (current && queryBox.value !== current.text) current = null;
    refreshShare();
  });
  viewTabs.querySelectorAll("button[data-view]").forEach(function (button) {
    button.addEventListener("click", function () { showView(button.dataset.view); });
  });
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () { copy(button.dataset.copy, button); });
  });

  function openWith(text, values) {
    // A shared link: show the matching example (if any) with its parameters, then run it.
    setQueryText(text);
    const example = examples.find(function (candidate) { return candidate.text === text; });
    const given = Object.keys(values).map(function (name) { return {name: name, default: ""}; });
    showExample(example || null);
    if (example) {
      // Values equal to the defaults are not repeated in short links; show them as defaults.
      showParameters(example.parameters, values);
    } else {
      showParameters(given, values);
    }
    refreshShare();
    run();
  }

  readFragment().then(function (shared) {
    if (shared && typeof shared.q === "string") {
      const values = {};
      (shared.b || []).forEach(function (pair) { values[pair[0]] = pair[1]; });
      openWith(shared.q, values);
    } else if (initial && initial.query) {
      const values = {};
      Object.keys(initial.bindings || {}).forEach(function (key) {
        const term = initial.bindings[key];
        values[key.replace(/^\$/, "")] = /^<[^>]*>$/.test(term) ? prefixedName(term.slice(1, -1)) : term;
      });
      openWith(initial.query, values);
    } else {
      refreshShare();
    }
  });
})();
