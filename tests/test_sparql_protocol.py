"""/sparql speaks the SPARQL 1.1 Protocol: the W3C protocol test cases, content negotiation, datasets, caching, CORS."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from pyoxigraph import (QueryBoolean, QueryResultsFormat, QuerySolutions, RdfFormat, parse,
                        parse_query_results)

from migkg.config import Settings
from migkg.store import publish
from webapp import create_app

from migkg.sparql_lexer import tokenize

FIXTURES = Path(__file__).parent / "w3c_protocol"
KASEI = "http://kasei.us/2009/09/sparql/data/"
RESULT_TYPES = {"application/sparql-results+json", "application/sparql-results+xml", "text/csv",
                "text/tab-separated-values"}
RDF_TYPES = {"text/turtle", "application/n-triples", "application/rdf+xml", "application/ld+json"}
COUNT_QUADS = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
FIXTURE_QUADS = 8


def g(n: int) -> str:
    return quote(f"{KASEI}data{n}.rdf", safe="")


@dataclass(frozen=True)
class Case:
    """One request of the W3C manifest (sparql11/protocol/manifest.ttl), with `/sparql/` as our `/sparql`."""

    name: str
    method: str
    path: str
    expect: str  # "true"/"false" (boolean answer), "boolean", "tabular", "rdf", "4xx", or "refused" (update)
    body: bytes | None = None
    content_type: str | None = None
    then_ask: str | None = None  # the manifest's follow-up query of an update case


def direct(text: str) -> bytes:
    return text.encode("utf-8")


UPDATE_PROLOGUE = "PREFIX dc: <http://purl.org/dc/terms/>\nPREFIX foaf: <http://xmlns.com/foaf/0.1/>\n"
INSERT_ALL = (f"INSERT DATA {{ GRAPH <{KASEI}data1.rdf> {{ <{KASEI}data1.rdf> a foaf:Document }}\n"
              f"GRAPH <{KASEI}data2.rdf> {{ <{KASEI}data2.rdf> a foaf:Document }}\n"
              f"GRAPH <{KASEI}data3.rdf> {{ <{KASEI}data3.rdf> a foaf:Document }} }} ;\n")

CASES = [
    # --- queries -----------------------------------------------------------------------------
    Case("query_post_form", "POST", f"/sparql?default-graph-uri={g(0)}", "true",
         b"query=ASK%20%7B%7D", "application/x-www-form-urlencoded"),
    Case("query_dataset_default_graphs_get", "GET",
         "/sparql?query=" + quote(f"ASK {{ <{KASEI}data1.rdf> a ?type . <{KASEI}data2.rdf> a ?type . }}", safe="")
         + f"&default-graph-uri={g(1)}&default-graph-uri={g(2)}", "true"),
    Case("query_dataset_default_graphs_post", "POST", f"/sparql?default-graph-uri={g(1)}&default-graph-uri={g(2)}",
         "true", direct(f"ASK {{ <{KASEI}data1.rdf> a ?type . <{KASEI}data2.rdf> a ?type . }}"),
         "application/sparql-query"),
    Case("query_dataset_named_graphs_post", "POST", f"/sparql?named-graph-uri={g(1)}&named-graph-uri={g(2)}",
         "true", direct(f"ASK {{ GRAPH ?g1 {{ <{KASEI}data1.rdf> a ?type }} GRAPH ?g2 {{ <{KASEI}data2.rdf> a ?type }} }}"),
         "application/sparql-query"),
    Case("query_dataset_named_graphs_get", "GET",
         "/sparql?query=" + quote(f"ASK {{ GRAPH ?g1 {{ <{KASEI}data1.rdf> a ?type }} "
                                  f"GRAPH ?g2 {{ <{KASEI}data2.rdf> a ?type }} }}", safe="")
         + f"&named-graph-uri={g(1)}&named-graph-uri={g(2)}", "true"),
    Case("query_dataset_full", "POST", f"/sparql?default-graph-uri={g(3)}&named-graph-uri={g(1)}&named-graph-uri={g(2)}",
         "true", direct(f"ASK {{\n  <{KASEI}data3.rdf> a ?type\n  GRAPH ?g1 {{ <{KASEI}data1.rdf> a ?type }}\n"
                        f"  GRAPH ?g2 {{ <{KASEI}data2.rdf> a ?type }}\n}}"), "application/sparql-query"),
    # The current manifest writes this path with an encoded `&` (%26) between the two named-graph-uri
    # parameters, which makes them one malformed IRI; we send the two parameters it plainly means.
    Case("query_multiple_dataset", "POST", f"/sparql?named-graph-uri={g(1)}&named-graph-uri={g(2)}", "true",
         direct(f"ASK FROM <{KASEI}data3.rdf> {{ GRAPH ?g1 {{ <{KASEI}data1.rdf> a ?type }} "
                f"GRAPH ?g2 {{ <{KASEI}data2.rdf> a ?type }} }}"), "application/sparql-query"),
    # The 2012 form of the same test: the protocol's default graph (data2) wins over FROM data1.
    Case("query_multiple_dataset_2012", "POST", f"/sparql?default-graph-uri={g(2)}", "false",
         direct(f"ASK FROM <{KASEI}data1.rdf> {{ <{KASEI}data1.rdf> ?p ?o }}"), "application/sparql-query"),
    Case("query_get", "GET", f"/sparql?query=ASK%20%7B%7D&default-graph-uri={g(0)}", "true"),
    Case("query_content_type_select", "POST", f"/sparql?default-graph-uri={g(0)}", "tabular",
         direct("SELECT (1 AS ?value) {}"), "application/sparql-query"),
    Case("query_content_type_ask", "POST", f"/sparql?default-graph-uri={g(0)}", "boolean",
         direct("ASK {}"), "application/sparql-query"),
    Case("query_content_type_describe", "POST", f"/sparql?default-graph-uri={g(0)}", "rdf",
         direct("DESCRIBE <http://example.org/>"), "application/sparql-query"),
    Case("query_content_type_construct", "POST", f"/sparql?default-graph-uri={g(0)}", "rdf",
         direct("CONSTRUCT { <s> <p> 1 } WHERE {}"), "application/sparql-query"),
    Case("query_post_direct", "POST", "/sparql", "true", direct("ASK {}"), "application/sparql-query"),
    # --- updates: the endpoint is read-only, so each is refused and the follow-up query finds nothing --
    Case("update_dataset_default_graph", "POST", f"/sparql?using-graph-uri={g(1)}", "refused",
         direct(UPDATE_PROLOGUE + f"CLEAR ALL ;\nINSERT DATA {{ GRAPH <{KASEI}data1.rdf> {{ <{KASEI}data1.rdf> a "
                "foaf:Document } } ;\nINSERT { GRAPH <http://example.org/protocol-update-dataset-test/> "
                "{ ?s a dc:BibliographicResource } } WHERE { ?s a foaf:Document }"), "application/sparql-update",
         then_ask="ASK { GRAPH <http://example.org/protocol-update-dataset-test/> { "
                  f"<{KASEI}data1.rdf> a <http://purl.org/dc/terms/BibliographicResource> }} }}"),
    Case("update_dataset_default_graphs", "POST", f"/sparql?using-graph-uri={g(1)}&using-graph-uri={g(2)}",
         "refused", direct(UPDATE_PROLOGUE + "DROP ALL ;\n" + INSERT_ALL + "INSERT { GRAPH "
                           "<http://example.org/protocol-update-dataset-graphs-test/> { ?s a dc:BibliographicResource } }"
                           " WHERE { ?s a foaf:Document }"), "application/sparql-update",
         then_ask="ASK { GRAPH <http://example.org/protocol-update-dataset-graphs-test/> { "
                  f"<{KASEI}data1.rdf> a <http://purl.org/dc/terms/BibliographicResource> }} }}"),
    Case("update_dataset_named_graphs", "POST",
         f"/sparql?using-named-graph-uri={g(1)}&using-named-graph-uri={g(2)}", "refused",
         direct(UPDATE_PROLOGUE + "DROP ALL ;\n" + INSERT_ALL + "INSERT { GRAPH "
                "<http://example.org/protocol-update-dataset-named-graphs-test/> { ?s a dc:BibliographicResource } }"
                " WHERE { GRAPH ?g { ?s a foaf:Document } }"), "application/sparql-update",
         then_ask="ASK { GRAPH <http://example.org/protocol-update-dataset-named-graphs-test/> { "
                  f"<{KASEI}data1.rdf> a <http://purl.org/dc/terms/BibliographicResource> }} }}"),
    Case("update_dataset_full", "POST", f"/sparql?using-graph-uri={g(1)}&using-named-graph-uri={g(2)}", "refused",
         direct(UPDATE_PROLOGUE + "DROP ALL ;\n" + INSERT_ALL + "INSERT { GRAPH "
                "<http://example.org/protocol-update-dataset-full-test/> { ?s <http://example.org/in> ?in } } "
                "WHERE { { GRAPH ?g { ?s a foaf:Document } BIND(?g AS ?in) } UNION "
                "{ ?s a foaf:Document . BIND(\"default\" AS ?in) } }"), "application/sparql-update",
         then_ask="ASK { GRAPH <http://example.org/protocol-update-dataset-full-test/> { ?s ?p ?o } }"),
    Case("update_post_form", "POST", "/sparql", "refused", b"update=CLEAR+ALL", "application/x-www-form-urlencoded"),
    Case("update_post_direct", "POST", "/sparql", "refused", direct("CLEAR ALL"), "application/sparql-update"),
    Case("update_base_uri", "POST", "/sparql", "refused",
         direct("CLEAR GRAPH <http://example.org/protocol-base-test/> ;\nINSERT DATA { GRAPH "
                "<http://example.org/protocol-base-test/> { <http://example.org/s> <http://example.org/p> <test> } }"),
         "application/sparql-update",
         then_ask="ASK { GRAPH <http://example.org/protocol-base-test/> { <http://example.org/s> ?p ?o } }"),
    # --- bad requests --------------------------------------------------------------------------
    Case("bad_query_method", "PUT", f"/sparql?query=ASK%20%7B%7D&default-graph-uri={g(0)}", "4xx",
         b"", "application/x-www-form-urlencoded"),
    Case("bad_multiple_queries", "GET", "/sparql?query=ASK%20%7B%7D&query=SELECT%20%2A%20%7B%7D", "4xx"),
    Case("bad_query_wrong_media_type", "POST", "/sparql", "4xx", direct("ASK {}"), "text/plain"),
    Case("bad_query_missing_form_type", "POST", "/sparql", "4xx", b"query=ASK%20%7B%7D"),
    Case("bad_query_missing_direct_type", "POST", "/sparql", "4xx", direct("ASK {}")),
    Case("bad_query_non_utf8", "POST", "/sparql", "4xx", "ASK {}".encode("utf-16"),
         "application/sparql-query; charset=UTF-16"),
    Case("bad_query_syntax", "GET", "/sparql?query=ASK%20%7B", "4xx"),
    Case("bad_update_get", "GET", "/sparql?update=CLEAR%20ALL", "4xx"),
    Case("bad_multiple_updates", "POST", "/sparql", "4xx", b"update=CLEAR%20NAMED&update=CLEAR%20DEFAULT",
         "application/x-www-form-urlencoded"),
    Case("bad_update_wrong_media_type", "POST", "/sparql", "4xx", direct("CLEAR NAMED"), "text/plain"),
    Case("bad_update_missing_form_type", "POST", "/sparql", "4xx", b"update=CLEAR%20NAMED"),
    Case("bad_update_non_utf8", "POST", "/sparql", "4xx", "CLEAR NAMED".encode("utf-16"),
         "application/sparql-update; charset=UTF-16"),
    Case("bad_update_syntax", "POST", "/sparql", "4xx", b"update=CLEAR%20XYZ", "application/x-www-form-urlencoded"),
    Case("bad_update_dataset_conflict", "POST", "/sparql?using-named-graph-uri=http%3A%2F%2Fexample%2Fpeople", "4xx",
         direct("PREFIX foaf:  <http://xmlns.com/foaf/0.1/>\nWITH <http://example/addresses>\n"
                "DELETE { ?person foaf:givenName 'Bill' }\nINSERT { ?person foaf:givenName 'William' }\n"
                "WHERE {\n    ?person foaf:givenName 'Bill'\n}"), "application/sparql-update"),
]


@pytest.fixture(scope="module")
def w3c_client(tmp_path_factory):
    """The app over a store holding only the manifest's data0…data3 graphs."""
    root = tmp_path_factory.mktemp("w3c-protocol")
    quads = list(parse(path=FIXTURES / "dataset.trig", format=RdfFormat.TRIG))
    assert len(quads) == FIXTURE_QUADS
    publish(root / "store", quads, {"build_id": "w3c-protocol-fixture"})
    queries = root / "queries"
    queries.mkdir()
    app = create_app(Settings().with_changes(store_path=root / "store", queries_dir=queries))
    app.config.update(TESTING=True)
    yield app.test_client()
    app.extensions["migkg_backend"].close()


