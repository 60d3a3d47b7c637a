"""The OWL 2 DL check (HermiT): its smaller input and single consistency run still catch every inconsistency
and unsatisfiable class, and only annotation assertions are left out of what HermiT reads."""

from __future__ import annotations

import pytest
from pyoxigraph import Literal, NamedNode, RdfFormat, parse

from migkg.reasoning import (InconsistentData, _hermit, abox_summary, check_with_hermit, dl_input, java_available,
                             named_classes)
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


def checked(text: str, alike: bool):
    """check_with_hermit on ONTOLOGY + text, with twenty individuals alike beside it or not: with them, HermiT
    reads a summary smaller than the whole first (asserted), which must not hide the problem."""
    text = ONTOLOGY + (ALIKE if alike else "") + text
    if alike:
        assert len(abox_summary(dl_input(quads(text)))) < len(dl_input(quads(text))) - 50
    return check_with_hermit(quads(text))


@pytest.mark.parametrize("alike", [False, True])
def test_a_consistent_ontology_passes(alike):
    status, _ = checked("ex:x ex:p ex:y . ex:y a ex:B .", alike)
    assert status.startswith("passed")


@pytest.mark.parametrize("alike", [False, True])
def test_an_inconsistency_only_the_dl_check_sees_is_caught(alike):
    """x is an A, so everything x points to by p is a B, which is disjoint with C: y a C contradicts it.
    The RL rules as migkg applies them have no allValuesFrom rule: only HermiT sees this."""
    with pytest.raises(InconsistentData, match="inconsistent"):
        checked("ex:x ex:p ex:y . ex:y a ex:C .", alike)


@pytest.mark.parametrize("alike", [False, True])
def test_a_literal_against_an_axiom_is_caught(alike):
    with pytest.raises(InconsistentData, match="inconsistent"):
        checked('ex:count a owl:FunctionalProperty . ex:x ex:count 1 , 2 .', alike)


@pytest.mark.parametrize("alike", [False, True])
@pytest.mark.parametrize("definition", [
    "ex:D a owl:Class ; rdfs:subClassOf ex:B , ex:C .",  # declared, below two disjoint classes
    "ex:E owl:equivalentClass [ a owl:Class ; owl:intersectionOf ( ex:B ex:C ) ] .",  # undeclared, by equivalence
    "ex:F rdfs:subClassOf [ a owl:Restriction ; owl:onProperty ex:p ; owl:someValuesFrom "
    "[ owl:intersectionOf ( ex:B ex:C ) ] ] .",  # only a filler is empty
])
def test_an_unsatisfiable_class_is_caught_and_named(definition, alike):
    name = definition.split()[0].replace("ex:", "https://example.org/")
    with pytest.raises(InconsistentData, match=f"unsatisfiable classes: {name}"):
        checked(definition, alike)


def test_every_class_gets_a_witness():
    classes = named_classes(dl_input(quads(ONTOLOGY + """
        ex:G owl:equivalentClass [ owl:unionOf ( ex:H ex:I ) ] . ex:J a owl:Restriction ; owl:onProperty ex:p ;
        owl:someValuesFrom ex:K . ex:p rdfs:domain ex:L ; rdfs:range ex:M . ex:count rdfs:range xsd:integer .
        ex:code a owl:DatatypeProperty ; rdfs:range ex:CodeType . ex:name a owl:DatatypeProperty ; rdfs:range ex:N .
        ex:N a owl:Class .""")))
    assert {f"https://example.org/{c}" for c in "ABCGHIKLMN"} <= classes
    assert "https://example.org/CodeType" not in classes  # a datatype: no witness
    assert not any(c.startswith(("http://www.w3.org/2001/XMLSchema#", "http://www.w3.org/2002/07/owl#"))
                   for c in classes)


def test_only_annotation_assertions_are_left_out():
    triples = [(q.subject, q.predicate, q.object) for q in dl_input(quads(ONTOLOGY + """
        ex:note a owl:AnnotationProperty . ex:x ex:note "a note" .
        ex:code a owl:AnnotationProperty . ex:y ex:code "Y" . ex:R owl:onProperty ex:code .
        ex:both a owl:AnnotationProperty , owl:DatatypeProperty . ex:y ex:both "Z" .
        ex:x ex:count 3 .""")).values()]
    predicates = {t[1].value.split("/")[-1].split("#")[-1] for t in triples}
    assert "label" not in predicates and "comment" not in predicates and "note" not in predicates
    assert {"code", "both", "count", "allValuesFrom", "onProperty", "disjointWith"} <= predicates
    assert (NamedNode("https://example.org/x"), NamedNode("https://example.org/count"), Literal(3)) in triples
    assert not any(t[1] == NamedNode(RDFS + "label") for t in triples)


