"""/sparql: the SPARQL 1.1 Protocol endpoint (read-only), Graph Store reads, the service description and the query editor."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass, field

from flask import Blueprint, Response, current_app, render_template, request
from flask_cors import CORS
from pyoxigraph import BlankNode, Literal, NamedNode, QueryResultsFormat, RdfFormat, Triple, Variable, serialize
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, Forbidden, MethodNotAllowed, UnsupportedMediaType, default_exceptions

from migkg.backend import GRAPH_DUMP, Answer, Dataset
from migkg.catalogue import CannedQuery, QueryInputError, parse_term, readable_catalogue, term_text
from migkg.namespaces import PREFIXES

from . import conneg
from .backend_access import backend
from .form_parsing import read_form, require_utf8_url
from .response_cache import keep_for_build
from .security import public_root
from .workbench import expand_example

blueprint = Blueprint("sparql", __name__)

# Browser tools on other origins (YASGUI, notebooks) may query; nothing here depends on cookies. The answer
# says `*`, not the caller's origin: answers are public and kept by shared caches, which would hand one
# origin's echo to the next caller (flask-cors adds no `Vary: Origin` to an echo of `*`).
CORS(blueprint, origins="*", send_wildcard=True, methods=["GET", "HEAD", "POST", "OPTIONS"],
     allow_headers=["Accept", "Content-Type", "If-None-Match"], expose_headers=["ETag", "Content-Type"],
     max_age=86400)

# Offered in order of preference: the first is the default when the client does not say.
RESULT_FORMATS = [QueryResultsFormat.JSON, QueryResultsFormat.XML, QueryResultsFormat.CSV, QueryResultsFormat.TSV]
GRAPH_FORMATS = [RdfFormat.TURTLE, RdfFormat.N_TRIPLES, RdfFormat.RDF_XML, RdfFormat.JSON_LD, RdfFormat.N_QUADS,
                 RdfFormat.TRIG]
FORMAT_PARAMETERS = ("format", "output", "results")  # what SPARQLWrapper, Virtuoso and 4store clients send
QUERY_METHODS = ["GET", "HEAD", "POST", "OPTIONS"]
GRAPH_READ_METHODS = ["GET", "HEAD", "OPTIONS"]
FORM = "application/x-www-form-urlencoded"
DIRECT = "application/sparql-query"
UPDATE = "application/sparql-update"
READ_ONLY = ("This SPARQL endpoint is read-only: SPARQL Update (the `update` parameter or "
             "application/sparql-update) is not accepted, and no request changes the data.")

SD = "http://www.w3.org/ns/sparql-service-description#"
FORMATS_NS = "http://www.w3.org/ns/formats/"
VOID_NS = "http://rdfs.org/ns/void#"
DCTERMS_NS = "http://purl.org/dc/terms/"
RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")


def _fail(status: int, message: str):
    """Raise the HTTP error for `status`; the app's error handler renders `message` (text/plain under /sparql)."""
    if status == 405:
        raise MethodNotAllowed(description=message)  # the Allow header is added in _protocol_headers
    raise default_exceptions[status](message)


@dataclass
class Operation:
    """What a request asks of the endpoint, read from the URL, the form body or the direct body."""

    params: MultiDict
    query: str | None = None
    graph: str | None = None  # Graph Store Protocol: ?graph=<iri>
    whole_default_graph: bool = False  # Graph Store Protocol: ?default
    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    bindings: dict = field(default_factory=dict)
    example: bool = False  # a short link to a catalogue query, whose text is read from queries/ per request

    @property
    def overrides(self) -> list[str]:
        return [value for name in FORMAT_PARAMETERS for value in self.params.getlist(name)]


# -----------------------------------------------------------------------------------------------
# Reading the request


def _refuse_update() -> None:
    raise Forbidden(READ_ONLY)


