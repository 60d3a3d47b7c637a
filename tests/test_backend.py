"""The backend seam: one query path, parameters bound by the tokenizer, builds followed live, dead workers replaced."""

from __future__ import annotations

import ast
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests
from pyoxigraph import Literal, NamedNode, Quad, Store

from migkg.backend import BackendConfigError, Dataset, Limits, QueryRejected, open_backend
from migkg.build import build
from migkg.config import PROJECT_ROOT, Settings
from tests.serving import start
from migkg.sparql_lexer import bind_values, shape, with_dataset


@contextlib.contextmanager
def embedded(store_spec: str, limits: Limits, **options):
    """The embedded backend over the test build, closed (its query processes ended) however the test ends."""
    backend = open_backend(store_spec, limits, **options)
    try:
        yield backend
    finally:
        backend.close()


WEBAPP = PROJECT_ROOT / "webapp"
RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")


# ------------------------------------------------------------------------------------------ binding


def test_values_block_lands_in_the_where_group_not_in_a_string():
    query = 'SELECT ?s ("a WHERE {" AS ?y) WHERE { ?s a mig:RegionalConsultativeProcess }'
    bound = bind_values(query, {"s": NamedNode("https://w3id.org/migkg/id/colombo-process")})
    assert '"a WHERE {"' in bound
    assert bound.index("VALUES") > bound.index('"a WHERE {"')
    store = Store()
    assert list(store.query(bound, prefixes={"mig": "https://w3id.org/migkg/ontology#"})) == []


def test_a_group_in_the_projection_is_not_the_where_group():
    # (EXISTS { … } AS ?x) before WHERE: the VALUES block and FROM clauses go to the query's own WHERE group.
    query = "SELECT ?s (EXISTS { ?s a <urn:State> } AS ?state) WHERE { ?s a <urn:Process> }"
    bound = bind_values(query, {"s": NamedNode("urn:b")})
    assert bound.index("VALUES") > bound.index("WHERE")
    store = Store()
    store.add(Quad(NamedNode("urn:a"), RDF_TYPE, NamedNode("urn:Process")))
    store.add(Quad(NamedNode("urn:b"), RDF_TYPE, NamedNode("urn:Process")))
    assert [row["s"] for row in store.query(bound)] == [NamedNode("urn:b")]
    dataset = with_dataset(query, [NamedNode("urn:g")], [])
    assert dataset.index("FROM <urn:g>") > dataset.index("AS ?state)") and Store().query(dataset) is not None


def test_binding_through_the_backend_gives_the_bound_row(settings):
    backend = settings.open_backend()
    try:
        db = backend.snapshot()
        rows = list(db.select('SELECT ?s ("a WHERE {" AS ?y) ?label WHERE { ?s rdfs:label ?label '
                              'FILTER(lang(?label) = "en") }', {"s": NamedNode(
                                  "https://w3id.org/migkg/id/colombo-process")}))
        assert rows and {row["y"].value for row in rows} == {"a WHERE {"}
        assert "Colombo Process" in {row["label"].value for row in rows}
        # A literal binding, and a binding in a CONSTRUCT (template first, then the WHERE group).
        triples = db.construct("CONSTRUCT { ?s rdfs:label ?l } WHERE { ?s rdfs:label ?l }",
                               {"l": Literal("Colombo Process", language="en")})
        assert {t.subject.value for t in triples} == {"https://w3id.org/migkg/id/colombo-process"}
    finally:
        backend.close()


@pytest.mark.parametrize("query, service, dataset", [
    ("SELECT * WHERE { FILTER(1<2&&'>'!='') SERVICE <http://127.0.0.1:9/x> { ?s ?p ?o } }", True, False),
    ("SELECT (1<2&&'>'!='' AS ?z) (COUNT(*) AS ?n) FROM <urn:g> WHERE { ?s ?p ?o }", False, True),
    ("SELECT * WHERE { ?s ?p 'SERVICE <x> {}' } # SERVICE", False, False),
    ("SELECT * WHERE { ?s <urn:from> ?o }", False, False),
    ("select * from named <urn:g> { graph ?g { ?s ?p ?o } }", False, True),
])
def test_service_and_dataset_clause_are_decided_on_tokens(query, service, dataset):
    found = shape(query)
    assert (found.uses_service, found.has_dataset_clause) == (service, dataset)


