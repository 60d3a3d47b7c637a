"""Dereferencing /id/… and /source/…: content negotiation, the RDF a resource answers with, /ontology, /downloads and VoID."""

from __future__ import annotations

import json

import pytest
import rdflib
from rdflib.compare import isomorphic
from rdflib import OWL, RDF, RDFS, URIRef

from migkg.namespaces import ID, MIG, ORG, VOID

COLOMBO = URIRef(ID + "colombo-process")
THAILAND = URIRef(ID + "state/THA")

RDF_TYPES = [("text/turtle", "turtle"), ("application/ld+json", "json-ld"),
             ("application/rdf+xml", "xml"), ("application/n-triples", "nt")]


def parse(response, rdflib_format: str) -> rdflib.Graph:
    graph = rdflib.Graph()
    graph.parse(data=response.data.decode("utf-8"), format=rdflib_format)
    return graph


def test_a_browser_gets_the_entity_page(client):
    response = client.get("/id/colombo-process", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "Accept" in response.headers["Vary"]
    assert "Colombo Process" in response.text


@pytest.mark.parametrize("media_type, rdflib_format", RDF_TYPES)
def test_each_rdf_type_holds_outgoing_incoming_and_linked_labels(client, media_type, rdflib_format):
    response = client.get("/id/colombo-process", headers={"Accept": media_type})
    assert response.status_code == 200
    assert response.mimetype == media_type
    assert "Accept" in response.headers["Vary"]
    graph = parse(response, rdflib_format)
    # outgoing: its own name; incoming: the memberships held in it; labels of what it links to.
    assert (COLOMBO, RDFS.label, rdflib.Literal("Colombo Process", lang="en")) in graph
    assert (COLOMBO, URIRef("http://www.w3.org/2004/02/skos/core#altLabel"),
            rdflib.Literal("Regional Consultation on Overseas Employment and Contractual Labour for Countries of Origin in Asia", lang="en")) in graph
    memberships = set(graph.subjects(URIRef(ORG + "organization"), COLOMBO))
    assert len(memberships) >= 13  # 11 member states, IOM as secretariat and as technical support
    assert (THAILAND, RDFS.label, rdflib.Literal("Thailand", lang="en")) in graph
    assert (COLOMBO, URIRef(MIG + "hasMember"), THAILAND) in graph


def test_json_ld_is_compacted_with_the_project_context(client, settings):
    response = client.get("/id/colombo-process.jsonld")
    document = json.loads(response.data)
    context = json.loads(settings.context_file.read_text())["@context"]
    assert document["@context"]["mig"] == context["mig"] == MIG
    assert "hasMember" in response.text  # a term of the context, not the full IRI
    turtle = parse(client.get("/id/colombo-process.ttl"), "turtle")
    assert isomorphic(parse(response, "json-ld"), turtle)


@pytest.mark.parametrize("url, media_type", [
    ("/id/colombo-process.ttl", "text/turtle"), ("/id/colombo-process.nt", "application/n-triples"),
    ("/id/colombo-process.rdf", "application/rdf+xml"), ("/id/colombo-process.jsonld", "application/ld+json"),
    ("/id/colombo-process?format=ttl", "text/turtle"), ("/id/colombo-process?format=html", "text/html"),
    ("/id/colombo-process.json", "application/json"), ("/id/colombo-process.html", "text/html"),
])
def test_suffix_and_format_override_the_accept_header(client, url, media_type):
    response = client.get(url, headers={"Accept": "text/html"} if "html" not in url else {"Accept": "text/turtle"})
    assert response.status_code == 200
    assert response.mimetype == media_type


@pytest.mark.parametrize("accept, media_type", [
    ("text/turtle;charset=utf-8", "text/turtle"), ("application/n-triples; charset=UTF-8", "application/n-triples"),
    ('application/ld+json;profile="http://www.w3.org/ns/json-ld#expanded"', "application/ld+json"),
    ("text/html; charset=utf-8", "text/html"),
])
def test_media_type_parameters_in_accept_do_not_make_a_406(client, accept, media_type):
    response = client.get("/id/colombo-process", headers={"Accept": accept})
    assert response.status_code == 200 and response.mimetype == media_type


def test_no_preference_gets_turtle(client):
    response = client.get("/id/state/THA", headers={"Accept": "*/*"})
    assert response.mimetype == "text/turtle"
    assert (THAILAND, RDFS.label, rdflib.Literal("Thailand", lang="en")) in parse(response, "turtle")


def test_trig_keeps_the_source_section_of_each_statement(client):
    response = client.get("/id/colombo-process.trig")
    dataset = rdflib.Dataset()
    dataset.parse(data=response.text, format="trig")
    section = dataset.graph(URIRef("https://w3id.org/migkg/source/unodc-tool4#s4.14"))
    assert (COLOMBO, RDF.type, URIRef(MIG + "RegionalConsultativeProcess")) in section


def test_unknown_resource_is_404_and_unsupported_type_is_406(client):
    assert client.get("/id/no-such-process", headers={"Accept": "text/turtle"}).status_code == 404
    assert client.get("/id/no-such-process.ttl").status_code == 404
    assert client.get("/id/colombo-process", headers={"Accept": "image/png"}).status_code == 406
    assert client.get("/id/colombo-process?format=docx").status_code == 406
    assert client.get("/id/bad%3Eiri").status_code == 404


def test_a_representation_is_revalidated_with_its_etag(client):
    turtle = client.get("/id/colombo-process", headers={"Accept": "text/turtle"})
    tag = turtle.headers["ETag"]
    again = client.get("/id/colombo-process", headers={"Accept": "text/turtle", "If-None-Match": tag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == tag
    assert "Accept" in again.headers["Vary"]
    # Another representation of the same resource is another entity: the Turtle tag does not match it.
    for other in ({"Accept": "text/html"}, {"Accept": "application/ld+json"}):
        assert client.get("/id/colombo-process", headers={**other, "If-None-Match": tag}).status_code == 200
    assert client.get("/id/colombo-process.ttl", headers={"If-None-Match": tag}).status_code == 304


def test_the_json_twin_of_an_entity_page(client):
    view = client.get("/id/colombo-process.json").get_json()
    members = next(group for group in view["participants"] if group["role"]["iri"].endswith("/role/member"))
    assert members["count"] == 11
    assert {m["label"] for m in members["members"]} >= {"Thailand", "Afghanistan", "Viet Nam", "Sri Lanka"}


def test_source_document_resolves_with_its_sections(client):
    graph = parse(client.get("/source/unodc-tool4", headers={"Accept": "text/turtle"}), "turtle")
    section = URIRef("https://w3id.org/migkg/source/unodc-tool4#s4.14")
    assert (section, URIRef("http://purl.org/dc/terms/isPartOf"), URIRef("https://w3id.org/migkg/source/unodc-tool4")) in graph
    page = client.get("/source/unodc-tool4", headers={"Accept": "text/html"}).text
    assert 'id="s4.14"' in page and "/id/colombo-process" in page


def test_ontology_documentation_loads_nothing_remote(client):
    response = client.get("/ontology", headers={"Accept": "text/html"})
    assert response.status_code == 200
    html = response.text
    assert "RegionalConsultativeProcess" in html
    for remote in ('src="http', "src='http", 'src="//', "@import url(http"):
        assert remote not in html
    assert not any(tag.startswith("<link") and 'href="http' in tag for tag in html.split(">"))


@pytest.mark.parametrize("request_args, rdflib_format", [
    ({"path": "/ontology", "headers": {"Accept": "text/turtle"}}, "turtle"),
    ({"path": "/ontology", "headers": {"Accept": "application/rdf+xml"}}, "xml"),
    ({"path": "/ontology.owl"}, "xml"), ({"path": "/ontology.jsonld"}, "json-ld"),
])
def test_the_owl_file_by_content_negotiation(client, request_args, rdflib_format):
    graph = parse(client.get(request_args["path"], headers=request_args.get("headers", {})), rdflib_format)
    assert (URIRef(MIG + "ConsultationProcess"), RDF.type, OWL.Class) in graph
    assert client.get("/ontology", headers={"Accept": "image/png"}).status_code == 406


def test_downloads_give_the_whole_dataset(client, built):
    total = built.manifest["summary"]["triples"]
    nquads = client.get("/downloads/migkg.nq")
    assert nquads.status_code == 200
    assert len([line for line in nquads.text.splitlines() if line.strip()]) == total
    turtle = parse(client.get("/downloads/migkg.ttl"), "turtle")
    assert (COLOMBO, URIRef(MIG + "hasMember"), THAILAND) in turtle
    assert client.get("/downloads/migkg.exe").status_code == 404
    assert "/downloads/migkg.trig" in client.get("/downloads").text


@pytest.mark.parametrize("header, status, part", [
    ("bytes=0-9", 206, slice(0, 10)),
    ("bytes=-5", 206, slice(-5, None)),
    ("items=0-9", 200, slice(None)),  # a unit the server does not know: ignored (RFC 9110 14.2)
    ("bytes=0-1,5-6", 200, slice(None)),  # several ranges: served whole rather than refused
    ("bytes=9-2", 200, slice(None)),  # not a valid range: ignored
    ("bytes=999999999-", 416, None),  # one valid range past the end: not satisfiable
])
def test_a_dump_answers_ranges_it_can_serve_and_ignores_the_others(client, header, status, part):
    whole = client.get("/downloads/migkg.nt").data
    response = client.get("/downloads/migkg.nt", headers={"Range": header})
    assert response.status_code == status, response.data[:200]
    if part is not None:
        assert response.data == whole[part]


@pytest.mark.parametrize("path, headers", [("/.well-known/void", {}), ("/downloads/void.jsonld", {}),
                                           ("/.well-known/void", {"Accept": "application/rdf+xml"})])
def test_void_describes_size_classes_sources_endpoint_and_dumps(client, built, path, headers):
    response = client.get(path, headers=headers)
    rdflib_format = {"text/turtle": "turtle", "application/ld+json": "json-ld", "application/rdf+xml": "xml"}[
        response.mimetype]
    graph = parse(response, rdflib_format)
    dataset = URIRef("https://w3id.org/migkg/dataset")
    assert int(graph.value(dataset, URIRef(VOID + "triples"))) == built.manifest["summary"]["triples"]
    assert str(graph.value(dataset, URIRef(VOID + "sparqlEndpoint"))).endswith("/sparql")
    assert graph.value(dataset, URIRef("http://purl.org/dc/terms/license")) is not None
    assert URIRef("https://w3id.org/migkg/source/unodc-tool4") in set(
        graph.objects(dataset, URIRef("http://purl.org/dc/terms/source")))
    classes = {graph.value(p, URIRef(VOID + "class")): int(graph.value(p, URIRef(VOID + "entities")))
               for p in graph.objects(dataset, URIRef(VOID + "classPartition"))}
    assert classes[URIRef(MIG + "State")] >= 249
    assert len(set(graph.objects(dataset, URIRef(VOID + "dataDump")))) == 5
    assert set(graph.objects(dataset, URIRef(VOID + "exampleResource")))


def test_a_state_code_in_lower_case_is_sent_on_to_the_code(client):
    for asked, target in (("/id/state/tha", "/id/state/THA"), ("/id/state/Tha.ttl?x=1", "/id/state/THA.ttl?x=1")):
        response = client.get(asked)
        assert response.status_code == 301 and response.headers["Location"] == target
    assert client.get("/id/state/zzz").status_code == 404
    for odd in ("/id/state/a%20b", "/id/state/t%3Eha", "/id/state/th%C3%A4"):  # no IRI in upper case either
        assert client.get(odd).status_code == 404, odd
    assert client.get("/id/process/bali-PROCESS").status_code == 404  # only ISO codes change case


def test_errors_keep_the_headers_their_status_asks_for(client):
    assert set(client.post("/downloads").headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert set(client.open("/sparql", method="TRACE").headers["Allow"].split(", ")) == {"GET", "HEAD", "POST",
                                                                                         "OPTIONS"}
    past_the_end = client.get("/downloads/migkg.ttl", headers={"Range": "bytes=999999999-"})
    assert past_the_end.status_code == 416 and past_the_end.headers["Content-Range"].startswith("bytes */")


def test_a_dump_is_revalidated_not_kept_for_an_hour(client):
    response = client.get("/downloads/migkg.ttl")
    assert response.headers["Cache-Control"] == "public, no-cache"
    assert client.get("/downloads/migkg.ttl", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_descriptions_name_the_public_url_not_the_host_a_client_sends(settings):
    from webapp import create_app

    app = create_app(settings.with_changes(public_url="https://migkg.example.org/"))
    client = app.test_client()
    void = client.get("/downloads/void.ttl", headers={"Host": "evil.example"}).get_data(as_text=True)
    described = client.get("/sparql", headers={"Host": "evil.example", "Accept": "text/turtle"}).get_data(as_text=True)
    assert "evil.example" not in void + described
    assert "<https://migkg.example.org/sparql>" in void and "<https://migkg.example.org/sparql>" in described
    app.extensions["migkg_backend"].close()
