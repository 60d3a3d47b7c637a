"""The build pipeline on small fixture projects: success, inference, and failures that leave the store intact."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psutil
import pytest
from pyoxigraph import DefaultGraph, NamedNode, Quad, RdfFormat, Triple, parse

from migkg import reasoning
from migkg.build import BuildFailed, build, prepare
from migkg.config import PROJECT_ROOT, Settings
from migkg.namespaces import INFERRED_GRAPH, MIG, ORG, RDF, REFERENCE_GRAPH
from migkg.store import (DUMPS_DIR, MANIFEST, OXIGRAPH_DIR, READERS_LOCK, UNION_IN_DEFAULT_GRAPH, current_build,
                         open_read_only)

PREFIXES = """
@prefix mig: <https://w3id.org/migkg/ontology#> .
@prefix id: <https://w3id.org/migkg/id/> .
@prefix src: <https://w3id.org/migkg/source/> .
@prefix org: <http://www.w3.org/ns/org#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""

SOURCES = PREFIXES + """
<https://w3id.org/migkg/graph/sources> {
  src:test-doc a mig:SourceDocument ; rdfs:label "Test document"@en ; dcterms:title "Test document"@en ;
      mig:localFile "test.txt" .
  <https://w3id.org/migkg/source/test-doc#s1> a mig:SourceSection ; dcterms:isPartOf src:test-doc ;
      mig:sectionLabel "1" ; dcterms:title "Section one"@en .
}
"""

COLOMBO = PREFIXES + """
<https://w3id.org/migkg/source/test-doc#s1> {
  id:colombo-process a mig:RegionalConsultativeProcess ; rdfs:label "Colombo Process"@en ;
      mig:establishedIn "2003"^^xsd:gYear .
  id:iom a mig:IntergovernmentalOrganization ; rdfs:label "International Organization for Migration"@en .
  <https://w3id.org/migkg/id/membership/colombo-process/state-THA/member> a org:Membership ; rdfs:label "Thailand, member"@en ;
      org:member <https://w3id.org/migkg/id/state/THA> ; org:organization id:colombo-process ;
      org:role <https://w3id.org/migkg/id/role/member> .
  <https://w3id.org/migkg/id/membership/colombo-process/iom/secretariat> a org:Membership ; rdfs:label "IOM, secretariat"@en ;
      org:member id:iom ; org:organization id:colombo-process ;
      org:role <https://w3id.org/migkg/id/role/secretariat> .
}
"""


def make_project(root: Path, files: dict[str, str]) -> Settings:
    shutil.copytree(PROJECT_ROOT / "ontology", root / "ontology")
    data = root / "data"
    data.mkdir()
    (data / "sources.trig").write_text(SOURCES, encoding="utf-8")
    for name, text in files.items():
        (data / name).write_text(text, encoding="utf-8")
    return Settings().with_changes(ontology_dir=root / "ontology", data_dir=data, store_path=root / "var" / "store",
                                   cache_dir=root / "var" / "cache")


@pytest.fixture()
def project(tmp_path) -> Settings:
    return make_project(tmp_path, {"colombo.trig": COLOMBO})


def ask(store, query: str) -> bool:
    return bool(store.query(query, use_default_graph_as_union=True))


