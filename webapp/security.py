"""Response hardening for every page: security headers, redirects that never echo the Host header, a body cap on chunked uploads."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

# Every script and style the pages use is served from this host (no inline script anywhere; pyLODE's
# ontology page and vis-network set inline styles, which cannot run code).
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    app.before_request(_cap_chunked_body)
    app.after_request(_harden)


def too_large(limit: int) -> str:
    return f"The request body is larger than {limit} bytes, the most this server accepts."


def _cap_chunked_body() -> None:
    """A body sent without Content-Length (chunked) gets the same cap as one that declares its length,
    and a body that ends before the length it declares is refused (the server hands on what came).

    Read at most cap + 1 bytes: more means 413, never a silently shortened query.
    """
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    stream = request.environ.get("wsgi.input")
    declared = request.content_length
    if stream is None or limit is None or (declared is not None and declared > limit):
        return  # over the cap: Werkzeug answers 413 when the body is read
    body = _read(stream, limit + 1 if declared is None else declared)
    if declared is not None and len(body) < declared:
        raise BadRequest(f"The request body ended after {len(body)} of the {declared} bytes its Content-Length "
                         "declares; send it whole.")
    if len(body) > limit:
        raise RequestEntityTooLarge(too_large(limit))
    request.environ["wsgi.input"] = io.BytesIO(body)
    request.environ["CONTENT_LENGTH"] = str(len(body))
    request.environ.pop("HTTP_TRANSFER_ENCODING", None)
    request.environ["wsgi.input_terminated"] = False


def _read(stream, most: int) -> bytes:
    """Up to `most` bytes of the body, fewer only if it ends first."""
    parts, size = [], 0
    while size < most:
        part = stream.read(most - size)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


_HEADERS_BY_KEY = [(name.lower(), name, value) for name, value in HEADERS.items()]


def _harden(response):
    # One pass over the response's headers, not one setdefault (a scan of them all) per header: a page
    # may set its own policy (the query editor does), which is kept.
    present = {name.lower() for name in response.headers.keys()}
    for key, name, value in _HEADERS_BY_KEY:
        if key not in present:
            response.headers.add(name, value)
    location = response.headers.get("Location")
    if location:
        response.headers["Location"] = public_location(location)
    return response


def public_root() -> str:
    """This site's absolute root URL, ending in "/": the configured public URL, else as the request reached it
    (descriptions that name the site's own addresses: the VoID, the service description)."""
    public = current_app.config["MIGKG"].public_url
    return public.rstrip("/") + "/" if public else request.url_root


def public_location(location: str) -> str:
    """A redirect target on this site, built from the configured public URL (or left relative), never the Host header."""
    parts = urlsplit(location)
    if not parts.netloc:
        return location
    if parts.netloc != request.host:
        return location  # a link elsewhere that the app chose itself
    path = parts.path + (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")
    public = current_app.config["MIGKG"].public_url
    return public.rstrip("/") + path if public else path
