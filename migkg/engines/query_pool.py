"""Killable query workers for the embedded store: each query runs in a worker process that can be ended.

pyoxigraph cannot cancel a running query, so the only sure way to stop a runaway one at the time limit
is to kill the process running it. Each web process keeps a small pool of worker processes; a worker
that overruns is killed and replaced, and the request gets a 422 while other requests are served.

Each worker, before it runs anything:
- leaves the network: it moves into a network namespace of its own with no interface but a down
  loopback (as root, or through an unprivileged user namespace), so SERVICE or any other outbound
  request cannot reach any host, whatever the query says;
- caps its address space (RLIMIT_AS): a query that needs more memory fails inside the worker, the
  request gets a 422 and the worker is replaced, and the machine is not exhausted.

Tasks and answers cross the socket as a JSON header and raw bytes (no pickling): the answer is
already serialized in the client's format, so the web process only forwards it.

A build small enough (`in_memory_quads`) is copied into an in-memory store in the background once a worker
first opens it, and answered from that copy when it is ready: Oxigraph answers about 1.5 times faster from
memory than from RocksDB on this data. Until then, and for larger builds, the on-disk store answers.
"""

from __future__ import annotations

import atexit
import ctypes
import fcntl
import json
import logging
import os
import queue
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

from ..backend import QUERY_CLIENT, Answer, BackendUnavailable, QueryRejected, QueryTask

LOG = logging.getLogger(__name__)

STARTUP_LIMIT = 60.0  # seconds a fresh worker may take to import and report ready (not query time)
PARENT_CHECK_INTERVAL = 1.0  # how often a worker checks that the web process that started it is alive
READERS_LOCK = "readers.lock"  # in each build directory: shared-locked by every process that has it open
CLONE_NEWNET, CLONE_NEWUSER = 0x40000000, 0x10000000


# ---------------------------------------------------------------------------------------------
# Inside a worker process


def isolate_network() -> str:
    """Move this process into a network namespace of its own; say how (or why not) for the log."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) == 0:
        return "network namespace"
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0:
        # Map ourselves so files stay readable as before.
        try:
            Path("/proc/self/setgroups").write_text("deny")
            Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
            Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
        except OSError:
            pass  # unmapped ids still read the store files (world-readable); isolation is what counts
        return "user + network namespace"
    return f"not isolated ({os.strerror(ctypes.get_errno())})"


def cap_memory(limit: int) -> None:
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _watch_parent(parent_pid: int) -> None:
    # A worker busy in a long query never reads its pipe, so it would not notice its web process dying.
    while True:
        time.sleep(PARENT_CHECK_INTERVAL)
        if os.getppid() != parent_pid:
            print(f"query worker {os.getpid()}: web process {parent_pid} is gone", file=sys.stderr, flush=True)
            os._exit(0)


# Bytes an in-memory copy may take per quad, an upper bound of what Oxigraph's memory store was measured to
# take (380–480 B at 200 k–1 M quads).
MEMORY_PER_QUAD = 640
COPYING = "copying into memory:"  # a worker's log line; a worker that dies after it and before COPIED ...
COPIED = "in memory after"  # ... makes the pool stop copying (see QueryPool._run_once)


class _OpenBuild:
    """A build this worker has open: its on-disk store, and the in-memory copy that replaces it once loaded."""

    def __init__(self, build_dir: str, store, union: dict, lock_fd: int):
        self.build_dir = build_dir
        self.store = store  # what answers now: the on-disk store, then the copy
        self.union = union
        self.lock_fd = lock_fd
        self.in_memory = False

    def copy_into_memory(self) -> None:
        """Load every quad into a memory store, then answer from it (run in a background thread)."""
        from ..store import copy_into_memory

        started = time.monotonic()
        try:
            copy = copy_into_memory(self.store)
        except Exception as error:  # the on-disk store keeps answering
            print(f"query worker {os.getpid()}: no in-memory copy of {self.build_dir}: {error!r}", file=sys.stderr,
                  flush=True)
            return
        self.store, self.in_memory = copy, True
        print(f"query worker {os.getpid()}: {len(copy)} quads of {self.build_dir} {COPIED} "
              f"{time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)


def quads_to_copy(build_dir: str, in_memory_quads: int, memory_limit: int, in_use: int = 0) -> int | None:
    """How many quads an in-memory copy of the build would hold, or None if it should stay on disk only.

    With a memory cap, the copy must fit beside the address space already `in_use` and leave a quarter of
    the cap free: past the cap, RocksDB's threads fail to start and abort the worker, not just the copy.
    """
    from ..store import MANIFEST, UNION_IN_DEFAULT_GRAPH

    if in_memory_quads <= 0:
        return None
    try:
        manifest = json.loads(Path(build_dir, MANIFEST).read_text(encoding="utf-8"))
        quads = int(manifest["summary"]["triples"]) * (2 if manifest.get(UNION_IN_DEFAULT_GRAPH) else 1)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if quads > in_memory_quads:
        return None
    if memory_limit > 0 and in_use + quads * MEMORY_PER_QUAD > memory_limit - memory_limit // 4:
        return None
    return quads


def address_space_in_use() -> int:
    """This process's virtual memory size in bytes (what RLIMIT_AS caps), 0 if /proc cannot tell."""
    try:
        status = Path("/proc/self/status").read_text()
        return next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmSize:")), 0)
    except (OSError, ValueError, IndexError):
        return 0  # no /proc: the copy is then judged by its own size against the cap