def test_from_is_honoured_whatever_the_projection_holds(client):
    query = ("SELECT (MAX(1<2&&'>'!='') AS ?z) (COUNT(*) AS ?n) FROM <https://w3id.org/migkg/graph/sources> "
             "WHERE { ?s ?p ?o }")
    only_sources = client.get("/sparql", query_string={"query": query},
                              headers={"Accept": "application/sparql-results+json"}).get_json()
    everything = client.get("/sparql", query_string={"query": query.replace(
        "FROM <https://w3id.org/migkg/graph/sources> ", "")},
        headers={"Accept": "application/sparql-results+json"}).get_json()
    small = int(only_sources["results"]["bindings"][0]["n"]["value"])
    large = int(everything["results"]["bindings"][0]["n"]["value"])
    assert 0 < small < large


# ---------------------------------------------------------------------------------------- the seam


def test_no_webapp_module_holds_a_store_or_a_build_path():
    for path in WEBAPP.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = {alias.name for alias in node.names}
                assert not (node.module == "pyoxigraph" and "Store" in names), path.name
                assert node.module not in ("migkg.store", "migkg.engines.oxigraph", "migkg.engines.query_pool"), \
                    path.name
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("store_path", "directory"), f"{path.name} reaches into a build directory"


def test_backend_setting_is_validated_with_a_plain_message(tmp_path):
    with pytest.raises(BackendConfigError, match="oxigraph:PATH"):
        open_backend("postgres://x", Limits())
    with pytest.raises(BackendConfigError, match="MIGKG_PUBLIC_URL"):
        Settings().with_changes(resource_base="https://kg.example.org/").open_backend()
    env = dict(os.environ, MIGKG_BACKEND="mysql:nothing")
    done = subprocess.run([sys.executable, "-m", "migkg.cli", "serve", "--port", "1"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "Traceback" not in done.stderr and "oxigraph:PATH" in done.stderr


def test_no_build_is_a_503_without_server_paths(tmp_path):
    from webapp import create_app

    app = create_app(Settings().with_changes(store_path=tmp_path / "nothing" / "store"))
    try:
        response = app.test_client().get("/healthz")
        assert response.status_code == 503 and "migkg build" in response.get_data(as_text=True)
        assert str(tmp_path) not in response.get_data(as_text=True)
        assert response.headers.get("Retry-After")
    finally:
        app.extensions["migkg_backend"].close()


def test_every_query_has_the_same_limits_explorer_included(settings):
    """A runaway query is stopped the same way whether it comes from /sparql or from a page's own query."""
    # 2 s: the capped scan below runs on a freshly started worker, on a machine that may be busy. 480 MB of address
    # space: a worker takes ~270 MB; with glibc's default malloc arenas it took 530-660 MB and, once in CI, aborted at
    # thread creation under the 1 GB cap, so a slow query was reported as one needing too much memory.
    limits = Limits(timeout=2.0, max_rows=5, max_memory=480 * 1024 * 1024)
    with embedded(settings.backend_spec, limits, workers=1) as backend:
        db = backend.snapshot()
        with pytest.raises(QueryRejected) as stopped:
            db.select("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }")
        assert stopped.value.status == 422 and "time limit" in stopped.value.message
        with pytest.raises(QueryRejected) as capped:
            db.select("SELECT ?s WHERE { ?s ?p ?o }")
        assert capped.value.status == 422 and "more than 5 rows" in capped.value.message
        assert len(list(db.select("SELECT ?s WHERE { ?s ?p ?o } LIMIT 5"))) == 5
        assert db.has_graph("https://w3id.org/migkg/graph/sources")
        assert not db.has_graph("https://example.org/none")
        sources = Dataset(("https://w3id.org/migkg/graph/sources",), ())
        assert db.ask("ASK { ?s ?p ?o }", dataset=sources) and not db.ask("ASK { GRAPH ?g { ?s ?p ?o } }", dataset=sources)


def test_a_dead_query_worker_is_replaced_and_the_query_retried(settings):
    with embedded(settings.backend_spec, settings.limits, workers=2) as backend:
        db = backend.snapshot()
        assert db.ask("ASK { id:colombo-process mig:hasMember state:THA }")
        pool = backend.pool()
        for pid in pool.worker_pids():
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        assert db.ask("ASK { id:colombo-process mig:hasMember state:THA }")  # retried on a fresh worker
        assert len(pool.worker_pids()) == 2


def test_a_query_that_ends_two_workers_is_refused_not_retried_later(settings):
    """Two processes ending in turn on one query: a 422 (do not send it again), not a 503 (try again)."""
    from migkg.engines.query_pool import CRASH_MESSAGE

    with embedded(settings.backend_spec, settings.limits, workers=1) as backend:
        db = backend.snapshot()
        assert db.ask("ASK {}")
        pool = backend.pool()
        killed: list[int] = []

        def kill_the_worker_running_it():
            for _ in range(2):
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:  # a worker that has started and taken the query
                    running = [w for w in list(pool._workers) if w.ready and w.process.pid not in killed]
                    if running:
                        break
                    time.sleep(0.05)
                time.sleep(0.5)
                killed.append(running[0].process.pid)
                os.kill(running[0].process.pid, signal.SIGKILL)

        killer = threading.Thread(target=kill_the_worker_running_it)
        killer.start()
        with pytest.raises(QueryRejected) as refused:
            db.select("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } # ends two workers")
        killer.join()
        assert len(killed) == 2 and refused.value.status == 422 and refused.value.message == CRASH_MESSAGE
        assert db.ask("ASK {}")  # the pool itself goes on


SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } # slow "


def _as_client(client: str, call, outcomes: dict, key) -> threading.Thread:
    """`call` run in a thread of its own as `client`'s query; its outcome (True or the refusal's status) kept."""
    from migkg.backend import QUERY_CLIENT

    def run():
        QUERY_CLIENT.set(client)
        started = time.perf_counter()
        try:
            call()
            outcomes[key] = (True, time.perf_counter() - started)
        except QueryRejected as refused:
            outcomes[key] = (refused.status, time.perf_counter() - started)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_client_flooding_slow_queries_does_not_shut_out_another(settings):
    """One query process and a client with four slow queries at it: another client's query gets the process as soon
    as the running slow query ends, ahead of the flood's waiting ones (in arrival order it waited the time limit
    behind them and got a 503)."""
    with embedded(settings.backend_spec, Limits(timeout=2.0), workers=1) as backend:
        db = backend.snapshot()
        assert db.ask("ASK {}")  # the process has started
        outcomes: dict = {}
        flood = []
        for number in range(4):
            flood.append(_as_client("flooder", lambda n=number: db.select(SLOW + str(n)), outcomes, number))
            time.sleep(0.05)
        time.sleep(0.3)
        _as_client("reader", lambda: db.ask("ASK { id:colombo-process ?p ?o }"), outcomes, "reader").join()
        for thread in flood:
            thread.join()
        answered, waited = outcomes["reader"]
        assert answered is True, outcomes
        assert waited < 2.0 + 1.9, outcomes  # the first slow query's limit, then a fresh process's start
        assert {outcomes[number][0] for number in range(4)} <= {422, 503}, outcomes


def test_one_client_may_hold_three_quarters_of_the_queue(settings):
    """MIGKG_QUERY_QUEUE 4: a client with three queries in the queue gets a 429 for a fourth; another client gets in."""
    with embedded(settings.backend_spec, Limits(timeout=2.0), workers=1, query_queue=4) as backend:
        db = backend.snapshot()
        assert db.ask("ASK {}")
        outcomes: dict = {}
        flood = []
        for number in range(4):
            flood.append(_as_client("flooder", lambda n=number: db.select(SLOW + str(n)), outcomes, number))
            time.sleep(0.1)
        reader = _as_client("reader", lambda: db.ask("ASK { id:colombo-process ?p ?o }"), outcomes, "reader")
        for thread in [*flood, reader]:
            thread.join()
        assert outcomes[3][0] == 429 and outcomes[3][1] < 0.5, outcomes  # refused at once
        assert outcomes["reader"][0] is True, outcomes
        assert {outcomes[number][0] for number in range(3)} <= {422, 503}, outcomes


def test_query_workers_cannot_reach_the_network(settings):
    """Defence in depth behind the SERVICE refusal: the engine's process has no network at all."""
    listener = __import__("socket").socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    with listener, embedded(settings.backend_spec, settings.limits, workers=1) as backend:
        db = backend.snapshot()
        db.ask("ASK {}")
        assert backend.pool().isolation()[0].endswith("namespace")
        from migkg.backend import QueryTask

        # Skip the SERVICE refusal on purpose: hand the engine a federated query directly.
        task = QueryTask(query=f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}",
                         results_media_type="application/sparql-results+json")
        with pytest.raises(QueryRejected):
            db.run(task)
        with pytest.raises(OSError):
            listener.accept()  # nobody connected