def test_build_loads_every_graph_and_infers_shortcuts(project):
    progress: list[str] = []
    result = build(project, progress=progress.append, dl_check=False)
    built = open_read_only(project.store_path)
    store = built.store
    steps = [line.split(" ")[0] for line in progress]
    assert steps[:3] == ["parse:", "reason", "validate"] and steps[-1] == "store:"
    # Shortcut from the n-ary membership (property chain), its inverse, and subclass types.
    inferred = set(store.quads_for_pattern(None, None, None, INFERRED_GRAPH))
    colombo = NamedNode("https://w3id.org/migkg/id/colombo-process")
    thailand = NamedNode("https://w3id.org/migkg/id/state/THA")
    iom = NamedNode("https://w3id.org/migkg/id/iom")
    assert Quad(colombo, NamedNode(MIG + "hasMember"), thailand, INFERRED_GRAPH) in inferred
    assert Quad(thailand, NamedNode(MIG + "memberOf"), colombo, INFERRED_GRAPH) in inferred
    assert Quad(colombo, NamedNode(MIG + "hasSecretariat"), iom, INFERRED_GRAPH) in inferred
    assert Quad(iom, NamedNode(MIG + "secretariatOf"), colombo, INFERRED_GRAPH) in inferred
    assert Quad(colombo, NamedNode(RDF + "type"), NamedNode(MIG + "ConsultationProcess"), INFERRED_GRAPH) in inferred
    assert Quad(colombo, NamedNode(RDF + "type"), NamedNode(ORG + "Organization"), INFERRED_GRAPH) in inferred
    # A secretariat is not a member: the chain selects by role.
    assert Quad(colombo, NamedNode(MIG + "hasMember"), iom, INFERRED_GRAPH) not in inferred
    # The technical self-links used by the chains stay out of the published graph.
    assert not any("Membership" in q.predicate.value and q.subject == q.object for q in inferred)
    # Reference data: every ISO country, generated.
    assert ask(store, 'ASK { GRAPH <https://w3id.org/migkg/graph/reference> { '
                      '<https://w3id.org/migkg/id/state/THA> <http://www.w3.org/2000/01/rdf-schema#label> "Thailand"@en ; '
                      '<https://w3id.org/migkg/ontology#iso3166Alpha3> "THA" } }')
    assert len(list(store.quads_for_pattern(None, NamedNode(RDF + "type"), NamedNode(MIG + "State"),
                                            REFERENCE_GRAPH))) >= 249
    summary = result.manifest["summary"]
    classes = {row["class"]: row["resources"] for row in summary["classes"]}
    assert classes[MIG + "RegionalConsultativeProcess"] == 1
    assert summary["graphs"]["https://w3id.org/migkg/source/test-doc#s1"] > 0


def test_the_published_store_and_dumps_hold_exactly_what_was_built(project):
    """The store is loaded in two parts and the dumps are written by other processes while the build goes on:
    each holds every statement, once; the triple formats the union of the graphs."""
    result = build(project, dl_check=False)
    built = open_read_only(project.store_path)
    expected = {str(quad) for quad in result.quads}
    stored = list(built.store)
    assert {str(quad) for quad in stored if quad.graph_name != DefaultGraph()} == expected
    # the default graph: the union of the graphs, each statement once, for queries to read as one graph
    assert built.manifest[UNION_IN_DEFAULT_GRAPH] is True
    assert sorted(str(quad.triple) for quad in stored if quad.graph_name == DefaultGraph()) == \
        sorted({str(Triple(q.subject, q.predicate, q.object)) for q in result.quads})
    dumps = built.directory / DUMPS_DIR
    assert {str(quad) for quad in parse(path=dumps / "migkg.nquads", format=RdfFormat.N_QUADS)} == expected
    assert {str(quad) for quad in parse(path=dumps / "migkg.trig", format=RdfFormat.TRIG)} == expected
    union = {str(Triple(q.subject, q.predicate, q.object)) for q in result.quads}
    for name, rdf_format in (("turtle", RdfFormat.TURTLE), ("ntriples", RdfFormat.N_TRIPLES),
                             ("jsonld", RdfFormat.JSON_LD), ("rdfxml", RdfFormat.RDF_XML)):
        triples = [str(Triple(q.subject, q.predicate, q.object)) for q in parse(path=dumps / f"migkg.{name}",
                                                                               format=rdf_format)]
        assert len(triples) == len(union) and set(triples) == union, name
    assert sorted(p.name for p in built.directory.iterdir()) == sorted([DUMPS_DIR, MANIFEST, OXIGRAPH_DIR, READERS_LOCK])


def _snapshot(settings: Settings):
    directory = current_build(settings.store_path)
    built = open_read_only(settings.store_path)
    return directory, len(built.store)


