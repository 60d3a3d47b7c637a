"""The embedded engine: the published on-disk Oxigraph build under `var/store`, queried by killable workers.

Each snapshot pins the build the store link points to when it is taken, so a response never mixes two
builds, and a `migkg build` that swaps the link is followed on the next snapshot, by every process,
without a restart. Queries run in the worker pool (time, row, byte and memory limits, no network);
the dumps are files the build wrote beside the store.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from pyoxigraph import (DefaultGraph, NamedNode, QueryBoolean, QueryResultsFormat, QuerySolutions, Quad, RdfFormat,
                        Store, serialize)

from ..backend import Answer, Backend, BackendUnavailable, Build, Limits, QueryRejected, QueryTask, Snapshot
from ..export import FORMATS as DUMP_FORMATS
from ..namespaces import PREFIXES
from ..store import DUMPS_DIR, MANIFEST, StoreMissing, current_build


class EmbeddedBackend(Backend):
    """`oxigraph:PATH`: the build the link at PATH points to, queried through a per-process worker pool."""

    def __init__(self, store_path: Path, limits: Limits, workers: int = 2, base_iri: str | None = None,
                 in_memory_quads: int = 0, **_ignored):
        self.store_path = store_path
        self.limits = limits
        self.workers = workers
        self.in_memory_quads = in_memory_quads  # builds up to this size are answered from a copy in memory
        self.base_iri = base_iri
        self.description = f"oxigraph:{store_path}"
        # The build last served and the link target that named it (None: the store path is no link).
        self._current: tuple[str | None, Path, Build] | None = None
        self._pool = None
        self._lock = threading.Lock()

    def snapshot(self) -> "EmbeddedSnapshot":
        # One readlink per request: while the link names the same build, nothing else needs checking
        # (a build directory the link names is never pruned).
        try:
            target = os.readlink(self.store_path)
        except OSError:
            target = None
        current = self._current
        if target is not None and current is not None and current[0] == target:
            return EmbeddedSnapshot(self, current[1], current[2])
        try:
            directory = current_build(self.store_path)
        except StoreMissing as missing:
            raise BackendUnavailable(f"The knowledge graph has not been built yet ({missing.reason}).") from None
        if current is not None and current[1] == directory:
            build = current[2]
        else:
            try:
                build = Build.from_json((directory / MANIFEST).read_text(encoding="utf-8"))
            except (OSError, ValueError, KeyError):
                raise BackendUnavailable("The build being served was replaced; try again.") from None
        self._current = (target, directory, build)
        return EmbeddedSnapshot(self, directory, build)

    def pool(self):
        """This process's worker pool, started on first use (in the web server's worker process)."""
        from .query_pool import QueryPool

        pool = self._pool
        if pool is None or pool.owner != os.getpid():
            with self._lock:
                pool = self._pool
                if pool is None or pool.owner != os.getpid():
                    pool = self._pool = QueryPool(self.workers, self.limits.timeout, self.limits.max_memory,
                                                           self.in_memory_quads)
        return pool

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


class EmbeddedSnapshot(Snapshot):
    def __init__(self, backend: EmbeddedBackend, directory: Path, build: Build):
        self.backend = backend
        self.directory = directory
        self.build = build
        self.limits = backend.limits
        self.base_iri = backend.base_iri
        self.answers = backend.answers
        self.in_flight = backend.in_flight

    def run(self, task: QueryTask) -> Answer:
        return self.backend.pool().run(str(self.directory), task)

    def has_graph(self, iri: str) -> bool:
        graphs = self.build.summary.get("graphs")
        if graphs is not None:
            return iri in graphs
        return self.ask("ASK { GRAPH ?g { ?s ?p ?o } }", bindings={"g": NamedNode(iri)})

    def dump(self, fmt: RdfFormat) -> Path:
        name = next((name for name, (known, _) in DUMP_FORMATS.items() if known == fmt), None)
        path = self.directory / DUMPS_DIR / f"migkg.{name}"
        if name is None or not path.is_file():
            raise BackendUnavailable("This build has no dump in that format; rebuild with `migkg build`.")
        return path


# ---------------------------------------------------------------------------------------------
# Inside a query worker


def _too_many_rows(task: QueryTask) -> QueryRejected:
    return QueryRejected(422, f"The result has more than {task.max_rows} rows, the most this endpoint returns. "
                              "Add a LIMIT (and ORDER BY / OFFSET to page) or narrow the query.")


def _too_many_bytes(task: QueryTask) -> QueryRejected:
    return QueryRejected(422, f"The result is larger than {task.max_bytes} bytes, the most this endpoint returns. "
                              "Add a LIMIT or select fewer variables.")


class _CappedBuffer:
    """A binary sink that refuses to grow past `limit` bytes, so a huge answer stops early."""

    def __init__(self, limit: int):
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0
        self.overflowed = False

    def write(self, data) -> int:
        if self.size + len(data) > self.limit:
            self.overflowed = True
            raise OSError("result larger than the byte cap")
        self.parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: the bytes stay in memory until the whole answer is sent back."""

    def getvalue(self) -> bytes:
        return b"".join(self.parts)


