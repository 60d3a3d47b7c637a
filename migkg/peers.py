"""Start and stop real SPARQL engines (Virtuoso 7, the Oxigraph server) on loopback for tests and benchmarks.

Each engine runs as a child process in the foreground, in a private directory, on free loopback ports,
and is stopped (terminate, then kill) when its context manager exits, also when the body raised.

    with peers.virtuoso(tmpdir) as engine:
        publish(build_dir, engine.query_url, engine.graph_store_url, auth=engine.credentials)

Virtuoso's Graph Store endpoint: we use `/sparql-graph-crud-auth` with HTTP digest authentication as
`dba`, with a random password set on each start, rather than granting SPARQL_UPDATE to the anonymous
`SPARQL` user on `/sparql-graph-crud`. That way the test instance is written the way a production
Virtuoso is (credentials from the environment), and nothing else on the machine can write into it
through the unauthenticated port.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import requests

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 60.0  # seconds; a fresh Virtuoso database takes ~5–10 s to initialise on 2 cores
STOP_TIMEOUT = 15.0


class EngineUnavailable(RuntimeError):
    """The engine's binary is not installed (the message says which package provides it)."""


class EngineFailed(RuntimeError):
    """The engine did not start or did not answer within the start-up bound (the message quotes its log)."""


@dataclass
class Engine:
    """A running engine: where to query it, where to write graphs, with which credentials; `stop()` ends it."""

    name: str
    query_url: str
    graph_store_url: str
    credentials: tuple[str, str] | None
    process: subprocess.Popen
    directory: Path
    log_path: Path
    auth_scheme: str = "basic"  # "digest" for Virtuoso's /sparql-graph-crud-auth
    extra: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def auth(self) -> requests.auth.AuthBase | None:
        """A requests auth object for the Graph Store endpoint (None when the engine needs none)."""
        if self.credentials is None:
            return None
        if self.auth_scheme == "digest":
            return requests.auth.HTTPDigestAuth(*self.credentials)
        return requests.auth.HTTPBasicAuth(*self.credentials)

    def stop(self) -> None:
        _stop(self.process)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""


def free_port() -> int:
    """A loopback TCP port nobody listens on right now (the engine binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


def _wait_until_answers(engine: Engine, timeout: float) -> None:
    """Poll an ASK on the query endpoint until it answers 200, the process dies, or the bound passes."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if engine.process.poll() is not None:
            raise EngineFailed(f"{engine.name} exited with {engine.process.returncode}: {engine.log_tail()}")
        try:
            response = requests.get(engine.query_url, params={"query": "ASK {}"},
                                    headers={"Accept": "application/sparql-results+json"}, timeout=2)
            if response.status_code == 200:
                return
            last_error = f"HTTP {response.status_code}"
        except requests.RequestException as error:
            last_error = type(error).__name__
        time.sleep(0.2)
    engine.stop()
    raise EngineFailed(f"{engine.name} did not answer within {timeout:.0f} s ({last_error}): {engine.log_tail()}")


def oxigraph_binary() -> str:
    """The `oxigraph` server binary: beside this interpreter (PyPI `oxigraph` in the venv) or on PATH."""
    beside = Path(sys.executable).with_name("oxigraph")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("oxigraph")
    if found:
        return found
    raise EngineUnavailable("the Oxigraph server is not installed (PyPI package `oxigraph`: `make install`)")


def virtuoso_binary() -> str:
    found = shutil.which("virtuoso-t")
    if found:
        return found
    raise EngineUnavailable("Virtuoso 7 is not installed (Debian package `virtuoso-opensource`: `make system-deps`)")


@contextlib.contextmanager
def oxigraph(directory: Path, *, read_only: bool = False, timeout_s: int | None = None,
             start_timeout: float = START_TIMEOUT, log_dir: Path | None = None,
             union_default_graph: bool = True) -> Iterator[Engine]:
    """The Oxigraph server on a loopback port over `directory` (its store).

    Writable (`serve`) unless `read_only` (`serve-read-only`, for serving an existing store directory).
    The server's log goes to `log_dir` (default: beside `directory`; give one for a published build).
    With `union_default_graph` (`--union-default-graph`) queries without GRAPH see every named graph, as
    in migkg's embedded store, but the server then ignores FROM clauses: behind migkg's remote backend,
    which names the dataset in every query, start it without.
    """
    binary = oxigraph_binary()
    directory = Path(directory)
    if not read_only:
        directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [binary, "serve-read-only" if read_only else "serve", "--location", str(directory),
               "--bind", f"{LOOPBACK}:{port}"] + (["--union-default-graph"] if union_default_graph else [])
    if timeout_s:
        command += ["--timeout-s", str(timeout_s)]
    log_path = Path(log_dir or directory.parent) / f"{directory.name}.oxigraph.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://{LOOPBACK}:{port}"
    engine = Engine("oxigraph", f"{base}/query", f"{base}/store", None, process, directory, log_path,
                    extra={"update_url": f"{base}/update", "port": port, "command": command})
    try:
        _wait_until_answers(engine, start_timeout)
        yield engine
    finally:
        engine.stop()


