"""The OWL 2 DL check (HermiT): its smaller input and single consistency run still catch every inconsistency
and unsatisfiable class, and only annotation assertions are left out of what HermiT reads."""

from __future__ import annotations

import pytest
from pyoxigraph import Literal, NamedNode, RdfFormat, parse

from migkg.reasoning import InconsistentData, check_with_hermit, dl_input, java_available, named_classes
from migkg.namespaces import RDFS

PREFIXES = """
@prefix ex: <https://example.org/> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""
ONTOLOGY = PREFIXES + """
ex:A a owl:Class ; rdfs:label "A"@en ; rdfs:comment "a class"@en .
ex:B a owl:Class ; owl:disjointWith ex:C .
ex:C a owl:Class .
ex:p a owl:ObjectProperty .
ex:count a owl:DatatypeProperty .
ex:A rdfs:subClassOf [ a owl:Restriction ; owl:onProperty ex:p ; owl:allValuesFrom ex:B ] .
ex:x a ex:A ; rdfs:label "x"@en .
"""

pytestmark = pytest.mark.skipif(not java_available(), reason="HermiT needs Java (make system-deps installs it)")


def quads(text: str) -> list:
    return list(parse(text, format=RdfFormat.TURTLE))


def test_a_consistent_ontology_passes():
    status, _ = check_with_hermit(quads(ONTOLOGY + "ex:x ex:p ex:y . ex:y a ex:B ."))
    assert status.startswith("passed")


def test_an_inconsistency_only_the_dl_check_sees_is_caught():
    """x is an A, so everything x points to by p is a B, which is disjoint with C: y a C contradicts it.
    The RL rules as migkg applies them have no allValuesFrom rule: only HermiT sees this."""
    with pytest.raises(InconsistentData, match="inconsistent"):
        check_with_hermit(quads(ONTOLOGY + "ex:x ex:p ex:y . ex:y a ex:C ."))


def test_a_literal_against_an_axiom_is_caught():
    with pytest.raises(InconsistentData, match="inconsistent"):
        check_with_hermit(quads(ONTOLOGY + 'ex:count a owl:FunctionalProperty . ex:x ex:count 1 , 2 .'))


@pytest.mark.parametrize("definition", [
    "ex:D a owl:Class ; rdfs:subClassOf ex:B , ex:C .",  # declared, below two disjoint classes
    "ex:E owl:equivalentClass [ a owl:Class ; owl:intersectionOf ( ex:B ex:C ) ] .",  # undeclared, by equivalence
    "ex:F rdfs:subClassOf [ a owl:Restriction ; owl:onProperty ex:p ; owl:someValuesFrom "
    "[ owl:intersectionOf ( ex:B ex:C ) ] ] .",  # only a filler is empty
])
def test_an_unsatisfiable_class_is_caught_and_named(definition):
    name = definition.split()[0].replace("ex:", "https://example.org/")
    with pytest.raises(InconsistentData, match=f"unsatisfiable classes: {name}"):
        check_with_hermit(quads(ONTOLOGY + definition))


def test_every_class_gets_a_witness():
    classes = {c.value for c in named_classes(dl_input(quads(ONTOLOGY + """
        ex:G owl:equivalentClass [ owl:unionOf ( ex:H ex:I ) ] . ex:J a owl:Restriction ; owl:onProperty ex:p ;
        owl:someValuesFrom ex:K . ex:p rdfs:domain ex:L ; rdfs:range ex:M . ex:count rdfs:range xsd:integer .
        ex:code a owl:DatatypeProperty ; rdfs:range ex:CodeType . ex:name a owl:DatatypeProperty ; rdfs:range ex:N .
        ex:N a owl:Class .""")))}
    assert {f"https://example.org/{c}" for c in "ABCGHIKLMN"} <= classes
    assert "https://example.org/CodeType" not in classes  # a datatype: no witness
    assert not any(c.startswith(("http://www.w3.org/2001/XMLSchema#", "http://www.w3.org/2002/07/owl#"))
                   for c in classes)


def test_only_annotation_assertions_are_left_out():
    triples = dl_input(quads(ONTOLOGY + """
        ex:note a owl:AnnotationProperty . ex:x ex:note "a note" .
        ex:code a owl:AnnotationProperty . ex:y ex:code "Y" . ex:R owl:onProperty ex:code .
        ex:both a owl:AnnotationProperty , owl:DatatypeProperty . ex:y ex:both "Z" .
        ex:x ex:count 3 ."""))
    predicates = {t[1].value.split("/")[-1].split("#")[-1] for t in triples}
    assert "label" not in predicates and "comment" not in predicates and "note" not in predicates
    assert {"code", "both", "count", "allValuesFrom", "onProperty", "disjointWith"} <= predicates
    assert (NamedNode("https://example.org/x"), NamedNode("https://example.org/count"), Literal(3)) in triples
    assert not any(t[1] == NamedNode(RDFS + "label") for t in triples)