class _OpenBuilds:
    """The stores this worker has open (at most two: the current build and the one before it)."""

    def __init__(self, in_memory_quads: int = 0, memory_limit: int = 0) -> None:
        self.opened: dict[str, _OpenBuild] = {}
        self.in_memory_quads = in_memory_quads
        self.memory_limit = memory_limit

    def get(self, build_dir: str) -> tuple[object, dict]:
        """The build's store, and the query options that read the union of its graphs (store.union_options)."""
        entry = self.opened.get(build_dir)
        if entry is None:
            entry = self._open(build_dir)
        return entry.store, entry.union

    def _open(self, build_dir: str) -> _OpenBuild:
        from pyoxigraph import Store

        from ..store import union_options

        while len(self.opened) >= 2:
            oldest = next(iter(self.opened))
            os.close(self.opened.pop(oldest).lock_fd)
        try:
            lock_fd = os.open(os.path.join(build_dir, READERS_LOCK), os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError:
            raise BackendUnavailable("The build being served was replaced; try again.") from None
        fcntl.flock(lock_fd, fcntl.LOCK_SH)
        if not os.path.isdir(os.path.join(build_dir, "oxigraph")):
            os.close(lock_fd)
            raise BackendUnavailable("The build being served was replaced; try again.")
        store = Store.read_only(os.path.join(build_dir, "oxigraph"))
        # Once per build: its layout never changes, and the in-memory copy holds the same graphs.
        entry = self.opened[build_dir] = _OpenBuild(build_dir, store, union_options(store), lock_fd)
        quads = quads_to_copy(build_dir, self.in_memory_quads, self.memory_limit, address_space_in_use())
        if quads is not None:
            print(f"query worker {os.getpid()}: {COPYING} {quads} quads of {build_dir}", file=sys.stderr, flush=True)
            threading.Thread(target=entry.copy_into_memory, daemon=True, name="in-memory copy").start()
        return entry


def worker_main(fd: int, parent_pid: int, memory_limit: int, in_memory_quads: int = 0) -> None:
    """Entry point of a worker process: isolate, then serve tasks on the socket `fd` shared with the web process."""
    how = isolate_network()  # before any thread starts: a user namespace needs a single-threaded process
    cap_memory(memory_limit)
    os.set_blocking(fd, True)
    connection = Connection(fd)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="parent-watch").start()
    from .oxigraph import execute  # imported after the cap, so the cap covers the engine's own start-up

    builds = _OpenBuilds(in_memory_quads, memory_limit)
    connection.send_bytes(json.dumps({"ready": os.getpid(), "isolation": how}).encode())
    while True:
        try:
            message = json.loads(connection.recv_bytes())
        except (EOFError, OSError) as error:
            print(f"query worker {os.getpid()}: the web process closed the connection ({error!r})", file=sys.stderr)
            return
        body = b""
        try:
            build_dir = message.pop("build_dir")
            task = QueryTask(**{k: tuple(v) if isinstance(v, list) else v for k, v in message.items()})
            store, union = builds.get(build_dir)
            answer = execute(store, task, union)
            header, body = {"ok": True, "form": answer.form, "media_type": answer.media_type,
                            "rows": answer.rows}, answer.body
        except QueryRejected as rejected:
            header = {"ok": False, "status": rejected.status, "message": rejected.message}
        except SyntaxError as error:
            header = {"ok": False, "status": 400, "message": f"Syntax error in the query: {error}"}
        except MemoryError:
            header = {"ok": False, "status": 422, "message": MEMORY_MESSAGE}
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # pyo3's PanicException is a BaseException
            header = {"ok": False, "status": 400, "message": f"The query could not be evaluated: {error}"}
        try:
            connection.send_bytes(json.dumps(header).encode())
            connection.send_bytes(body)  # a message of its own: a large answer is not copied to be joined
        except (EOFError, OSError):
            return


