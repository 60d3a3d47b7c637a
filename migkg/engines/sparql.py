"""The remote engine: any SPARQL 1.1 Protocol endpoint (Virtuoso, GraphDB, Neptune, QLever, Fuseki, Oxigraph server).

The web tier keeps no data of its own: answers are fetched over the protocol (one keep-alive connection
per thread; the query as the POST body where the engine takes it, else as a form), passed on as they
are when they are JSON holding no term to normalise, else read with pyoxigraph's parsers and written
again; the build's identity and summary come from the build-metadata graph that `migkg publish` writes
last; dumps are assembled from the engine once per build into a private cache.

The dataset is always named in the request (the published union graph as default graph, the published
source graphs or an absent graph as named graphs), so the answer does not depend on how the engine
builds its own default graph, and neither the metadata graph nor any other graph of the engine's is
ever read, as they are absent from the embedded store."""

from __future__ import annotations

import base64
import functools
import http.client
import json
import os
import re
import ssl
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pyoxigraph import (BlankNode, Literal, NamedNode, QueryBoolean, QueryResultsFormat, Quad, RdfFormat, Store,
                        parse, parse_query_results, serialize)

from ..backend import (BUILD_GRAPH, UNION_GRAPH, UPDATE_REFUSED, Answer, Backend, BackendUnavailable, Build, Limits,
                       QueryRejected, QueryTask, Snapshot)
from ..export import FORMATS as DUMP_FORMATS
from ..export import dump as write_dump
from ..namespaces import MIG, PREFIXES, sparql_prologue
from ..sparql_lexer import (UPDATE_KEYWORDS, SparqlSyntaxError, dataset_references, may_name, shape, tokenize,
                            with_dataset, without_dataset)

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
# Words that send a text through the whole tokenizer before it goes to the engine: the dataset is the query's
# own (FROM) or the form must be known (CONSTRUCT, DESCRIBE); texts with Virtuoso's pragmas (DEFINE) keep the
# path the private-graph tests cover. Without them, only a text that may read named graphs (GRAPH) is
# tokenized at all, and only its head.
_NEEDS_TOKENS = ("FROM", "CONSTRUCT", "DESCRIBE", "DEFINE")
_READS_NAMED_GRAPHS = ("GRAPH",)
# A SELECT or ASK query after its prologue (comments, PREFIX and BASE declarations), for texts that are not
# tokenized: anything else (an update above all: this site is read-only, whatever an engine would allow)
# takes the tokenizer's path. An unusual prologue only costs that path too.
_IRIREF = r'<[^<>"{}|^`\\\x00-\x20]*>'
_QUERY_START = re.compile(rf"(?:[ \t\r\n]+|#[^\r\n]*+|PREFIX[ \t\r\n]*[^ \t\r\n:<>#]*:[ \t\r\n]*{_IRIREF}"
                          rf"|BASE[ \t\r\n]*{_IRIREF})*(?:SELECT|ASK)(?![A-Za-z0-9_\u00B7\u00C0-\U000EFFFF])",
                          re.IGNORECASE)
