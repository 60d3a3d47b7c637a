"""The remote engine's HTTP client and answer handling: statuses, limits, pass-through, against real HTTP.

A loopback HTTP server plays an engine that fails in the ways real ones do (HTTP 500 for a query it cannot
evaluate, 503 when overloaded, an answer trickling past the time limit, an answer too large); the
pass-through of answers is checked against the Oxigraph server itself (tests/engines.py).
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
from pyoxigraph import QueryResultsFormat, parse_query_results

from migkg.backend import Build, BackendUnavailable, Limits, QueryRejected, QueryTask, open_backend
from migkg.catalogue import load_catalogue
from migkg.config import PROJECT_ROOT
from migkg.engines.sparql import RemoteBackend, RemoteSnapshot, _form_encoded, _results_answer, _where_group
from migkg.namespaces import sparql_prologue
from migkg.sparql_lexer import shape

from .engines import answer_rows

JSON = "application/sparql-results+json"
SOLUTIONS = json.dumps({"head": {"vars": ["x"]}, "results": {"bindings": [
    {"x": {"type": "literal", "value": f"row {n}"}} for n in range(3)]}}).encode()


class FailingEngine(http.server.BaseHTTPRequestHandler):
    """Answers every POST as the test's `reply(handler)` says; records what it was sent."""

    protocol_version = "HTTP/1.1"  # keep-alive, as engines answer
    reply = None
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append((self.headers.get("Content-Type"), body))
        type(self).reply(self)

    def send(self, status: int, body: bytes, content_type: str = "text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        """Silent: the tests read what the engine received from `received`, not from stderr."""


@contextmanager
def engine_answering(reply):
    handler = type("Engine", (FailingEngine,), {"reply": staticmethod(reply), "received": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sparql", handler
    finally:
        server.shutdown()
        server.server_close()


def run(url: str, limits: Limits = Limits(timeout=3.0), text: str = "SELECT ?x WHERE { ?x ?p ?o }", **task) -> object:
    """One query through a RemoteSnapshot of a build that publishes no graphs."""
    backend = RemoteBackend(url, limits)
    try:
        snapshot = RemoteSnapshot(backend, Build("test-build", {"summary": {"graphs": {}}}))
        return snapshot.run(QueryTask(text, results_media_type=JSON, **task))
    finally:
        backend.close()


def test_an_engine_failing_on_the_query_is_a_502_with_its_own_words():
    message = b"Virtuoso 22023 Error SR066: Unsupported case in CONVERT (DATETIME -> IRI_ID)\n\nSPARQL query:\nSELECT"
    with engine_answering(lambda h: h.send(500, message)) as (url, _):
        with pytest.raises(QueryRejected) as refused:
            run(url)
    assert refused.value.status == 502 and not isinstance(refused.value, BackendUnavailable)
    assert "SR066: Unsupported case in CONVERT (DATETIME -> IRI_ID)" in refused.value.message
    assert "SPARQL query" not in refused.value.message and "try again" not in refused.value.message


@pytest.mark.parametrize("status", [502, 503, 504])
def test_an_engine_that_is_down_or_busy_is_a_503(status):
    with engine_answering(lambda h: h.send(status, b"busy")) as (url, _):
        with pytest.raises(BackendUnavailable) as unavailable:
            run(url)
    assert unavailable.value.status == 503 and "try again" in unavailable.value.message


def test_a_query_the_engine_refuses_is_a_400_with_its_message():
    with engine_answering(lambda h: h.send(400, b"Parse error: unexpected '}' at line 1")) as (url, _):
        with pytest.raises(QueryRejected) as refused:
            run(url)
    assert refused.value.status == 400 and "unexpected '}'" in refused.value.message


@pytest.mark.parametrize("text", [
    "INSERT DATA { <urn:a> <urn:b> <urn:c> }", "PREFIX a: <urn:x:> DELETE WHERE { ?s a:p ?o }",
    "# SELECT * WHERE { ?s ?p ?o }\nCLEAR ALL", "WITH <urn:g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
    "LOAD <http://example.org/data.ttl>", "DROP SILENT GRAPH <urn:g>",
    "DELETE { GRAPH ?g { ?s ?p ?o } } WHERE { GRAPH ?g { ?s ?p ?o } }",
])
def test_an_update_never_reaches_the_engine(text):
    """The engine may grant updates on its query endpoint (Virtuoso does, to users with SPARQL_UPDATE)."""
    with engine_answering(lambda h: h.send(200, SOLUTIONS, JSON)) as (url, engine):
        with pytest.raises(QueryRejected) as refused:
            run(url, text=text)
    assert refused.value.status == 400 and "read-only" in refused.value.message
    assert engine.received == []


def test_an_engine_nobody_listens_for_is_a_503():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the request: nobody listens
    with pytest.raises(BackendUnavailable):
        run(f"http://127.0.0.1:{port}/sparql")


def test_the_time_limit_covers_the_whole_answer_not_each_read():
    """An engine sending a byte every 0.2 s never idles as long as the limit, yet is cut at the limit."""
    def trickle(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", JSON)
        handler.send_header("Content-Length", str(len(SOLUTIONS)))
        handler.end_headers()
        for byte in SOLUTIONS:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(0.2)

    started = time.monotonic()
    with engine_answering(trickle) as (url, _):
        with pytest.raises(QueryRejected) as refused:
            run(url, Limits(timeout=1.0))
        assert refused.value.status == 422 and "time limit" in refused.value.message
        assert time.monotonic() - started < 2.5


def test_an_answer_larger_than_the_cap_is_cut_while_reading():
    big = b'{"head":{"vars":["x"]},"results":{"bindings":[' + b",".join(
        b'{"x":{"type":"literal","value":"%d"}}' % n for n in range(100_000)) + b"]}}"
    with engine_answering(lambda h: h.send(200, big, JSON)) as (url, _):
        with pytest.raises(QueryRejected) as refused:
            run(url, max_bytes=1000)  # the engine may send 4x the answer cap, at least 1 MiB
    assert refused.value.status == 422 and "larger than" in refused.value.message


def test_a_connection_the_engine_closed_while_idle_is_replaced():
    """The engine closes keep-alive connections (its idle timeout, a restart): the next query still answers."""
    def answer_then_close(handler):
        handler.send(200, SOLUTIONS, JSON)
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)

    with engine_answering(answer_then_close) as (url, engine):
        backend = RemoteBackend(url, Limits(timeout=3.0))
        snapshot = RemoteSnapshot(backend, Build("test-build", {"summary": {"graphs": {}}}))
        task = QueryTask("SELECT ?x WHERE { ?x ?p ?o }", results_media_type=JSON)
        assert [snapshot.run(task).rows for _ in range(3)] == [3, 3, 3]
        backend.close()
    assert len(engine.received) == 3


@pytest.mark.parametrize("text", ["SELECT * WHERE { ?s ?p \"a & b = c + d %20 #x\" }",
                                  "ASK { ?s <http://example.org/é?x=1&y=2> \"données 日本\" }", "", "~-._ \n\t"])
def test_form_bodies_are_what_urlencode_writes(text):
    assert _form_encoded({"query": text, "default-graph-uri": "urn:a b"}) == \
        urlencode({"query": text, "default-graph-uri": "urn:a b"}).encode()


def _engine_answer(engine, query: str) -> bytes:
    import requests

    return requests.post(engine.query_url, data={"query": query}, headers={"Accept": JSON}, timeout=30).content


UNION_QUERY = ("SELECT ?member WHERE { <https://w3id.org/migkg/id/colombo-process> "
               "<https://w3id.org/migkg/ontology#hasMember> ?member }")


def test_plain_json_answers_pass_through_unchanged(oxigraph_engine, store):
    """An Oxigraph server's JSON (pyoxigraph's writer) holds no term to normalise: its bytes are the answer."""
    backend = open_backend(f"sparql:{oxigraph_engine.query_url}", Limits())
    try:
        snapshot = backend.snapshot()
        answer = snapshot.query(UNION_QUERY, results_format=QueryResultsFormat.JSON)
        direct = _engine_answer(oxigraph_engine, f"SELECT ?member FROM <https://w3id.org/migkg/graph/union> "
                                                 f"WHERE {{ {UNION_QUERY.split('{', 1)[1]}")
        assert answer.body == direct and answer.rows == 11
        embedded = store.query(UNION_QUERY)
        assert answer_rows(parse_query_results(answer.body, format=QueryResultsFormat.JSON)) == answer_rows(embedded)
        with pytest.raises(QueryRejected) as capped:  # the row cap holds on passed-through answers
            snapshot.query(UNION_QUERY, results_format=QueryResultsFormat.JSON, max_rows=10)
        assert capped.value.status == 422 and "more than 10 rows" in capped.value.message
    finally:
        backend.close()


def test_oxigraph_server_is_sent_queries_directly(oxigraph_engine):
    backend = open_backend(f"sparql:{oxigraph_engine.query_url}", Limits())
    try:
        backend.snapshot()
        assert backend._direct_post
    finally:
        backend.close()


def test_virtuoso_is_sent_forms(virtuoso_engine):
    """Virtuoso 7 takes a direct POST and never answers it: it must be asked with forms."""
    backend = open_backend(f"sparql:{virtuoso_engine.query_url}", Limits())
    try:
        assert backend.snapshot().ask("ASK { ?s ?p ?o }") and not backend._direct_post
    finally:
        backend.close()


@pytest.mark.parametrize("term, written", [
    ({"type": "literal", "value": "a", "datatype": "http://www.w3.org/2001/XMLSchema#string"},
     {"type": "literal", "value": "a"}),
    ({"type": "bnode", "value": "nodeID://b10006"}, {"type": "bnode", "value": "b6e6f646549443a2f2f623130303036"}),
    ({"type": "literal", "value": "7", "datatype": "http://www.w3.org/2001/XMLSchema#integer"},
     {"type": "literal", "value": "7", "datatype": "http://www.w3.org/2001/XMLSchema#integer"}),
])
def test_terms_an_engine_writes_its_own_way_are_written_as_the_embedded_engine_does(term, written):
    body = json.dumps({"head": {"vars": ["x"]}, "results": {"bindings": [{"x": term}, {"x": term}]}}).encode()
    for written_by_engine in (body, body.replace(b"/", b"\\/")):  # JSON writers may escape "/"
        answer = _results_answer(written_by_engine, QueryResultsFormat.JSON,
                                 QueryTask("SELECT ?x {}", results_media_type=JSON))
        assert answer.rows == 2
        assert json.loads(answer.body)["results"]["bindings"] == [{"x": written}, {"x": written}]


@pytest.mark.parametrize("slug", sorted(load_catalogue(PROJECT_ROOT / "queries")))
def test_the_where_group_found_from_the_head_is_the_tokenizers(slug):
    query = load_catalogue(PROJECT_ROOT / "queries")[slug]
    for text in (query.text, sparql_prologue() + query.bound_text()):
        at = _where_group(text)
        assert at is not None and at == shape(text).dataset_at, slug


@pytest.mark.parametrize("text", [
    "SELECT (EXISTS { ?s ?p ?o } AS ?e) WHERE { GRAPH ?g { ?s ?p ?o } }",  # a group inside the projection
    'SELECT ("{" AS ?x) WHERE { GRAPH ?g { ?s ?p ?o } }',  # in a string
    "# where { the comment }\nSELECT * WHERE { GRAPH ?g { ?s ?p ?o } }",  # in a comment
    "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }",  # a template, not the WHERE group
    "SELECT * FROM <urn:x> WHERE { GRAPH ?g { ?s ?p ?o } }",  # the query's own dataset
    "INSERT DATA { GRAPH <urn:x> { <urn:a> <urn:b> <urn:c> } }",
])
def test_texts_whose_head_is_not_certain_are_tokenized_whole(text):
    assert _where_group(text) is None


def test_the_app_names_an_engine_failure_a_bad_gateway(settings):
    """What the endpoint tells a client when the engine behind the seam fails on its query (HTTP 500 there)."""
    from migkg.backend import Backend
    from webapp import create_app

    from .test_answer_cache import CountingSnapshot

    class FailingSnapshot(CountingSnapshot):
        def run(self, task):
            raise QueryRejected(502, "The SPARQL engine failed on this query: SR066: Unsupported case in CONVERT")

    class FailingBackend(Backend):
        description = "test engine"

        def snapshot(self):
            return FailingSnapshot("build-a", None)

    client = create_app(settings, backend=FailingBackend()).test_client()
    response = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o }"},
                          headers={"Accept": JSON})
    assert response.status_code == 502
    assert response.get_data(as_text=True).startswith("502 Bad Gateway: The SPARQL engine failed on this query")
    assert "Retry-After" not in response.headers