CRASH_MESSAGE = ("The query engine stopped twice while running this query, so it is not run again. Simplify it "
                 "(fewer nested groups, smaller VALUES, fewer UNIONs) or split it into smaller queries.")
MEMORY_MESSAGE = ("The query needed more memory than a query may use here and was stopped. Narrow it (more "
                  "specific patterns, fewer joins, a LIMIT without ORDER BY over everything) or ask for less.")


# ---------------------------------------------------------------------------------------------
# In the web process


# The package root, so a worker finds `migkg` even when it is not installed.
_IMPORT_ROOT = str(Path(__file__).resolve().parent.parent.parent)
_WORKER_CODE = ("import sys; from migkg.engines.query_pool import worker_main; "
                "worker_main(*map(int, sys.argv[1:]))")


class _Worker:
    def __init__(self, process: subprocess.Popen, connection: Connection, log):
        self.process = process
        self.connection = connection
        self.log = log  # the worker's stderr, read when it dies to tell a memory abort from a crash
        self.ready = False
        self.isolation = None
        # One poll object per worker: Connection.poll builds a selector on every call.
        self._poller = select.poll()
        self._poller.register(connection.fileno(), select.POLLIN)

    def wait(self, timeout: float) -> bool:
        """Whether the worker has written something (or hung up) within `timeout` seconds."""
        return bool(self._poller.poll(max(0, int(timeout * 1000))))

    def last_words(self) -> str:
        try:
            self.log.seek(0, os.SEEK_END)
            size = self.log.tell()
            self.log.seek(max(0, size - 4096))
            return self.log.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""


class _WorkerDied(Exception):
    def __init__(self, out_of_memory: bool, running: bool):
        self.out_of_memory = out_of_memory
        self.running = running  # it died with the task in hand, not while starting


class _Waiter:
    __slots__ = ("client", "ready", "worker")

    def __init__(self, client: str | None):
        self.client, self.ready, self.worker = client, threading.Event(), None