DIRECT_QUERY = "application/sparql-query; charset=utf-8"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
BLANK_LABEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # safe subset of N-Triples' BLANK_NODE_LABEL
PROLOGUE = sparql_prologue(PREFIXES)  # in front of every query: engines know none of migkg's prefixes
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
        self._connections: weakref.WeakSet = weakref.WeakSet()  # every thread's, for close()
        self._endpoint = urlsplit(url)
        self._target = self._endpoint.path or "/"
        if self._endpoint.query:
            self._target += "?" + self._endpoint.query
        if auth is None and self._endpoint.username is not None:
            auth = (unquote(self._endpoint.username), unquote(self._endpoint.password or ""))
        self._authorization = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode() if auth else None
        self._build: tuple[float, Build] | None = None
        self._lock = threading.Lock()
        self._dataset_checked = False
        self._direct_post = False  # whether queries go as the POST body itself (see _takes_direct_post)
        self._dataset_clauses: tuple[str, str] | None = None  # (build id, its FROM / FROM NAMED clauses)

    def connection(self, fresh: bool = False) -> http.client.HTTPConnection:
        """This thread's keep-alive connection to the engine (a new one when `fresh`)."""
        connection = getattr(self._local, "connection", None)
        if connection is None or fresh:
            if connection is not None:
                connection.close()
            if self._endpoint.scheme == "https":
                connection = http.client.HTTPSConnection(self._endpoint.hostname, self._endpoint.port,
                                                         context=_tls_context())
            else:
                connection = http.client.HTTPConnection(self._endpoint.hostname, self._endpoint.port)
            self._local.connection = connection
            with self._lock:
                self._connections.add(connection)
        return connection

    def close(self) -> None:
        with self._lock:
            connections, self._connections = list(self._connections), weakref.WeakSet()
        for connection in connections:
            connection.close()

    def post(self, data: dict, timeout: float, accept: str = ACCEPT, max_bytes: int | None = None,
             direct: bool | None = None) -> EngineReply:
        """POST a protocol request; the body is read within `timeout` seconds in all and `max_bytes` bytes.

        One keep-alive connection per thread (http.client: no proxy from the environment, none of the
        per-call set-up of requests, ~1.7 ms). The query goes as the body itself where the engine takes
        that (`direct`; by default what the engine was found to take), else form-encoded. A connection
        the engine closed while idle is noticed when the request fails before any answer came, and the
        (read-only) query is sent once more on a new connection.
        """
        deadline = time.monotonic() + timeout
        target = self._target
        if self._direct_post if direct is None else direct:
            body, content_type = data["query"].encode("utf-8"), DIRECT_QUERY
            parameters = {name: value for name, value in data.items() if name != "query"}
            if parameters:  # the dataset parameters go in the URL (SPARQL 1.1 Protocol 2.1.3)
                target += ("&" if "?" in target else "?") + _form_encoded(parameters).decode("ascii")
        else:
            body, content_type = _form_encoded(data), "application/x-www-form-urlencoded"
        headers = {"Content-Type": content_type, "Accept": accept}
        if self._authorization:
            headers["Authorization"] = self._authorization
        connection = None
        unreachable = BackendUnavailable("The SPARQL engine behind this site cannot be reached; try again shortly.")
        try:
            for attempt in (1, 2):
                connection = self.connection(fresh=attempt == 2)
                reused = connection.sock is not None
                if not reused:
                    connection.timeout = min(5.0, timeout)
                    try:
                        connection.connect()
                    except OSError:  # refused, unreachable, or no answer to connect within 5 s
                        raise unreachable from None
                sock = connection.sock  # kept: getresponse() lets go of it when the engine closes after answering
                sock.settimeout(_remaining(deadline))
                try:
                    connection.request("POST", target, body=body, headers=headers)
                    response = connection.getresponse()
                    break
                except (ConnectionResetError, BrokenPipeError):  # RemoteDisconnected included
                    if not reused:
                        raise
            content = _read_within(response, sock, deadline, max_bytes)
        except QueryRejected:  # refused or too large: the connection is in no state to serve again
            if connection is not None:
                connection.close()
            raise
        except TimeoutError:
            connection.close()
            raise QueryRejected(422, f"The query ran longer than the time limit of {timeout:g} s and was stopped. "
                                     "Narrow it (more specific patterns, a LIMIT) or ask for less.") from None
        except (OSError, http.client.HTTPException):
            if connection is not None:
                connection.close()
            raise unreachable from None
        return EngineReply(response.status, response.getheader("Content-Type", ""), content,
                           response.getheader("Server", ""))

    def snapshot(self) -> "RemoteSnapshot":
        cached = self._build
        if cached is None or time.monotonic() - cached[0] > METADATA_TTL:
            response = self.post({"query": MANIFEST_QUERY}, self.limits.timeout,
                                 accept="application/sparql-results+json")
            if response.status != 200:
                raise BackendUnavailable(f"The SPARQL engine answered {response.status} when asked for the "
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
        if response.status != 200:
            raise BackendUnavailable(f"The SPARQL engine answered {response.status} when asked a plain ASK; "
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
        self._direct_post = self._takes_direct_post()
        self._dataset_checked = True

    def _takes_direct_post(self) -> bool:
        """Whether the engine reads a query sent as the POST body itself (SPARQL 1.1 Protocol 2.1.3).

        Form-encoded, a query is a third longer (every IRI's ":" and "/" escaped) and the Oxigraph server
        decodes forms slowly: a query naming the build's 138 source graphs costs it 3.0 ms as a form,
        1.6 ms sent directly. Virtuoso 7 accepts the request and never answers it, so it is not asked;
        any other engine is asked once, and keeps forms unless it answers a direct ASK correctly at once.
        """
        probe = self.post({"query": "ASK {}"}, min(2.0, self.limits.timeout), accept="application/sparql-results+json")
        if "virtuoso" in probe.server.lower():
            return False
        try:
            direct = self.post({"query": "ASK {}"}, min(2.0, self.limits.timeout),
                               accept="application/sparql-results+json", direct=True)
            return direct.status == 200 and bool(parse_query_results(direct.content, format=QueryResultsFormat.JSON))
        except (QueryRejected, SyntaxError, ValueError):
            return False


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
        given = task.default_graphs is not None or task.named_graphs is not None
        if task.union_default_graph and not given and not may_name(query, _NEEDS_TOKENS + _READS_NAMED_GRAPHS) \
                and _QUERY_START.match(query):
            # The common case, without the tokenizer (half a millisecond per new text): a SELECT or ASK that
            # reads no named graph and names no dataset of its own gets the union graph as default graph and
            # the absent graph as its only named graph, given as protocol parameters (no FROM to place).
            response = self.backend.post({"query": PROLOGUE + query, "default-graph-uri": UNION_GRAPH,
                                          "named-graph-uri": ABSENT_GRAPH}, self.limits.timeout,
                                         accept=ACCEPT_RESULTS, max_bytes=max(task.max_bytes * 4, 1 << 20))
            return self._answer(response, task)
        if task.union_default_graph and not given and not may_name(query, _NEEDS_TOKENS):
            # A SELECT or ASK that may read named graphs (GRAPH) but names no dataset: the FROM clauses go
            # before its WHERE group, found by tokenizing the text's head only (a cold text: 0.1 instead of
            # 1 ms). Every published graph is named, whether or not GRAPH was a keyword (naming graphs a
            # query does not read changes no answer).
            dataset_at = _where_group(query)
            if dataset_at is not None:
                clauses = self._every_published_graph()
                response = self.backend.post({"query": PROLOGUE + query[:dataset_at] + clauses + " " +
                                              query[dataset_at:]}, self.limits.timeout, accept=ACCEPT_RESULTS,
                                             max_bytes=max(task.max_bytes * 4, 1 << 20))
                return self._answer(response, task)
        try:
            found = shape(query)
        except SparqlSyntaxError as error:  # prepare() leaves texts naming no SERVICE or FROM untokenized
            raise QueryRejected(400, f"Syntax error in the query: {error}.") from None
        if found.form is None:  # an update, above all: never sent, whatever the engine would allow
            raise QueryRejected(400, UPDATE_REFUSED)
        # The dataset goes into the query as FROM / FROM NAMED (the protocol's graph parameters, one per
        # graph, make URLs longer than engines accept, and forms slow to decode). Graphs the build
        # did not publish are named as an absent graph: the engine may hold other, private graphs. Both
        # parts of the dataset are always named, as Virtuoso reads a part left unnamed as all its graphs.
        if given:
            query = with_dataset(without_dataset(query),
                                 _or_absent([self._published(g) for g in task.default_graphs or ()]),
                                 _or_absent([self._published(g) for g in task.named_graphs or ()]))
        elif found.has_dataset_clause:
            query = self._only_published(query)
        elif task.union_default_graph:
            # The published union graph as default graph; the source graphs only when the query reads them.
            query = with_dataset(query, [NamedNode(UNION_GRAPH)],
                                 _or_absent(self.graphs() if found.uses_graph else []))
        accept = ACCEPT_GRAPH if found.form in ("CONSTRUCT", "DESCRIBE") else ACCEPT_RESULTS
        response = self.backend.post({"query": PROLOGUE + query}, self.limits.timeout, accept=accept,
                                     max_bytes=max(task.max_bytes * 4, 1 << 20))
        return self._answer(response, task)

    def _answer(self, response: EngineReply, task: QueryTask) -> Answer:
        if response.status >= 400:
            raise _refusal(response)
        results_format = QueryResultsFormat.from_media_type(response.media_type)
        if results_format is not None:
            return _results_answer(response.content, results_format, task)
        graph_format = RdfFormat.from_media_type(response.media_type)
        if graph_format is None:
            raise BackendUnavailable(f"The SPARQL engine answered in {response.media_type or 'no declared format'}, "
                                     "which migkg cannot read.")
        triples = (quad.triple for quad in parse(response.content, format=graph_format))
        return _graph_answer(triples, task)

    def _every_published_graph(self) -> str:
        """FROM the union graph, FROM NAMED each published graph (or the absent graph): once per build."""
        kept = self.backend._dataset_clauses
        if kept is None or kept[0] != self.build.id:
            clauses = f" FROM {NamedNode(UNION_GRAPH)}" + "".join(
                f" FROM NAMED {graph}" for graph in _or_absent(self.graphs()))
            kept = self.backend._dataset_clauses = (self.build.id, clauses)
        return kept[1]

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
            if response.status != 200:
                raise BackendUnavailable(f"The SPARQL engine failed ({response.status}) when asked for the "
                                         "dump; try again shortly.")
            store.extend(Quad(row["s"], row["p"], row["o"], row["g"]) for row in
                         read_results(response.content, QueryResultsFormat.JSON))
            batch, size = [graph], counts.get(graph, 0)
        expected = sum(counts.values())
        if len(store) != expected:
            raise BackendUnavailable(f"The SPARQL engine gave {len(store)} of the build's {expected} statements for "
                                     "the dump (a result row limit?); the dump cannot be offered.")
        return store


@dataclass(frozen=True)
class EngineReply:
    """An engine's answer to one protocol request, read whole (within the time limit and the byte cap)."""

    status: int
    content_type: str
    content: bytes
    server: str = ""

    @property
    def media_type(self) -> str:
        return self.content_type.split(";")[0].strip().lower()

    def first_line(self) -> str:
        """The first non-empty line of the engine's message (its error code and text, for an error)."""
        text = self.content[:4096].decode("utf-8", errors="replace")
        return next((line.strip() for line in text.splitlines() if line.strip()), "")[:300]


# application/x-www-form-urlencoded as urllib.parse.urlencode writes it (quote_plus), per character in C:
# urlencode quotes byte by byte in Python, ~0.3 ms for a query with migkg's prologue.
_FORM_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_FORM_TABLE = {byte: chr(byte) if byte in _FORM_SAFE else "+" if byte == 0x20 else f"%{byte:02X}"
               for byte in range(256)}


def _form_encoded(data: dict[str, str]) -> bytes:
    return "&".join(f"{name}={value.encode('utf-8').decode('latin-1').translate(_FORM_TABLE)}"
                    for name, value in data.items()).encode("ascii")


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError()
    return left


def _read_within(response: http.client.HTTPResponse, sock, deadline: float, max_bytes: int | None) -> bytes:
    """The response body, each read bounded by what is left of the time limit, cut past `max_bytes`."""
    chunks, size = [], 0
    while True:
        sock.settimeout(_remaining(deadline))
        chunk = response.read1(65536)
        if not chunk or response.length == 0:  # read1 leaves a body of known length open when it is all read
            chunks.append(chunk)
            response.close()  # the socket stays open for the next request
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise QueryRejected(422, f"The result is larger than {max_bytes} bytes, the most this endpoint "
                                     "returns. Add a LIMIT or select fewer variables.")


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """Certificates checked as `requests` checks them (certifi's bundle when installed, else the system's)."""
    try:
        import certifi
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def _where_group(text: str) -> int | None:
    """Where FROM clauses go in a SELECT or ASK query (before its WHERE, or its group's "{"), from the tokens of
    the text up to its first "{" only; None when that is not certain (then the whole text is tokenized).

    The first "{" of a SELECT or ASK query opens its WHERE group unless it is in a string or a comment (the
    head's tokens then do not end with it) or in an expression of the projection (EXISTS { … } inside
    parentheses). Tokens do not depend on what follows them, so the head's are the whole text's.
    """
    end = text.find("{")
    if end < 0:
        return None
    try:
        tokens = tokenize(text[:end + 1])
    except SparqlSyntaxError:  # the "{" was inside a string
        return None
    if not tokens or tokens[-1].start != end:
        return None
    form = next((index for index, token in enumerate(tokens) if token.kind == "word"
                 and token.keyword in _FORMS_AND_UPDATES), None)
    if form is None or tokens[form].keyword not in ("SELECT", "ASK"):
        return None
    depth, where = 0, None
    for token in tokens[form + 1:-1]:
        if token.text == "(":
            depth += 1
        elif token.text == ")":
            depth -= 1
        elif token.text == "{" or token.keyword in ("FROM", "SERVICE"):
            return None
        elif token.keyword == "WHERE" and depth == 0 and where is None:
            where = token.start
    return (where if where is not None else end) if depth == 0 else None


_FORMS_AND_UPDATES = {"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"} | UPDATE_KEYWORDS


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


def _refusal(response: EngineReply) -> QueryRejected:
    """What an engine's error status means for the client.

    4xx: the engine refused the query (a syntax or feature it does not know), the client's to change.
    502 / 503 / 504: the engine (or a proxy before it) is down or overloaded, worth trying again.
    Any other 5xx: the engine failed on this query (Virtuoso: "SR066: Unsupported case in CONVERT"), and
    will fail again, so no "try again shortly": a 502 with the engine's own first line.
    """
    if response.status < 500:
        message = response.content[:4096].decode("utf-8", errors="replace").strip().splitlines()[:3]
        return QueryRejected(400, "The query was refused by the SPARQL engine: " + " ".join(message)[:500])
    if response.status in (502, 503, 504):
        return BackendUnavailable(f"The SPARQL engine is unavailable ({response.status}); try again shortly.")
    return QueryRejected(502, f"The SPARQL engine behind this site failed on this query (HTTP {response.status}) "
                              f"and would fail again; change the query. The engine said: "
                              f"{response.first_line() or 'nothing'}")


# Markers of terms an engine may write differently from the embedded engine (whose JSON has no datatype for
# xsd:string, no rdf:langString, no "typed-literal", and valid blank-node labels): an answer holding none of
# them means, term by term, what pyoxigraph would write for the same rows. The datatype markers hold no "/",
# which JSON may escape; a value that merely ends like one only costs the slower path.
_NORMALISED_TERMS = (b'"bnode"', b'#string"', b'#langString"', b'"typed-literal"')


def _passes_unchanged(body: bytes, engine_format: QueryResultsFormat, fmt: QueryResultsFormat) -> bool:
    """Whether the engine's bytes can be the answer as they are: the asked format, no term to normalise."""
    return engine_format == fmt == QueryResultsFormat.JSON and not any(marker in body for marker in _NORMALISED_TERMS)


def _results_answer(body: bytes, engine_format: QueryResultsFormat, task: QueryTask) -> Answer:
    """SPARQL results from the engine's bytes: passed through when they need no normalising, else read and
    written again with pyoxigraph's writer. Either way the rows are counted (and capped) by parsing them."""
    fmt = QueryResultsFormat.from_media_type(task.results_media_type) if task.results_media_type else None
    if fmt is None:
        raise QueryRejected(406, "This query returns SPARQL results (JSON, XML, CSV, TSV), and the Accept header "
                                 "(or format parameter) allows none of them.")
    result = read_results(body, engine_format)
    if isinstance(result, QueryBoolean):
        return Answer("boolean", fmt.media_type, result.serialize(format=fmt), 1)
    if _passes_unchanged(body, engine_format, fmt):
        count = sum(1 for _ in _capped(result, task.max_rows, "rows"))
        if len(body) > task.max_bytes:
            raise QueryRejected(422, f"The result is larger than {task.max_bytes} bytes, the most this endpoint "
                                     "returns. Add a LIMIT or select fewer variables.")
        return Answer("solutions", fmt.media_type, body, count)
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