def _read_operation() -> Operation:
    require_utf8_url(request.environ.get("QUERY_STRING", ""))
    args = request.args
    graph_store = "graph" in args or "default" in args
    if request.method in ("PUT", "DELETE", "PATCH"):
        if graph_store:
            _fail(405, f"The graph store is read-only: {request.method} is not accepted; read graphs with GET.")
        _fail(405, f"{request.method} is not a SPARQL Protocol operation: send queries with GET or POST.")
    if "update" in args or "using-graph-uri" in args or "using-named-graph-uri" in args:
        _refuse_update()
    if request.method in ("GET", "HEAD"):
        params = MultiDict(args)
    else:
        if graph_store and request.mimetype not in (FORM, DIRECT):
            _fail(405, "The graph store is read-only: POST to a graph is not accepted; read graphs with GET.")
        params = _read_post(args)
        if "query" not in params and graph_store:
            _fail(405, "The graph store is read-only: POST to a graph is not accepted; read graphs with GET.")
    example = "example" in params
    params = expand_example(params)  # a short link /sparql?example=NAME&PARAM=… (see webapp/workbench.py)
    operation = Operation(params, example=example)
    queries = params.getlist("query")
    if len(queries) > 1:
        raise BadRequest(f"The request carries {len(queries)} queries; the SPARQL Protocol allows exactly one "
                         "`query` per request.")
    if queries:
        # A byte order mark, as editors on Windows save a .rq file (then sent with curl's @file), is no SPARQL.
        operation.query = queries[0].removeprefix("\ufeff")
        if not operation.query.strip():
            raise BadRequest("The `query` parameter is empty.")
    if graph_store:
        if operation.query is not None:
            raise BadRequest("Give either a `query` or a `graph`/`default` graph to read, not both.")
        graphs = args.getlist("graph")
        if len(graphs) > 1 or (graphs and "default" in args):
            raise BadRequest("Name one graph: `graph=<iri>` once, or `default`.")
        if graphs:
            operation.graph = _iri(graphs[0], "graph")
        else:
            operation.whole_default_graph = True
    default_graphs = params.getlist("default-graph-uri")
    named_graphs = params.getlist("named-graph-uri")
    if default_graphs or named_graphs:
        operation.default_graphs = tuple(_iri(value, "default-graph-uri") for value in default_graphs)
        operation.named_graphs = tuple(_iri(value, "named-graph-uri") for value in named_graphs)
    operation.bindings = _bindings(params)
    return operation


