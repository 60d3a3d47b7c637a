"""/sparql stays safe under real use: runaway queries are killed at the time limit, answers are capped,
worker processes never outlive the server, and no input gets a 5xx."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from migkg.sparql_lexer import MAX_NESTING, nesting
from webapp import create_app

from . import serving


TIME_LIMIT = 1.5
MAX_ROWS = 200
MAX_BYTES = 40_000
MAX_REQUEST = 10_000
# Every triple against every triple against every triple: far more work than any time limit allows.
CARTESIAN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
SIMPLE = "ASK { id:colombo-process mig:hasMember state:THA }"


@pytest.fixture(scope="module")
def limited_app(settings):
    app = create_app(settings.with_changes(query_timeout=TIME_LIMIT, max_result_rows=MAX_ROWS,
                                           max_result_bytes=MAX_BYTES, max_request_bytes=MAX_REQUEST,
                                           query_workers=2))
    app.config.update(TESTING=True)
    yield app
    app.extensions["migkg_backend"].close()


@pytest.fixture()
def limited(limited_app):
    return limited_app.test_client()


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_runaway_query_is_stopped_while_other_clients_are_answered(limited, limited_app):
    assert limited.get("/sparql", query_string={"query": SIMPLE}).status_code == 200  # pool started
    pool = limited_app.extensions["migkg_backend"].pool()
    workers_before = set(pool.worker_pids())
    runaway = {}

    def run_runaway():
        runaway["response"] = limited_app.test_client().get("/sparql", query_string={"query": CARTESIAN})

    thread = threading.Thread(target=run_runaway)
    thread.start()
    answered_meanwhile = 0
    while thread.is_alive():
        response = limited.get("/sparql", query_string={"query": SIMPLE})
        assert response.status_code == 200 and json.loads(response.data)["boolean"] is True
        if thread.is_alive():
            answered_meanwhile += 1
    thread.join()
    assert answered_meanwhile > 0
    stopped = runaway["response"]
    assert stopped.status_code == 422
    assert f"time limit of {TIME_LIMIT:g} s" in stopped.data.decode()
    # The overrunning worker was killed and replaced; the pool keeps its size and keeps answering.
    workers_after = set(pool.worker_pids())
    killed = workers_before - workers_after
    assert len(killed) == 1 and not any(alive(pid) for pid in killed)
    assert len(workers_after) == 2
    assert limited.get("/sparql", query_string={"query": SIMPLE}).status_code == 200


@pytest.mark.parametrize("accept", ["application/sparql-results+json", "application/sparql-results+xml",
                                    "text/csv", "text/tab-separated-values"])
def test_row_cap(limited, accept):
    query = f"SELECT ?one WHERE {{ ?s ?p ?o BIND(1 AS ?one) }} LIMIT {MAX_ROWS + 1}"
    response = limited.get("/sparql", query_string={"query": query}, headers={"Accept": accept})
    assert response.status_code == 422 and f"more than {MAX_ROWS} rows" in response.data.decode()
    exactly = limited.get("/sparql", query_string={"query": query.replace(str(MAX_ROWS + 1), str(MAX_ROWS))},
                          headers={"Accept": accept})
    assert exactly.status_code == 200


def test_row_cap_on_graphs(limited):
    response = limited.get("/sparql", query_string={"query": "CONSTRUCT WHERE { ?s ?p ?o }"})
    assert response.status_code == 422 and f"more than {MAX_ROWS} triples" in response.data.decode()


def test_byte_cap(limited):
    response = limited.get("/sparql", query_string={"query": f"SELECT * WHERE {{ ?s ?p ?o }} LIMIT {MAX_ROWS}"})
    assert response.status_code == 422 and f"larger than {MAX_BYTES} bytes" in response.data.decode()


def test_request_body_cap(limited):
    padding = "#" * MAX_REQUEST
    response = limited.post("/sparql", data=f"ASK {{}}\n{padding}".encode(),
                            headers={"Content-Type": "application/sparql-query"})
    assert response.status_code == 413


def test_a_query_nested_deeper_than_the_engine_parses_is_refused_before_it(limited, limited_app):
    assert limited.get("/sparql", query_string={"query": SIMPLE}).status_code == 200  # pool started
    pool = limited_app.extensions["migkg_backend"].pool()
    workers = set(pool.worker_pids())
    # 3 000 nested groups fit under the request cap and overflow a query process's stack (it dies of SIGSEGV).
    nested = "SELECT * WHERE " + "{" * 3000 + " ?s ?p ?o " + "}" * 3000
    assert len(nested.encode()) < MAX_REQUEST
    response = limited.post("/sparql", data=nested, headers={"Content-Type": "application/sparql-query"})
    assert response.status_code == 422 and b"nests 3001 levels deep" in response.data
    assert set(pool.worker_pids()) == workers  # refused before the engine: no query process died
    # Up to the limit the engine answers, also with FILTER EXISTS, the construct that needs most stack per unit.
    exists = "SELECT * WHERE { ?s ?p ?o " + "FILTER EXISTS{?s ?p ?o " * 166 + "}" * 166 + "} LIMIT 1"
    assert 490 < nesting(exists) <= MAX_NESTING
    answered = limited.post("/sparql", data=exists, headers={"Content-Type": "application/sparql-query"})
    assert answered.status_code == 200 and set(pool.worker_pids()) == workers


# ---------------------------------------------------------------------------------------------
# Property: whatever arrives, the answer is 2xx, 3xx or 4xx

FRAGMENTS = ["SELECT", "ASK", "CONSTRUCT", "DESCRIBE", "WHERE", "{", "}", "?s", "?p", "?o", "<urn:x>", "mig:State",
             "FILTER(", ")", "GRAPH", "OPTIONAL", "UNION", "LIMIT 5", "\"x\"@en", "PREFIX p: <urn:p#>", "FROM",
             "SERVICE", "INSERT DATA", "VALUES ?s { <urn:a> }", "*", ".", ";", "COUNT(*)", "BIND(", "AS", "\\",
             "'''", "#", "\u00e9", "\x00"]
query_texts = st.one_of(st.text(max_size=120),
                        st.lists(st.sampled_from(FRAGMENTS), max_size=14).map(" ".join))
header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
accepts = st.one_of(st.sampled_from(["*/*", "text/html", "application/sparql-results+json", "text/csv;q=0",
                                     "application/json;q=0.5, text/turtle", "image/png", ""]), header_text)
content_types = st.one_of(st.sampled_from(["application/sparql-query", "application/x-www-form-urlencoded",
                                           "application/sparql-update", "application/sparql-query; charset=latin1",
                                           "multipart/form-data", "text/plain", ""]), header_text)
parameter_names = st.sampled_from(["query", "update", "default-graph-uri", "named-graph-uri", "graph", "default",
                                   "format", "output", "$s", "$", "using-graph-uri"])
parameters = st.lists(st.tuples(parameter_names, query_texts), max_size=4)


@hypothesis_settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"]),
       params=parameters, accept=accepts, content_type=content_types,
       body=st.one_of(st.binary(max_size=200), query_texts.map(lambda text: text.encode("utf-8"))))
def test_no_input_gets_a_server_error(limited, method, params, accept, content_type, body):
    headers = {"Accept": accept}
    if content_type:
        headers["Content-Type"] = content_type
    response = limited.open("/sparql", method=method, query_string=params, headers=headers, data=body)
    assert response.status_code < 500, response.data


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=query_texts, accept=accepts)
def test_no_query_gets_a_server_error(limited, query, accept):
    response = limited.get("/sparql", query_string={"query": query}, headers={"Accept": accept})
    assert response.status_code < 500, response.data


# ---------------------------------------------------------------------------------------------
# Under the production server: each worker has its own pool, and stopping the server leaves no process behind


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, stack = set(), [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


@pytest.mark.slow
def test_server_workers_kill_runaways_and_leave_no_process_behind(settings):
    # Two query processes per web worker: the server may hand both requests to the same web worker, and
    # the ordinary one must not wait behind the runaway for the only query process.
    server = serving.start({"MIGKG_STORE": str(settings.store_path), "MIGKG_QUERY_TIMEOUT": str(TIME_LIMIT),
                            "MIGKG_QUERY_WORKERS": "2"}, workers=2)
    base = server.base + "/sparql"
    processes: set[int] = set()
    try:
        runaway = {}
        thread = threading.Thread(target=lambda: runaway.setdefault(
            "response", requests.get(base, params={"query": CARTESIAN}, timeout=60)))
        thread.start()
        answered = [requests.get(base, params={"query": SIMPLE}, timeout=30).status_code]
        thread.join()
        assert runaway["response"].status_code == 422 and "time limit" in runaway["response"].text
        assert set(answered) == {200}
        processes = descendants(server.process.pid)
        # Two web workers, at least one with its own query worker once it has served a query.
        assert len(processes) >= 3
    finally:
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(30)
    remaining = [pid for pid in processes if alive(pid)]
    for _ in range(50):
        if not remaining:
            break
        threading.Event().wait(0.1)
        remaining = [pid for pid in remaining if alive(pid)]
    assert remaining == []


def test_per_build_indexes_are_read_whole_past_the_row_cap(settings):
    """The row cap bounds one answer a person reads. The search index (every name and the types of the named) is
    read once per build and kept: under a cap smaller than it, every search answered 422. (So are the timeline's
    dated events; its page then reads the names of 200 events, more rows than this test's cap.)"""
    app = create_app(settings.with_changes(max_result_rows=MAX_ROWS, query_workers=1))
    try:
        _pages_past_the_row_cap(app.test_client())
    finally:
        app.extensions["migkg_backend"].close()


def _pages_past_the_row_cap(limited) -> None:
    search = limited.get("/search.json", query_string={"q": "colombo"})
    assert search.status_code == 200, search.data[:300]
    assert any("colombo-process" in hit["iri"] for hit in search.get_json()["results"])
    # The cap still holds for a query a client sends.
    assert limited.post("/sparql", data={"query": "SELECT * WHERE { ?s ?p ?o }"}).status_code == 422
