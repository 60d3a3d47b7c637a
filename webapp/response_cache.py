"""Whole responses of the current build, answered in front of Flask: a repeated request costs one lookup.

A view opts in with `keep_for_build()`: its response then depends only on the build and on what the
key holds (method, path, query string, body, and the request headers the app reads). Requests that
ask something of the cache's own semantics (conditional, ranged, credentialed) always go to the app,
and nothing but a whole 200 response is kept. The first request of a key runs the app as usual and
pins its snapshot in the environ, so the kept response is exactly the one that build gave.
"""

from __future__ import annotations

import io

from flask import Flask, request

from migkg.backend import BuildCache, QueryRejected

SNAPSHOT = "migkg.snapshot"  # environ: the snapshot this request answers from (see backend_access.backend)
KEEP = "migkg.keep_for_build"  # environ: set by a view whose response may be kept for its build

# Request headers a kept response may depend on (content negotiation, compression, CORS, absolute URLs).
KEY_HEADERS = ("CONTENT_TYPE", "HTTP_ACCEPT", "HTTP_ACCEPT_ENCODING", "HTTP_ORIGIN", "HTTP_HOST")
# With any of these the app answers: the cache does not implement their semantics.
BYPASS_HEADERS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE",
                  "HTTP_IF_RANGE", "HTTP_RANGE", "HTTP_COOKIE", "HTTP_AUTHORIZATION", "HTTP_TRANSFER_ENCODING")
MAX_KEY_BODY = 64 * 1024  # POST bodies longer than this are not looked up (nor kept)


def keep_for_build() -> None:
    """Mark this request's response as a function of the build and the request key alone."""
    request.environ[KEEP] = True


class ResponseCache:
    """WSGI middleware around a Flask app's `wsgi_app` (installed by `init_app`)."""

    def __init__(self, app: Flask, max_bytes: int):
        self.wsgi_app = app.wsgi_app
        self.backend = app.extensions["migkg_backend"]
        self.responses = BuildCache(max_bytes)

    def __call__(self, environ: dict, start_response):
        key = self._key(environ)
        if key is None:
            return self.wsgi_app(environ, start_response)
        try:
            snapshot = self.backend.snapshot()
        except QueryRejected:
            return self.wsgi_app(environ, start_response)  # the app says why (503) in its own words
        build_id = snapshot.build.id
        kept = self.responses.get(build_id, key)
        if kept is not None:
            status, headers, body = kept
            start_response(status, list(headers))
            return [body]
        environ[SNAPSHOT] = snapshot
        answered: list = []

        def recording_start_response(status, headers, exc_info=None):
            answered[:] = [status, headers]
            return start_response(status, headers, exc_info)

        iterable = self.wsgi_app(environ, recording_start_response)
        if not environ.get(KEEP) or not answered or not answered[0].startswith("200 "):
            return iterable
        length = next((value for name, value in answered[1] if name.lower() == "content-length"), None)
        if length is None or not length.isdigit() or int(length) > self.responses.max_entry_bytes:
            return iterable  # streamed or too large to keep
        try:
            body = b"".join(iterable)
        finally:
            if hasattr(iterable, "close"):
                iterable.close()
        size = len(body) + sum(len(part) for part in key if isinstance(part, (str, bytes))) + 512
        self.responses.put(build_id, key, (answered[0], tuple(answered[1]), body), size)
        return [body]

    @staticmethod
    def _key(environ: dict) -> tuple | None:
        method = environ.get("REQUEST_METHOD")
        if method not in ("GET", "POST") or any(name in environ for name in BYPASS_HEADERS):
            return None
        body = b""
        if method == "POST":
            length = environ.get("CONTENT_LENGTH") or ""
            if not length.isdigit() or int(length) > MAX_KEY_BODY:
                return None
            body = environ["wsgi.input"].read(int(length))
            environ["wsgi.input"] = io.BytesIO(body)  # the app reads the same bytes on a miss
            if len(body) != int(length):
                return None  # the client sent less than it declared: the app answers that
        return (method, environ.get("wsgi.url_scheme"), environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", ""),
                environ.get("QUERY_STRING", ""), body, *(environ.get(name) for name in KEY_HEADERS))


def init_app(app: Flask, max_bytes: int, built_pages: tuple[str, ...] = ()) -> None:
    """Put the cache in front of the app's WSGI callable (after every extension is registered).

    `built_pages`: blueprints whose every 200 answer to a GET is a function of the build and the request key.
    """
    if max_bytes <= 0:
        return

    @app.after_request
    def keep_built_pages(response):
        if response.status_code == 200 and request.method == "GET" and request.blueprint in built_pages:
            keep_for_build()
        return response

    app.wsgi_app = ResponseCache(app, max_bytes)  # type: ignore[method-assign]