def _read_post(args: MultiDict) -> MultiDict:
    mimetype = request.mimetype
    charset = request.mimetype_params.get("charset")
    if mimetype == UPDATE:
        _refuse_update()
    if mimetype not in (FORM, DIRECT):
        shown = f"Content-Type {mimetype}" if mimetype else "no Content-Type"
        raise UnsupportedMediaType(f"A POST with {shown} is not a SPARQL query: send the query as "
                                   f"{FORM} (query=...) or as {DIRECT} in the body.")
    if charset is not None and charset.strip().lower() not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"The body is declared as {charset}; SPARQL queries must be sent in UTF-8.")
    params = MultiDict(args)
    if mimetype == FORM:
        form = read_form(request)
        if "update" in form or "using-graph-uri" in form or "using-named-graph-uri" in form:
            _refuse_update()
        for name, value in form.items(multi=True):
            params.add(name, value)
        return params
    if "query" in args:
        raise BadRequest("A direct POST carries its query in the body; do not also give `query` in the URL.")
    try:
        params.add("query", request.get_data(cache=True).decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest("The query body is not valid UTF-8.") from None
    return params


def _iri(value: str, parameter: str) -> str:
    try:
        NamedNode(value)
    except ValueError:
        raise BadRequest(f"`{parameter}` must be an absolute IRI; {value!r} is not.") from None
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", value):
        raise BadRequest(f"`{parameter}` must be an absolute IRI; {value!r} is not.")
    return value


def _bindings(params: MultiDict) -> dict:
    """`$name=value` parameters (as in RDF4J's protocol): values for query variables, parsed as terms.

    They are bound the way the catalogue binds its parameters (a VALUES block of pyoxigraph-written
    terms, see migkg.catalogue.bind_parameters), so the editor answers exactly as `migkg query` does.
    """
    bound = {}
    for key in params:
        if not key.startswith("$"):
            continue
        name, values = key[1:], params.getlist(key)
        try:
            Variable(name)
        except ValueError:
            raise BadRequest(f"`{key}` does not name a query variable.") from None
        if len(values) != 1:
            raise BadRequest(f"Give `{key}` once.")
        try:
            bound[name] = parse_term(values[0])
        except QueryInputError as error:
            raise BadRequest(f"`{key}`: {error}") from None
    return bound


# -----------------------------------------------------------------------------------------------
# Answering


def _settings():
    return current_app.config["MIGKG"]


def _etag(*parts) -> str:
    digest = hashlib.sha256(json.dumps([backend().build.id, request.path, *parts], default=str,
                                       sort_keys=True).encode())
    return digest.hexdigest()[:40]


def _not_modified(tag: str, answered: Response | None = None) -> Response | None:
    """A 304 when the client holds this answer. `If-None-Match: *` ("any representation") is decided once the
    answer is there (`answered`): a query that fails must fail, not be 304 Not Modified."""
    wanted = request.if_none_match
    if request.method not in ("GET", "HEAD") or not wanted:
        return None
    if wanted.star_tag:
        if answered is None or answered.status_code != 200:
            return None
    elif not wanted.contains_weak(tag):
        return None
    response = Response(status=304)
    _cache_headers(response, tag, keep=False)
    return response


def _cache_headers(response: Response, tag: str, keep: bool) -> None:
    # The answer only changes with a new build, and the ETag carries the build: clients revalidate
    # every time and get a 304 while the data is unchanged. `keep`: the response cache may hold it for the build.
    if keep and response.status_code == 200:
        keep_for_build()
    response.set_etag(tag, weak=True)
    response.headers["Cache-Control"] = "public, no-cache"
    response.vary.add("Accept")


def _content_type(media_type: str) -> str:
    media_type = media_type.split(";", 1)[0].strip()  # pyoxigraph's CSV/TSV types carry a charset already
    textual = media_type.startswith("text/") or media_type.endswith(("+json", "+xml", "/json")) \
        or media_type == "application/n-triples"
    return f"{media_type}; charset=utf-8" if textual else media_type


def _negotiated(operation: Operation) -> tuple[QueryResultsFormat | None, RdfFormat | None]:
    accept = request.headers.get("Accept")
    return (conneg.choose(accept, RESULT_FORMATS, operation.overrides),
            conneg.choose(accept, GRAPH_FORMATS, operation.overrides))


def _respond(answer: Answer) -> Response:
    return Response(answer.body, content_type=_content_type(answer.media_type))


def _dataset(operation: Operation) -> Dataset | None:
    if operation.default_graphs is None and operation.named_graphs is None:
        return None
    return Dataset(operation.default_graphs or (), operation.named_graphs or ())


def _answer_query(operation: Operation) -> Response:
    results_format, graph_format = _negotiated(operation)
    if results_format is None and graph_format is None:
        _fail(406, _unacceptable_message())
    tag = _etag("query", operation.query, sorted(operation.bindings.items(), key=str), operation.default_graphs,
                operation.named_graphs, results_format and results_format.media_type,
                graph_format and graph_format.media_type)
    unchanged = _not_modified(tag)
    if unchanged is not None:
        return unchanged
    answer = backend().query(operation.query, bindings=operation.bindings, dataset=_dataset(operation),
                             results_format=results_format, graph_format=graph_format)
    response = _respond(answer)
    _cache_headers(response, tag, keep=not operation.example)
    return _not_modified(tag, response) or response


def _answer_graph(operation: Operation) -> Response:
    _, graph_format = _negotiated(operation)
    if graph_format is None:
        _fail(406, _unacceptable_message(graphs_only=True))
    tag = _etag("graph", operation.graph, graph_format.media_type)
    unchanged = _not_modified(tag)
    if unchanged is not None:
        return unchanged
    # A graph is read whole: the row cap is for query answers, the byte cap still bounds the reply.
    if operation.graph is not None:
        answer = backend().query(GRAPH_DUMP, dataset=Dataset((operation.graph,), ()), graph_format=graph_format,
                                 max_rows=sys.maxsize, require_graph=operation.graph)
    else:
        # The default graph, as every query sees it here, is the union of all graphs.
        answer = backend().query(GRAPH_DUMP, graph_format=graph_format, max_rows=sys.maxsize)
    response = _respond(answer)
    _cache_headers(response, tag, keep=True)
    return _not_modified(tag, response) or response


def _unacceptable_message(graphs_only: bool = False) -> str:
    offered = ([] if graphs_only else RESULT_FORMATS) + GRAPH_FORMATS
    return ("None of the formats this endpoint writes fits the Accept header. It offers: "
            + ", ".join(conneg.media_types(fmt)[0] for fmt in offered) + ".")


def service_description(endpoint: str) -> list[Triple]:
    """The SPARQL 1.1 Service Description of this endpoint (what it speaks, writes and holds)."""
    service, dataset, default_graph = NamedNode(endpoint), BlankNode(), BlankNode()

    def sd(local: str) -> NamedNode:
        return NamedNode(SD + local)

    triples = [
        Triple(service, RDF_TYPE, sd("Service")),
        Triple(service, sd("endpoint"), service),
        Triple(service, sd("supportedLanguage"), sd("SPARQL11Query")),
        Triple(service, sd("feature"), sd("UnionDefaultGraph")),
        Triple(service, sd("defaultEntailmentRegime"), NamedNode("http://www.w3.org/ns/entailment/Simple")),
        Triple(service, NamedNode(DCTERMS_NS + "title"),
               Literal("migkg — the migration governance knowledge graph (read-only SPARQL endpoint)", language="en")),
        Triple(service, sd("defaultDataset"), dataset),
        Triple(dataset, RDF_TYPE, sd("Dataset")),
        Triple(dataset, sd("defaultGraph"), default_graph),
        Triple(default_graph, RDF_TYPE, sd("Graph")),
    ]
    for name in ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
                 "Turtle", "N-Triples", "RDF_XML", "JSON-LD", "N-Quads", "TriG"):
        triples.append(Triple(service, sd("resultFormat"), NamedNode(FORMATS_NS + name)))
    counts = backend().build.summary.get("graphs", {})
    total = 0
    for iri, count in sorted(counts.items()):
        named, graph = BlankNode(), BlankNode()
        triples += [Triple(dataset, sd("namedGraph"), named), Triple(named, RDF_TYPE, sd("NamedGraph")),
                    Triple(named, sd("name"), NamedNode(iri)), Triple(named, sd("graph"), graph),
                    Triple(graph, RDF_TYPE, sd("Graph"))]
        if count is not None:
            triples.append(Triple(graph, NamedNode(VOID_NS + "triples"), Literal(str(count),
                               datatype=NamedNode("http://www.w3.org/2001/XMLSchema#integer"))))
            total += count
    if total:
        triples.append(Triple(default_graph, NamedNode(VOID_NS + "triples"),
                              Literal(str(total), datatype=NamedNode("http://www.w3.org/2001/XMLSchema#integer"))))
    return triples