def count_rows(body: bytes, fmt: QueryResultsFormat) -> int:
    """Rows in a SELECT result as pyoxigraph writes it, counted without parsing it again.

    JSON: rows are objects in one array, written `},{"` between them; a '"' inside a string is always
    escaped, so that sequence cannot occur inside a value. TSV escapes newlines inside terms; XML
    escapes '<' in literals; CSV quotes fields that hold line breaks, so it is read properly.
    """
    if fmt == QueryResultsFormat.JSON:
        if body.endswith(b'"bindings":[]}}'):
            return 0
        if body.startswith(b'{"head":{"vars":[]}'):
            return body.count(b"{}")
        return body.count(b'},{"') + 1
    if fmt == QueryResultsFormat.TSV:
        return body.count(b"\n") - 1
    if fmt == QueryResultsFormat.XML:
        return body.count(b"<result>")
    import csv
    import io

    return sum(1 for _ in csv.reader(io.StringIO(body.decode("utf-8"), newline=""))) - 1


def _not_acceptable(form: str) -> QueryRejected:
    kinds = ("SPARQL results (JSON, XML, CSV, TSV)" if form != "graph"
             else "RDF (Turtle, N-Triples, RDF/XML, JSON-LD, N-Quads, TriG)")
    return QueryRejected(406, f"This query returns {kinds}, and the Accept header (or format parameter) "
                              "allows none of them.")


class _TooManyRows(Exception):
    """The serialized graph passed the row cap."""


def execute(store: Store, task: QueryTask, union: dict) -> Answer:
    """Run `task` on `store` and serialize the answer within the caps (raises QueryRejected).

    `union`: the query options that read the union of the store's graphs (migkg.store.union_options)."""
    if task.require_graph is not None and not store.contains_named_graph(NamedNode(task.require_graph)):
        raise QueryRejected(404, f"There is no graph <{task.require_graph}> in this dataset.")
    options: dict = {}
    if task.default_graphs is not None or task.named_graphs is not None:
        options["default_graph"] = [NamedNode(iri) for iri in task.default_graphs or ()]
        options["named_graphs"] = [NamedNode(iri) for iri in task.named_graphs or ()]
    elif task.union_default_graph:
        options.update(union)
    result = store.query(task.query, base_iri=task.base_iri, prefixes=PREFIXES, **options)
    sink = _CappedBuffer(task.max_bytes)
    if isinstance(result, (QueryBoolean, QuerySolutions)):
        fmt = QueryResultsFormat.from_media_type(task.results_media_type) if task.results_media_type else None
        if fmt is None:
            raise _not_acceptable("solutions")
        if isinstance(result, QueryBoolean):
            return Answer("boolean", fmt.media_type, result.serialize(format=fmt), 1)
        try:
            result.serialize(sink, fmt)
        except Exception:
            if sink.overflowed:
                raise _too_many_bytes(task) from None
            raise
        body = sink.getvalue()
        rows = count_rows(body, fmt)
        if rows > task.max_rows:
            raise _too_many_rows(task)
        return Answer("solutions", fmt.media_type, body, rows)
    fmt = RdfFormat.from_media_type(task.graph_media_type) if task.graph_media_type else None
    if fmt is None:
        raise _not_acceptable("graph")
    counted = [0]

    def capped(triples):
        for triple in triples:
            counted[0] += 1
            if counted[0] > task.max_rows:
                raise _TooManyRows()
            # N-Quads and TriG are dataset formats: the triples go to the default graph.
            yield Quad(triple.subject, triple.predicate, triple.object, DefaultGraph()) if fmt.supports_datasets \
                else triple

    try:
        serialize(capped(result), sink, fmt, prefixes=PREFIXES)
    except _TooManyRows:
        raise QueryRejected(422, f"The graph has more than {task.max_rows} triples, the most this endpoint "
                                 "returns. Narrow the query or add a LIMIT.") from None
    except Exception:
        if sink.overflowed:
            raise _too_many_bytes(task) from None
        raise
    return Answer("graph", fmt.media_type, sink.getvalue(), counted[0])
