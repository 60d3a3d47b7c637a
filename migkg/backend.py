"""The backend seam: the one way the web app and the CLI query the graph, whichever engine holds it.

A `Backend` hands out `Snapshot`s; a snapshot is one build, so every answer given through it (one
HTTP response, one CLI command) comes wholly from that build. The snapshot prepares each query the
same way for every engine: SERVICE refused, parameters bound with a VALUES block placed by the
SPARQL tokenizer, the dataset chosen (the union of all graphs unless the query or the protocol names
one). The engine runs it within the limits and answers with protocol bytes; `select`, `ask` and
`construct` read those bytes back with pyoxigraph's parsers.

Engines: `migkg.engines.oxigraph` (the embedded store, the default) and `migkg.engines.sparql`
(any SPARQL 1.1 Protocol endpoint). `open_backend("oxigraph:var/store" | "sparql:http://…")`.
"""

from __future__ import annotations

import json
import os
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from pyoxigraph import (Literal, NamedNode, QueryBoolean, QueryResultsFormat, QuerySolutions, RdfFormat, Triple,
                        parse, parse_query_results)

from .sparql_lexer import MAX_NESTING, SparqlSyntaxError, bind_values, is_update, may_name, nests_too_deep, shape

# What the snapshot asks engines for when it reads answers itself (lossless, every engine writes it).
INTERNAL_RESULTS = QueryResultsFormat.JSON
INTERNAL_GRAPH = RdfFormat.N_TRIPLES
BUILD_GRAPH = "https://w3id.org/migkg/graph/build"  # the build-metadata graph a remote engine holds
# On a remote engine, every published statement once more in one graph: the default graph of every query
# (a FROM naming hundreds of source graphs is slow in some engines, and engines' own defaults differ).
UNION_GRAPH = "https://w3id.org/migkg/graph/union"
# Whom the running code queries for: the web layer sets the client's address per request. The query queue and the
# embedded pool share their room between clients by it; None is one anonymous client (the CLI, tests).
QUERY_CLIENT: ContextVar[str | None] = ContextVar("migkg_query_client", default=None)
SERVICE_REFUSED = ("Federated queries (SERVICE) are not supported: this endpoint answers from its own data "
                   "only.")
MISPLACED_FROM = ("FROM and FROM NAMED go before the query's WHERE clause: a subquery cannot choose a dataset of "
                  "its own (SPARQL 1.1).")
UPDATE_REFUSED = ("This endpoint answers SPARQL queries (SELECT, ASK, CONSTRUCT, DESCRIBE) only; it is read-only "
                  "and accepts no SPARQL Update.")
NESTING_REFUSED = ("The query nests {depth} levels deep (brackets, and UNION, MINUS, OPTIONAL, BIND or operators "
                   "chained in one group); the query engine takes at most {limit}. Split it into smaller queries, "
                   "or list alternatives in one VALUES block instead of a long UNION.")


class QueryRejected(Exception):
    """The query cannot be answered; `status` is the HTTP status and `message` says why, for the user."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class BackendUnavailable(QueryRejected):
    """The engine cannot answer now (no build yet, engine down, workers lost): a 503, not the client's fault."""

    def __init__(self, message: str):
        super().__init__(503, message)


class BackendConfigError(ValueError):
    """MIGKG_BACKEND (or its parts) cannot be used; the message says what to write instead."""


@dataclass(frozen=True)
class Limits:
    """What one query may cost. Every query, explorer pages included, runs under the same limits."""

    timeout: float = 10.0
    max_rows: int = 10_000
    max_bytes: int = 20 * 1024 * 1024
    max_memory: int = 1024 * 1024 * 1024


@dataclass(frozen=True)
class Dataset:
    """The RDF dataset a query runs over. No graphs named: the union of all graphs as default graph."""

    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None

    @property
    def given(self) -> bool:
        return self.default_graphs is not None or self.named_graphs is not None


