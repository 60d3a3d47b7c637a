"""The remote engine: any SPARQL 1.1 Protocol endpoint (Virtuoso, GraphDB, Neptune, QLever, Fuseki, Oxigraph server).

The web tier keeps no data of its own: answers are fetched over the protocol and read back with
pyoxigraph's parsers, the build's identity and summary come from the build-metadata graph that
`migkg publish` writes last, dumps are assembled from the engine once per build into a private cache.

The dataset is always named in the request (the published graphs as default and named graphs), so the
answer does not depend on how the engine builds its own default graph, and the metadata graph stays
out of every answer, as it is absent from the embedded store.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from pathlib import Path

import requests
from pyoxigraph import (BlankNode, Literal, NamedNode, QueryBoolean, QueryResultsFormat, Quad, RdfFormat, Store,
                        parse, parse_query_results, serialize)

from ..backend import (BUILD_GRAPH, UNION_GRAPH, Answer, Backend, BackendUnavailable, Build, Limits,
                       QueryRejected, QueryTask, Snapshot)
from ..export import FORMATS as DUMP_FORMATS
from ..export import dump as write_dump
from ..namespaces import MIG, PREFIXES, sparql_prologue
from ..sparql_lexer import SparqlSyntaxError, dataset_references, shape, with_dataset

MANIFEST_QUERY = f"SELECT ?manifest WHERE {{ GRAPH <{BUILD_GRAPH}> {{ ?build <{MIG}manifest> ?manifest }} }}"
# An engine that answers true to the first ignores FROM (the Oxigraph server with --union-default-graph
# does), so it would answer every query over all of its graphs whatever dataset migkg names.
IGNORES_FROM_PROBE = f"ASK FROM <{BUILD_GRAPH}/no-such-graph> WHERE {{ ?s ?p ?o }}"
HAS_UNION_PROBE = f"ASK WHERE {{ GRAPH <{UNION_GRAPH}> {{ ?s ?p ?o }} }}"
DUMP_QUERY = "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }"
ABSENT_GRAPH = "https://w3id.org/migkg/graph/absent"  # named instead of any graph the build did not publish
DUMP_BATCH = 200_000  # statements asked for in one request when assembling a dump
# Engines answer in what is asked first; Virtuoso writes CONSTRUCT results as solutions when told to.
ACCEPT_RESULTS = "application/sparql-results+json, application/sparql-results+xml;q=0.5"
ACCEPT_GRAPH = "application/n-triples, text/turtle;q=0.8, application/rdf+xml;q=0.5"
ACCEPT = f"{ACCEPT_RESULTS}, application/n-triples;q=0.4"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
BLANK_LABEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # safe subset of N-Triples' BLANK_NODE_LABEL
METADATA_TTL = 2.0  # seconds a replica trusts the build it read before asking the engine again


class RemoteBackend(Backend):
    def __init__(self, url: str, limits: Limits, cache_dir: Path | None = None, base_iri: str | None = None,
                 auth: tuple[str, str] | None = None, **_ignored):
        self.url = url
        self.limits = limits
        self.base_iri = base_iri
        self.auth = auth
        self.cache_dir = cache_dir or Path(tempfile.gettempdir())
        self.description = f"sparql:{url}"
        self._local = threading.local()
        self._build: tuple[float, Build] | None = None
        self._lock = threading.Lock()
        self._dataset_checked = False

    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False  # loopback and private engines: never through an environment proxy
        return session

    def post(self, data: dict, timeout: float, accept: str = ACCEPT, max_bytes: int | None = None) -> requests.Response:
        """POST a protocol request; the body is read within `timeout` seconds in all and `max_bytes` bytes."""
        deadline = time.monotonic() + timeout
        try:
            response = self.session().post(self.url, data=data, headers={"Accept": accept}, auth=self.auth,
                                           timeout=(min(5.0, timeout), timeout), stream=True)
            chunks, size = [], 0
            for chunk in response.iter_content(65536):
                chunks.append(chunk)
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    response.close()
                    raise QueryRejected(422, f"The result is larger than {max_bytes} bytes, the most this endpoint "
                                             "returns. Add a LIMIT or select fewer variables.")
                if time.monotonic() > deadline:
                    response.close()
                    raise requests.Timeout()
            response._content = b"".join(chunks)
        except requests.Timeout:
            raise QueryRejected(422, f"The query ran longer than the time limit of {timeout:g} s and was stopped. "
                                     "Narrow it (more specific patterns, a LIMIT) or ask for less.") from None
        except requests.RequestException:
            raise BackendUnavailable("The SPARQL engine behind this site cannot be reached; try again shortly.") \
                from None
        return response

    def snapshot(self) -> "RemoteSnapshot":
        cached = self._build
        if cached is None or time.monotonic() - cached[0] > METADATA_TTL:
            response = self.post({"query": MANIFEST_QUERY}, self.limits.timeout,
                                 accept="application/sparql-results+json")
            if response.status_code != 200:
                raise BackendUnavailable(f"The SPARQL engine answered {response.status_code} when asked for the "
                                         "build; try again shortly.")
            rows = list(parse_query_results(response.content, format=QueryResultsFormat.JSON))
            if not rows:
                raise BackendUnavailable("No build has been published to the SPARQL engine yet: run "
                                         "`migkg publish --to URL`.")
            manifests = sorted((row["manifest"].value for row in rows), reverse=True)
            build = Build.from_json(manifests[0])
            if not self._dataset_checked:
                self._check_dataset_honoured()
            with self._lock:
                self._build = cached = (time.monotonic(), build)
        return RemoteSnapshot(self, cached[1])

    def _ask(self, query: str) -> bool:
        response = self.post({"query": query}, self.limits.timeout, accept="application/sparql-results+json")
        if response.status_code != 200:
            raise BackendUnavailable(f"The SPARQL engine answered {response.status_code} when asked a plain ASK; "
                                     "try again shortly.")
        return bool(parse_query_results(response.content, format=QueryResultsFormat.JSON))

    def _check_dataset_honoured(self) -> None:
        if self._ask(IGNORES_FROM_PROBE):
            raise BackendUnavailable(
                "The SPARQL engine ignores the FROM clauses migkg names its dataset with, so answers would mix in "
                "graphs that are not part of the build. An Oxigraph server does this when started with "
                "--union-default-graph: start it without.")
        if not self._ask(HAS_UNION_PROBE):
            raise BackendUnavailable(f"The SPARQL engine holds no union graph <{UNION_GRAPH}>: publish the build "
                                     "again with this version of `migkg publish`.")
        self._dataset_checked = True


class RemoteSnapshot(Snapshot):
    def __init__(self, backend: RemoteBackend, build: Build):
        self.backend = backend
        self.build = build
        self.limits = backend.limits
        self.base_iri = backend.base_iri
        self.answers = backend.answers
        self.in_flight = backend.in_flight

    def graphs(self) -> list[str]:
        return sorted(self.build.summary.get("graphs", {}))

    def run(self, task: QueryTask) -> Answer:
        if task.require_graph is not None and not self.has_graph(task.require_graph):
            raise QueryRejected(404, f"There is no graph <{task.require_graph}> in this dataset.")
        query = task.query
        try:
            found = shape(query)
        except SparqlSyntaxError as error:  # prepare() leaves texts naming no SERVICE or FROM untokenized
            raise QueryRejected(400, f"Syntax error in the query: {error}.") from None
        # The dataset goes into the query as FROM / FROM NAMED (the protocol's graph parameters, one per
        # graph, make some engines answer with more headers than HTTP clients accept). Graphs the build
        # did not publish are named as an absent graph: the engine may hold other, private graphs. Both
        # parts of the dataset are always named, as Virtuoso reads a part left unnamed as all its graphs.
        if task.default_graphs is not None or task.named_graphs is not None:
            query = with_dataset(query, _or_absent([self._published(g) for g in task.default_graphs or ()]),
                                 _or_absent([self._published(g) for g in task.named_graphs or ()]))
        elif found.has_dataset_clause:
            query = self._only_published(query)
        elif task.union_default_graph:
            # The published union graph as default graph; the source graphs only when the query reads them.
            query = with_dataset(query, [NamedNode(UNION_GRAPH)],
                                 _or_absent(self.graphs() if found.uses_graph else []))
        data: dict = {"query": sparql_prologue(PREFIXES) + query}
        accept = ACCEPT_GRAPH if found.form in ("CONSTRUCT", "DESCRIBE") else ACCEPT_RESULTS
        # Engine answers are read whole (bounded) and written again, so every engine answers alike.
        response = self.backend.post(data, self.limits.timeout, accept=accept,
                                     max_bytes=max(task.max_bytes * 4, 1 << 20))
        if response.status_code >= 400:
            message = response.text.strip().splitlines()[:3] if response.text else []
            status = 400 if response.status_code < 500 else 503
            if status == 503:
                raise BackendUnavailable(f"The SPARQL engine failed ({response.status_code}); try again shortly.")
            raise QueryRejected(400, "The query was refused by the SPARQL engine: " + " ".join(message)[:500])
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        results_format = QueryResultsFormat.from_media_type(media_type)
        if results_format is not None:
            return _results_answer(read_results(response.content, results_format), task)
        graph_format = RdfFormat.from_media_type(media_type)
        if graph_format is None:
            raise BackendUnavailable(f"The SPARQL engine answered in {media_type or 'no declared format'}, "
                                     "which migkg cannot read.")
        triples = (quad.triple for quad in parse(response.content, format=graph_format))
        return _graph_answer(triples, task)

    def has_graph(self, iri: str) -> bool:
        return iri in self.build.summary.get("graphs", {})

    def _published(self, iri: str | None) -> str:
        return iri if iri is not None and (iri == UNION_GRAPH or self.has_graph(iri)) else ABSENT_GRAPH

    def _only_published(self, query: str) -> str:
        """The query with each FROM / FROM NAMED graph the build did not publish replaced by an absent graph,
        and the part of the dataset it leaves unnamed named as the absent graph."""
        references = dataset_references(query, PREFIXES)
        for reference in reversed(references):
            if self._published(reference.iri) != reference.iri:
                query = query[:reference.start] + f"<{ABSENT_GRAPH}>" + query[reference.end:]
        absent = [NamedNode(ABSENT_GRAPH)]
        names_default = any(not reference.named for reference in references)
        names_named = any(reference.named for reference in references)
        return with_dataset(query, [] if names_default else absent, [] if names_named else absent)

    def dump(self, fmt: RdfFormat) -> Path:
        """The dump, assembled once per build from the engine into this installation's private cache."""
        name = next((name for name, (known, _) in DUMP_FORMATS.items() if known == fmt), None)
        if name is None:
            raise BackendUnavailable("No dump in that format.")
        directory = self.backend.cache_dir / "dumps" / self.build.id[:24]
        path = directory / f"migkg.{name}"
        if path.is_file():
            return path
        directory.mkdir(parents=True, exist_ok=True)
        store = self._assemble()
        handle, partial = tempfile.mkstemp(dir=directory, prefix=f".migkg.{name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as output:
                write_dump(store, name, output)
            os.replace(partial, path)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        return path


    def _assemble(self) -> Store:
        """Every published graph read back in a few requests (GRAPH ?g over FROM NAMED), checked against the build.

        One request per batch of graphs, not per graph: a build names hundreds of source sections. The
        count is checked against the manifest, as engines cut long answers silently at their row limit.
        """
        counts = self.build.summary.get("graphs", {})
        store, batch, size = Store(), [], 0
        for graph in self.graphs() + [None]:
            if graph is not None and (not batch or size + counts.get(graph, 0) <= DUMP_BATCH):
                batch.append(graph)
                size += counts.get(graph, 0)
                continue
            named = [NamedNode(g) for g in batch]
            response = self.backend.post({"query": with_dataset(DUMP_QUERY, (), named)},
                                         max(self.limits.timeout, 300.0), accept="application/sparql-results+json")
            if response.status_code != 200:
                raise BackendUnavailable(f"The SPARQL engine failed ({response.status_code}) when asked for the "
                                         "dump; try again shortly.")
            store.extend(Quad(row["s"], row["p"], row["o"], row["g"]) for row in
                         read_results(response.content, QueryResultsFormat.JSON))
            batch, size = [graph], counts.get(graph, 0)
        expected = sum(counts.values())
        if len(store) != expected:
            raise BackendUnavailable(f"The SPARQL engine gave {len(store)} of the build's {expected} statements for "
                                     "the dump (a result row limit?); the dump cannot be offered.")
        return store


def _or_absent(graphs: list[str]) -> list[NamedNode]:
    """These graphs, or the absent graph when there are none: a part of a dataset is never left unnamed."""
    return [NamedNode(graph) for graph in graphs or [ABSENT_GRAPH]]


def read_results(body: bytes, fmt: QueryResultsFormat):
    """An engine's results read with pyoxigraph, blank-node labels made valid where the engine's are not.

    Virtuoso labels blank nodes `nodeID://b10006`, which is no blank node label in RDF syntax; each such
    label becomes `b` + its hex form (one label, one node, as before).
    """
    if fmt == QueryResultsFormat.JSON and b'"bnode"' in body:
        document = json.loads(body)
        for row in document.get("results", {}).get("bindings", []):
            for value in row.values():
                if value.get("type") == "bnode" and not BLANK_LABEL.fullmatch(value.get("value", "")):
                    value["value"] = "b" + value["value"].encode().hex()
        body = json.dumps(document).encode()
    return parse_query_results(body, format=fmt)


def _results_answer(result, task: QueryTask) -> Answer:
    fmt = QueryResultsFormat.from_media_type(task.results_media_type) if task.results_media_type else None
    if fmt is None:
        raise QueryRejected(406, "This query returns SPARQL results (JSON, XML, CSV, TSV), and the Accept header "
                                 "(or format parameter) allows none of them.")
    if isinstance(result, QueryBoolean):
        return Answer("boolean", fmt.media_type, result.serialize(format=fmt), 1)
    rows = list(_capped(result, task.max_rows, "rows"))
    body = serialize_solutions(result.variables, rows, fmt)
    if len(body) > task.max_bytes:
        raise QueryRejected(422, f"The result is larger than {task.max_bytes} bytes, the most this endpoint "
                                 "returns. Add a LIMIT or select fewer variables.")
    return Answer("solutions", fmt.media_type, body, len(rows))


def _term_json(term) -> dict:
    if isinstance(term, NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, Literal):
        found = {"type": "literal", "value": term.value}
        if term.language:
            found["xml:lang"] = term.language
        elif term.datatype.value != XSD_STRING:
            found["datatype"] = term.datatype.value
        return found
    return {"type": "triple", "value": {"subject": _term_json(term.subject), "predicate": _term_json(term.predicate),
                                        "object": _term_json(term.object)}}


def serialize_solutions(variables, rows, fmt: QueryResultsFormat) -> bytes:
    """Write solutions read from an engine in `fmt` with pyoxigraph's writer (the embedded engine's own).

    The rows go through the SPARQL 1.1 JSON results structure (json module), which pyoxigraph reads
    back as solutions and writes in any results format.
    """
    names = [variable.value for variable in variables]
    document = {"head": {"vars": names},
                "results": {"bindings": [{name: _term_json(row[name]) for name in names if row[name] is not None}
                                         for row in rows]}}
    solutions = parse_query_results(json.dumps(document).encode(), format=QueryResultsFormat.JSON)
    return solutions.serialize(format=fmt)


def _capped(items, limit: int, what: str):
    for count, item in enumerate(items, 1):
        if count > limit:
            noun = "rows" if what == "rows" else "triples"
            raise QueryRejected(422, f"The result has more than {limit} {noun}, the most this endpoint returns. "
                                     "Add a LIMIT (and ORDER BY / OFFSET to page) or narrow the query.")
        yield item


def _graph_answer(triples, task: QueryTask) -> Answer:
    fmt = RdfFormat.from_media_type(task.graph_media_type) if task.graph_media_type else None
    if fmt is None:
        raise QueryRejected(406, "This query returns RDF (Turtle, N-Triples, RDF/XML, JSON-LD, N-Quads, TriG), and "
                                 "the Accept header (or format parameter) allows none of them.")
    collected = list(_capped(triples, task.max_rows, "triples"))
    items = [Quad(t.subject, t.predicate, t.object) for t in collected] if fmt.supports_datasets else collected
    body = serialize(items, format=fmt, prefixes=PREFIXES)
    if len(body) > task.max_bytes:
        raise QueryRejected(422, f"The result is larger than {task.max_bytes} bytes, the most this endpoint "
                                 "returns. Add a LIMIT or select fewer variables.")
    return Answer("graph", fmt.media_type, body, len(collected))