def _answer_description(operation: Operation) -> Response:
    _, graph_format = _negotiated(operation)
    if graph_format is None:
        _fail(406, _unacceptable_message(graphs_only=True))
    endpoint = public_root() + request.path.lstrip("/")
    tag = _etag("service-description", endpoint, graph_format.media_type)
    unchanged = _not_modified(tag)
    if unchanged is not None:
        return unchanged
    prefixes = {"sd": SD, "formats": FORMATS_NS, "void": VOID_NS, "dcterms": DCTERMS_NS}
    body = serialize(service_description(endpoint), format=graph_format, prefixes=prefixes)
    response = Response(body, content_type=_content_type(graph_format.media_type))
    _cache_headers(response, tag, keep=True)
    return _not_modified(tag, response) or response


# -----------------------------------------------------------------------------------------------
# The editor


def catalogue() -> tuple[list[CannedQuery], list[str]]:
    """The example queries, and the names of any query files that could not be read (shown, not fatal)."""
    queries, broken = readable_catalogue(_settings().queries_dir)
    return list(queries.values()), broken


def _editor(operation: Operation | None) -> Response:
    queries, broken = catalogue()
    examples = [
        {"slug": q.slug, "title": q.title, "description": q.description, "text": q.text,
         "parameters": [{"name": p.name, "default": term_text(p.default) if p.default is not None else ""}
                        for p in q.parameters]}
        for q in queries
    ]
    initial = None
    if operation is not None and operation.query is not None:
        initial = {"query": operation.params.get("query"),  # as written, before the `$` values are bound
                   "bindings": {name: values[0] for name, values in operation.params.lists()
                                if name.startswith("$") and values}}
    html = render_template("sparql_editor.html", examples=examples, broken=broken, initial=initial,
                           prefixes=PREFIXES, settings=_settings())
    response = Response(html, content_type="text/html; charset=utf-8")
    response.vary.add("Accept")
    return response


# -----------------------------------------------------------------------------------------------
# The route


@blueprint.route("/sparql", methods=["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"])
def endpoint():
    operation = _read_operation()
    browser = (request.method in ("GET", "HEAD") and not operation.overrides
               and conneg.prefers_html(request.headers.get("Accept"), RESULT_FORMATS + GRAPH_FORMATS))
    if operation.query is not None:
        if browser:
            return _editor(operation)
        return _answer_query(operation)
    if operation.graph is not None or operation.whole_default_graph:
        return _answer_graph(operation)
    if request.method == "POST":
        raise BadRequest("The POST carries no query: give `query` (form) or the query itself (direct POST).")
    if browser:
        return _editor(None)
    return _answer_description(operation)


def allowed_methods() -> str:
    """The Allow header of /sparql: Flask's would list PUT, DELETE and PATCH too, which the route takes only to refuse."""
    graph_store = "graph" in request.args or "default" in request.args
    return ", ".join(GRAPH_READ_METHODS if graph_store else QUERY_METHODS)


@blueprint.after_request
def _protocol_headers(response: Response) -> Response:
    # The app's error handler renders the message; the headers HTTP asks for with these statuses go here.
    if response.status_code == 405 or request.method == "OPTIONS":
        response.headers["Allow"] = allowed_methods()
    elif response.status_code == 503:
        response.headers.setdefault("Retry-After", "5")
    return response