def test_a_byte_order_mark_is_read_as_utf8_text_not_as_a_subject(tmp_path):
    from migkg.sources import read_inputs

    plain = make_project(tmp_path / "plain", {"colombo.trig": COLOMBO})
    marked = make_project(tmp_path / "marked", {})
    (marked.data_dir / "colombo.trig").write_bytes(b"\xef\xbb\xbf" + COLOMBO.encode("utf-8"))
    assert (set(read_inputs(marked.ontology_dir, marked.data_dir, marked.shapes_file).data)
            == set(read_inputs(plain.ontology_dir, plain.data_dir, plain.shapes_file).data))


def test_a_data_file_with_an_upper_case_suffix_is_read(tmp_path):
    from migkg.sources import read_inputs

    plain = make_project(tmp_path / "plain", {"colombo.trig": COLOMBO})
    shouted = make_project(tmp_path / "shouted", {"COLOMBO.TRIG": COLOMBO})
    assert (set(read_inputs(shouted.ontology_dir, shouted.data_dir, shouted.shapes_file).data)
            == set(read_inputs(plain.ontology_dir, plain.data_dir, plain.shapes_file).data))


def test_json_ld_and_rdf_xml_data_are_read_not_skipped(tmp_path):
    from pyoxigraph import serialize

    from migkg.sources import InputError, read_inputs

    plain = make_project(tmp_path / "plain", {"colombo.trig": COLOMBO})
    colombo = [q for q in parse(COLOMBO, format=RdfFormat.TRIG)]
    as_json_ld = make_project(tmp_path / "jsonld", {})
    (as_json_ld.data_dir / "colombo.jsonld").write_bytes(serialize(colombo, format=RdfFormat.JSON_LD))
    assert (set(read_inputs(as_json_ld.ontology_dir, as_json_ld.data_dir, as_json_ld.shapes_file).data)
            == set(read_inputs(plain.ontology_dir, plain.data_dir, plain.shapes_file).data))
    as_rdf_xml = make_project(tmp_path / "rdfxml", {})
    (as_rdf_xml.data_dir / "colombo.rdf").write_bytes(serialize([q.triple for q in colombo], format=RdfFormat.RDF_XML))
    with pytest.raises(InputError, match=r"colombo\.rdf: \d+ statement\(s\) outside any named graph"):
        read_inputs(as_rdf_xml.ontology_dir, as_rdf_xml.data_dir, as_rdf_xml.shapes_file)
    remote = make_project(tmp_path / "remote", {"schema.jsonld": '{"@context": "https://schema.org/", "name": "A"}'})
    with pytest.raises(InputError, match=r"schema\.jsonld: syntax error\. a remote @context cannot be fetched"):
        read_inputs(remote.ontology_dir, remote.data_dir, remote.shapes_file)


@pytest.mark.parametrize("shapes, expected", [(None, "does not exist"), ("# emptied\n", "holds no shapes")])
def test_an_ontology_directory_without_the_shapes_is_refused(project, shapes, expected):
    """Without ontology/shapes.ttl (or with it emptied) the build validated against no shape at all and published
    whatever it read."""
    if shapes is None:
        project.shapes_file.unlink()
    else:
        project.shapes_file.write_text(shapes, encoding="utf-8")
    with pytest.raises(BuildFailed, match=rf"shapes.ttl {expected}: without \w+ the data would be published"):
        prepare(project, dl_check=False)


def test_a_broken_link_named_as_a_data_file_is_refused_not_skipped(project):
    """A data file that is a link to nothing was skipped without a word: its facts were missing from a valid build."""
    (project.data_dir / "moved.trig").symlink_to(project.data_dir.parent / "elsewhere.trig")
    with pytest.raises(BuildFailed, match=r"moved.trig: is not a readable file \(a broken link"):
        prepare(project, dl_check=False)


def test_a_data_file_deleted_while_the_build_runs_does_not_stop_it(project, monkeypatch):
    """The build's identity is computed from the bytes parsed, not by reading every file again (a file deleted
    or edited meanwhile raised FileNotFoundError, or gave the build the identity of content it did not hold)."""
    from migkg import build as build_module

    def read_then_delete(*args):
        inputs = read_inputs(*args)
        (project.data_dir / "colombo.trig").unlink()
        return inputs

    read_inputs = build_module.read_inputs
    monkeypatch.setattr(build_module, "read_inputs", read_then_delete)
    build(project, dl_check=False)
    assert ask(open_read_only(project.store_path).store,
               "ASK { <https://w3id.org/migkg/id/colombo-process> a ?class }")


