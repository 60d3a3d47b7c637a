"""The backend as one request sees it: opened once per process by the app factory, one snapshot per request."""

from __future__ import annotations

from flask import Flask, current_app, g, request

from migkg.backend import QUERY_CLIENT, Backend, Snapshot

__all__ = ["init_app", "backend", "build_id"]


def init_app(app: Flask, backend: Backend) -> None:
    app.extensions["migkg_backend"] = backend


def backend() -> Snapshot:
    """The build this request answers from: taken on first use, the same for the whole response.

    A `migkg build` (or `migkg publish`) that swapped the build in is seen by the next request.
    """
    snapshot = g.get("migkg_snapshot")
    if snapshot is None:
        # taken already when the response cache looked this request up (webapp.response_cache)
        snapshot = request.environ.get("migkg.snapshot") or current_app.extensions["migkg_backend"].snapshot()
        g.migkg_snapshot = snapshot
        QUERY_CLIENT.set(request.remote_addr)  # this thread's queries are this client's until its next request
    return snapshot


def build_id() -> str:
    return backend().build.id
