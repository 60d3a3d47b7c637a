"""The migkg web app: SPARQL endpoint, linked-data views, explorer and network views over the store."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from flask_compress import Compress

from migkg.backend import Backend, QueryRejected
from migkg.config import Settings

from . import backend_access, response_cache, security
from .form_parsing import AppRequest


def create_app(settings: Settings | None = None, backend: Backend | None = None, **overrides) -> Flask:
    """App factory. `settings` (migkg.config.Settings) names the backend and what queries may cost.

    Raises migkg.backend.BackendConfigError, with a plain message, when the settings name no usable backend.
    """
    app = Flask(__name__)
    app.request_class = AppRequest
    settings = settings or Settings()
    app.config.update(
        MIGKG=settings,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        JSON_SORT_KEYS=False,
    )
    app.config.update(overrides)
    backend_access.init_app(app, backend or settings.open_backend())
    security.init_app(app)
    # Every text response compressed (brotli or gzip, as the client takes); static files cached (vendor/ a week).
    app.config.setdefault("COMPRESS_MIMETYPES", [
        "text/html", "text/css", "text/plain", "text/csv", "text/tab-separated-values", "text/turtle",
        "text/javascript", "application/javascript", "application/json", "application/ld+json",
        "application/sparql-results+json", "application/sparql-results+xml", "application/rdf+xml",
        "application/n-triples", "application/n-quads", "application/trig", "image/svg+xml"])
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_MIN_SIZE", 500)
    if app.config.get("SEND_FILE_MAX_AGE_DEFAULT") is None:
        app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 3600  # /static: an hour, then revalidated by ETag
    Compress(app)
    register_blueprints(app)
    register_error_handlers(app)
    response_cache.init_app(app, settings.answer_cache_mb << 20, BUILT_PAGES)
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)
    return app


# Blueprints whose pages are computed from the build alone (not /healthz, the catalogue's pages, downloads
# or static files): their answers are kept per build in front of Flask (webapp.response_cache).
BUILT_PAGES = ("explorer", "linked_data", "networks", "atlas", "compare", "timeline")


def register_blueprints(app: Flask) -> None:
    # One blueprint per door (DESIGN.md, Web surface).
    from .health import blueprint as health

    app.register_blueprint(health)
    from .explorer import blueprint as explorer
    from .linked_data import blueprint as linked_data
    from .networks import blueprint as networks
    from .ontology_docs import blueprint as ontology_docs
    from .downloads import blueprint as downloads

    app.register_blueprint(explorer)
    app.register_blueprint(linked_data)
    app.register_blueprint(networks)
    app.register_blueprint(ontology_docs)
    app.register_blueprint(downloads)
    from .atlas import blueprint as atlas
    from .compare import blueprint as compare
    from .timeline import blueprint as timeline
    from .vendor import blueprint as vendor

    app.register_blueprint(atlas)
    app.register_blueprint(compare)
    app.register_blueprint(timeline)
    app.register_blueprint(vendor)
    from .sparql import blueprint as sparql
    from .workbench import blueprint as workbench

    app.register_blueprint(sparql)
    app.register_blueprint(workbench)


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return request.path.endswith(".json") or best == "application/json"


def plain_text_errors() -> bool:
    """Errors under /sparql are plain text for SPARQL clients; a browser (the editor's short links) gets a page."""
    from .conneg import prefers_html
    from .sparql import GRAPH_FORMATS, RESULT_FORMATS

    return request.path.startswith("/sparql") and not prefers_html(request.headers.get("Accept"),
                                                                    RESULT_FORMATS + GRAPH_FORMATS)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code == 413 and error.description == RequestEntityTooLarge.description:
            # Werkzeug's own words for a declared Content-Length over MAX_CONTENT_LENGTH
            error = RequestEntityTooLarge(security.too_large(app.config["MAX_CONTENT_LENGTH"]))
        # The headers the status asks for (Allow with a 405, Content-Range with a 416), not its HTML body's type
        headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
        if error.code == 405 and request.path == "/sparql":  # a method no route takes (TRACE): the hook below is not run
            from .sparql import allowed_methods

            headers = [(name, value) for name, value in headers if name.lower() != "allow"]
            headers.append(("Allow", allowed_methods()))
        if wants_json():
            return jsonify(error=error.name, status=error.code, message=error.description), error.code, headers
        if plain_text_errors():
            return (f"{error.code} {error.name}: {error.description}\n", error.code,
                    headers + [("Content-Type", "text/plain; charset=utf-8")])
        return render_template("error.html", error=error), error.code, headers

    @app.errorhandler(QueryRejected)
    def rejected(error: QueryRejected):
        # Raised by the backend for any query, /sparql and explorer pages alike: the same limits and messages.
        simple = _Simple(error.status, HTTP_STATUS_NAMES.get(error.status, "Error"), error.message)
        headers = {"Retry-After": "5"} if error.status in (429, 503) else {}
        if wants_json():
            return jsonify(error=simple.name, status=simple.code, message=simple.description), simple.code, headers
        if plain_text_errors():
            headers["Content-Type"] = "text/plain; charset=utf-8"
            return f"{simple.code} {simple.name}: {simple.description}\n", simple.code, headers
        return render_template("error.html", error=simple), simple.code, headers


HTTP_STATUS_NAMES = {400: "Bad Request", 404: "Not Found", 406: "Not Acceptable", 413: "Payload Too Large",
                     422: "Unprocessable Content", 502: "Bad Gateway", 503: "Service Unavailable"}


class _Simple:
    def __init__(self, code: int, name: str, description: str):
        self.code, self.name, self.description = code, name, description


ROOT = Path(__file__).resolve().parent
