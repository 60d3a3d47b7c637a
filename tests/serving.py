"""The test suites' one way to run the app under the production server (granian) as `migkg serve` does."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from typing import Iterator

import requests

from migkg.config import PROJECT_ROOT
from migkg.serving import server_command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, process: subprocess.Popen, base: str, port: int):
        self.process, self.base, self.port = process, base, port


def start(env: dict[str, str], workers: int = 2, timeout: float = 60) -> Server:
    """The server on a free loopback port with `env` added to this environment; returns once /healthz answers 200."""
    port = free_port()
    process = subprocess.Popen(server_command("127.0.0.1", port, workers, access_log=False),
                               env=dict(os.environ, **env), cwd=PROJECT_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited: " + process.stderr.read().decode(errors="replace")[-2000:])
        try:
            if requests.get(base + "/healthz", timeout=5).status_code == 200:
                return Server(process, base, port)
        except requests.RequestException:  # not listening yet, or a worker still importing
            pass
        time.sleep(0.2)
    stop(process)
    raise RuntimeError(f"the server did not answer /healthz within {timeout:g} s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@contextlib.contextmanager
def serving(env: dict[str, str], workers: int = 2, timeout: float = 60) -> Iterator[Server]:
    server = start(env, workers, timeout)
    try:
        yield server
    finally:
        stop(server.process)
