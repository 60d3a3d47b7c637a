"""SHACL parity: migkg's validator reports exactly what pyshacl reports, on the seed data and on data broken
against every constraint component the shapes use; a shape it cannot check stops the build."""

from __future__ import annotations

import pyshacl
import pytest
from pyoxigraph import NamedNode, Quad, RdfFormat, Store, parse, serialize
from rdflib import Graph, URIRef
from rdflib.namespace import RDF as RDFLIB_RDF, RDFS as RDFLIB_RDFS, SH as RDFLIB_SH

from migkg.build import BuildFailed, prepare
from migkg.config import Settings
from migkg.reasoning import materialise
from migkg.reference import country_quads
from migkg.sources import read_inputs
from migkg.validation import Shapes, UnsupportedShape, Violation, check, provenance_bundles, validate

from tests.test_build import PREFIXES, make_project


def _to_rdflib(quads: list[Quad]) -> Graph:
    graph = Graph()
    graph.parse(data=serialize((q.triple for q in quads), format=RdfFormat.N_TRIPLES), format="nt")
    return graph


def _short(graph: Graph, node) -> str:
    if node is None:
        return ""
    if isinstance(node, URIRef):
        try:
            return graph.namespace_manager.normalizeUri(node)
        except Exception:
            return str(node)
    return str(node)


def pyshacl_violations(union: list[Quad], shapes: list[Quad], inputs) -> tuple[list[Violation], list[Violation]]:
    """The previous validator (pyshacl over an rdflib graph of the union), the oracle: all its results, and
    the top-level ones (without those pyshacl nests under another as sh:detail)."""
    data_graph = _to_rdflib(union)
    conforms, results, _ = pyshacl.validate(data_graph, shacl_graph=_to_rdflib(shapes), inference="none",
                                            advanced=True, allow_warnings=True)
    violations, top_level = [], []
    for result in results.subjects(RDFLIB_RDF.type, RDFLIB_SH.ValidationResult):
        focus = results.value(result, RDFLIB_SH.focusNode)
        label = data_graph.value(focus, RDFLIB_RDFS.label)
        violations.append(Violation(
            focus=f"{focus}" + (f" ({label})" if label else ""),
            path=_short(data_graph, results.value(result, RDFLIB_SH.resultPath)),
            message=str(results.value(result, RDFLIB_SH.resultMessage) or "violates a shape"),
            value=_short(data_graph, results.value(result, RDFLIB_SH.value)),
            files=inputs.file_of(str(focus)),
        ))
        if (None, RDFLIB_SH.detail, result) not in results:
            top_level.append(violations[-1])
    order = lambda v: (v.files, v.focus, v.path, v.message, v.value)  # noqa: E731
    return sorted(violations, key=order), sorted(top_level, key=order)


# One breakage per constraint component (and per way a component is used): each subject has one label.
BROKEN = PREFIXES + """
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
<https://w3id.org/migkg/source/unodc-tool4#s4.2> {
  # sh:minCount (no role), sh:maxCount (two members), sh:nodeKind (a literal member), sh:class (not an org)
  id:broken-membership-1 a org:Membership ; rdfs:label "broken 1"@en ;
      org:member <https://w3id.org/migkg/id/state/THA> , <https://w3id.org/migkg/id/state/NPL> ;
      org:organization "Colombo Process" .
  id:broken-membership-2 a org:Membership ; rdfs:label "broken 2"@en ; org:member "Thailand" ;
      org:organization id:broken-membership-1 ; org:role <https://w3id.org/migkg/id/role/member> ,
      <https://w3id.org/migkg/id/role/observer> .
  # sh:qualifiedValueShape + sh:languageIn (no English label), sh:minCount on rdf:type (untyped)
  id:broken-untyped rdfs:label "sans type"@fr .
  id:broken-english-dialect a mig:Declaration ; rdfs:label "colour"@en-GB .
  # sh:or with sh:class and sh:in (typed with an undeclared class)
  id:broken-class a mig:NoSuchClass ; rdfs:label "undeclared class"@en .
  # sh:node + sh:or + sh:datatype: untyped, ill-typed and wrongly typed dates
  id:broken-dates a mig:Declaration ; rdfs:label "bad dates"@en ; mig:establishedIn "2003" , "20x3"^^xsd:gYear ,
      "2003-01-01T00:00:00"^^xsd:dateTime ; mig:adoptedOn "3 May 2001"@en .
  # sh:datatype on integers and decimals, sh:maxCount on a stage
  id:broken-stage a mig:ProcessStage ; rdfs:label "bad stage"@en ; mig:stageOf id:broken-model ;
      mig:stageNumber "1.5"^^xsd:decimal , "two"^^xsd:integer ; mig:nextStage id:broken-next-1 , id:broken-next-2 .
  id:broken-observation a mig:Observation ; rdfs:label "bad figure"@en ; mig:observedEntity id:broken-dates ;
      mig:value "many" ; mig:asOf "2004"^^xsd:gYear ; mig:measure id:broken-measure .
  # sh:minInclusive: a negative count (and "many" above, a string against the number 0)
  id:broken-negative a mig:Observation ; rdfs:label "negative figure"@en ; mig:observedEntity id:broken-dates ;
      mig:value -3 ; mig:asOf "2004"^^xsd:gYear ; mig:measure <https://w3id.org/migkg/id/measure/ratifications> .
  # sh:pattern on the node (a state IRI) and on a value (the ISO code)
  <https://w3id.org/migkg/id/state/Thai> a mig:State ; rdfs:label "Thai state"@en ; mig:iso3166Alpha3 "th" .
  # sh:class on a value: an agency of something that is not a state
  id:broken-agency a mig:GovernmentAgency ; rdfs:label "bad agency"@en ; mig:agencyOf "France" .
}
# sh:class on the focus node: a graph that is no described source section
<https://w3id.org/migkg/source/undescribed#s1> { id:broken-dates rdfs:comment "in an undescribed graph"@en . }
<https://w3id.org/migkg/graph/sources> {
  # sh:or of property shapes and classes on the node (no file, no web page), sh:minCount on a section
  <https://w3id.org/migkg/source/fileless> a mig:SourceDocument ; rdfs:label "no file"@en ;
      dcterms:title "No file"@en .
  <https://w3id.org/migkg/source/fileless#s1> a mig:SourceSection ; dcterms:isPartOf <https://w3id.org/migkg/source/fileless> .
  <https://w3id.org/migkg/source/webpage> a mig:SourceDocument , mig:WebPageSource ; rdfs:label "web page"@en ;
      dcterms:title "Web page"@en ; foaf:page "not an IRI" .
}
"""