@dataclass(frozen=True)
class Build:
    """A published build: its identity and the manifest the build wrote (summary counts per class and graph)."""

    id: str
    manifest: dict = field(default_factory=dict, compare=False)

    @property
    def built_at(self) -> str | None:
        return self.manifest.get("built_at")

    @property
    def summary(self) -> dict:
        return self.manifest.get("summary", {})

    @classmethod
    def from_manifest(cls, manifest: dict) -> "Build":
        return cls(manifest["build_id"], manifest)

    @classmethod
    def from_json(cls, text: str) -> "Build":
        return cls.from_manifest(json.loads(text))


@dataclass(frozen=True)
class QueryTask:
    """One prepared query for an engine: the text to run, over which dataset, in which formats, within which caps."""

    query: str
    union_default_graph: bool = True
    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    results_media_type: str | None = None  # for SELECT/ASK; None if the client accepts no results format
    graph_media_type: str | None = None  # for CONSTRUCT/DESCRIBE; None if the client accepts no RDF format
    max_rows: int = 10_000
    max_bytes: int = 20 * 1024 * 1024
    require_graph: str | None = None  # Graph Store reads: 404 unless this named graph exists
    base_iri: str | None = None


@dataclass(frozen=True)
class Answer:
    form: str  # "solutions", "boolean" or "graph"
    media_type: str
    body: bytes
    rows: int


class BuildCache:
    """Values computed from the current build, least recently used first out, within a byte budget (per process).

    A build is read-only, so a value never goes stale while its build is served. Values of an older
    build are dropped as soon as one of a newer build is stored (build ids are content hashes, so a
    changed id is a changed graph). Used twice: engine answers (AnswerCache) and whole HTTP responses
    (webapp.response_cache).
    """

    def __init__(self, max_bytes: int, max_entry_bytes: int | None = None):
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes if max_entry_bytes is not None else max_bytes // 16
        self._entries: OrderedDict[tuple, tuple[object, int]] = OrderedDict()  # (build, key) -> (value, size)
        self._bytes = 0
        self._build_id: str | None = None
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, build_id: str, key):
        with self._lock:
            entry = self._entries.get((build_id, key))
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end((build_id, key))
            self.hits += 1
            return entry[0]

    def put(self, build_id: str, key, value, size: int) -> None:
        """Keep `value` (about `size` bytes with its key) unless it alone takes more than max_entry_bytes."""
        if size > self.max_entry_bytes:
            return
        with self._lock:
            if build_id != self._build_id:
                self._entries.clear()
                self._bytes, self._build_id = 0, build_id
            previous = self._entries.pop((build_id, key), None)
            if previous is not None:
                self._bytes -= previous[1]
            self._entries[(build_id, key)] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes and self._entries:
                _, (_, old_size) = self._entries.popitem(last=False)
                self._bytes -= old_size


class AnswerCache(BuildCache):
    """Engine answers per build, keyed by the prepared task (text with parameters bound, dataset, formats, caps).

    Refusals are not kept (they are raised, never stored): a time limit hit under load may pass later.
    """

    def put(self, build_id: str, task: QueryTask, answer: Answer) -> None:  # type: ignore[override]
        # the body, the key's text, and object overhead
        super().put(build_id, task, answer, len(answer.body) + len(task.query) + 200)


