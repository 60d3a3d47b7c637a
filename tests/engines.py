"""Session fixtures that start real SPARQL engines (Virtuoso 7, the Oxigraph server) and publish the test build.

`virtuoso_engine` and `oxigraph_engine` yield a running `migkg.peers.Engine` holding the session's build
(published with `migkg.publish.publish`): `query_url`, `graph_store_url`, `credentials`, and in
`extra["published"]` the publish report, in `extra["build_dir"]` the build directory. A missing engine
binary skips the tests that need it on a developer's machine, and fails them in CI (CI set).
"""

from __future__ import annotations

import os
import re
from collections import Counter

import pytest
from pyoxigraph import Literal, QueryBoolean, QuerySolutions

from migkg import peers
from migkg.publish import publish
from migkg.store import current_build

__all__ = ["virtuoso_engine", "oxigraph_engine", "require_engine"]

GROUP_CONCAT = re.compile(r"GROUP_CONCAT\s*\((.*?)\)\s*AS\s+\?(\w+)", re.IGNORECASE | re.DOTALL)
SEPARATOR = re.compile(r'separator\s*=\s*"((?:[^"\\]|\\.)*)"', re.IGNORECASE)


def concatenated(query: str) -> dict[str, str]:
    """The variables a query binds with GROUP_CONCAT, with their separators (SPARQL's default: a space)."""
    found = {}
    for match in GROUP_CONCAT.finditer(query):
        separator = SEPARATOR.search(match.group(1))
        found[match.group(2)] = separator.group(1) if separator else " "
    return found


def answer_rows(results, query: str = "") -> Counter | bool:
    """An answer as a multiset of rows of N-Triples terms, comparable between engines.

    Row order is ignored, duplicates kept. GROUP_CONCAT joins its values in an order SPARQL 1.1 leaves
    to the engine (section 18.5.1.7), so those values are compared as sorted lists of their parts.
    """
    if isinstance(results, QueryBoolean):
        return bool(results)
    assert isinstance(results, QuerySolutions)
    joined = concatenated(query)
    names = [variable.value for variable in results.variables]

    def term(name, value):
        if value is None:
            return None
        if name in joined and isinstance(value, Literal):
            parts = sorted(value.value.split(joined[name]))
            value = Literal(joined[name].join(parts), language=value.language) if value.language else \
                Literal(joined[name].join(parts), datatype=value.datatype)
        return str(value)

    return Counter(tuple(term(name, solution[name]) for name in names) for solution in results)


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
    # No union default graph: the server would then ignore FROM, which migkg's remote backend sends.
    with peers.oxigraph(tmp_path_factory.mktemp("oxigraph-server") / "store", union_default_graph=False) as engine:
        yield _published(engine, settings)
