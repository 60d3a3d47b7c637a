"""The web app in front of real SPARQL engines (Virtuoso 7, the Oxigraph server), loaded with `migkg publish`.

Every answer must equal the embedded store's (rows compared as multisets where the query has no ORDER BY).
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
import requests
from pyoxigraph import CanonicalizationAlgorithm, QueryResultsFormat, RdfFormat, parse, parse_query_results
from pyoxigraph import Dataset as RdfDataset
from pyoxigraph import Literal, NamedNode, Quad

from migkg.backend import UNION_GRAPH
from migkg.catalogue import load_catalogue
from migkg.config import PROJECT_ROOT

from .serving import serving
from .engines import answer_rows
from .test_publish import VIRTUOSO_DIFFERS

ENGINES = ["virtuoso_engine", "oxigraph_engine"]
JSON = {"Accept": "application/sparql-results+json"}


@pytest.fixture(scope="module", params=ENGINES)
def remote(request, settings):
    """(embedded test client, remote test client) over the same build."""
    from webapp import create_app

    engine = request.getfixturevalue(request.param)
    app = create_app(settings.with_changes(backend=f"sparql:{engine.query_url}",
                                           cache_dir=settings.store_path.parent / f"cache-{engine.name}"))
    app.config.update(TESTING=True)
    yield engine, app.test_client()
    app.extensions["migkg_backend"].close()


def _rows(body: bytes, query: str = "") -> Counter:
    return answer_rows(parse_query_results(body, format=QueryResultsFormat.JSON), query)


def test_the_build_is_the_published_one(remote, client):
    engine, remote_client = remote
    assert remote_client.get("/healthz").get_json()["build_id"] == client.get("/healthz").get_json()["build_id"]


CATALOGUE = sorted(load_catalogue(PROJECT_ROOT / "queries"))


@pytest.mark.parametrize("slug", CATALOGUE)
def test_every_example_query_answers_alike(remote, client, slug):
    engine, remote_client = remote
    if engine.name.startswith("virtuoso") and slug in VIRTUOSO_DIFFERS:
        pytest.xfail(f"Virtuoso answers differently: {VIRTUOSO_DIFFERS[slug]}")
    query = load_catalogue(PROJECT_ROOT / "queries")[slug]
    params = {"query": query.text}
    for parameter in query.parameters:
        if parameter.default is not None:
            params[f"${parameter.name}"] = str(parameter.default)
    embedded = client.get("/sparql", query_string=params, headers=JSON)
    answered = remote_client.get("/sparql", query_string=params, headers=JSON)
    assert embedded.status_code == 200, embedded.data[:300]
    assert answered.status_code == 200, answered.data[:300]
    assert _rows(answered.data, query.text) == _rows(embedded.data, query.text), slug


# Every page type's JSON twin: a diplomat reads the same pages whichever engine is behind them.
@pytest.mark.parametrize("path", ["/index.json", "/id/colombo-process.json", "/id/state/THA.json", "/id/iom.json",
                                  "/source/unodc-tool4.json", "/class/ConsultationProcess.json", "/class/State.json",
                                  "/class/Treaty.json", "/search.json?q=colombo", "/search.json?q=trafickng",
                                  "/compare.json?process=colombo-process&process=abu-dhabi-dialogue", "/compare.json",
                                  "/map.json", "/timeline.json", "/network/lineage.json",
                                  "/network/members/id/colombo-process.json", "/network/state/id/state/THA.json",
                                  "/network/ego/id/state/THA.json", "/ontology.json", "/downloads.json"])
def test_explorer_pages_are_the_same(remote, client, path):
    engine, remote_client = remote
    embedded, answered = client.get(path), remote_client.get(path)
    assert answered.status_code == embedded.status_code
    if embedded.status_code == 200:
        assert differences(answered.get_json(), embedded.get_json()) == []


def differences(left, right, path="") -> list[tuple[str, object, object]]:
    """Where two JSON documents differ, as (path, left value, right value) for each differing leaf."""
    if isinstance(left, dict) and isinstance(right, dict):
        return [found for key in sorted(set(left) | set(right), key=str)
                for found in differences(left.get(key), right.get(key), f"{path}.{key}")]
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        return [found for index, (a, b) in enumerate(zip(left, right))
                for found in differences(a, b, f"{path}[{index}]")]
    return [] if left == right else [(path, left, right)]


def test_linked_data_negotiation_is_the_same(remote, client):
    engine, remote_client = remote
    for path in ("/id/bali-process", "/id/palermo-trafficking-protocol"):
        embedded = client.get(path, headers={"Accept": "text/turtle"})
        answered = remote_client.get(path, headers={"Accept": "text/turtle"})
        assert answered.status_code == 200 and answered.mimetype == "text/turtle"
        assert set(map(str, parse(answered.data, format=RdfFormat.TURTLE))) == \
            set(map(str, parse(embedded.data, format=RdfFormat.TURTLE)))


def test_dumps_hold_the_same_quads(remote, client):
    engine, remote_client = remote
    embedded = client.get("/downloads/migkg.nq")
    answered = remote_client.get("/downloads/migkg.nq")
    assert answered.status_code == 200
    # Blank-node labels are the engine's own: compare the datasets after canonical relabelling.
    datasets = [RdfDataset(parse(body, format=RdfFormat.N_QUADS)) for body in (answered.data, embedded.data)]
    for dataset in datasets:
        dataset.canonicalize(CanonicalizationAlgorithm.UNSTABLE)
    answered_quads, embedded_quads = ({_by_value(quad) for quad in dataset} for dataset in datasets)
    assert (sorted(answered_quads - embedded_quads)[:5], sorted(embedded_quads - answered_quads)[:5]) == ([], [])


EXACT_NUMBERS = {"http://www.w3.org/2001/XMLSchema#decimal", "http://www.w3.org/2001/XMLSchema#integer"}


def _by_value(quad) -> str:
    """A quad as N-Quads, exact numbers by value: Virtuoso 7 stores "10000000000"^^xsd:integer as an xsd:decimal."""
    literal = quad.object
    if isinstance(literal, Literal) and literal.datatype.value in EXACT_NUMBERS:
        number = Literal(format(Decimal(literal.value).normalize(), "f"), datatype=NamedNode("urn:test:exact-number"))
        quad = Quad(quad.subject, quad.predicate, number, quad.graph_name)
    return str(quad)


def test_limits_and_refusals_hold_in_front_of_an_engine(remote):
    engine, remote_client = remote
    refused = remote_client.get("/sparql", query_string={
        "query": "SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }"}, headers=JSON)
    assert refused.status_code == 400 and b"SERVICE" in refused.data
    broken = remote_client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p }"}, headers=JSON)
    assert broken.status_code == 400


def test_two_replicas_give_identical_answers(oxigraph_engine):
    """The web tier is stateless: two servers in front of one engine answer alike."""
    env = {"MIGKG_BACKEND": f"sparql:{oxigraph_engine.query_url}"}
    with serving(env, workers=1) as first, serving(env, workers=1) as second:
        servers = [(first.process, first.base), (second.process, second.base)]
        for path in ("/healthz", "/id/colombo-process.json", "/map.json"):
            answers = [requests.get(base + path, timeout=30) for _, base in servers]
            assert [a.status_code for a in answers] == [200, 200], path
            assert answers[0].json() == answers[1].json(), path
        query = {"query": "SELECT ?m WHERE { id:colombo-process mig:hasMember ?m } ORDER BY ?m"}
        answers = [requests.get(base + "/sparql", params=query, headers=JSON, timeout=30).content
                   for _, base in servers]
        assert answers[0] == answers[1] and len(_rows(answers[0])) == 11


PRIVATE_GRAPH = "urn:migkg:test:private-graph"


def test_the_engines_other_graphs_never_answer(remote):
    """An institution's engine may hold private graphs: no query form reaches a graph the build did not publish."""
    engine, remote_client = remote
    secret = '<urn:migkg:test:secret> <urn:migkg:test:says> "a private statement" .\n'
    session = requests.Session()
    session.auth = engine.auth()
    put = session.put(engine.graph_store_url, params={"graph": PRIVATE_GRAPH}, data=secret.encode(),
                      headers={"Content-Type": "application/n-triples"}, timeout=30)
    assert put.status_code in (200, 201, 204), put.text[:300]
    try:
        attempts = [
            {"query": f"SELECT * FROM <{PRIVATE_GRAPH}> WHERE {{ ?s ?p ?o }}"},
            {"query": "PREFIX p: <urn:migkg:test:> SELECT * FROM p:private-graph WHERE { ?s ?p ?o }"},
            {"query": f"SELECT * FROM NAMED <{PRIVATE_GRAPH}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"},
            {"query": f"SELECT * WHERE {{ GRAPH <{PRIVATE_GRAPH}> {{ ?s ?p ?o }} }}"},
            {"query": "SELECT * WHERE { ?s <urn:migkg:test:says> ?o }"},
            {"query": "SELECT * WHERE { ?s ?p ?o }", "default-graph-uri": PRIVATE_GRAPH},
            {"query": "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }", "named-graph-uri": PRIVATE_GRAPH},
            {"query": "SELECT * FROM <https://w3id.org/migkg/graph/build> WHERE { ?s ?p ?o }"},
            # A dataset with only default graphs or only named graphs: the other part must stay empty.
            {"query": f"SELECT * FROM <{UNION_GRAPH}> WHERE {{ GRAPH <{PRIVATE_GRAPH}> {{ ?s ?p ?o }} }}"},
            {"query": f"SELECT * FROM <{UNION_GRAPH}> WHERE {{ GRAPH ?g {{ ?s <urn:migkg:test:says> ?o }} }}"},
            {"query": f"SELECT * FROM NAMED <{UNION_GRAPH}> WHERE {{ ?s <urn:migkg:test:says> ?o }}"},
            {"query": f"SELECT * WHERE {{ GRAPH <{PRIVATE_GRAPH}> {{ ?s ?p ?o }} }}", "default-graph-uri": UNION_GRAPH},
            {"query": "SELECT * WHERE { ?s <urn:migkg:test:says> ?o }", "named-graph-uri": UNION_GRAPH},
            # The protocol's dataset replaces the query's own FROM / FROM NAMED, never adds to it.
            {"query": f"SELECT * FROM <{PRIVATE_GRAPH}> WHERE {{ ?s <urn:migkg:test:says> ?o }}",
             "default-graph-uri": UNION_GRAPH},
            {"query": f"SELECT * FROM NAMED <{PRIVATE_GRAPH}> WHERE {{ GRAPH ?g {{ ?s <urn:migkg:test:says> ?o }} }}",
             "named-graph-uri": UNION_GRAPH},
            {"query": f"SELECT * FROM NAMED <{PRIVATE_GRAPH}> WHERE {{ GRAPH ?g {{ ?s <urn:migkg:test:says> ?o }} }}",
             "default-graph-uri": UNION_GRAPH},
            # A codepoint escape in the graph's IRI (the engine decodes it).
            {"query": "SELECT * FROM <urn:migkg:test:private\\u002Dgraph> WHERE { ?s ?p ?o }"},
        ]
        for params in attempts:
            answered = remote_client.get("/sparql", query_string=params, headers=JSON)
            assert answered.status_code == 200, (params, answered.data[:300])
            assert b"private statement" not in answered.data and b"manifest" not in answered.data, params
            assert len(_rows(answered.data)) == 0, params
        assert remote_client.get("/sparql", query_string={"graph": PRIVATE_GRAPH}).status_code == 404
        # Not SPARQL 1.1, but an engine may take them: a dataset clause in a subquery.
        for text in (f"SELECT * WHERE {{ {{ SELECT * FROM <{PRIVATE_GRAPH}> WHERE {{ ?s <urn:migkg:test:says> ?o }} }} }}",
                     f"SELECT * WHERE {{ {{ SELECT * FROM NAMED <{PRIVATE_GRAPH}> WHERE {{ GRAPH ?g {{ ?s <urn:migkg:test:says> ?o }} }} }} }}",
                     f"SELECT * WHERE {{ FILTER EXISTS {{ SELECT * FROM <{PRIVATE_GRAPH}> WHERE {{ ?s ?p ?o }} }} }}"):
            answered = remote_client.get("/sparql", query_string={"query": text}, headers=JSON)
            assert answered.status_code in (200, 400) and b"private statement" not in answered.data, answered.data
        # Engine pragmas before the query (Virtuoso's DEFINE input:default-graph-uri) are not SPARQL 1.1.
        for text in (f"DEFINE input:default-graph-uri <{PRIVATE_GRAPH}> SELECT * WHERE {{ ?s ?p ?o }}",
                     f"define input:named-graph-uri <{PRIVATE_GRAPH}> SELECT * WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"):
            refused = remote_client.get("/sparql", query_string={"query": text}, headers=JSON)
            assert refused.status_code == 400 and b"private statement" not in refused.data, refused.data[:300]
    finally:
        session.delete(engine.graph_store_url, params={"graph": PRIVATE_GRAPH}, timeout=30)