def test_a_small_build_is_copied_into_memory_whole(settings):
    """The copy a worker answers from holds exactly the build's quads (blank node labels too) and graphs."""
    from migkg.engines.query_pool import _OpenBuilds
    from migkg.store import current_build

    builds = _OpenBuilds(in_memory_quads=10**6, memory_limit=settings.limits.max_memory)
    build_dir = str(current_build(settings.store_path))
    on_disk, union = builds.get(build_dir)
    entry = builds.opened[build_dir]
    deadline = time.monotonic() + 60
    while not entry.in_memory and time.monotonic() < deadline:
        time.sleep(0.05)
    assert entry.in_memory
    copy, same_union = builds.get(build_dir)
    assert copy is not on_disk and same_union == union
    assert set(copy.quads_for_pattern(None, None, None, None)) == set(on_disk.quads_for_pattern(None, None, None, None))
    assert set(copy.named_graphs()) == set(on_disk.named_graphs())
    text = "SELECT ?s ?o WHERE { ?s rdfs:label ?o } ORDER BY ?s ?o"
    from migkg.namespaces import PREFIXES

    assert [tuple(r) for r in copy.query(text, prefixes=PREFIXES, **union)] == \
        [tuple(r) for r in on_disk.query(text, prefixes=PREFIXES, **union)]