class _FairHandOut:
    """Idle workers, handed to waiting queries fairly: first to the client with the fewest queries in the pool
    (running or waiting), then to the client served longest ago, then to the query that has waited longest. A client
    that sends many slow queries keeps the workers only until another client asks: each worker it frees goes to the
    other client's query first.

    A freed worker is handed to the chosen waiter directly, waking that thread alone: a condition notified to every
    waiter, each checking whether it is the chosen one, halved the pool's throughput at 8 threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []  # the last one back is handed out first: its caches are warm
        self._waiting: dict[int, _Waiter] = {}  # by ticket (arrival order); never filled while a worker is idle
        self._held: dict[str | None, int] = {}  # client -> its queries running or waiting
        self._served: dict[str | None, int] = {}  # client with queries held -> the ticket it was last served on
        self._tickets = 0

    def put(self, worker: _Worker) -> None:
        with self._lock:
            if not self._waiting:
                self._idle.append(worker)
                return
            ticket = min(self._waiting, key=self._turn)
            waiter = self._waiting.pop(ticket)
            self._served[waiter.client] = ticket
            waiter.worker = worker
            waiter.ready.set()

    def get(self, client: str | None, timeout: float) -> _Worker:
        """An idle worker for `client`, whose query counts as held until `done`; queue.Empty after `timeout` s."""
        with self._lock:
            self._held[client] = self._held.get(client, 0) + 1
            self._tickets += 1
            if self._idle:
                self._served[client] = self._tickets
                return self._idle.pop()
            ticket, waiter = self._tickets, _Waiter(client)
            self._waiting[ticket] = waiter
        if waiter.ready.wait(timeout):
            return waiter.worker
        with self._lock:
            if waiter.worker is not None:  # handed over as the wait ended
                return waiter.worker
            del self._waiting[ticket]
            self._release(client)
        raise queue.Empty

    def done(self, client: str | None) -> None:
        with self._lock:
            self._release(client)

    def _turn(self, ticket: int) -> tuple[int, int, int]:
        client = self._waiting[ticket].client
        return self._held[client], self._served.get(client, 0), ticket

    def _release(self, client: str | None) -> None:
        left = self._held[client] - 1
        if left:
            self._held[client] = left
        else:
            del self._held[client]
            self._served.pop(client, None)


class QueryPool:
    """`size` worker processes; `run` hands a task to an idle one and waits at most `timeout` seconds."""

    def __init__(self, size: int, timeout: float, memory_limit: int, in_memory_quads: int = 0):
        self.size = max(1, size)
        self.timeout = timeout
        self.memory_limit = memory_limit
        self.in_memory_quads = in_memory_quads
        self.owner = os.getpid()
        self._lock = threading.Lock()
        self._idle = _FairHandOut()
        self._workers: set[_Worker] = set()
        self._closed = False
        for _ in range(self.size):
            self._idle.put(self._spawn())
        atexit.register(self.close)

    def _spawn(self) -> _Worker:
        # A plain subprocess rather than multiprocessing's spawn, which re-imports the parent's
        # __main__ (the web server's or pytest's script, or nothing importable at all).
        ours, theirs = socket.socketpair()
        # Under some servers (gevent) the pair's descriptors are non-blocking; Connection expects blocking ones on both
        # ends (the web side only reads after poll() says the answer is there).
        os.set_blocking(ours.fileno(), True)
        os.set_blocking(theirs.fileno(), True)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_IMPORT_ROOT, env.get("PYTHONPATH")]))
        # glibc reserves 64 MB of address space per malloc arena, up to 8 per core, one per new thread: under the
        # RLIMIT_AS cap, RocksDB's and the engine's threads then ran out of address space with little memory in use
        # (a worker aborted at thread creation: "std::system_error: Resource temporarily unavailable").
        env.setdefault("MALLOC_ARENA_MAX", "2")
        log = tempfile.TemporaryFile()
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _WORKER_CODE, str(theirs.fileno()), str(os.getpid()), str(self.memory_limit),
                 str(self.in_memory_quads)],
                pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL, stderr=log)
        finally:
            theirs.close()
        worker = _Worker(process, Connection(ours.detach()), log)
        with self._lock:
            self._workers.add(worker)
        return worker

    def _retire(self, worker: _Worker) -> None:
        """Kill a worker (it overran, crashed or its pipe broke) and put a fresh one in its place."""
        with self._lock:
            self._workers.discard(worker)
        worker.process.kill()
        try:
            worker.process.wait(5)
        except subprocess.TimeoutExpired:
            LOG.warning("query worker %s did not exit after SIGKILL", worker.process.pid)
        worker.connection.close()
        worker.log.close()
        if not self._closed:
            self._idle.put(self._spawn())

    def worker_pids(self) -> list[int]:
        with self._lock:
            return sorted(w.process.pid for w in self._workers)

    def isolation(self) -> list[str | None]:
        with self._lock:
            return [w.isolation for w in self._workers if w.ready]

    def run(self, build_dir: str, task: QueryTask) -> Answer:
        """Run `task` on the build in `build_dir`; a worker that dies is replaced and the task tried once more."""
        try:
            return self._run_once(build_dir, task)
        except _WorkerDied as died:
            if died.out_of_memory:
                raise QueryRejected(422, MEMORY_MESSAGE) from None
        try:
            return self._run_once(build_dir, task)
        except _WorkerDied as died:
            if died.out_of_memory:
                raise QueryRejected(422, MEMORY_MESSAGE) from None
            if died.running:
                # Two fresh processes in a row ended on this query: it would end a third (the engine crashes on it).
                raise QueryRejected(422, CRASH_MESSAGE) from None
            raise BackendUnavailable("The query engine stopped twice while answering; try again shortly.") from None

    def _run_once(self, build_dir: str, task: QueryTask) -> Answer:
        if self._closed:
            raise BackendUnavailable("The query service is shutting down; try again.")
        client = QUERY_CLIENT.get()
        try:
            worker = self._idle.get(client, timeout=self.timeout)
        except queue.Empty:
            raise BackendUnavailable(f"All query workers stayed busy for {self.timeout:g} s; try again shortly.") from None
        try:
            return self._answer(worker, build_dir, task)
        finally:
            self._idle.done(client)

    def _answer(self, worker: _Worker, build_dir: str, task: QueryTask) -> Answer:
        running = False
        try:
            if not worker.ready:
                if not worker.wait(STARTUP_LIMIT):
                    raise BackendUnavailable("A query worker did not start; try again.")
                hello = json.loads(worker.connection.recv_bytes())
                worker.ready, worker.isolation = True, hello.get("isolation")
            message = dict(vars(task))  # its fields are strings, numbers, None and tuples of strings
            message["build_dir"] = build_dir
            worker.connection.send_bytes(json.dumps(message).encode())
            running = True
            if not worker.wait(self.timeout):
                raise QueryRejected(422, f"The query ran longer than the time limit of {self.timeout:g} s and was "
                                         "stopped. Narrow it (more specific patterns, a LIMIT) or ask for less.")
            header = json.loads(worker.connection.recv_bytes())
            body = worker.connection.recv_bytes()
        except QueryRejected:
            self._retire(worker)
            raise
        except (EOFError, OSError, ValueError):
            try:
                worker.process.wait(2)
            except subprocess.TimeoutExpired:
                pass  # alive but its pipe broke: _retire kills it
            words = worker.last_words()
            out_of_memory = ("memory allocation" in words or "MemoryError" in words
                             or worker.process.returncode == -signal.SIGABRT and self.memory_limit > 0)
            if self.in_memory_quads and COPYING in words and COPIED not in words.rpartition(COPYING)[2]:
                # It died while copying a build into memory: every fresh worker would copy and die again.
                LOG.warning("query worker %s died while copying a build into memory; this process's workers now "
                            "read builds from disk only (raise MIGKG_QUERY_MEMORY_MB or lower "
                            "MIGKG_IN_MEMORY_QUADS)", worker.process.pid)
                self.in_memory_quads = 0
            LOG.warning("query worker %s died (exit %s)%s: %s", worker.process.pid, worker.process.returncode,
                        ": out of memory" if out_of_memory else "", words[-500:])
            self._retire(worker)
            raise _WorkerDied(out_of_memory, running) from None
        self._idle.put(worker)
        if header["ok"]:
            return Answer(header["form"], header["media_type"], body, header["rows"])
        if header["status"] == 503:
            raise BackendUnavailable(header["message"])
        raise QueryRejected(header["status"], header["message"])

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
            worker.log.close()
