"""Real clients work unchanged against /sparql under the production server: SPARQLWrapper, rdflib's SPARQLStore, curl-style
requests, and a browser driving the query editor."""

from __future__ import annotations

import shlex
import subprocess
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from rdflib import Graph, Namespace, URIRef
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import GET, JSON, POST, POSTDIRECTLY, TURTLE, XML, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import QueryBadFormed

MIG = Namespace("https://w3id.org/migkg/ontology#")
ID = Namespace("https://w3id.org/migkg/id/")
COLOMBO = ID["colombo-process"]
COLOMBO_STATES = {f"https://w3id.org/migkg/id/state/{code}" for code in
                  ("AFG", "BGD", "CHN", "IND", "IDN", "NPL", "PAK", "PHL", "LKA", "THA", "VNM")}
MEMBERS = """PREFIX mig: <https://w3id.org/migkg/ontology#>
SELECT DISTINCT ?state WHERE {
  <https://w3id.org/migkg/id/colombo-process> mig:hasMember ?state .
  FILTER(STRSTARTS(STR(?state), "https://w3id.org/migkg/id/state/"))
}"""


@pytest.mark.parametrize("method", [GET, POST, POSTDIRECTLY])
@pytest.mark.parametrize("return_format", [JSON, XML])
def test_sparqlwrapper_select(live_server, method, return_format):
    client = SPARQLWrapper(live_server + "/sparql")
    client.setQuery(MEMBERS)
    client.setMethod(method)
    if method == POSTDIRECTLY:
        client.setMethod(POST)
        client.setRequestMethod(POSTDIRECTLY)
    client.setReturnFormat(return_format)
    results = client.query().convert()
    if return_format == JSON:
        states = {row["state"]["value"] for row in results["results"]["bindings"]}
    else:
        states = {node.firstChild.data for node in results.getElementsByTagName("uri")}
    assert states == COLOMBO_STATES


@pytest.mark.parametrize("return_format", [JSON, XML])
def test_sparqlwrapper_ask(live_server, return_format):
    client = SPARQLWrapper(live_server + "/sparql", returnFormat=return_format)
    client.setQuery("ASK { <https://w3id.org/migkg/id/colombo-process> "
                    "<https://w3id.org/migkg/ontology#hasSecretariat> <https://w3id.org/migkg/id/iom> }")
    results = client.query().convert()
    answer = results["boolean"] if return_format == JSON else \
        results.getElementsByTagName("boolean")[0].firstChild.data == "true"
    assert answer is True


@pytest.mark.parametrize("return_format", [XML, TURTLE])
def test_sparqlwrapper_construct(live_server, return_format):
    client = SPARQLWrapper(live_server + "/sparql", returnFormat=return_format)
    client.setQuery(MEMBERS.replace("SELECT DISTINCT ?state WHERE {",
                                    "CONSTRUCT { <https://w3id.org/migkg/id/colombo-process> mig:hasMember ?state }"
                                    " WHERE {"))
    result = client.query().convert()
    graph = result if isinstance(result, Graph) else Graph().parse(data=result, format="turtle")
    assert {str(o) for o in graph.objects(COLOMBO, MIG.hasMember)} == COLOMBO_STATES


def test_sparqlwrapper_sees_syntax_errors_as_bad_queries(live_server):
    client = SPARQLWrapper(live_server + "/sparql", returnFormat=JSON)
    client.setQuery("SELECT * WHERE { ?s ?p }")
    with pytest.raises(QueryBadFormed):
        client.query()


def test_rdflib_sparqlstore(live_server):
    store = SPARQLStore(live_server + "/sparql")
    graph = Graph(store=store)
    graph.bind("mig", MIG)
    graph.bind("id", ID)
    # rdflib sends its bound namespaces as PREFIX lines in front of the query.
    rows = graph.query("SELECT DISTINCT ?state WHERE { id:colombo-process mig:hasMember ?state }")
    assert COLOMBO_STATES <= {str(row.state) for row in rows}
    assert URIRef("https://w3id.org/migkg/id/iom") in set(graph.objects(COLOMBO, MIG.hasSecretariat))
    assert (COLOMBO, MIG.hasMember, URIRef("https://w3id.org/migkg/id/state/THA")) in graph


def test_curl_style_requests_revalidate_and_cross_origins(live_server):
    url = live_server + "/sparql"
    first = requests.get(url, params={"query": MEMBERS}, headers={"Origin": "https://yasgui.example"}, timeout=30)
    assert first.status_code == 200 and first.headers["Access-Control-Allow-Origin"]
    again = requests.get(url, params={"query": MEMBERS}, headers={"If-None-Match": first.headers["ETag"]},
                         timeout=30)
    assert again.status_code == 304
    refused = requests.post(url, data="CLEAR ALL", headers={"Content-Type": "application/sparql-update"},
                            timeout=30)
    assert refused.status_code == 403 and "read-only" in refused.text


@pytest.mark.browser
def test_editor_picks_an_example_fills_its_parameter_runs_it_and_shares_it(live_server):
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page()
            page.goto(live_server + "/sparql")
            page.fill("#example-filter", "processes a state")
            page.locator("button.example", has_text="Processes a state takes part in").click()
            parameter = page.locator("#param-state")
            assert parameter.input_value() == "state:THA"
            parameter.fill("state:NPL")
            page.click("#run")
            # Wait for the new answer, not for a table an earlier run may have left on the page. IRIs show as
            # their labels, linked to their pages (the workbench, issue 10).
            playwright.expect(page.locator("table.results-table a[href='/id/state/NPL']").first).to_be_visible(
                timeout=20_000)
            table = page.inner_text("table.results-table")
            assert "Nepal" in table and "Colombo Process" in table
            assert "Thailand" not in table
            assert "rows in" in page.inner_text("#status") or "row in" in page.inner_text("#status")

            # An example is shared by its short name and the values that differ from its defaults.
            link = page.input_value("#share-link")
            shared = parse_qs(urlparse(link).query)
            assert shared == {"example": ["processes-of-state"], "state": ["state:NPL"]}
            curl = page.input_value("#curl-command")
            words = shlex.split(curl)
            assert words[:2] == ["curl", "-G"] and "state=state:NPL" in words
            output = subprocess.run(words + ["-s"], capture_output=True, text=True, timeout=60)
            assert "https://w3id.org/migkg/id/state/NPL" in output.stdout

            # The shared link opens the editor with the query and its binding, and runs it.
            page.goto(link)
            page.wait_for_selector("table.results-table tbody tr")
            assert page.locator("#param-state").input_value() == "state:NPL"
            assert "Colombo Process" in page.inner_text("table.results-table")

            # Errors are shown as text, with the status, and the editor marks the line the parser names.
            page.evaluate("window.migkgEditor.setValue('SELECT * WHERE {\\n  ?s ?p\\n}')")
            page.click(".CodeMirror")
            page.keyboard.press("Control+Enter")
            page.wait_for_selector("#status.error")
            assert "400" in page.inner_text("#status")
            assert "Syntax error" in page.inner_text("#results")
            assert page.locator(".CodeMirror .server-error-line").count() == 1
        finally:
            browser.close()