def test_syntax_error_names_file_and_line_and_keeps_previous_store(project):
    build(project, dl_check=False)
    before = _snapshot(project)
    (project.data_dir / "broken.trig").write_text(PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> {\n'
                                                  '  id:x rdfs:label "unterminated .\n}\n', encoding="utf-8")
    with pytest.raises(BuildFailed) as failure:
        build(project, dl_check=False)
    message = str(failure.value)
    assert "broken.trig" in message and "line 10" in message and "Unexpected end of file" in message
    assert _snapshot(project) == before


def test_shacl_violation_is_explained_and_keeps_previous_store(project):
    suite_children = {child.pid for child in psutil.Process().children()}  # e.g. the suite's live servers
    build(project, dl_check=False)
    before = _snapshot(project)
    (project.data_dir / "roleless.trig").write_text(PREFIXES + """
<https://w3id.org/migkg/source/test-doc#s1> {
  <https://w3id.org/migkg/id/membership/colombo-process/state-NPL/member> a org:Membership ; rdfs:label "Nepal"@en ;
      org:member <https://w3id.org/migkg/id/state/NPL> ; org:organization id:colombo-process .
}""", encoding="utf-8")
    with pytest.raises(BuildFailed) as failure:
        build(project, dl_check=False)
    message = str(failure.value)
    assert "roleless.trig" in message
    assert "id/membership/colombo-process/state-NPL/member" in message
    assert "org:role" in message and "exactly one role" in message
    assert _snapshot(project) == before
    # The store was being written meanwhile: nothing of it is left, no child process still writes it.
    assert [p.name for p in (project.store_path.parent / "builds").iterdir()] == [before[0].name]
    assert [child for child in psutil.Process().children() if child.pid not in suite_children] == []


@pytest.mark.parametrize(
    "text, expected",
    [
        # a fact outside any named graph has no provenance
        (PREFIXES + 'id:loose a mig:Declaration ; rdfs:label "Loose"@en .', "outside any named graph"),
        # a graph that is not a described source section
        (PREFIXES + '<https://w3id.org/migkg/source/nowhere#s9> { id:d a mig:Declaration ; rdfs:label "D"@en . }',
         "not described as a mig:SourceSection"),
        # an untyped, unlabelled resource
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { id:thing rdfs:comment "no type"@en . }',
         "has no rdf:type"),
        # an untyped date
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { id:colombo-process mig:establishedIn "2003" . }',
         "mig:establishedIn must be typed"),
        # a state code pycountry does not know
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { <https://w3id.org/migkg/id/state/XKX> a mig:State ; '
                    'rdfs:label "Nowhere"@en . }', "ISO 3166-1 alpha-3"),
        # a resource in two disjoint classes
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { id:colombo-process a mig:Convention . }',
         "declares disjoint"),
        # a graph named by a blank node escaped the check that every graph is a described section
        (PREFIXES + '_:g { id:d a mig:Declaration ; rdfs:label "D"@en . }', "a graph is named by a blank node"),
        # a relative IRI was read against the file's location: the curator's directory was published
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> {\n id:d a mig:Declaration ;\n'
                    ' rdfs:label "D"@en ; mig:supplements <untoc> . }',
         "bad.trig, line 11: <untoc> is a relative IRI"),
        # a fact about a resource outside the project's namespace
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { <http://example.org/x> a mig:Declaration ; '
                    'rdfs:label "X"@en . }', "a statement about <http://example.org/x>, outside https://w3id.org/migkg/"),
        # data redefining an ontology term (a second name for a class; a new superclass changes the reasoning)
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { mig:State rdfs:label "Nation"@en . }',
         "defines an ontology term"),
        # a misspelt property of the ontology's namespace was published and never found
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { id:colombo-process mig:establishedin '
                    '"2003"^^xsd:gYear . }', "a property the ontology does not declare"),
        # two states linked as one thing (a reasoner would merge two countries' memberships)
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { <https://w3id.org/migkg/id/state/THA> '
                    '<http://www.w3.org/2002/07/owl#sameAs> <https://w3id.org/migkg/id/state/NPL> . }',
         "two ISO 3166-1 codes are two countries"),
        # a shortcut the reasoner infers from memberships, asserted without the membership's role
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { id:iom mig:memberOf id:colombo-process . }',
         "the reasoner infers memberOf from memberships: state the org:Membership"),
        # a web address that is no http(s) IRI
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { id:colombo-process '
                    '<http://xmlns.com/foaf/0.1/homepage> <javascript:alert(1)> . }', "an http(s) IRI"),
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { id:colombo-process '
                    '<http://xmlns.com/foaf/0.1/homepage> "http://www.colomboprocess.org" . }', "an http(s) IRI"),
        # org:role's range made any IRI a role: a role outside the role scheme passed
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { id:colombo-process-chair a org:Membership ; '
                    'rdfs:label "IOM, emperor"@en ; org:member id:iom ; org:organization id:colombo-process ; '
                    'org:role <https://w3id.org/migkg/id/role/emperor> . }',
         "exactly one role from the role scheme (org:role id/role/…) [value: <https://w3id.org/migkg/id/role/emperor>]"),
        # rdflib (and so pyshacl) takes any text as an xsd:gYear or xsd:gYearMonth
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { id:colombo-process mig:startDate '
                    '"2013-13"^^xsd:gYearMonth . }', "bad.trig, line 9: <https://w3id.org/migkg/id/colombo-process> "
                                                      "<https://w3id.org/migkg/ontology#startDate> "),
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { id:colombo-process mig:establishedIn '
                    '"20x3"^^xsd:gYear . }', "'20x3' is not a valid xsd:gYear"),
        # an ill-typed literal where no shape checks the datatype
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> {\n id:colombo-process rdfs:comment "x"@en ;\n'
                    ' mig:stageNumber "two"^^xsd:integer . }', "bad.trig, line 11: "),
        # a blank English label counted as one
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { id:d a mig:Declaration ; rdfs:label " "@en . }',
         "has no English label"),
        # an anonymous membership was published under a new blank node label at every build, never citable
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> {\n [ a org:Membership ; rdfs:label "IOM, member"@en ;'
                    '\n org:member id:iom ; org:organization id:colombo-process ;\n'
                    ' org:role <https://w3id.org/migkg/id/role/member> ] . }',
         "bad.trig: in graph <https://w3id.org/migkg/source/test-doc#s1>, a resource without an IRI (a blank node, "
         "[ … ] or _:…) (<http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/ns/org#Membership>"),
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> {\n id:colombo-process mig:hasObservation _:figure .\n'
                    ' _:figure a mig:Observation ; rdfs:label "members"@en ; mig:observedEntity id:colombo-process ;'
                    ' mig:value 12 ; mig:asOf "2004"^^xsd:gYear ;'
                    ' mig:measure <https://w3id.org/migkg/id/measure/member-states> . }',
         "bad.trig, line 10: in graph <https://w3id.org/migkg/source/"
         "test-doc#s1>, a resource without an IRI"),
        # a data file that lost its facts (a truncated save) built the graph without them, without a word
        ("", "bad.trig: holds no statements (only comments and prefixes, or nothing)"),
        (PREFIXES + "# the Colombo Process's observers, to do\n", "bad.trig: holds no statements"),
        # a negative count of ratifications
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { id:observation-x a mig:Observation ; '
                    'rdfs:label "ratifications"@en ; mig:observedEntity id:colombo-process ; mig:value -3 ; '
                    'mig:asOf "2004"^^xsd:gYear ; mig:measure <https://w3id.org/migkg/id/measure/ratifications> . }',
         "cannot be negative"),
        # two names in one language from one source: pages and searches showed either
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> {\n id:colombo-process rdfs:label '
                    '"Regional Consultative Process on Overseas Employment"@en . }',
         "colombo.trig, line 11: <https://w3id.org/migkg/id/colombo-process> has two rdfs:label in @en in graph "
         "<https://w3id.org/migkg/source/test-doc#s1>: 'Regional Consultative Process on Overseas Employment' (in "
         "bad.trig) and 'Colombo Process': keep the name the source uses as rdfs:label and give the other as "
         "skos:altLabel"),
        # a membership that ends before it starts
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { <https://w3id.org/migkg/id/membership/'
                    'colombo-process/iom/secretariat> mig:startDate "2005-03"^^xsd:gYearMonth ; '
                    'mig:endDate "2004"^^xsd:gYear . }',
         "<https://w3id.org/migkg/id/membership/colombo-process/iom/secretariat> ends before it starts: mig:endDate "
         "2004 (graph <https://w3id.org/migkg/source/test-doc#s1>) is before mig:startDate 2005-03"),
        # a treaty action before its treaty was adopted
        (PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { id:untoc a mig:Convention ; rdfs:label "UNTOC"@en ; '
                    'mig:adoptedOn "2000-11-15"^^xsd:date . <https://w3id.org/migkg/id/treaty-action/untoc/state-THA/'
                    'signature> a mig:TreatyAction ; rdfs:label "Thailand, signature"@en ; mig:actingState '
                    '<https://w3id.org/migkg/id/state/THA> ; mig:actionOn id:untoc ; mig:actionDate "2000-11"^^'
                    'xsd:gYearMonth ; mig:actionType <https://w3id.org/migkg/id/treaty-action-type/signature> . '
                    '<https://w3id.org/migkg/id/treaty-action/untoc/state-NPL/signature> a mig:TreatyAction ; '
                    'rdfs:label "Nepal, signature"@en ; mig:actingState <https://w3id.org/migkg/id/state/NPL> ; '
                    'mig:actionOn id:untoc ; mig:actionDate "1999"^^xsd:gYear ; '
                    'mig:actionType <https://w3id.org/migkg/id/treaty-action-type/signature> . }',
         "dates: 1 combination(s) that cannot be true:\n  bad.trig: <https://w3id.org/migkg/id/treaty-action/untoc/"
         "state-NPL/signature> is dated before its treaty was adopted"),
        # a figure as of a date after the source that states it was published
        (PREFIXES + '<https://w3id.org/migkg/graph/sources> { src:test-doc dcterms:issued "2010"^^xsd:gYear . }\n'
                    '<https://w3id.org/migkg/source/test-doc#s1> { id:observation-x a mig:Observation ; '
                    'rdfs:label "ratifications"@en ; mig:observedEntity id:colombo-process ; mig:value 46 ; '
                    'mig:asOf "2013"^^xsd:gYear ; mig:measure <https://w3id.org/migkg/id/measure/ratifications> . }',
         "<https://w3id.org/migkg/id/observation-x> a figure as of a date after its source's own: mig:asOf 2013 "
         "(graph <https://w3id.org/migkg/source/test-doc#s1>) is after <https://w3id.org/migkg/source/test-doc> "
         "dcterms:issued 2010"),
        # a web page read (its access date) before the date it states
        (PREFIXES + '<https://w3id.org/migkg/graph/sources> { src:test-doc dcterms:issued "2027-01-10"^^xsd:date ; '
                    'mig:readOn "2026-11-29"^^xsd:date . }',
         "<https://w3id.org/migkg/source/test-doc> was read before it was issued: mig:readOn 2026-11-29 (graph "
         "<https://w3id.org/migkg/graph/sources>) is before dcterms:issued 2027-01-10"),
    ],
)
def test_invalid_data_fails_with_a_plain_message(project, text, expected):
    (project.data_dir / "bad.trig").write_text(text, encoding="utf-8")
    with pytest.raises(BuildFailed) as failure:
        prepare(project, dl_check=False)
    assert expected in str(failure.value)