class QueryQueue:
    """How many queries of this process may be at the engine at once (running or waiting for a worker).

    The web server answers each request in one of a fixed number of threads. Without a bound, a flood of
    slow queries would hold every thread until the time limit, and a request the caches could answer at
    once would wait behind them; past the bound a query is refused at once with a 503 and Retry-After.
    One client (QUERY_CLIENT) may hold at most three quarters of the places, so a flood from one address leaves
    room for others: its excess is refused with a 429. (Half was tried: a script sending 20 queries at once from
    one address, all of which the queue used to take, then got four 429s with no other client waiting.)
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.per_client = max(1, limit - limit // 4)
        self._count = 0
        self._by_client: dict[str | None, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def place(self):
        client = QUERY_CLIENT.get()
        with self._lock:
            if self._count >= self.limit:
                raise BackendUnavailable(f"{self._count} queries are already with the query engine of this "
                                         "server process; try again shortly.")
            held = self._by_client.get(client, 0)
            if client is not None and held >= self.per_client:
                raise QueryRejected(429, f"{held} of your queries are already running or waiting here; send the "
                                         "next one when one of them has been answered.")
            self._count += 1
            self._by_client[client] = held + 1
        try:
            yield
        finally:
            with self._lock:
                self._count -= 1
                left = self._by_client[client] - 1
                if left:
                    self._by_client[client] = left
                else:
                    del self._by_client[client]


GRAPH_DUMP = "CONSTRUCT WHERE { ?s ?p ?o }"  # fixed text; the graph is chosen with the dataset


def prepare(text: str, bindings: dict[str, NamedNode | Literal] | None, dataset: Dataset | None) -> tuple[str, bool]:
    """The text to run (parameters bound) and whether the default graph is the union of all graphs.

    Raises QueryRejected(400) for SERVICE and for text the tokenizer cannot read, QueryRejected(422) for text
    nested deeper than the engine can parse (see migkg.sparql_lexer.MAX_NESTING).
    """
    given = dataset is not None and dataset.given
    try:
        depth = nests_too_deep(text)
        if depth is not None:
            raise QueryRejected(422, NESTING_REFUSED.format(depth=depth, limit=MAX_NESTING))
        if not bindings and not may_name(text, ("SERVICE", "FROM")):
            # Nothing to refuse, bind or give a dataset to: the text goes as it is, untokenized (a cold query
            # saves the tokenizer's half millisecond). Syntax errors come from the engine, also as a 400.
            return text, not given
        found = shape(text)
        if found.uses_service:
            raise QueryRejected(400, SERVICE_REFUSED)
        if found.misplaced_dataset_clause:
            raise QueryRejected(400, MISPLACED_FROM)
        if bindings:
            text = bind_values(text, bindings)
    except SparqlSyntaxError as error:
        raise QueryRejected(400, f"Syntax error in the query: {error}.") from None
    # A dataset given in the protocol replaces FROM / FROM NAMED (SPARQL 1.1 Protocol 2.1.4); without
    # either the default graph is the union of all graphs.
    union = not given and not found.has_dataset_clause
    return text, union


class Snapshot(ABC):
    """One build of the graph, as one response sees it. Engines implement `run`, `has_graph` and `dump_to`."""

    build: Build
    limits: Limits
    base_iri: str | None = None
    answers: AnswerCache | None = None
    in_flight: QueryQueue | None = None

    @abstractmethod
    def run(self, task: QueryTask) -> Answer:
        """Run a prepared task within its caps and the time limit (raises QueryRejected)."""

    @abstractmethod
    def has_graph(self, iri: str) -> bool:
        """Whether the dataset holds a named graph with this IRI."""

    @abstractmethod
    def dump(self, fmt: RdfFormat) -> Path:
        """A file holding the whole dataset in `fmt` (quads formats keep the graphs), for this build."""

    # -- the one query path ------------------------------------------------------------------------

    def query(self, text: str, *, bindings: dict | None = None, dataset: Dataset | None = None,
              results_format: QueryResultsFormat | None = None, graph_format: RdfFormat | None = None,
              max_rows: int | None = None, require_graph: str | None = None) -> Answer:
        """Protocol bytes for `text` in the first of the formats that fits the query's form."""
        prepared, union = prepare(text, bindings, dataset)
        dataset = dataset or Dataset()
        task = QueryTask(
            query=prepared, union_default_graph=union,
            default_graphs=dataset.default_graphs, named_graphs=dataset.named_graphs,
            results_media_type=results_format.media_type if results_format else None,
            graph_media_type=graph_format.media_type if graph_format else None,
            max_rows=self.limits.max_rows if max_rows is None else max_rows,
            max_bytes=self.limits.max_bytes, require_graph=require_graph, base_iri=self.base_iri)
        answer = self.answers.get(self.build.id, task) if self.answers is not None else None
        if answer is None:
            try:
                answer = self._run_in_turn(task)
            except QueryRejected as refusal:
                # The engine's parser says "expected SELECT"; an update sent as a query deserves the reason.
                if refusal.status == 400 and is_update(text):
                    raise QueryRejected(400, UPDATE_REFUSED) from None
                raise
            if self.answers is not None:
                self.answers.put(self.build.id, task, answer)
        return answer

    def _run_in_turn(self, task: QueryTask) -> Answer:
        if self.in_flight is None:
            return self.run(task)
        with self.in_flight.place():
            return self.run(task)

    def select(self, text: str, bindings: dict | None = None, dataset: Dataset | None = None,
               max_rows: int | None = None) -> QuerySolutions:
        answer = self.query(text, bindings=bindings, dataset=dataset, results_format=INTERNAL_RESULTS,
                            graph_format=None, max_rows=max_rows)
        result = parse_query_results(answer.body, format=INTERNAL_RESULTS)
        if not isinstance(result, QuerySolutions):
            raise QueryRejected(400, "This is not a SELECT query.")
        return result

    def ask(self, text: str, bindings: dict | None = None, dataset: Dataset | None = None) -> bool:
        answer = self.query(text, bindings=bindings, dataset=dataset, results_format=INTERNAL_RESULTS)
        result = parse_query_results(answer.body, format=INTERNAL_RESULTS)
        if not isinstance(result, QueryBoolean):
            raise QueryRejected(400, "This is not an ASK query.")
        return bool(result)

    def construct(self, text: str, bindings: dict | None = None, dataset: Dataset | None = None,
                  max_rows: int | None = None) -> list[Triple]:
        answer = self.query(text, bindings=bindings, dataset=dataset, graph_format=INTERNAL_GRAPH,
                            max_rows=max_rows)
        return [quad.triple for quad in parse(answer.body, format=INTERNAL_GRAPH)]

    def execute(self, text: str, bindings: dict | None = None, dataset: Dataset | None = None):
        """Whatever the query's form asks: solutions, a boolean or a list of triples."""
        answer = self.query(text, bindings=bindings, dataset=dataset, results_format=INTERNAL_RESULTS,
                            graph_format=INTERNAL_GRAPH)
        if answer.form == "graph":
            return [quad.triple for quad in parse(answer.body, format=INTERNAL_GRAPH)]
        return parse_query_results(answer.body, format=INTERNAL_RESULTS)