def test_which_builds_are_copied_into_memory(settings, tmp_path):
    from migkg.engines.query_pool import MEMORY_PER_QUAD, quads_to_copy
    from migkg.store import current_build

    build_dir = str(current_build(settings.store_path))
    quads = quads_to_copy(build_dir, 10**9, 0)
    assert quads and quads > 1000
    assert quads_to_copy(build_dir, quads, 0) == quads
    assert quads_to_copy(build_dir, quads - 1, 0) is None  # over the setting
    assert quads_to_copy(build_dir, 0, 0) is None  # 0: never
    assert quads_to_copy(build_dir, 10**9, quads * MEMORY_PER_QUAD) is None  # leaves no quarter of the cap free
    assert quads_to_copy(build_dir, 10**9, quads * MEMORY_PER_QUAD * 2) == quads
    # what the worker's address space already holds counts against the cap too
    assert quads_to_copy(build_dir, 10**9, quads * MEMORY_PER_QUAD * 2, in_use=quads * MEMORY_PER_QUAD) is None
    assert quads_to_copy(str(tmp_path), 10**9, 0) is None  # no manifest: stay on disk


def test_a_worker_answers_from_its_copy_once_loaded(settings):
    with embedded(settings.backend_spec, settings.limits, workers=1, in_memory_quads=10**6) as backend:
        db = backend.snapshot()
        query = "SELECT ?label WHERE { id:colombo-process rdfs:label ?label } ORDER BY ?label"
        first = [row["label"] for row in db.select(query)]
        assert first
        worker = next(iter(backend.pool()._workers))
        deadline = time.monotonic() + 60
        while "in memory" not in worker.last_words() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "in memory after" in worker.last_words()
        # a text the answer cache has not seen, answered by the copy
        assert [row["label"] for row in db.select(query + " # again")] == first


