"""How `migkg serve` runs the web app in production: the gunicorn command line, in one place (CLI and tests)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

# gevent workers: each connection is a greenlet, so clients that send their request slowly (or hold
# it open) cost a little memory, not a worker, and everyone else is still answered. The queries
# themselves run in separate worker processes (migkg.engines.query_pool), never in the event loop.
WORKER_CLASS = "gevent"
WORKER_CONNECTIONS = 1000
WORKER_TIMEOUT = 60  # seconds a gunicorn worker may stay silent before it is replaced
KEEPALIVE = 5


def gunicorn_command(host: str, port: int, workers: int, access_log: bool = True,
                     application: str = "webapp.wsgi:app") -> list[str]:
    gunicorn = shutil.which("gunicorn") or str(Path(sys.executable).with_name("gunicorn"))
    command = [gunicorn, "--workers", str(workers), "--bind", f"{host}:{port}",
               "--worker-class", WORKER_CLASS, "--worker-connections", str(WORKER_CONNECTIONS),
               "--timeout", str(WORKER_TIMEOUT), "--keep-alive", str(KEEPALIVE),
               "--limit-request-line", "8190", "--limit-request-fields", "100"]
    if access_log:
        command += ["--access-logfile", "-"]
    return command + [application]
