"""Configuration in one place: paths, the public base IRI, query limits; all overridable by env vars."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).resolve() if value else default


@dataclass(frozen=True)
class Settings:
    """Where things are and how much a query may cost."""

    ontology_dir: Path = field(default_factory=lambda: _env_path("MIGKG_ONTOLOGY", PROJECT_ROOT / "ontology"))
    data_dir: Path = field(default_factory=lambda: _env_path("MIGKG_DATA", PROJECT_ROOT / "data"))
    queries_dir: Path = field(default_factory=lambda: _env_path("MIGKG_QUERIES", PROJECT_ROOT / "queries"))
    # var/store is a symlink to the current build under var/builds/; a build swaps it atomically.
    store_path: Path = field(default_factory=lambda: _env_path("MIGKG_STORE", PROJECT_ROOT / "var" / "store"))
    sources_dir: Path = field(
        default_factory=lambda: _env_path("MIGKG_SOURCES", PROJECT_ROOT.parent / "shared" / "sources")
    )
    # Public base of resource IRIs; the web app serves /id/... on its own host as this base.
    resource_base: str = os.environ.get("MIGKG_RESOURCE_BASE", "https://w3id.org/migkg/")
    query_timeout: float = float(os.environ.get("MIGKG_QUERY_TIMEOUT", "10"))
    max_result_rows: int = int(os.environ.get("MIGKG_MAX_ROWS", "10000"))
    max_result_bytes: int = int(os.environ.get("MIGKG_MAX_RESULT_BYTES", str(20 * 1024 * 1024)))
    max_request_bytes: int = int(os.environ.get("MIGKG_MAX_REQUEST_BYTES", str(1024 * 1024)))
    query_workers: int = int(os.environ.get("MIGKG_QUERY_WORKERS", "2"))

    @property
    def shapes_file(self) -> Path:
        return self.ontology_dir / "shapes.ttl"

    @property
    def context_file(self) -> Path:
        return self.ontology_dir / "context.jsonld"

    def with_changes(self, **changes) -> "Settings":
        return replace(self, **changes)