VIRTUOSO_INI = """\
[Database]
DatabaseFile       = {db}/virtuoso.db
ErrorLogFile       = {db}/virtuoso.log
LockFile           = {db}/virtuoso.lck
TransactionFile    = {db}/virtuoso.trx
xa_persistent_file = {db}/virtuoso.pxa
ErrorLogLevel      = 7
FileExtend         = 200
MaxCheckpointRemap = 2000
Striping           = 0
TempStorage        = TempDatabase

[TempDatabase]
DatabaseFile       = {db}/virtuoso-temp.db
TransactionFile    = {db}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping           = 0

[Parameters]
ServerPort               = {loopback}:{sql_port}
LiteMode                 = 0
DisableUnixSocket        = 1
DisableTcpSocket         = 0
MaxClientConnections     = 40
CheckpointInterval       = 60
O_DIRECT                 = 0
CaseMode                 = 2
MaxStaticCursorRows      = 5000
CheckpointAuditTrail     = 0
AllowOSCalls             = 0
SchedulerInterval        = 10
DirsAllowed              = ., {db}
ThreadCleanupInterval    = 0
ThreadThreshold          = 10
ResourcesCleanupInterval = 0
FreeTextBatchSize        = 100000
SingleCPU                = 0
PrefixResultNames        = 0
RdfFreeTextRulesSize     = 100
IndexTreeMaps            = 64
MaxQueryMem              = {max_query_mem}
VectorSize               = 1000
MaxVectorSize            = 1000000
AdjustVectorSize         = 0
ThreadsPerQuery          = 2
AsyncQueueMaxThreads     = 10
NumberOfBuffers          = {buffers}
MaxDirtyBuffers          = {dirty_buffers}

[HTTPServer]
ServerPort                  = {loopback}:{http_port}
ServerRoot                  = {db}/vsp
MaxClientConnections        = 40
DavRoot                     = DAV
EnabledDavVSP               = 0
HTTPProxyEnabled            = 0
TempASPXDir                 = 0
ServerThreads               = 40
MaxKeepAlives               = 40
KeepAliveTimeout            = 10
MaxCachedProxyConnections   = 10
ProxyConnectionCacheTimeout = 15
HTTPThreadSize              = 280000
HttpPrintWarningsInOutput   = 0
Charset                     = UTF-8
EnabledGzipContent          = 1

[Client]
SQL_PREFETCH_ROWS  = 100
SQL_PREFETCH_BYTES = 16000
SQL_QUERY_TIMEOUT  = 0
SQL_TXN_TIMEOUT    = 0

[URIQA]
DynamicLocal = 0
DefaultHost  = {loopback}:{http_port}

[SPARQL]
ResultSetMaxRows           = {max_rows}
MaxQueryCostEstimationTime = 0
MaxQueryExecutionTime      = {max_seconds}
DefaultGraph               =
"""
# ResultSetMaxRows: Debian's default (10 000) silently truncates answers; migkg enforces its own row cap.
# MaxQueryCostEstimationTime = 0: do not refuse queries on the optimiser's (often wrong) cost estimate.


def _isql(binary: str, port: int, password: str, statement: str) -> subprocess.CompletedProcess:
    # The statement goes on stdin, not argv, so a new password never shows in the process list.
    return subprocess.run([binary, f"{LOOPBACK}:{port}", "dba", password], input=statement + "\n",
                          capture_output=True, text=True, timeout=60)


@contextlib.contextmanager
def virtuoso(directory: Path, *, max_rows: int = 1_000_000, max_seconds: int = 60,
             buffers: int = 85_000, start_timeout: float = START_TIMEOUT) -> Iterator[Engine]:
    """Virtuoso 7 in the foreground with a private ini and database in `directory`, loopback ports only.

    On a fresh database `dba`'s password is `dba`; it is changed at once to a random one, which the
    engine's `credentials` carry. The query endpoint `/sparql` needs no credentials; its default graph
    is the union of all graphs (Virtuoso's behaviour when a query names no FROM).
    """
    binary = virtuoso_binary()
    isql = shutil.which("isql-vt") or shutil.which("isql")
    if not isql:
        raise EngineUnavailable("Virtuoso's isql-vt is not installed (Debian package `virtuoso-opensource`)")
    directory = Path(directory)
    (directory / "vsp").mkdir(parents=True, exist_ok=True)
    sql_port, http_port = free_port(), free_port()
    while http_port == sql_port:
        http_port = free_port()
    ini = directory / "virtuoso.ini"
    ini.write_text(VIRTUOSO_INI.format(
        db=directory, loopback=LOOPBACK, sql_port=sql_port, http_port=http_port, max_rows=max_rows,
        max_seconds=max_seconds, buffers=buffers, dirty_buffers=buffers * 3 // 4,
        max_query_mem="1G"), encoding="utf-8")
    log_path = directory / "virtuoso.stdout.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([binary, "+foreground", "+configfile", str(ini)], cwd=directory,
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://{LOOPBACK}:{http_port}"
    engine = Engine("virtuoso", f"{base}/sparql", f"{base}/sparql-graph-crud-auth", None, process,
                    directory, log_path, auth_scheme="digest",
                    extra={"http_port": http_port, "sql_port": sql_port, "isql": isql})
    try:
        _wait_until_answers(engine, start_timeout)
        # Letters and digits only, starting with a letter: isql reads the password as a bare identifier.
        password = "m" + secrets.token_hex(16)
        changed = _isql(isql, sql_port, "dba", f"set password dba {password};")
        confirmed = _isql(isql, sql_port, password, "select 1;")
        if changed.returncode != 0 or "Error" in changed.stdout + changed.stderr or confirmed.returncode != 0:
            # Not a fresh database (reused directory): dba's password is whatever the last run set, unknown here.
            raise EngineFailed(f"could not set Virtuoso's dba password in {directory} (reuse of an old "
                               f"database directory?): {(changed.stdout + changed.stderr)[-1000:]}")
        engine.credentials = ("dba", password)
        yield engine
    finally:
        engine.stop()
