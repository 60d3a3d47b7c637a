"""How `migkg serve` runs the web app in production: the granian command line, in one place (CLI, tests, benchmarks)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

# granian reads requests and writes responses in Rust (tokio): a client that sends its request head
# slowly, or holds its connection open, costs a task there, not a Python thread. The app runs in threads
# (started on demand, ended when idle); the queries themselves run in separate query processes
# (migkg.engines.query_pool), so a thread waiting on one holds no lock and little memory. A request body
# is read from the app's thread, and granian sets no time limit on it: a client trickling its body holds
# a thread, so there are many (as gevent's 1000 connections per worker before). At most
# MIGKG_QUERY_QUEUE (32) threads wait for the engine; the rest stay free for answers the caches hold.
BLOCKING_THREADS = 1024  # per worker
HEADER_READ_TIMEOUT_MS = 30_000  # a request whose head has not arrived by then is dropped
KILL_TIMEOUT = 10  # seconds a stopping worker gets to finish its requests


def server_command(host: str, port: int, workers: int, access_log: bool = True,
                   application: str = "webapp.wsgi:app") -> list[str]:
    granian = shutil.which("granian") or str(Path(sys.executable).with_name("granian"))
    return [granian, "--interface", "wsgi", "--host", host, "--port", str(port), "--workers", str(workers),
            "--blocking-threads", str(BLOCKING_THREADS), "--http", "1", "--no-ws",
            "--http1-header-read-timeout", str(HEADER_READ_TIMEOUT_MS), "--respawn-failed-workers",
            "--workers-kill-timeout", str(KILL_TIMEOUT), "--access-log" if access_log else "--no-access-log",
            application]