# Twenty individuals alike (an A pointing by p to a B), as generated data at scale would be.
ALIKE = "".join(f"ex:a{n} a ex:A ; ex:p ex:b{n} . ex:b{n} a ex:B ; ex:count {n} .\n" for n in range(20))
ROLES = PREFIXES + """
ex:Chair owl:equivalentClass [ a owl:Restriction ; owl:onProperty ex:role ; owl:hasValue ex:chair ] .
ex:Member owl:equivalentClass [ a owl:Restriction ; owl:onProperty ex:role ; owl:hasValue ex:member ] .
ex:role a owl:ObjectProperty .
"""


def summary_of(text: str) -> set:
    return {(t.subject.value, t.predicate.value, getattr(t.object, "value", None)) for t in
            abox_summary(dl_input(quads(text)))}


def test_the_summary_merges_individuals_alike_and_nothing_else():
    summary = summary_of(ONTOLOGY + ALIKE + ROLES + """
        ex:m1 a ex:M ; ex:role ex:chair . ex:m2 a ex:M ; ex:role ex:chair . ex:m3 a ex:M ; ex:role ex:member .
        ex:other a ex:A , ex:C .""")
    subjects = {s for s, p, o in summary}
    ex = "https://example.org/"
    assert {f"{ex}a{n}" for n in range(20)} & subjects == {f"{ex}a0"}  # one A pointing to a B stands for all
    assert {f"{ex}b{n}" for n in range(20)} & subjects == {f"{ex}b0"}
    assert {(f"{ex}b0", f"{ex}count", str(n)) for n in range(20)} <= summary  # every literal value kept
    assert (f"{ex}a0", f"{ex}p", f"{ex}b0") in summary
    assert {f"{ex}m1", f"{ex}m3"} <= subjects and f"{ex}m2" not in subjects  # hasValue values keep roles apart
    assert {f"{ex}x", f"{ex}other", f"{ex}A", f"{ex}B"} <= subjects  # described otherwise; classes are kept
    assert (f"{ex}m3", f"{ex}role", f"{ex}member") in summary  # a hasValue value is never merged


def test_the_summary_of_consistent_data_alike_passes_by_itself():
    """The fast path: HermiT reads the summary only, and it passes (no fallback to the whole)."""
    summary = abox_summary(dl_input(quads(ONTOLOGY + ALIKE)))
    assert len(summary) < len(dl_input(quads(ONTOLOGY + ALIKE))) - 50
    run = _hermit(summary, "-k")
    assert run.returncode == 0 and "owl#Thing is satisfiable" in run.stdout


def test_an_inconsistency_among_individuals_alike_is_caught():
    """The summary is the image of the whole: a clash of one individual among many alike is in it too."""
    with pytest.raises(InconsistentData, match="inconsistent"):
        check_with_hermit(quads(ONTOLOGY + ALIKE + "ex:count a owl:FunctionalProperty . ex:b7 ex:count 70 ."))


def test_a_summary_that_fails_falls_back_to_the_whole():
    """Merging a1 and a2 gives one individual two values of a functional property, one a C and one a D
    (disjoint): the summary is inconsistent, the data are not, and the check passes."""
    text = ONTOLOGY + ALIKE + """
        ex:f a owl:ObjectProperty , owl:FunctionalProperty . ex:D a owl:Class ; owl:disjointWith ex:E .
        ex:a1 ex:f ex:v1 . ex:a2 ex:f ex:v2 . ex:v1 a ex:D . ex:v2 a ex:E ."""
    summary = abox_summary(dl_input(quads(text)))
    assert "https://example.org/a2" not in {t.subject.value for t in summary}
    assert _hermit(summary, "-k").returncode != 0  # the summary alone is inconsistent
    status, _ = check_with_hermit(quads(text))
    assert status.startswith("passed")
