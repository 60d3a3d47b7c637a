"""The per-build answer cache behind the backend seam: repeated questions skip the engine, a new build never
gets an old answer, the byte budget holds, refusals are asked again."""

from __future__ import annotations

from pathlib import Path

import pytest

from migkg.backend import Answer, AnswerCache, BackendUnavailable, Build, Limits, QueryRejected, QueryTask, Snapshot


class CountingSnapshot(Snapshot):
    """An engine that answers with the build id and the query text, and counts how often it is asked."""

    def __init__(self, build_id: str, answers: AnswerCache, fail: bool = False):
        self.build = Build(build_id)
        self.limits = Limits()
        self.answers = answers
        self.fail = fail
        self.runs = 0

    def run(self, task: QueryTask) -> Answer:
        self.runs += 1
        if self.fail:
            raise QueryRejected(422, "The query ran longer than the time limit.")
        body = f'{{"head":{{"vars":["q"]}},"results":{{"bindings":[{{"q":{{"type":"literal","value":"{self.build.id} {len(task.query)}"}}}}]}}}}'
        return Answer("solutions", task.results_media_type or "", body.encode(), 1)

    def has_graph(self, iri: str) -> bool:
        return False

    def dump(self, fmt) -> Path:
        raise BackendUnavailable("This test engine keeps no dump.")


def value(snapshot: Snapshot, text: str) -> str:
    return next(iter(snapshot.select(text)))["q"].value


def test_a_repeated_question_is_answered_from_the_cache_and_bindings_are_part_of_the_key():
    cache = AnswerCache(1 << 20)
    snapshot = CountingSnapshot("build-a", cache)
    first = value(snapshot, "SELECT ?q WHERE { ?q ?p ?o }")
    assert value(snapshot, "SELECT ?q WHERE { ?q ?p ?o }") == first
    assert snapshot.runs == 1 and cache.hits == 1
    from pyoxigraph import Literal
    snapshot.select("SELECT ?q WHERE { ?q ?p ?o }", bindings={"o": Literal("x")})
    assert snapshot.runs == 2  # the bound text is another question


def test_a_new_build_never_gets_the_previous_builds_answer():
    cache = AnswerCache(1 << 20)
    old, new = CountingSnapshot("build-a", cache), CountingSnapshot("build-b", cache)
    assert value(old, "SELECT ?q WHERE { ?q ?p ?o }").startswith("build-a")
    assert value(new, "SELECT ?q WHERE { ?q ?p ?o }").startswith("build-b")
    assert new.runs == 1
    assert len(cache._entries) == 1  # the older build's answers were dropped


def test_the_byte_budget_holds_and_the_least_recently_used_go_first():
    cache = AnswerCache(4000, max_entry_bytes=1000)
    snapshot = CountingSnapshot("build-a", cache)
    texts = [f"SELECT ?q WHERE {{ ?q ?p {n} }}" for n in range(40)]
    for text in texts:
        snapshot.select(text)
    assert cache._bytes <= 4000
    snapshot.select(texts[-1])
    assert snapshot.runs == 40  # the newest is still there
    snapshot.select(texts[0])
    assert snapshot.runs == 41  # the oldest went


def test_answers_too_large_for_one_entry_are_not_kept():
    cache = AnswerCache(1 << 20, max_entry_bytes=100)
    snapshot = CountingSnapshot("build-a", cache)
    snapshot.select("SELECT ?q WHERE { ?q ?p ?o }")
    snapshot.select("SELECT ?q WHERE { ?q ?p ?o }")
    assert snapshot.runs == 2


def test_refusals_are_not_kept():
    cache = AnswerCache(1 << 20)
    snapshot = CountingSnapshot("build-a", cache, fail=True)
    for _ in range(2):
        with pytest.raises(QueryRejected):
            snapshot.select("SELECT ?q WHERE { ?q ?p ?o }")
    assert snapshot.runs == 2


def test_the_app_answers_a_repeated_sparql_query_without_the_engine(app, client):
    backend = app.extensions["migkg_backend"]
    assert backend.answers is not None
    query = {"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s a mig:State }"}
    first = client.get("/sparql", query_string=query, headers={"Accept": "application/sparql-results+json"})
    hits = backend.answers.hits
    # Another Origin: a different HTTP response (CORS headers), so the response cache in front of Flask misses.
    again = client.get("/sparql", query_string=query, headers={"Accept": "application/sparql-results+json",
                                                               "Origin": "https://notebook.example"})
    assert again.status_code == first.status_code == 200 and again.data == first.data
    assert backend.answers.hits == hits + 1