def test_dates_a_source_can_state_are_accepted(project):
    """Spans that overlap are not out of order, and a source may announce what is still to come."""
    (project.data_dir / "dates.trig").write_text(PREFIXES + """
<https://w3id.org/migkg/graph/sources> { src:test-doc dcterms:issued "2010"^^xsd:gYear . }
<https://w3id.org/migkg/source/test-doc#s1> {
  <https://w3id.org/migkg/id/membership/colombo-process/iom/secretariat> mig:startDate "2005"^^xsd:gYear ;
      mig:endDate "2005-03-01"^^xsd:date .
  id:meeting-2012 a mig:Meeting ; rdfs:label "Colombo Process, 2012 meeting (announced)"@en ;
      mig:startDate "2012-04"^^xsd:gYearMonth .
  id:observation-y a mig:Observation ; rdfs:label "member states"@en ; mig:observedEntity id:colombo-process ;
      mig:value 0 ; mig:asOf "2010-06"^^xsd:gYearMonth ; mig:measure <https://w3id.org/migkg/id/measure/member-states> .
}""", encoding="utf-8")
    prepare(project, dl_check=False)


def test_a_value_against_a_nested_shape_is_reported_once(project):
    """sh:node nests the inner shape's results under the outer one (sh:detail): one violation, in the file."""
    (project.data_dir / "bad.trig").write_text(PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { '
                                               'id:colombo-process mig:establishedIn "2003" . }', encoding="utf-8")
    with pytest.raises(BuildFailed) as failure:
        prepare(project, dl_check=False)
    message = str(failure.value)
    assert "1 SHACL violation(s)" in message and "(generated)" not in message
    assert "bad.trig" in message and "mig:establishedIn must be typed" in message


def test_hermit_checks_consistency(project):
    result = prepare(project, dl_check=True)
    assert result.manifest["reasoning"]["dl_check"].startswith("passed")


def test_a_passed_dl_check_is_remembered_until_the_statements_change(project):
    first = prepare(project, dl_check=True).manifest["reasoning"]["dl_check"]
    again = prepare(project, dl_check=True).manifest["reasoning"]["dl_check"]
    assert first.startswith("passed") and "passed before" not in first
    assert again.startswith("passed") and "passed before" in again
    changed = project.data_dir / "colombo.trig"
    changed.write_text(changed.read_text(encoding="utf-8").replace('"Colombo Process"@en', '"The Colombo Process"@en'),
                       encoding="utf-8")
    assert "passed before" not in prepare(project, dl_check=True).manifest["reasoning"]["dl_check"]


def test_without_java_the_dl_check_is_said_to_be_skipped(project, monkeypatch):
    monkeypatch.setattr(reasoning.shutil, "which", lambda name: None)
    lines: list[str] = []
    result = prepare(project, progress=lines.append, dl_check=True)
    assert "skipped: no Java runtime" in result.manifest["reasoning"]["dl_check"]
    assert any("skipped: no Java runtime" in line for line in lines)


def test_failed_publish_removes_the_half_written_build(project, monkeypatch):
    build(project, dl_check=False)
    before = _snapshot(project)
    builds = sorted(p.name for p in (project.store_path.parent / "builds").iterdir())

    def refuse(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("migkg.store.os.replace", refuse)
    with pytest.raises(BuildFailed, match="disk full"):
        build(project, dl_check=False)
    assert sorted(p.name for p in (project.store_path.parent / "builds").iterdir()) == builds
    assert _snapshot(project) == before


@pytest.mark.parametrize("step", ["serialize", "write_dumps"])
def test_a_full_disk_while_writing_is_named_and_keeps_the_previous_store(project, monkeypatch, step):
    """The statements and the dumps are written by child processes: one that failed was reported as "child process
    status 256", never why."""
    import errno

    build(project, dl_check=False)
    before = _snapshot(project)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(f"migkg.store.{step}", disk_full)
    with pytest.raises(BuildFailed, match=r"failed \(OSError: \[Errno 28\] No space left on device\)"):
        build(project, dl_check=False)
    assert _snapshot(project) == before
    assert [p.name for p in (project.store_path.parent / "builds").iterdir()] == [before[0].name]


def test_a_failed_dl_check_after_the_store_is_written_keeps_the_previous_store(project, monkeypatch):
    """The new store is written while HermiT runs; it is switched to only if the check passes."""
    build(project, dl_check=False)
    before = _snapshot(project)
    builds = sorted(p.name for p in (project.store_path.parent / "builds").iterdir())

    def inconsistent(*args, **kwargs):
        raise reasoning.InconsistentData("HermiT found unsatisfiable classes: https://example.org/Nothing")

    monkeypatch.setattr("migkg.build.check_with_hermit", inconsistent)
    progress: list[str] = []
    with pytest.raises(BuildFailed, match="unsatisfiable classes"):
        build(project, progress=progress.append, dl_check=True)
    assert sorted(p.name for p in (project.store_path.parent / "builds").iterdir()) == builds
    assert _snapshot(project) == before
    assert not any(line.startswith("store:") for line in progress)


def test_a_build_that_fails_meanwhile_ends_the_dl_check(project):
    """HermiT runs in a child process; a build that fails before it finishes ends it and its JVM."""
    (project.data_dir / "bad.trig").write_text(PREFIXES + '<https://w3id.org/migkg/source/test-doc#s1> { '
                                               'id:colombo-process mig:establishedIn "2003" . }', encoding="utf-8")
    before = {child.pid for child in psutil.Process().children(recursive=True)}  # e.g. the suite's live servers
    with pytest.raises(BuildFailed, match="mig:establishedIn must be typed"):
        build(project, dl_check=True)
    assert [child for child in psutil.Process().children(recursive=True) if child.pid not in before] == []


def test_a_build_in_progress_is_never_pruned_by_another(tmp_path):
    """Builds running side by side: one that finishes prunes old directories, never the other's half-written one."""
    from migkg.store import KEEP_BUILDS, NewBuild, _prune

    store_path = tmp_path / "var" / "store"
    running = NewBuild(store_path, "a" * 64)
    finished = [NewBuild(store_path, f"{n}" * 64) for n in range(KEEP_BUILDS + 2)]
    for other in finished:
        (other.directory / MANIFEST).write_text("{}")
        other._release()  # as a finished build leaves its directory
    os.utime(running.directory, (1, 1))  # the oldest of all
    _prune(running.root, keep=finished[-1].directory)
    assert running.directory.is_dir()
    assert sum(1 for other in finished if other.directory.is_dir()) == KEEP_BUILDS
    running.abandon()
    assert not running.directory.exists()


def test_what_killed_builds_left_is_removed_and_complete_builds_are_kept(tmp_path):
    """A build killed (SIGKILL) leaves a directory without a manifest that nobody holds: the next build removes
    every such one. They pushed the previous complete builds out of the KEEP_BUILDS kept, and stayed."""
    from migkg.store import KEEP_BUILDS, NewBuild, _prune

    store_path = tmp_path / "var" / "store"
    complete = [NewBuild(store_path, f"{n}" * 64) for n in range(KEEP_BUILDS)]
    for number, finished in enumerate(complete):
        (finished.directory / MANIFEST).write_text("{}")
        finished._release()
        os.utime(finished.directory, (number + 1, number + 1))
    killed = [NewBuild(store_path, f"{n}" * 64) for n in "abcd"]
    for leftover in killed:
        leftover._release()  # the process that held the claim is gone
    _prune(complete[-1].root, keep=complete[-1].directory)
    assert [finished.directory.is_dir() for finished in complete] == [True] * KEEP_BUILDS
    assert [leftover.directory.exists() for leftover in killed] == [False] * len(killed)


def test_the_benchmarks_generated_data_passes_every_check(tmp_path):
    """benchmarks/build_sizes.py measures the build on generated data: that data must pass the checks the real
    data passes (its treaty actions were once dated before their treaties, and the 1 M benchmark stopped)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_sizes", PROJECT_ROOT / "benchmarks" / "build_sizes.py")
    build_sizes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_sizes)
    assert build_sizes.generate(tmp_path, 90_000) > 1_000
    settings = Settings().with_changes(ontology_dir=tmp_path / "ontology", data_dir=tmp_path / "data",
                                       store_path=tmp_path / "var" / "store", cache_dir=tmp_path / "var" / "cache")
    result = build(settings, dl_check=False)
    assert any("/synthetic/" in quad.subject.value for quad in result.quads)
