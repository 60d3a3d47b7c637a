"""How `migkg serve` runs the web app in production: the granian command line, in one place (CLI, tests, benchmarks)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

# granian reads requests and writes responses in Rust (tokio): a client that sends its request slowly,
# or holds its connection open, costs a task there, not a Python thread. The app runs in a pool of
# threads per worker process; the queries themselves run in separate query processes
# (migkg.engines.query_pool), so a thread waiting on one holds no lock and little memory.
# Per worker: requests being answered at once (the rest wait in the Rust queue). At most MIGKG_QUERY_QUEUE
# (32) of them wait for the engine, so the others stay free for answers the caches hold.
BLOCKING_THREADS = 64
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
