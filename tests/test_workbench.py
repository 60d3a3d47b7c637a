"""The workbench's server side: example short links and named downloads for every catalogue query, parameters by
name, label and vocabulary JSON, the editor page's offline policy, and the CLI's readable table."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest

from migkg.catalogue import load_catalogue

CATALOGUE = load_catalogue(Path(__file__).resolve().parent.parent / "queries")
ID = "https://w3id.org/migkg/id/"


def short_link(slug: str) -> str:
    return "/sparql?" + urlencode({"example": slug})


@pytest.mark.parametrize("slug", sorted(CATALOGUE))
def test_every_catalogue_query_runs_from_its_short_link_and_downloads_under_its_name(client, slug):
    link = "http://127.0.0.1:8000" + short_link(slug)
    assert len(link) < 150, link
    for fmt, suffix in (("csv", "csv"), ("tsv", "tsv"), ("json", "json")):
        response = client.get(short_link(slug) + f"&format={fmt}&download={slug}")
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.headers["Content-Disposition"] == f'attachment; filename="{slug}.{suffix}"'
    page = client.get(short_link(slug), headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.mimetype == "text/html"


def test_a_short_link_answers_as_the_bound_query_does(client):
    by_iri = client.get("/sparql?example=process-members-and-roles&process=id:bali-process&format=csv")
    by_name = client.get("/sparql?" + urlencode({"example": "process-members-and-roles", "process": "Bali Process",
                                                 "format": "csv"}))
    default = client.get("/sparql?example=process-members-and-roles&format=csv")
    rows = list(csv.reader(io.StringIO(by_iri.get_data(as_text=True))))
    assert by_iri.status_code == 200, by_iri.get_data(as_text=True)
    assert by_name.status_code == 200, by_name.get_data(as_text=True)
    assert by_iri.get_data() == by_name.get_data()
    assert len(rows) > 5 and all(row[0] == ID + "bali-process" for row in rows[1:])
    # Without a value the example's default (Colombo Process) is bound, as in `migkg query`.
    assert {row[0] for row in list(csv.reader(io.StringIO(default.get_data(as_text=True))))[1:]} == {ID + "colombo-process"}


@pytest.mark.parametrize("query, status, message", [
    ({"example": "no-such-query"}, 404, "no example query named"),
    ({"example": "process-members-and-roles", "procss": "id:bali-process"}, 400, "has no parameter 'procss'"),
    ({"example": "process-members-and-roles", "process": "Atlantis Process"}, 400, "no resource is named"),
    ({"example": "process-members-and-roles", "query": "ASK {}"}, 400, "either `example`"),
])
def test_bad_short_links_say_what_is_wrong(client, query, status, message):
    response = client.get("/sparql?" + urlencode(query), headers={"Accept": "text/csv"})
    assert response.status_code == status
    assert message in response.get_data(as_text=True)


def test_a_short_link_reads_a_bare_date_as_the_date_parameter_it_is(client):
    typed = client.get("/sparql?" + urlencode({"example": "parties-to-treaty-as-of", "asOf": '"2010-01-01"^^xsd:date',
                                               "format": "csv"}))
    bare = client.get("/sparql?" + urlencode({"example": "parties-to-treaty-as-of", "asOf": "2010-01-01",
                                              "format": "csv"}))
    assert typed.status_code == bare.status_code == 200
    assert bare.get_data() == typed.get_data() and len(typed.get_data(as_text=True).splitlines()) > 2


def test_a_bad_short_link_followed_in_a_browser_gets_a_page(client):
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = client.get("/sparql?example=no-such-query", headers={"Accept": browser})
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "no example query named" in response.get_data(as_text=True)
    # SPARQL clients keep the plain text they can show
    assert client.get("/sparql?example=no-such-query", headers={"Accept": "*/*"}).mimetype == "text/plain"


def test_graph_answers_download_as_turtle_and_json_ld_under_their_name(client):
    query = "CONSTRUCT WHERE { id:colombo-process mig:hasMember ?member }"
    for fmt, suffix in (("ttl", "ttl"), ("jsonld", "jsonld")):
        response = client.get("/sparql?" + urlencode({"query": query, "format": fmt, "download": "members"}))
        assert response.status_code == 200
        assert response.headers["Content-Disposition"] == f'attachment; filename="members.{suffix}"'
    hostile = client.get("/sparql?" + urlencode({"query": query, "format": "ttl", "download": '../x"; y'}))
    assert hostile.headers["Content-Disposition"] == 'attachment; filename="query.ttl"'


def test_labels_in_one_batch_language_aware(client):
    iris = [ID + "colombo-process", ID + "state/THA", "http://example.org/unknown"]
    answer = client.post("/workbench/labels.json", json={"iris": iris, "lang": "en"}).get_json()["labels"]
    assert answer[ID + "colombo-process"]["label"] == "Colombo Process"
    assert answer[ID + "colombo-process"]["href"] == "/id/colombo-process"
    assert answer[ID + "state/THA"]["prefixed"] == "state:THA"
    assert answer["http://example.org/unknown"]["known"] is False
    state_class = "https://w3id.org/migkg/ontology#State"
    french = client.get("/workbench/labels.json?" + urlencode({"iri": state_class, "lang": "fr-CH"})).get_json()
    english = client.get("/workbench/labels.json?" + urlencode({"iri": state_class})).get_json()
    assert french["labels"][state_class]["label"] == "État"
    assert english["labels"][state_class]["label"] == "state"


@pytest.mark.parametrize("request_kwargs, message", [
    ({"json": {"iris": ["not an iri"]}}, "not an"),
    ({"json": {"iris": [f"http://example.org/{n}" for n in range(501)]}}, "at most 500"),
    ({"json": {"wrong": 1}}, "Send a JSON object"),
])
def test_labels_refuse_bad_requests_with_a_message(client, request_kwargs, message):
    response = client.post("/workbench/labels.json", **request_kwargs)
    assert response.status_code == 400
    assert message in response.get_json()["message"]


def test_vocabulary_for_completion_comes_from_the_ontology_and_data(client):
    response = client.get("/workbench/vocabulary.json")
    vocabulary = response.get_json()
    classes = {term["name"] for term in vocabulary["classes"]}
    properties = {term["name"] for term in vocabulary["properties"]}
    assert {"mig:ConsultationProcess", "mig:State", "org:Membership"} <= classes
    assert {"mig:hasMember", "org:member", "rdfs:label"} <= properties
    assert vocabulary["prefixes"]["mig"] == "https://w3id.org/migkg/ontology#"
    again = client.get("/workbench/vocabulary.json", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_editor_page_is_offline_and_free_of_inline_script_and_style(client):
    response = client.get("/sparql", headers={"Accept": "text/html"})
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    html = response.get_data(as_text=True)
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\sstyle\s*=|\son[a-z]+\s*=", html)
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not re.match(r"^(https?:)?//", url) or "127.0.0.1" in url or "localhost" in url, url
    assert client.get("/workbench/editor/yasqe.min.js").status_code == 200
    assert client.get("/workbench/editor/package.json").status_code == 404


def test_cli_table_shows_labels_and_prefixed_names(settings):
    migkg = str(Path(sys.executable).with_name("migkg"))
    out = subprocess.run([migkg, "query", "process-members-and-roles", "--param", "process=id:bali-process"],
                         capture_output=True, text=True, check=True,
                         env={"MIGKG_STORE": str(settings.store_path), "PATH": "/usr/bin:/bin"}).stdout
    lines = out.splitlines()
    assert lines[0].startswith("?process")
    assert "Bali Process (id:bali-process)" in out and "Australia (state:AUS)" in out
    assert "https://w3id.org/migkg/id/state/" not in out
    assert all(len(line) < 400 for line in lines)


def test_a_broken_query_file_is_listed_and_the_other_short_links_still_answer(settings, tmp_path):
    import shutil

    from webapp import create_app

    queries = tmp_path / "queries"
    shutil.copytree(settings.queries_dir, queries)
    (queries / "broken.rq").write_bytes(b"# title: \xff\xfe not UTF-8\nSELECT * WHERE {}\n")
    app = create_app(settings.with_changes(queries_dir=queries))
    client = app.test_client()
    try:
        editor = client.get("/sparql", headers={"Accept": "text/html"})
        assert editor.status_code == 200 and "broken.rq" in editor.get_data(as_text=True)
        assert client.get("/sparql?example=process-members-and-roles&format=csv").status_code == 200
        assert client.get("/sparql?example=broken", headers={"Accept": "text/csv"}).status_code == 404
    finally:
        app.extensions["migkg_backend"].close()