def test_a_worker_that_dies_while_copying_turns_copies_off(settings):
    """A copy that kills its worker (e.g. a memory cap too tight for it) must not kill every fresh worker after it."""
    from migkg.engines.query_pool import COPIED, COPYING

    with embedded(settings.backend_spec, settings.limits, workers=1, in_memory_quads=10**6) as backend:
        db = backend.snapshot()
        pool = backend.pool()
        assert db.ask("ASK { id:colombo-process mig:hasMember state:THA }")  # opens the build: the copy starts
        worker = next(iter(pool._workers))
        os.kill(worker.process.pid, signal.SIGKILL)
        words = worker.last_words()
        assert COPYING in words and COPIED not in words, words  # killed mid-copy (a copy takes ~0.5 s)
        assert db.ask("ASK { id:colombo-process mig:hasMember state:THA } # retried")
        assert pool.in_memory_quads == 0
        fresh = next(iter(pool._workers))
        time.sleep(1)
        assert COPYING not in fresh.last_words()


# ------------------------------------------------------------------------------- builds followed live


@pytest.fixture()
def project(tmp_path):
    """A private copy of data/ and a store built from it."""
    data = tmp_path / "data"
    shutil.copytree(PROJECT_ROOT / "data", data)
    settings = Settings().with_changes(store_path=tmp_path / "var" / "store", data_dir=data)
    build(settings, dl_check=False)
    return settings


def _serve(settings: Settings):
    server = start({"MIGKG_STORE": str(settings.store_path), "MIGKG_BACKEND": ""})
    return server.process, server.base


def _ok(response: requests.Response) -> dict:
    assert response.status_code == 200, f"{response.status_code}: {response.text[:300]}"
    return response.json()


LABEL_QUERY = "SELECT ?label WHERE { id:colombo-process rdfs:comment ?label }"


def test_a_running_server_follows_new_builds_on_every_worker(project):
    process, base = _serve(project)
    errors: list[str] = []
    stop = threading.Event()

    def hammer():
        session = requests.Session()
        while not stop.is_set():
            for path in ("/healthz", "/id/colombo-process", "/sparql?query=ASK%7B%3Fs%20%3Fp%20%3Fo%7D"):
                response = session.get(base + path, headers={"Accept": "application/json"}, timeout=30)
                if response.status_code != 200:
                    errors.append(f"{path}: {response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    try:
        first = requests.get(base + "/healthz").json()["build_id"]
        for thread in threads:
            thread.start()
        builds = [first]
        for round_ in range(2):
            extra = project.data_dir / f"zz-edit-{round_}.trig"
            extra.write_text(
                "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
                "<https://w3id.org/migkg/source/unodc-tool4#s4.14> {\n"
                f'  <https://w3id.org/migkg/id/colombo-process> rdfs:comment "edit {round_}"@en .\n}}\n',
                encoding="utf-8")
            build(project, dl_check=False)
            expected = os.path.basename(os.path.realpath(project.store_path))
            # Within one request, on every worker: ask several times so that both workers answer.
            for _ in range(8):
                health = _ok(requests.get(base + "/healthz"))
                assert health["build_id"] != builds[-1]
                answer = _ok(requests.get(base + "/sparql", params={"query": LABEL_QUERY},
                                          headers={"Accept": "application/sparql-results+json"}))
                assert f"edit {round_}" in {b["label"]["value"] for b in answer["results"]["bindings"]}
            builds.append(health["build_id"])
            assert expected.endswith(health["build_id"][:12]) or health["build_id"][:12] in expected
        stop.set()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(set(builds)) == 3
    finally:
        stop.set()
        process.terminate()
        process.wait(15)