def send(client, case: Case):
    headers = {"Content-Type": case.content_type} if case.content_type else {}
    return client.open(case.path, method=case.method, headers=headers, data=case.body)


def mimetype(response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip()


def read_boolean(response) -> bool:
    fmt = QueryResultsFormat.from_media_type(mimetype(response))
    answer = parse_query_results(response.data, fmt)
    assert isinstance(answer, QueryBoolean)
    return bool(answer)


def quad_count(client) -> int:
    response = client.get("/sparql", query_string={"query": COUNT_QUADS})
    assert response.status_code == 200
    return int(json.loads(response.data)["results"]["bindings"][0]["n"]["value"])


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_w3c_protocol_case(w3c_client, case: Case):
    response = send(w3c_client, case)
    if case.expect == "4xx":
        assert 400 <= response.status_code < 500, response.data
        assert quad_count(w3c_client) == FIXTURE_QUADS
        return
    if case.expect == "refused":
        assert response.status_code == 403, response.data
        assert b"read-only" in response.data
        if case.then_ask:
            follow = w3c_client.post("/sparql", data=case.then_ask.encode(),
                                     headers={"Content-Type": "application/sparql-query",
                                              "Accept": "application/sparql-results+xml"})
            assert follow.status_code == 200 and mimetype(follow) == "application/sparql-results+xml"
            assert read_boolean(follow) is False
        assert quad_count(w3c_client) == FIXTURE_QUADS
        return
    assert 200 <= response.status_code < 400, response.data
    if case.expect in ("true", "false"):
        assert mimetype(response) in {"application/sparql-results+json", "application/sparql-results+xml"}
        assert read_boolean(response) is (case.expect == "true")
    elif case.expect == "boolean":
        assert mimetype(response) in {"application/sparql-results+json", "application/sparql-results+xml"}
        read_boolean(response)
    elif case.expect == "tabular":
        assert mimetype(response) in RESULT_TYPES
        solutions = parse_query_results(response.data, QueryResultsFormat.from_media_type(mimetype(response)))
        assert isinstance(solutions, QuerySolutions)
        assert [str(row["value"].value) for row in solutions] == ["1"]
    else:
        assert mimetype(response) in RDF_TYPES
        list(parse(response.data, format=RdfFormat.from_media_type(mimetype(response))))


def test_manifest_case_names_are_all_encoded():
    names = {case.name for case in CASES}
    manifest = {
        "query_post_form", "query_dataset_default_graphs_get", "query_dataset_default_graphs_post",
        "query_dataset_named_graphs_post", "query_dataset_named_graphs_get", "query_dataset_full",
        "query_multiple_dataset", "query_get", "query_content_type_select", "query_content_type_ask",
        "query_content_type_describe", "query_content_type_construct", "update_dataset_default_graph",
        "update_dataset_default_graphs", "update_dataset_named_graphs", "update_dataset_full", "update_post_form",
        "update_post_direct", "update_base_uri", "query_post_direct", "bad_query_method", "bad_multiple_queries",
        "bad_query_wrong_media_type", "bad_query_missing_form_type", "bad_query_missing_direct_type",
        "bad_query_non_utf8", "bad_query_syntax", "bad_update_get", "bad_multiple_updates",
        "bad_update_wrong_media_type", "bad_update_missing_form_type", "bad_update_non_utf8", "bad_update_syntax",
        "bad_update_dataset_conflict",
    }
    assert manifest <= names


def test_without_a_protocol_dataset_the_default_graph_is_the_union(w3c_client):
    response = w3c_client.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"})
    assert json.loads(response.data)["results"]["bindings"][0]["n"]["value"] == str(FIXTURE_QUADS)


def test_from_in_the_query_applies_when_the_protocol_gives_no_dataset(w3c_client):
    query = f"SELECT ?title FROM <{KASEI}data2.rdf> WHERE {{ ?doc <http://purl.org/dc/terms/title> ?title }}"
    response = w3c_client.get("/sparql", query_string={"query": query})
    rows = json.loads(response.data)["results"]["bindings"]
    assert [row["title"]["value"] for row in rows] == ["data2"]


def test_syntax_error_is_a_400_with_the_parser_message_as_text(w3c_client):
    response = w3c_client.get("/sparql?query=ASK%20%7B")
    assert response.status_code == 400
    assert mimetype(response) == "text/plain"
    assert b"Syntax error in the query" in response.data and b"1:6" in response.data


def test_a_query_saved_with_a_byte_order_mark_is_read(w3c_client):
    text = "\ufeffASK { ?s ?p ?o }"
    get = w3c_client.get("/sparql", query_string={"query": text})
    form = w3c_client.post("/sparql", data={"query": text})
    direct = w3c_client.post("/sparql", data=text.encode(), headers={"Content-Type": "application/sparql-query"})
    for response in (get, form, direct):
        assert response.status_code == 200, response.data


def test_direct_post_with_utf8_charset_is_accepted(w3c_client):
    response = w3c_client.post("/sparql", data="ASK { ?s ?p \"données\" } ".encode(),
                               headers={"Content-Type": "application/sparql-query; charset=UTF-8"})
    assert response.status_code == 200 and read_boolean(response) is False


# ---------------------------------------------------------------------------------------------
# Content negotiation and the rest, on the real data

COLOMBO_MEMBERS = "SELECT DISTINCT ?state WHERE { id:colombo-process mig:hasMember ?state . " \
                  "FILTER(STRSTARTS(STR(?state), STR(state:))) } ORDER BY ?state"
COLOMBO_STATES = {f"https://w3id.org/migkg/id/state/{code}" for code in
                  ("AFG", "BGD", "CHN", "IND", "IDN", "NPL", "PAK", "PHL", "LKA", "THA", "VNM")}


@pytest.mark.parametrize("accept, fmt", [
    ("application/sparql-results+json", QueryResultsFormat.JSON),
    ("application/sparql-results+xml", QueryResultsFormat.XML),
    ("text/tab-separated-values", QueryResultsFormat.TSV),
    ("application/json", QueryResultsFormat.JSON),
    (None, QueryResultsFormat.JSON),
    ("*/*", QueryResultsFormat.JSON),
    ("text/csv;q=0.5, application/sparql-results+xml;q=0.9", QueryResultsFormat.XML),
    # Media type parameters a client adds (answers are UTF-8 anyway) once made every format unacceptable.
    ("application/sparql-results+json; charset=utf-8", QueryResultsFormat.JSON),
    ("text/tab-separated-values;charset=UTF-8", QueryResultsFormat.TSV),
])
def test_select_results_are_negotiated(client, accept, fmt):
    headers = {"Accept": accept} if accept else {}
    response = client.get("/sparql", query_string={"query": COLOMBO_MEMBERS}, headers=headers)
    assert response.status_code == 200
    assert mimetype(response) == fmt.media_type.split(";")[0]
    states = {row["state"].value for row in parse_query_results(response.data, fmt)}
    assert states == COLOMBO_STATES


@pytest.mark.parametrize("accept", ["text/csv", "text/csv; charset=utf-8", "text/*"])  # text/*: not XML as text/xml
def test_csv_results_have_the_header_and_one_line_per_state(client, accept):
    response = client.get("/sparql", query_string={"query": COLOMBO_MEMBERS}, headers={"Accept": accept})
    lines = response.data.decode().splitlines()
    assert mimetype(response) == "text/csv" and lines[0] == "state" and set(lines[1:]) == COLOMBO_STATES


@pytest.mark.parametrize("accept, fmt", [
    ("text/turtle", RdfFormat.TURTLE), ("application/n-triples", RdfFormat.N_TRIPLES),
    ("application/rdf+xml", RdfFormat.RDF_XML), ("application/ld+json", RdfFormat.JSON_LD),
    (None, RdfFormat.TURTLE), ("*/*", RdfFormat.TURTLE), ("text/turtle; charset=utf-8", RdfFormat.TURTLE),
])
def test_construct_graphs_are_negotiated(client, accept, fmt):
    query = "CONSTRUCT { id:colombo-process mig:hasMember ?state } WHERE { id:colombo-process mig:hasMember ?state " \
            "FILTER(STRSTARTS(STR(?state), STR(state:))) }"
    headers = {"Accept": accept} if accept else {}
    response = client.post("/sparql", data={"query": query}, headers=headers)
    assert response.status_code == 200 and mimetype(response) == fmt.media_type
    triples = list(parse(response.data, format=fmt))
    assert {t.object.value for t in triples} == COLOMBO_STATES


def test_format_parameters_override_accept_and_unknown_ones_are_ignored(client):
    response = client.get("/sparql", query_string={"query": COLOMBO_MEMBERS, "format": "csv", "output": "csv"},
                          headers={"Accept": "application/sparql-results+xml"})
    assert mimetype(response) == "text/csv"
    response = client.get("/sparql", query_string={"query": COLOMBO_MEMBERS, "format": "no-such-format",
                                                   "results": "whatever", "timeout": "5"})
    assert response.status_code == 200 and mimetype(response) == "application/sparql-results+json"


def test_nothing_acceptable_is_a_406(client):
    response = client.get("/sparql", query_string={"query": COLOMBO_MEMBERS}, headers={"Accept": "image/png"})
    assert response.status_code == 406
    construct = client.get("/sparql", query_string={"query": "CONSTRUCT WHERE { ?s a mig:State } LIMIT 1"},
                           headers={"Accept": "text/csv"})
    assert construct.status_code == 406 and b"RDF" in construct.data


def test_variables_can_be_bound_with_dollar_parameters(client):
    response = client.get("/sparql", query_string={"query": "SELECT ?state ?process WHERE { ?process mig:hasMember "
                                                            "?state }", "$state": "state:NPL"})
    processes = {row["process"]["value"] for row in json.loads(response.data)["results"]["bindings"]}
    assert "https://w3id.org/migkg/id/colombo-process" in processes
    # Bound like the catalogue binds its parameters: the variable need not be projected.
    counted = client.get("/sparql", query_string={"query": "SELECT (COUNT(DISTINCT ?process) AS ?n) WHERE { ?process "
                                                           "mig:hasMember ?state }", "$state": "state:NPL"})
    assert int(json.loads(counted.data)["results"]["bindings"][0]["n"]["value"]) == len(processes)
    bad = client.get("/sparql", query_string={"query": "SELECT ?s WHERE { ?s ?p ?o }", "$s": "<not an iri"})
    assert bad.status_code == 400


def test_unchanged_data_costs_a_304(client):
    first = client.get("/sparql", query_string={"query": COLOMBO_MEMBERS})
    tag = first.headers["ETag"]
    assert "no-cache" in first.headers["Cache-Control"]
    again = client.get("/sparql", query_string={"query": COLOMBO_MEMBERS}, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b""
    other_format = client.get("/sparql", query_string={"query": COLOMBO_MEMBERS},
                              headers={"If-None-Match": tag, "Accept": "text/csv"})
    assert other_format.status_code == 200


def test_cors_lets_other_origins_query(client):
    response = client.get("/sparql", query_string={"query": "ASK {}"}, headers={"Origin": "https://yasgui.example"})
    # Public, cacheable answers: an echoed origin without `Vary: Origin` would be served to other origins.
    assert "public" in response.headers["Cache-Control"]
    assert response.headers["Access-Control-Allow-Origin"] == "*" or "Origin" in response.vary
    preflight = client.options("/sparql", headers={"Origin": "https://yasgui.example",
                                                   "Access-Control-Request-Method": "POST",
                                                   "Access-Control-Request-Headers": "Content-Type"})
    assert preflight.status_code == 200 and "POST" in preflight.headers["Access-Control-Allow-Methods"]
    # What OPTIONS says is allowed is what the endpoint does not refuse with a 405.
    assert sorted(client.options("/sparql").headers["Allow"].split(", ")) == ["GET", "HEAD", "OPTIONS", "POST"]
    assert client.options("/sparql?default").headers["Allow"] == "GET, HEAD, OPTIONS"


def test_service_description_for_tools(client):
    response = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert response.status_code == 200 and mimetype(response) == "text/turtle"
    sd = "http://www.w3.org/ns/sparql-service-description#"
    triples = list(parse(response.data, format=RdfFormat.TURTLE))
    assert any(t.predicate.value == sd + "endpoint" and t.object.value == "http://localhost/sparql" for t in triples)
    assert any(t.predicate.value == sd + "feature" and t.object.value == sd + "UnionDefaultGraph" for t in triples)
    names = {t.object.value for t in triples if t.predicate.value == sd + "name"}
    assert "https://w3id.org/migkg/graph/ontology" in names
    assert client.get("/sparql").status_code == 200  # no Accept at all: still the description


def test_browsers_get_the_editor_with_the_examples(client, settings):
    response = client.get("/sparql", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 200 and mimetype(response) == "text/html"
    page = response.data.decode()
    from migkg.catalogue import load_catalogue
    from markupsafe import escape
    for query in load_catalogue(settings.queries_dir).values():
        assert str(escape(query.title)) in page
    shared = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p \"</script><b>\" }"},
                        headers={"Accept": "text/html"})
    assert shared.status_code == 200 and "</script><b>" not in shared.data.decode()


def test_graph_store_reads(client):
    response = client.get("/sparql", query_string={"graph": "https://w3id.org/migkg/graph/ontology"},
                          headers={"Accept": "application/n-triples"})
    assert response.status_code == 200 and mimetype(response) == "application/n-triples"
    triples = list(parse(response.data, format=RdfFormat.N_TRIPLES))
    assert any(t.subject.value == "https://w3id.org/migkg/ontology#ConsultationProcess" for t in triples)
    head = client.head("/sparql", query_string={"graph": "https://w3id.org/migkg/graph/ontology"})
    assert head.status_code == 200 and head.data == b""
    assert client.get("/sparql", query_string={"graph": "https://w3id.org/migkg/graph/none"}).status_code == 404
    assert client.get("/sparql", query_string={"graph": "not an iri"}).status_code == 400
    default = client.get("/sparql?default", headers={"Accept": "application/n-triples"})
    assert default.status_code == 200 and len(default.data) > len(response.data)


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_graph_store_writes_are_refused(client, method):
    before = client.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"})
    response = client.open("/sparql?graph=https://w3id.org/migkg/graph/ontology", method=method,
                           data=b"<urn:a> <urn:b> <urn:c> .", headers={"Content-Type": "application/n-triples"})
    assert response.status_code == 405 and "GET" in response.headers["Allow"]
    after = client.get("/sparql", query_string={"query": "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"})
    assert before.data == after.data


@pytest.mark.parametrize("update", [
    "INSERT DATA { <urn:a> <urn:b> <urn:c> }", "PREFIX x: <urn:x#>\nDELETE WHERE { x:a ?p ?o }", "LOAD <http://x/>",
    "# drop it all\nclear all", "WITH <urn:g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }", "COPY DEFAULT TO <urn:g>",
])
def test_an_update_sent_as_a_query_is_told_the_endpoint_is_read_only(client, update):
    get = client.get("/sparql", query_string={"query": update})
    form = client.post("/sparql", data={"query": update})
    direct = client.post("/sparql", data=update.encode(), headers={"Content-Type": "application/sparql-query"})
    for response in (get, form, direct):
        assert response.status_code == 400 and b"read-only and accepts no SPARQL Update" in response.data


def test_a_subquery_choosing_its_own_dataset_is_refused_with_the_reason(client):
    for query in ("SELECT * WHERE { { SELECT * FROM <urn:g> WHERE { ?s ?p ?o } } }",
                  "ASK FROM <urn:a> { FILTER EXISTS { SELECT * FROM NAMED <urn:g> { GRAPH ?g { ?s ?p ?o } } } }"):
        response = client.get("/sparql", query_string={"query": query})
        assert response.status_code == 400 and b"subquery cannot choose a dataset" in response.data, query


def test_service_queries_are_refused_before_they_reach_the_network(client):
    response = client.get("/sparql", query_string={"query": "SELECT * WHERE { SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } }"})
    assert response.status_code == 400 and b"SERVICE" in response.data


@pytest.mark.parametrize("query, expected", [
    ("SELECT * FROM <g> WHERE { ?s ?p ?o }", {"SELECT", "FROM", "WHERE"}),
    ("SELECT * WHERE { ?s ?p \"FROM <x>\" }  # FROM <y>", {"SELECT", "WHERE"}),
    ("SELECT ?from WHERE { ?from ex:from :FROM . ?x ?p 'SERVICE' }", {"SELECT", "WHERE"}),
    ("ASK { ?s ?p \"\"\"multi\nline FROM \"\"\"@en }", {"ASK"}),
    ("select * { service <http://x/> { ?s ?p ?o } }", {"SELECT", "SERVICE"}),
    ("SELECT * WHERE { ?s ?p ?o FILTER(?o < 3 && ?o > 1) } # <from>", {"SELECT", "WHERE", "FILTER"}),
])
def test_keywords_see_past_strings_iris_comments_and_names(query, expected):
    assert {token.keyword for token in tokenize(query) if token.kind == "word"} == expected


@pytest.mark.parametrize("query, status", [("ASK {} # any", 304), ("ASK { # broken", 400),
                                           ("SELECT * WHERE { ?s ?p ?o } # too many rows", 422)])
def test_if_none_match_any_is_decided_by_the_answer(client, query, status):
    """`If-None-Match: *` asks for a 304 when any representation exists: a query that fails gets its error,
    not a 304 that hides it (it was answered before the query ran)."""
    response = client.get("/sparql", query_string={"query": query},
                          headers={"If-None-Match": "*", "Accept": "application/sparql-results+json"})
    assert response.status_code == status, response.data[:200]
    if status == 304:
        assert response.headers["ETag"] and not response.data
