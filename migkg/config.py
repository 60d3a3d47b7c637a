"""Configuration in one place: paths, the public base IRI, query limits; all overridable by env vars."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingError(ValueError):
    """A MIGKG_* variable holds a value that cannot be used; the message says which and what it takes."""


def number_between(text: str, minimum: float, maximum: float = float("inf"), kind=int):
    """`text` as a number of `kind` from `minimum` to `maximum`, or None."""
    try:
        value = kind(text)
    except ValueError:
        return None
    if value != value or value < minimum or value > maximum or value == float("inf"):
        return None
    return value


def wanted_number(minimum: float, maximum: float = float("inf"), kind=int) -> str:
    what = "a whole number" if kind is int else "a number"
    return f"{what} from {minimum:g} to {maximum:g}" if maximum != float("inf") else f"{what} of at least {minimum:g}"


def env_number(name: str, default: float, minimum: float, kind=int, maximum: float = float("inf")):
    """The variable as a number of `kind` from `minimum` to `maximum`; SettingError with a plain message otherwise."""
    text = os.environ.get(name, "").strip()
    if not text:
        return kind(default)
    value = number_between(text, minimum, maximum, kind)
    if value is None:
        raise SettingError(f"{name}={text!r} is not usable: give {wanted_number(minimum, maximum, kind)} "
                           f"(default {default:g}).")
    return value


def _env_path(name: str, default: Path) -> Path:
    # Absolute, but links kept: var/store is a link a build swaps, and must be followed on every request.
    value = os.environ.get(name)
    return Path(os.path.abspath(value)) if value else default


@dataclass(frozen=True)
class Settings:
    """Where things are and how much a query may cost."""

    ontology_dir: Path = field(default_factory=lambda: _env_path("MIGKG_ONTOLOGY", PROJECT_ROOT / "ontology"))
    data_dir: Path = field(default_factory=lambda: _env_path("MIGKG_DATA", PROJECT_ROOT / "data"))
    queries_dir: Path = field(default_factory=lambda: _env_path("MIGKG_QUERIES", PROJECT_ROOT / "queries"))
    # var/store is a symlink to the current build under var/builds/; a build swaps it atomically.
    store_path: Path = field(default_factory=lambda: _env_path("MIGKG_STORE", PROJECT_ROOT / "var" / "store"))
    # Where the graph lives: `oxigraph:PATH` (the embedded store; default: the store path above) or
    # `sparql:URL` (any SPARQL 1.1 endpoint loaded with `migkg publish`).
    backend: str = field(default_factory=lambda: os.environ.get("MIGKG_BACKEND", ""))
    # The IRI namespace of every resource (fixed by the data files), and the public URL the app is
    # served at (redirects and links are built from it, never from the Host header). A request for
    # /id/x on this host is a request for {resource_base}id/x.
    resource_base: str = field(default_factory=lambda: os.environ.get("MIGKG_RESOURCE_BASE", "https://w3id.org/migkg/"))
    public_url: str = field(default_factory=lambda: os.environ.get("MIGKG_PUBLIC_URL", ""))
    query_timeout: float = field(default_factory=lambda: env_number("MIGKG_QUERY_TIMEOUT", 10, 0.001, float))
    max_result_rows: int = field(default_factory=lambda: env_number("MIGKG_MAX_ROWS", 10000, 1))
    max_result_bytes: int = field(default_factory=lambda: env_number("MIGKG_MAX_RESULT_BYTES", 20 * 1024 * 1024, 1))
    max_request_bytes: int = field(default_factory=lambda: env_number("MIGKG_MAX_REQUEST_BYTES", 256 * 1024, 1))
    query_workers: int = field(default_factory=lambda: env_number("MIGKG_QUERY_WORKERS", 2, 1))
    query_memory_mb: int = field(default_factory=lambda: env_number("MIGKG_QUERY_MEMORY_MB", 1536, 0))  # 0: no cap
    # Each query worker answers a build of at most this many quads (statements and their union copy) from a
    # copy in memory (~0.5 KB and ~15 µs to load per quad); larger builds from the store on disk. 0: never.
    in_memory_quads: int = field(default_factory=lambda: env_number("MIGKG_IN_MEMORY_QUADS", 250_000, 0))
    # per web worker; 0: none
    answer_cache_mb: int = field(default_factory=lambda: env_number("MIGKG_ANSWER_CACHE_MB", 64, 0))
    # Queries of one web worker at the engine at once (running or waiting); more get a 503 at once, so a
    # flood of slow queries never takes every server thread (migkg.serving.BLOCKING_THREADS) from the caches.
    query_queue: int = field(default_factory=lambda: env_number("MIGKG_QUERY_QUEUE", 32, 0))  # 0: no bound
    # Reverse proxies in front of the app that append the client's address to X-Forwarded-For: the queue shares
    # its places by client address, which behind a proxy is the proxy's unless the app reads that header.
    trusted_proxies: int = field(default_factory=lambda: env_number("MIGKG_TRUSTED_PROXIES", 0, 0))
    cache_dir: Path = field(default_factory=lambda: _env_path("MIGKG_CACHE", PROJECT_ROOT / "var" / "cache"))

    @property
    def backend_spec(self) -> str:
        return self.backend or f"oxigraph:{self.store_path}"

    @property
    def limits(self):
        from .backend import Limits

        return Limits(timeout=self.query_timeout, max_rows=self.max_result_rows, max_bytes=self.max_result_bytes,
                      max_memory=self.query_memory_mb * 1024 * 1024)

    def open_backend(self):
        """The backend these settings name (BackendConfigError with a plain message if they name none)."""
        from .backend import BackendConfigError, open_backend
        from .namespaces import BASE

        if self.resource_base != BASE:
            raise BackendConfigError(
                f"MIGKG_RESOURCE_BASE={self.resource_base!r}: the IRI namespace is fixed by the data files "
                f"({BASE}). To serve the graph on another host, set MIGKG_PUBLIC_URL to that host's URL instead.")
        if self.public_url and not self.public_url.startswith(("http://", "https://")):
            raise BackendConfigError(f"MIGKG_PUBLIC_URL={self.public_url!r} must be an http(s) URL, e.g. "
                                     "https://kg.example.org/")
        auth = None
        if os.environ.get("MIGKG_SPARQL_USER"):
            auth = (os.environ["MIGKG_SPARQL_USER"], os.environ.get("MIGKG_SPARQL_PASSWORD", ""))
        return open_backend(self.backend_spec, self.limits, workers=self.query_workers, base_iri=self.resource_base,
                            cache_dir=self.cache_dir, auth=auth, answer_cache_bytes=self.answer_cache_mb << 20,
                            query_queue=self.query_queue, in_memory_quads=self.in_memory_quads)

    @property
    def shapes_file(self) -> Path:
        return self.ontology_dir / "shapes.ttl"

    @property
    def context_file(self) -> Path:
        return self.ontology_dir / "context.jsonld"

    def with_changes(self, **changes) -> "Settings":
        return replace(self, **changes)