def _union(extra: str = ""):
    settings = Settings()
    inputs = read_inputs(settings.ontology_dir, settings.data_dir, settings.shapes_file)
    data = inputs.data + list(parse(extra, format=RdfFormat.TRIG)) if extra else inputs.data
    for quad in data:
        if isinstance(quad.subject, NamedNode):
            inputs.subject_files[quad.subject.value].add("broken.trig" if quad not in inputs.data else "seed")
    asserted = inputs.ontology + data + list(country_quads()) + provenance_bundles(data)
    inferred, _ = materialise(asserted)
    return asserted + inferred, inputs


def test_the_seed_data_conforms_for_both_validators():
    union, inputs = _union()
    assert validate(union, inputs.shapes, inputs) == pyshacl_violations(union, inputs.shapes, inputs)[0] == []


def test_broken_data_gives_the_same_violations_as_pyshacl():
    union, inputs = _union(BROKEN)
    ours = validate(union, inputs.shapes, inputs)
    every, top_level = pyshacl_violations(union, inputs.shapes, inputs)
    assert ours == top_level
    # The decision and every top-level result are the validator's own: the same as pyshacl's.
    store = Store()
    store.bulk_extend(union)
    assert check(store, Shapes(inputs.shapes), inputs) == top_level
    # A value against an sh:node shape is reported once, by the outer shape, not again as the nested result.
    assert any(v.focus == "2003" for v in every) and not any(v.focus == "2003" for v in ours)
    messages = " | ".join(v.message for v in ours)
    for words in ("exactly one role", "exactly one member", "organization or process", "no rdf:type",
                  "no English label", "neither the ontology", "mig:establishedIn must be typed",
                  "mig:adoptedOn must be typed", "integer mig:stageNumber", "at most one next stage",
                  "numeric mig:value", "cannot be negative", "IRI must be id/state", "ISO 3166-1 alpha-3 code", "the one state",
                  "not described as a mig:SourceSection", "names its file", "printed label",
                  "gives its address", "names its publisher", "gives the date"):
        assert words in messages, words
    assert len(ours) >= 25


def test_a_shape_feature_the_validator_lacks_stops_the_build(tmp_path):
    settings = make_project(tmp_path, {})
    shapes = settings.shapes_file
    shapes.write_text(shapes.read_text(encoding="utf-8") + """
shape:Unique a sh:NodeShape ; sh:targetClass mig:State ;
    sh:property [ sh:path rdfs:label ; sh:uniqueLang true ; sh:message "one label per language"@en ] .
""", encoding="utf-8")
    with pytest.raises(BuildFailed, match="uniqueLang"):
        prepare(settings, dl_check=False)


def test_a_reporting_shape_needs_its_message():
    shapes = list(parse("""
        @prefix sh: <http://www.w3.org/ns/shacl#> .
        <https://example.org/s> a sh:NodeShape ; sh:targetClass <https://example.org/C> ;
            sh:property [ sh:path <https://example.org/p> ; sh:minCount 1 ] .""", format=RdfFormat.TURTLE))
    with pytest.raises(UnsupportedShape, match="no sh:message"):
        validate([], shapes)
