"""Killable query execution: worker processes open the store read-only, run one query at a time and
send back the serialized answer; a query that overruns its time limit has its process killed and replaced.

pyoxigraph cannot interrupt a running query (an aggregate blocks inside `Store.query`), so the only
sure way to stop a runaway query is to run it in a process we can kill. Workers are fresh interpreters
(never forks: no RocksDB handle or thread crosses a fork) started lazily on first use, so each gunicorn
worker gets its own pool after gunicorn has forked it.
"""

from __future__ import annotations

import atexit
import csv
import io
import json
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from pyoxigraph import (NamedNode, QueryBoolean, QueryResultsFormat, QuerySolutions, RdfFormat, Store,
                        serialize)

from migkg.namespaces import PREFIXES

LOG = logging.getLogger(__name__)

STARTUP_LIMIT = 60.0  # seconds a fresh worker may take to import and report ready (not query time)
PARENT_CHECK_INTERVAL = 1.0  # how often a worker checks that the web process that started it is alive


class QueryRejected(Exception):
    """The query cannot be answered; `status` is the HTTP status and `message` says why, for the user."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class PoolBusy(QueryRejected):
    """Every worker stayed busy for the whole time limit: the server is overloaded, not the query wrong."""

    def __init__(self, message: str):
        super().__init__(503, message)


@dataclass(frozen=True)
class QueryTask:
    """One query for a worker: what to run, over which dataset, in which formats, within which caps."""

    store_dir: str
    query: str
    base_iri: str | None = None
    # None/None: no protocol dataset. Then `union_default_graph` says whether the default graph is the
    # union of all graphs (False when the query has its own FROM / FROM NAMED, which must then apply).
    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    union_default_graph: bool = True
    results_media_type: str | None = None  # for SELECT/ASK; None if the client accepts no results format
    graph_media_type: str | None = None  # for CONSTRUCT/DESCRIBE; None if the client accepts no RDF format
    max_rows: int = 10_000
    max_bytes: int = 20 * 1024 * 1024
    require_graph: str | None = None  # Graph Store reads: 404 unless this named graph exists


@dataclass(frozen=True)
class QueryAnswer:
    form: str  # "solutions", "boolean" or "graph"
    media_type: str
    body: bytes
    rows: int


# ---------------------------------------------------------------------------------------------
# Inside a worker process


class _TooManyRows(Exception):
    """The serialized result passed the row cap."""


class _CappedBuffer:
    """A binary sink that refuses to grow past `limit` bytes, so a huge answer stops early."""

    def __init__(self, limit: int):
        self.limit = limit
        self.buffer = io.BytesIO()
        self.overflowed = False

    def write(self, data) -> int:
        if self.buffer.tell() + len(data) > self.limit:
            self.overflowed = True
            raise OSError("result larger than the byte cap")
        return self.buffer.write(data)

    def flush(self) -> None:
        """Nothing to flush: the bytes stay in memory until the whole answer is sent back."""

    def getvalue(self) -> bytes:
        return self.buffer.getvalue()


def _too_many_rows(task: QueryTask) -> QueryRejected:
    return QueryRejected(422, f"The result has more than {task.max_rows} rows, the most this endpoint returns. "
                              "Add a LIMIT (and ORDER BY / OFFSET to page) or narrow the query.")


def _too_many_bytes(task: QueryTask) -> QueryRejected:
    return QueryRejected(422, f"The result is larger than {task.max_bytes} bytes, the most this endpoint returns. "
                              "Add a LIMIT or select fewer variables.")


def _count_rows(body: bytes, fmt: QueryResultsFormat) -> int:
    """Rows in a serialized SELECT result (exact for every format pyoxigraph writes)."""
    if fmt == QueryResultsFormat.TSV:
        return body.count(b"\n") - 1  # TSV escapes newlines inside terms
    if fmt == QueryResultsFormat.XML:
        return body.count(b"<result>")  # '<' inside literals is escaped as &lt;
    if fmt == QueryResultsFormat.JSON:
        return len(json.loads(body)["results"]["bindings"])
    return sum(1 for _ in csv.reader(io.StringIO(body.decode("utf-8"), newline=""))) - 1


def _not_acceptable(form: str) -> QueryRejected:
    kinds = ("SPARQL results (JSON, XML, CSV, TSV)" if form != "graph"
             else "RDF (Turtle, N-Triples, RDF/XML, JSON-LD)")
    return QueryRejected(406, f"This query returns {kinds}, and the Accept header (or format parameter) "
                              "allows none of them.")


def execute(store: Store, task: QueryTask) -> QueryAnswer:
    """Run `task` on `store` and serialize the answer within the caps (raises QueryRejected)."""
    if task.require_graph is not None and not store.contains_named_graph(NamedNode(task.require_graph)):
        raise QueryRejected(404, f"There is no graph <{task.require_graph}> in this dataset.")
    options: dict = {}
    if task.default_graphs is not None or task.named_graphs is not None:
        # A dataset given in the protocol replaces FROM / FROM NAMED (SPARQL 1.1 Protocol, 2.1.4).
        options["default_graph"] = [NamedNode(iri) for iri in task.default_graphs or ()]
        options["named_graphs"] = [NamedNode(iri) for iri in task.named_graphs or ()]
    elif task.union_default_graph:
        options["use_default_graph_as_union"] = True
    result = store.query(task.query, base_iri=task.base_iri, prefixes=PREFIXES, **options)
    sink = _CappedBuffer(task.max_bytes)
    if isinstance(result, QueryBoolean):
        fmt = QueryResultsFormat.from_media_type(task.results_media_type) if task.results_media_type else None
        if fmt is None:
            raise _not_acceptable("boolean")
        return QueryAnswer("boolean", fmt.media_type, result.serialize(format=fmt), 1)
    if isinstance(result, QuerySolutions):
        fmt = QueryResultsFormat.from_media_type(task.results_media_type) if task.results_media_type else None
        if fmt is None:
            raise _not_acceptable("solutions")
        try:
            result.serialize(sink, fmt)
        except Exception:
            if sink.overflowed:
                raise _too_many_bytes(task) from None
            raise
        body = sink.getvalue()
        rows = _count_rows(body, fmt)
        if rows > task.max_rows:
            raise _too_many_rows(task)
        return QueryAnswer("solutions", fmt.media_type, body, rows)
    fmt = RdfFormat.from_media_type(task.graph_media_type) if task.graph_media_type else None
    if fmt is None:
        raise _not_acceptable("graph")
    counted = [0]

    def capped(triples):
        for triple in triples:
            counted[0] += 1
            if counted[0] > task.max_rows:
                raise _TooManyRows()
            yield triple

    try:
        serialize(capped(result), sink, fmt, prefixes=PREFIXES)
    except _TooManyRows:
        raise QueryRejected(422, f"The graph has more than {task.max_rows} triples, the most this endpoint "
                                 "returns. Narrow the query or add a LIMIT.") from None
    except Exception:
        if sink.overflowed:
            raise _too_many_bytes(task) from None
        raise
    return QueryAnswer("graph", fmt.media_type, sink.getvalue(), counted[0])


def _watch_parent(parent_pid: int) -> None:
    # A worker busy in a long query never reads its pipe, so it would not notice its web process dying.
    while True:
        time.sleep(PARENT_CHECK_INTERVAL)
        if os.getppid() != parent_pid:
            os._exit(0)


def worker_main(fd: int, parent_pid: int) -> None:
    """Entry point of a worker process: serve tasks on the socket `fd` shared with the web process."""
    _serve(Connection(fd), parent_pid)


def _serve(connection: Connection, parent_pid: int) -> None:
    """A worker's life: report ready, then answer tasks until the socket closes."""
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="parent-watch").start()
    opened: dict[str, Store] = {}
    connection.send(("ready", os.getpid()))
    while True:
        try:
            task: QueryTask = connection.recv()
        except (EOFError, OSError):
            return
        try:
            store = opened.get(task.store_dir)
            if store is None:
                opened.clear()  # a new build was swapped in: let go of the old one
                store = opened[task.store_dir] = Store.read_only(task.store_dir)
            reply = ("ok", execute(store, task))
        except QueryRejected as rejected:
            reply = ("error", rejected.status, rejected.message)
        except SyntaxError as error:
            reply = ("error", 400, f"Syntax error in the query: {error}")
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # pyo3's PanicException is a BaseException
            reply = ("error", 400, f"The query could not be evaluated: {error}")
        try:
            connection.send(reply)
        except (EOFError, OSError):
            return


