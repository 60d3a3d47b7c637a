"""Hostile requests: no outbound connection, linear request handling, slow clients, memory, body caps, headers."""

from __future__ import annotations

import gc
import json
import os
import socket
import threading
import time
from urllib.parse import urlencode

import pytest
import requests
import urllib3
from hypothesis import HealthCheck, assume, given, settings as hypothesis_settings, strategies as st
from pyoxigraph import RdfFormat, parse
from rdflib.plugins.sparql.parser import parseQuery

from migkg.sparql_lexer import (MAX_NESTING, SparqlSyntaxError, dataset_references, may_name, nesting, nests_too_deep,
                                shape, tokenize)
from tests.serving import serving


JSON = {"Accept": "application/sparql-results+json"}


class Listener:
    """A loopback TCP listener that records every connection made to it."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(50)
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except OSError:
                continue
            self.connections += 1
            connection.close()

    def close(self):
        self.stop.set()
        self.thread.join()
        self.socket.close()


SSRF_FORMS = [
    "SELECT * WHERE {{ FILTER(1<2&&'>'!='') SERVICE <http://127.0.0.1:{port}/x> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ service <http://127.0.0.1:{port}/x> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ SERVICE SILENT <http://127.0.0.1:{port}/x> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ #comment\nSERVICE\n<http://127.0.0.1:{port}/x> {{ ?s ?p ?o }} }}",
    "PREFIX x: <http://127.0.0.1:{port}/> SELECT * WHERE {{ SERVICE x:sparql {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ BIND(<http://127.0.0.1:{port}/x> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ ?s ?p '<' FILTER(?s<?p) SERVICE <http://127.0.0.1:{port}/x> {{ ?a ?b ?c }} }}",
    "SELECT * WHERE {{ {{ SELECT * {{ SERVICE <http://127.0.0.1:{port}/x> {{ ?s ?p ?o }} }} }} }}",
    # A codepoint escape in an IRI once made the tokenizer leave the IRI at its backslash and read its "#" as a
    # comment to the end of the line, over the SERVICE clause.
    "SELECT * WHERE {{ OPTIONAL {{ ?s ?p <http://x\\u0041#> }} SERVICE <http://127.0.0.1:{port}/x> {{ ?a ?b ?c }}\n}}",
]


@pytest.mark.parametrize("form", SSRF_FORMS)
def test_no_query_makes_the_server_connect_anywhere(live_server, form):
    listener = Listener()
    try:
        query = form.format(port=listener.port)
        for method in ("get", "post"):
            if method == "get":
                response = requests.get(live_server + "/sparql", params={"query": query}, headers=JSON, timeout=30)
            else:
                response = requests.post(live_server + "/sparql", data=query.encode(), timeout=30,
                                         headers={**JSON, "Content-Type": "application/sparql-query"})
            assert response.status_code == 400 and "SERVICE" in response.text
        time.sleep(0.3)
        assert listener.connections == 0
    finally:
        listener.close()


# ------------------------------------------------------------------- the tokenizer against a real parser

PIECES = st.sampled_from([
    "?s ?p ?o .", "FILTER(1<2&&'>'!='')", "FILTER(?o < 3 && ?o > 1)", "FILTER(?s != <urn:x>)",
    "?s <urn:p> \"SERVICE <urn:y> {}\" .", "# SERVICE <urn:z> { }\n", "?s <urn:from> ?o .",
    "BIND(STR(?s) AS ?t)", "OPTIONAL { ?s <urn:q> ?v }", "FILTER(?o IN (<urn:a>, <urn:b>))",
    "?s <urn:list> (<urn:a> <urn:b>) .", "FILTER(STRLEN('<x>')<=3)", "?s <urn:p> '''FROM <g>''' .",
    "FILTER(?o<<urn:a>)",
])


@st.composite
def queries(draw):
    head = draw(st.sampled_from(["SELECT *", "SELECT ?s (1<2 AS ?lt)", "SELECT ?s ('x' AS ?y)",
                                 "SELECT (COUNT(*) AS ?n)", "ASK", "CONSTRUCT { ?s ?p ?o }"]))
    dataset = draw(st.sampled_from(["", " FROM <urn:g>", " FROM NAMED <urn:g>"]))
    if head == "ASK" and dataset:
        head = "ASK"
    before = draw(st.lists(PIECES, max_size=3))
    service = draw(st.booleans())
    after = draw(st.lists(PIECES, max_size=2))
    body = " ".join(before) + (" SERVICE <http://127.0.0.1:9/s> { ?a ?b ?c }" if service else "") + " " + " ".join(after)
    if not body.strip():
        body = "?s ?p ?o ."
    where = "" if head.startswith("ASK") else " WHERE"
    return f"{head}{dataset}{where} {{ {body} }}"


@hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queries())
def test_service_and_dataset_decisions_agree_with_rdflibs_parser(query):
    try:
        tree = repr(parseQuery(query))
    except Exception:
        assume(False)
        return
    found = shape(query)
    assert found.uses_service == ("ServiceGraphPattern_" in tree), query
    assert found.has_dataset_clause == ("datasetClause" in tree), query


CODEPOINT_ESCAPES_READ_ALIKE = [  # Oxigraph and Jena read escapes in strings and IRIs only, as Turtle does
    (r"SELECT * WHERE { ?s ?p <http://x\u0041#> . SERVICE <http://h/> { ?a ?b ?c } }", True),
    (r"SELECT * WHERE { ?s ?p <http://x\U00000041/> }", False),
    (r"SELECT * WHERE { ?s ?p 'caf\u00e9' FILTER(?o != '''\u00e9''') } # caf\u00e9", False),
]
# SPARQL 1.1's text decodes escapes before parsing, everywhere (QLever does so): these would read otherwise there.
CODEPOINT_ESCAPES_READ_OTHERWISE = [
    r"SELECT * WHERE { \u0053ERVICE <http://h/> { ?s ?p ?o } }",
    r"SELECT * WHERE { ?s ?p ?o # \u000A SERVICE <http://h/> { ?a ?b ?c }" "\n}",
    r"SELECT * WHERE { BIND('\u0027 AS ?x) SERVICE <http://h/> { ?a ?b ?c } # ' AS ?y) }",
    r"SELECT * WHERE { ?s ?p '\\\u0027' }",
    r"SELECT * WHERE { ?s ?p <http://x\u003E> }",
    r"PREFIX ex: <http://e/> SELECT * WHERE { ?s ex:\u0061 ?o }",
]


@pytest.mark.parametrize("query, service", CODEPOINT_ESCAPES_READ_ALIKE)
def test_codepoint_escapes_in_strings_and_iris_are_read_as_the_engine_reads_them(query, service):
    assert shape(query).uses_service is service
    assert may_name(query, ("SERVICE",))  # an escaped text is always tokenized before it runs
    graph, = dataset_references(r"SELECT * FROM <http://e/\u0041> WHERE { ?s ?p ?o }", {})
    assert graph.iri == "http://e/A"  # the graph the engine reads, not the text that names it


@pytest.mark.parametrize("query", CODEPOINT_ESCAPES_READ_OTHERWISE)
def test_codepoint_escapes_engines_read_differently_are_refused(query, client):
    with pytest.raises(SparqlSyntaxError, match="escape"):
        tokenize(query)
    response = client.get("/sparql", query_string={"query": query}, headers=JSON)
    assert response.status_code == 400 and "escape" in response.text


def test_tokenizer_is_linear_on_hostile_bodies():
    """Inputs that made the old keyword scanner quadratic: work grows with size, not with its square."""
    for unit in ("<", "'", "a<", "<a", "\"\\", "?", "(", "#\n", "a:"):
        texts = {size: unit * (size // len(unit)) for size in (20_000, 160_000)}
        best = dict.fromkeys(texts, float("inf"))
        for _ in range(4):  # the sizes in turn, so a busy machine slows both alike
            for size, text in texts.items():
                gc.collect()
                gc.disable()  # the tokenizer's work, not when the collector happens to run over 160 000 tokens
                started = time.process_time()
                try:
                    tokenize(text)
                except ValueError:
                    pass  # an unterminated string is refused; the time to refuse it is what is measured
                finally:
                    gc.enable()
                best[size] = min(best[size], time.process_time() - started)
        # 8x the input: linear is about 8x the time; quadratic would be 64x.
        assert best[160_000] < 24 * max(best[20_000], 0.01), (unit, best)


NESTING_PIECES = st.sampled_from(["{", "}", "(", ")", "[", "]", "!", "&&", "||", "+", "-", "/", "|", "^", "UNION",
                                  "minus", "Optional", "BIND", "FILTER", "EXISTS", "?s", "<http://x/a-b/c>",
                                  "'x/y-z'", "# a comment {{{\n", "mig:a-b"])


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.lists(NESTING_PIECES, min_size=1, max_size=40), st.integers(min_value=1, max_value=400))
def test_the_nesting_check_skips_no_text_that_is_too_deep(pieces, repeat):
    """The cheap bound in front of the tokenizer never lets a text over MAX_NESTING through."""
    text = "SELECT * WHERE { " + " ".join(pieces * repeat) + " }"
    try:
        depth = nesting(text)
    except ValueError:
        assume(False)
        return
    assert nests_too_deep(text) == (depth if depth > MAX_NESTING else None)


def test_nesting_counts_chains_in_one_group_as_levels():
    minus = "SELECT ?s WHERE { ?s ?p ?o " + " ".join(f"MINUS {{ ?s <urn:p{i}> ?o }}" for i in range(600)) + " }"
    assert nesting(minus) == 600 + 2  # each MINUS until the group closes, plus the WHERE group and its own
    flat = "SELECT ?s WHERE { " + " ".join(f"{{ ?s <urn:p{i}> ?o }}" for i in range(600)) + " }"
    assert nesting(flat) == 2 and nests_too_deep(flat) is None


# ------------------------------------------------------------------------------------- request caps


def test_a_chunked_body_over_the_cap_is_refused_not_cut(live_server):
    cap = 256 * 1024
    query = "SELECT * WHERE { ?s ?p ?o } LIMIT 1 #" + "x" * cap

    def chunks():
        data = query.encode()
        for start in range(0, len(data), 65536):
            yield data[start:start + 65536]

    response = requests.post(live_server + "/sparql", data=chunks(), timeout=60,
                             headers={**JSON, "Content-Type": "application/sparql-query"})
    assert response.status_code == 413
    small = requests.post(live_server + "/sparql", data=iter([b"ASK { ?s ?p ?o }"]), timeout=30,
                          headers={**JSON, "Content-Type": "application/sparql-query"})
    assert small.status_code == 200 and small.json()["boolean"] is True


@pytest.mark.parametrize("content_type, body", [("application/sparql-query", b"ASK { ?s ?p ?o } LIMIT 1"),
                                                 ("application/x-www-form-urlencoded", b"query=ASK+%7B%7D")])
def test_a_body_cut_short_of_its_content_length_is_refused_not_run(live_server, content_type, body):
    """The client stops sending (closes its side) before the length it declared: the rest of its query, or a
    dataset parameter after it, never came, so nothing is run."""
    port = int(live_server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\nAccept: application/sparql-results+json\r\n"
                           b"Content-Type: " + content_type.encode() + b"\r\nContent-Length: 200\r\n\r\n" + body)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert f"ended after {len(body)} of the 200 bytes".encode() in answer


@pytest.mark.parametrize("accept, fmt", [("application/n-quads", RdfFormat.N_QUADS), ("application/trig", RdfFormat.TRIG)])
def test_graph_results_in_quad_formats(client, accept, fmt):
    response = client.get("/sparql", query_string={"query": "CONSTRUCT WHERE { id:colombo-process ?p ?o }"},
                          headers={"Accept": accept})
    assert response.status_code == 200 and response.mimetype == accept
    assert len(list(parse(response.data, format=fmt))) > 5


def test_security_headers_on_every_kind_of_response(client):
    for path in ("/", "/id/colombo-process", "/sparql", "/sparql?query=ASK%7B%7D", "/no/such/page", "/ontology",
                 "/downloads", "/healthz"):
        response = client.get(path)
        assert "script-src 'self'" in response.headers["Content-Security-Policy"], path
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"]


def test_redirects_never_echo_the_host_header(live_server):
    response = requests.get(live_server + "/id//colombo-process", headers={"Host": "evil.example"},
                            allow_redirects=False, timeout=30)
    assert response.status_code in (301, 302, 308)
    assert "evil.example" not in response.headers["Location"]
    assert response.headers["Location"].startswith(("/", live_server))


def test_concurrent_cold_downloads_all_succeed(live_server):
    results = []

    def fetch(suffix):
        results.append(requests.get(f"{live_server}/downloads/migkg.{suffix}", timeout=60).status_code)

    threads = [threading.Thread(target=fetch, args=(suffix,)) for suffix in ("trig", "nq", "ttl", "jsonld") * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 16


# ------------------------------------------------------------------------ slow clients and memory


@pytest.fixture()
def lean_server(settings):
    """The server as `migkg serve` runs it, with a low per-query memory cap so a hungry query meets it quickly."""
    with serving({"MIGKG_STORE": str(settings.store_path), "MIGKG_BACKEND": "", "MIGKG_QUERY_MEMORY_MB": "1200",
                  "MIGKG_QUERY_TIMEOUT": "20"}) as server:
        yield server.base, server.port, server.process


def _tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = open(f"/proc/{current}/status").read()
            total += int(status.split("VmRSS:")[1].split()[0]) if "VmRSS:" in status else 0
            for task in os.listdir(f"/proc/{current}/task"):
                children = open(f"/proc/{current}/task/{task}/children").read().split()
                todo.extend(int(child) for child in children)
        except (OSError, IndexError, ValueError):
            continue
    return total


HUNGRY = "SELECT ?a ?c ?e WHERE { ?a ?b ?c . ?d ?x ?e } ORDER BY ?e ?a ?c LIMIT 1"


def test_slow_clients_and_a_hungry_query_do_not_stop_others(lean_server):
    base, port, process = lean_server
    slow = []
    for _ in range(50):  # headers sent one fragment at a time, never finished
        connection = socket.create_connection(("127.0.0.1", port))
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        slow.append(connection)
    for _ in range(200):  # bodies sent a byte at a time, never finished: each holds a server thread
        connection = socket.create_connection(("127.0.0.1", port))
        connection.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                           b"Content-Length: 100000\r\n\r\nquery=")
        slow.append(connection)
    header_clients = {connection.fileno() for connection in slow[:50]}
    hungry: dict = {}
    thread = threading.Thread(target=lambda: hungry.update(response=requests.get(
        base + "/sparql", params={"query": HUNGRY}, headers=JSON, timeout=60)))
    thread.start()
    peak = 0
    try:
        waits = []
        for _ in range(10):
            for connection in slow:
                try:
                    connection.sendall(b"X-Slow: 1\r\n" if connection.fileno() in header_clients else b"A")
                except OSError:
                    pass  # the server may drop a client that never finishes its request: that is fine too
            started = time.perf_counter()
            assert requests.get(base + "/healthz", timeout=10).status_code == 200
            ordinary = requests.get(base + "/sparql", params={"query": "ASK { id:colombo-process ?p ?o }"},
                                    headers=JSON, timeout=10)
            assert ordinary.status_code == 200 and ordinary.json()["boolean"] is True
            waits.append(time.perf_counter() - started)
            peak = max(peak, _tree_rss_kib(process.pid))
            time.sleep(0.2)
        thread.join(60)
        response = hungry["response"]
        assert response.status_code == 422, response.text
        assert "memory" in response.text or "time limit" in response.text
        # Answered while the attack was going on; the bound is generous for a loaded CI machine.
        assert max(waits) < 5, waits
        print(f"slow-client test: worst wait {max(waits) * 1000:.0f} ms, peak RSS of the server tree {peak // 1024} MiB")
    finally:
        for connection in slow:
            connection.close()
    assert requests.get(base + "/healthz", timeout=10).status_code == 200


# ------------------------------------------------------------------------ a flood of slow queries


def test_the_query_queue_refuses_past_its_bound_and_frees_its_places():
    from concurrent.futures import ThreadPoolExecutor

    from migkg.backend import BackendUnavailable, QueryQueue

    queue, release, entered = QueryQueue(3), threading.Event(), threading.Semaphore(0)

    def occupy():
        with queue.place():
            entered.release()
            release.wait(10)

    with ThreadPoolExecutor(3) as pool:
        held = [pool.submit(occupy) for _ in range(3)]
        for _ in range(3):
            assert entered.acquire(timeout=10)
        with pytest.raises(BackendUnavailable, match="already with the query engine"):
            with queue.place():
                pytest.fail("a fourth query was let through a queue of three")
        release.set()
        for future in held:
            future.result(10)
    admitted = []
    with queue.place():  # every place was given back, failures included
        admitted.append(True)
    assert admitted == [True]


FLOOD = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } # {}"


@pytest.mark.parametrize("proxies, client", [(0, "127.0.0.1"), (1, "203.0.113.7")])
def test_queries_count_for_the_forwarded_client_only_behind_trusted_proxies(app, settings, proxies, client):
    """X-Forwarded-For names the client whose share of the queue a query takes only when MIGKG_TRUSTED_PROXIES
    says a proxy writes it; otherwise any client could spread its flood over made-up addresses."""
    from webapp import create_app
    from migkg.backend import QUERY_CLIENT

    behind = create_app(settings.with_changes(trusted_proxies=proxies), backend=app.extensions["migkg_backend"])
    response = behind.test_client().get("/sparql", query_string={"query": "ASK { ?s ?p ?o } # forwarded"},
                                        headers={"X-Forwarded-For": "203.0.113.7", "Accept": "application/json"},
                                        environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 200
    assert QUERY_CLIENT.get() == client  # the test client runs the app in this thread


def test_a_flood_of_slow_queries_leaves_cached_answers_served(settings):
    """More slow queries than the server has threads: the excess is refused at once (503), cached answers
    keep coming, the slow ones end at the time limit (422), and the server is whole afterwards."""
    from concurrent.futures import ThreadPoolExecutor

    env = {"MIGKG_STORE": str(settings.store_path), "MIGKG_BACKEND": "", "MIGKG_QUERY_TIMEOUT": "5",
           "MIGKG_QUERY_QUEUE": "8"}
    with serving(env, workers=1) as server:
        lookup = {"query": "ASK { id:colombo-process ?p ?o }"}
        assert requests.get(server.base + "/sparql", params=lookup, headers=JSON, timeout=10).status_code == 200

        def slow(number: int) -> int:
            return requests.get(server.base + "/sparql", params={"query": FLOOD.replace("{}", str(number))},
                                headers=JSON, timeout=60).status_code

        with ThreadPoolExecutor(100) as pool:
            # Two slow queries take both query processes; a second later the rest wait behind them, so in arrival
            # order the processes those two free would go to the flood again.
            flood = [pool.submit(slow, number) for number in range(2)]
            time.sleep(1)
            flood += [pool.submit(slow, number) for number in range(2, 100)]
            time.sleep(0.5)
            waits = []
            for _ in range(5):
                started = time.perf_counter()
                response = requests.get(server.base + "/sparql", params=lookup, headers=JSON, timeout=30)
                assert response.status_code == 200 and response.json()["boolean"] is True
                waits.append(time.perf_counter() - started)
            # Another address's uncached query during the flood: it gets the next free query process, ahead of
            # the flood's waiting queries, instead of a 503 (every place taken) or the flood's time limits.
            started = time.perf_counter()
            other = urllib3.HTTPConnectionPool("127.0.0.1", server.port, source_address=("127.0.0.2", 0))
            answer = other.request("GET", "/sparql?" + urlencode({"query": "ASK { id:bali-process ?p ?o } # other"}),
                                   headers=JSON, timeout=30, retries=False)
            other_wait = time.perf_counter() - started
            statuses = [future.result() for future in flood]
        assert answer.status == 200 and json.loads(answer.data)["boolean"] is True, answer.data[:300]
        assert other_wait < 5 + 3, other_wait  # one slow query's limit, then a fresh query process's start
        # One address holds at most 6 of the queue's 8 places; the rest of its flood is refused at once (429)
        assert set(statuses) <= {422, 429, 503} and statuses.count(429) >= 80, sorted(statuses)
        # Answered while the slow queries were still running or queued (5 s each, two at a time); without
        # the queue's bound every server thread waits for the engine and this takes seconds.
        print(f"flood test: worst wait for a cached answer {max(waits) * 1000:.0f} ms")
        assert max(waits) < 2, waits
        assert requests.get(server.base + "/sparql", params={"query": "ASK { ?s ?p ?o }"}, headers=JSON,
                            timeout=10).status_code == 200
