"""Whole responses kept per build in front of Flask (webapp.response_cache): a repeat is the same response,
a new build or a different request is answered afresh, conditional requests and refusals reach the app."""

from __future__ import annotations

import pytest

from migkg.backend import AnswerCache, Backend
from webapp import create_app

from .test_answer_cache import CountingSnapshot

JSON = "application/sparql-results+json"
QUERY = "SELECT ?q WHERE { ?q ?p ?o }"


class SwitchableBackend(Backend):
    """A backend whose current build can be switched, as `migkg build` switches the store link."""

    description = "test engine"

    def __init__(self):
        self.build_id = "build-a"
        self.runs = 0
        self.fail = False

    def snapshot(self):
        backend = self

        class Counted(CountingSnapshot):
            def run(self, task):
                backend.runs += 1
                return super().run(task)

        return Counted(self.build_id, None, fail=self.fail)


@pytest.fixture()
def engine(settings):
    backend = SwitchableBackend()
    app = create_app(settings, backend=backend)
    app.config.update(TESTING=True)
    return backend, app, app.test_client()


def _same(first, second) -> None:
    assert second.status_code == first.status_code
    assert second.data == first.data
    assert sorted(second.headers.items()) == sorted(first.headers.items())


@pytest.mark.parametrize("send", [
    lambda c, h: c.get("/sparql", query_string={"query": QUERY}, headers=h),
    lambda c, h: c.post("/sparql", data={"query": QUERY}, headers=h),
    lambda c, h: c.post("/sparql", data=QUERY, content_type="application/sparql-query", headers=h),
], ids=["get", "form-post", "direct-post"])
def test_a_repeated_request_gets_the_same_response_without_the_engine_or_the_views(engine, send):
    backend, app, client = engine
    headers = {"Accept": JSON, "Origin": "https://notebook.example", "Accept-Encoding": "gzip"}
    first = send(client, headers)
    assert first.status_code == 200 and backend.runs == 1
    cache = app.wsgi_app
    hits = cache.responses.hits
    second = send(client, headers)
    _same(first, second)
    assert backend.runs == 1 and cache.responses.hits == hits + 1
    assert second.headers["Access-Control-Allow-Origin"] == "*" and second.headers["ETag"]
    assert second.headers["Content-Security-Policy"]


def test_what_the_response_depends_on_is_part_of_the_key(engine):
    backend, _, client = engine
    client.get("/sparql", query_string={"query": QUERY}, headers={"Accept": JSON})
    variants = [
        {"Accept": "application/sparql-results+xml"},  # another format
        {"Accept": JSON, "Origin": "https://notebook.example"},  # CORS headers
        {"Accept": JSON, "Accept-Encoding": "gzip"},  # compression
    ]
    for number, headers in enumerate(variants, start=2):
        response = client.get("/sparql", query_string={"query": QUERY}, headers=headers)
        assert response.status_code == 200 and backend.runs == number
    client.get("/sparql", query_string={"query": QUERY + " LIMIT 1"}, headers={"Accept": JSON})
    assert backend.runs == len(variants) + 2
    xml = client.get("/sparql", query_string={"query": QUERY}, headers={"Accept": "application/sparql-results+xml"})
    assert xml.mimetype == "application/sparql-results+xml" and backend.runs == len(variants) + 2


def test_a_new_build_is_never_answered_with_the_previous_builds_response(engine):
    backend, _, client = engine
    first = client.get("/sparql", query_string={"query": QUERY}, headers={"Accept": JSON})
    backend.build_id = "build-b"
    second = client.get("/sparql", query_string={"query": QUERY}, headers={"Accept": JSON})
    assert b"build-a" in first.data and b"build-b" in second.data and backend.runs == 2
    assert first.headers["ETag"] != second.headers["ETag"]


