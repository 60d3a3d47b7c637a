"""Session fixtures that start real SPARQL engines (Virtuoso 7, the Oxigraph server) and publish the test build.

`virtuoso_engine` and `oxigraph_engine` yield a running `migkg.peers.Engine` holding the session's build
(published with `migkg.publish.publish`): `query_url`, `graph_store_url`, `credentials`, and in
`extra["published"]` the publish report, in `extra["build_dir"]` the build directory. A missing engine
binary skips the tests that need it on a developer's machine, and fails them in CI (CI set).
"""

from __future__ import annotations

import os

import pytest

from migkg import peers
from migkg.publish import publish
from migkg.store import current_build

__all__ = ["virtuoso_engine", "oxigraph_engine", "require_engine"]


def require_engine(find_binary) -> None:
    """Skip (developer machine) or fail (CI) when the engine is not installed."""
    try:
        find_binary()
    except peers.EngineUnavailable as missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing} — CI must run the remote-engine suites")
        pytest.skip(str(missing))


def _published(engine: peers.Engine, settings) -> peers.Engine:
    build_dir = current_build(settings.store_path)
    engine.extra["build_dir"] = build_dir
    engine.extra["published"] = publish(build_dir, engine.query_url, engine.graph_store_url,
                                        auth=engine.credentials)
    return engine


@pytest.fixture(scope="session")
def virtuoso_engine(settings, tmp_path_factory):
    require_engine(peers.virtuoso_binary)
    with peers.virtuoso(tmp_path_factory.mktemp("virtuoso")) as engine:
        yield _published(engine, settings)


@pytest.fixture(scope="session")
def oxigraph_engine(settings, tmp_path_factory):
    require_engine(peers.oxigraph_binary)
    with peers.oxigraph(tmp_path_factory.mktemp("oxigraph-server") / "store") as engine:
        yield _published(engine, settings)