class Backend(ABC):
    """Where the graph lives. `snapshot()` is the current build; cheap enough to call once per request."""

    description: str
    answers: AnswerCache | None = None  # shared by this backend's snapshots
    in_flight: QueryQueue | None = None  # likewise

    @abstractmethod
    def snapshot(self) -> Snapshot:
        """The current build (BackendUnavailable when there is none or the engine cannot be reached)."""

    def close(self) -> None:
        """Let go of processes and connections; the backend may not be used afterwards."""


def open_backend(spec: str, limits: Limits, answer_cache_bytes: int = 0, query_queue: int = 0,
                 **options) -> Backend:
    """The backend a MIGKG_BACKEND value names: `oxigraph:PATH` or `sparql:URL`.

    With `answer_cache_bytes`, answers are kept per build in this process (see AnswerCache); with
    `query_queue`, at most that many of its queries are at the engine at once (see QueryQueue).
    """
    kind, _, target = spec.partition(":")
    backend: Backend | None = None
    if kind == "oxigraph" and target:
        from .engines.oxigraph import EmbeddedBackend

        backend = EmbeddedBackend(Path(os.path.abspath(Path(target).expanduser())), limits, **options)
    elif kind == "sparql" and target.startswith(("http://", "https://")):
        from .engines.sparql import RemoteBackend

        backend = RemoteBackend(target, limits, **options)
    if backend is not None:
        if answer_cache_bytes > 0:
            backend.answers = AnswerCache(answer_cache_bytes)
        if query_queue > 0:
            backend.in_flight = QueryQueue(query_queue)
        return backend
    raise BackendConfigError(
        f"MIGKG_BACKEND={spec!r} is not a backend migkg knows. Write `oxigraph:PATH` for the embedded store "
        "(e.g. oxigraph:var/store, what `migkg build` writes) or `sparql:URL` for a SPARQL 1.1 endpoint "
        "(e.g. sparql:http://127.0.0.1:8890/sparql).")