# ---------------------------------------------------------------------------------------------
# In the web process


# The package root, so a worker finds `webapp` even when it is not installed.
_IMPORT_ROOT = str(Path(__file__).resolve().parent.parent)
_WORKER_CODE = "import sys; from webapp.query_pool import worker_main; worker_main(int(sys.argv[1]), int(sys.argv[2]))"


class _Worker:
    def __init__(self, process: subprocess.Popen, connection: Connection):
        self.process = process
        self.connection = connection
        self.ready = False

    @property
    def pid(self) -> int | None:
        return self.process.pid


class QueryPool:
    """`size` worker processes; `run` hands a task to an idle one and waits at most `timeout` seconds."""

    def __init__(self, size: int, timeout: float):
        self.size = max(1, size)
        self.timeout = timeout
        self.owner = os.getpid()
        self._lock = threading.Lock()
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._workers: set[_Worker] = set()
        self._closed = False
        for _ in range(self.size):
            self._idle.put(self._spawn())
        atexit.register(self.close)

    def _spawn(self) -> _Worker:
        # A plain subprocess rather than multiprocessing's spawn, which re-imports the parent's
        # __main__ (gunicorn's or pytest's script, or nothing importable at all).
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_IMPORT_ROOT, env.get("PYTHONPATH")]))
        try:
            process = subprocess.Popen([sys.executable, "-c", _WORKER_CODE, str(theirs.fileno()), str(os.getpid())],
                                       pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        worker = _Worker(process, Connection(ours.detach()))
        with self._lock:
            self._workers.add(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        """Kill a worker (it overran, crashed or its pipe broke) and put a fresh one in its place."""
        with self._lock:
            self._workers.discard(worker)
        worker.process.kill()
        worker.process.wait(5)
        worker.connection.close()
        if not self._closed:
            self._idle.put(self._spawn())

    def worker_pids(self) -> list[int]:
        with self._lock:
            return sorted(w.pid for w in self._workers if w.pid is not None)

    def run(self, task: QueryTask) -> QueryAnswer:
        if self._closed:
            raise PoolBusy("The query service is shutting down; try again.")
        try:
            worker = self._idle.get(timeout=self.timeout)
        except queue.Empty:
            raise PoolBusy(f"All query workers stayed busy for {self.timeout:g} s; try again shortly.") from None
        try:
            if not worker.ready:
                if not worker.connection.poll(STARTUP_LIMIT):
                    raise PoolBusy("A query worker did not start; try again.")
                worker.connection.recv()
                worker.ready = True
            worker.connection.send(task)
            if not worker.connection.poll(self.timeout):
                raise QueryRejected(422, f"The query ran longer than the time limit of {self.timeout:g} s and was "
                                         "stopped. Narrow it (more specific patterns, a LIMIT) or ask for less.")
            reply = worker.connection.recv()
        except QueryRejected:
            self._retire(worker)
            raise
        except (EOFError, OSError, BrokenPipeError):
            # The worker died mid-query: in practice a query so deeply nested or so memory-hungry that
            # the engine aborted. The query caused it, so it is the client's error, not the server's.
            self._retire(worker)
            raise QueryRejected(400, "The query could not be evaluated: it stopped the query engine "
                                     "(too deeply nested or too large).") from None
        self._idle.put(worker)
        if reply[0] == "ok":
            return reply[1]
        raise QueryRejected(reply[1], reply[2])

    def close(self) -> None:
        """Stop every worker; safe to call twice and from atexit."""
        self._closed = True
        if os.getpid() != self.owner:
            return  # a forked copy: the workers belong to the parent
        with self._lock:
            workers, self._workers = list(self._workers), set()
        for worker in workers:
            worker.connection.close()
            worker.process.kill()
        for worker in workers:
            try:
                worker.process.wait(5)
            except subprocess.TimeoutExpired:
                # SIGKILL was sent; a child the kernel has not reaped in 5 s must not block shutdown.
                LOG.warning("query worker %s did not exit after SIGKILL", worker.process.pid)


_pools_lock = threading.Lock()
REGISTRY_KEY = "migkg_query_pool"


def pool_for(registry: dict, size: int, timeout: float) -> QueryPool:
    """The pool kept in `registry` (an app's extensions) for this process, started on first use, after any fork."""
    pool = registry.get(REGISTRY_KEY)
    if pool is None or pool.owner != os.getpid():
        with _pools_lock:
            pool = registry.get(REGISTRY_KEY)
            if pool is None or pool.owner != os.getpid():
                pool = registry[REGISTRY_KEY] = QueryPool(size, timeout)
    return pool


def close_pool(registry: dict) -> None:
    """Stop the pool kept in `registry`, if this process started one."""
    pool = registry.pop(REGISTRY_KEY, None)
    if pool is not None:
        pool.close()