def test_conditional_requests_reach_the_app_and_get_304(engine):
    backend, _, client = engine
    first = client.get("/sparql", query_string={"query": QUERY}, headers={"Accept": JSON})
    again = client.get("/sparql", query_string={"query": QUERY},
                       headers={"Accept": JSON, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_refusals_and_errors_are_not_kept(engine):
    backend, app, client = engine
    backend.fail = True
    for _ in range(2):
        assert client.get("/sparql", query_string={"query": QUERY}, headers={"Accept": JSON}).status_code == 422
    assert backend.runs == 2
    backend.fail = False
    for _ in range(2):
        assert client.get("/sparql", query_string={"query": "SELECT * WHERE { SERVICE <http://example.org/> { ?s ?p ?o } }"},
                          headers={"Accept": JSON}).status_code == 400  # refused before any engine
    assert not app.wsgi_app.responses._entries
    assert client.get("/sparql", query_string={"query": QUERY}, headers={"Accept": JSON}).status_code == 200
    assert len(app.wsgi_app.responses._entries) == 1


def test_example_links_are_read_from_the_catalogue_each_time(engine):
    backend, _, client = engine
    for _ in range(2):
        response = client.get("/sparql", query_string={"example": "gmg-members"}, headers={"Accept": JSON})
        assert response.status_code == 200
    assert backend.runs == 2


def test_a_body_shorter_than_its_content_length_is_left_to_the_app(engine):
    _, app, _ = engine
    import io

    answered = []
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/sparql", "QUERY_STRING": "", "SERVER_NAME": "localhost",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "CONTENT_TYPE": "application/sparql-query",
               "CONTENT_LENGTH": "500", "wsgi.input": io.BytesIO(QUERY.encode()), "HTTP_ACCEPT": JSON,
               "wsgi.errors": io.StringIO(), "wsgi.multithread": False, "wsgi.multiprocess": True,
               "wsgi.run_once": False, "wsgi.version": (1, 0)}
    b"".join(app.wsgi_app(environ, lambda status, headers, exc_info=None: answered.append(status)))
    assert answered and app.wsgi_app.responses.misses == 0 and not app.wsgi_app.responses._entries


def test_the_budget_bounds_what_is_kept(settings):
    backend = SwitchableBackend()
    app = create_app(settings, backend=backend)
    cache = app.wsgi_app
    cache.responses.max_bytes, cache.responses.max_entry_bytes = 6000, 3000
    client = app.test_client()
    for number in range(40):
        client.get("/sparql", query_string={"query": f"{QUERY} LIMIT {number}"}, headers={"Accept": JSON})
    assert 0 < len(cache.responses._entries) < 40 and cache.responses._bytes <= 6000


def test_an_engine_that_cannot_answer_is_left_to_the_app(engine):
    backend, _, client = engine
    from migkg.backend import BackendUnavailable

    def unavailable():
        raise BackendUnavailable("The knowledge graph has not been built yet.")

    backend.snapshot = unavailable
    response = client.get("/sparql", query_string={"query": QUERY}, headers={"Accept": JSON})
    assert response.status_code == 503 and b"not been built" in response.data


def test_the_real_app_keeps_answers(app, client):
    cache = app.wsgi_app
    query = {"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s a mig:State }"}
    first = client.get("/sparql", query_string=query, headers={"Accept": JSON})
    hits = cache.responses.hits
    second = client.get("/sparql", query_string=query, headers={"Accept": JSON})
    _same(first, second)
    assert cache.responses.hits == hits + 1
    assert isinstance(app.extensions["migkg_backend"].answers, AnswerCache)


def test_pages_built_from_the_graph_are_kept_and_live_ones_are_not(app, client):
    cache = app.wsgi_app
    for path in ("/id/iom", "/compare?process=bali-process&process=colombo-process", "/network/lineage.json"):
        first = client.get(path)
        hits = cache.responses.hits
        second = client.get(path)
        assert first.status_code == 200, path
        _same(first, second)
        assert cache.responses.hits == hits + 1, path
    for path in ("/healthz", "/sparql?example=gmg-members"):  # live state; the catalogue read per request
        client.get(path, headers={"Accept": JSON})
        hits = cache.responses.hits
        client.get(path, headers={"Accept": JSON})
        assert cache.responses.hits == hits, path
    hits = cache.responses.hits
    for _ in range(2):  # a short link posted as a form is read per request too
        assert client.post("/sparql", data={"example": "gmg-members"}, headers={"Accept": JSON}).status_code == 200
    assert cache.responses.hits == hits
