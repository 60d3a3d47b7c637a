"""The OWL 2 RL materialisation: the semi-naive engine infers exactly what the SPARQL rule engine it replaced did.

The reference below is the previous engine (one CONSTRUCT per rule over the union of all graphs, repeated
until no rule adds a statement), kept here as the oracle.
"""

from __future__ import annotations

import pytest
from pyoxigraph import BlankNode, Literal, NamedNode, Quad, RdfFormat, Store, parse

from migkg.config import Settings
from migkg.namespaces import INFERRED_GRAPH, RDF, sparql_prologue
from migkg.reasoning import InconsistentData, materialise
from migkg.reference import country_quads
from migkg.sources import read_inputs
from migkg.validation import provenance_bundles

PROLOGUE = sparql_prologue()

RULES = {
    "cax-sco (subclass)": """
        CONSTRUCT { ?x a ?d } WHERE {
          ?c rdfs:subClassOf ?d . FILTER(isIRI(?d))
          ?x a ?c . FILTER NOT EXISTS { ?x a ?d } }""",
    "cax-eqc (equivalent classes)": """
        CONSTRUCT { ?x a ?d } WHERE {
          { ?c owl:equivalentClass ?d } UNION { ?d owl:equivalentClass ?c }
          FILTER(isIRI(?c) && isIRI(?d))
          ?x a ?c . FILTER NOT EXISTS { ?x a ?d } }""",
    "prp-spo1 (subproperty)": """
        CONSTRUCT { ?x ?q ?y } WHERE {
          ?p rdfs:subPropertyOf ?q . FILTER(isIRI(?q))
          ?x ?p ?y . FILTER NOT EXISTS { ?x ?q ?y } }""",
    "prp-inv (inverse)": """
        CONSTRUCT { ?y ?q ?x } WHERE {
          { ?p owl:inverseOf ?q } UNION { ?q owl:inverseOf ?p }
          ?x ?p ?y . FILTER(!isLiteral(?y)) FILTER NOT EXISTS { ?y ?q ?x } }""",
    "prp-symp (symmetric)": """
        CONSTRUCT { ?y ?p ?x } WHERE {
          ?p a owl:SymmetricProperty . ?x ?p ?y . FILTER NOT EXISTS { ?y ?p ?x } }""",
    "prp-trp (transitive)": """
        CONSTRUCT { ?x ?p ?z } WHERE {
          ?p a owl:TransitiveProperty . ?x ?p ?y . ?y ?p ?z . FILTER NOT EXISTS { ?x ?p ?z } }""",
    "prp-dom (domain)": """
        CONSTRUCT { ?x a ?c } WHERE {
          ?p rdfs:domain ?c . FILTER(isIRI(?c))
          ?x ?p ?y . FILTER NOT EXISTS { ?x a ?c } }""",
    "prp-rng (range)": """
        CONSTRUCT { ?y a ?c } WHERE {
          ?p rdfs:range ?c . FILTER(isIRI(?c) && !STRSTARTS(STR(?c), STR(xsd:)) && ?c != rdfs:Literal)
          ?x ?p ?y . FILTER(!isLiteral(?y)) FILTER NOT EXISTS { ?y a ?c } }""",
    "cls-hv2 (hasValue to class)": """
        CONSTRUCT { ?x a ?c } WHERE {
          ?c owl:equivalentClass ?r . ?r owl:hasValue ?v ; owl:onProperty ?p . FILTER(isIRI(?c))
          ?x ?p ?v . FILTER NOT EXISTS { ?x a ?c } }""",
    "cls-hv1 (class to hasValue)": """
        CONSTRUCT { ?x ?p ?v } WHERE {
          ?c owl:equivalentClass ?r . ?r owl:hasValue ?v ; owl:onProperty ?p . FILTER(isIRI(?c))
          ?x a ?c . FILTER NOT EXISTS { ?x ?p ?v } }""",
    "hasSelf (class to self-link)": """
        CONSTRUCT { ?x ?p ?x } WHERE {
          ?c owl:equivalentClass ?r . ?r owl:hasSelf ?self ; owl:onProperty ?p . FILTER(?self = true)
          ?x a ?c . FILTER NOT EXISTS { ?x ?p ?x } }""",
}


def _reference_chain_rules(store: Store) -> dict[str, str]:
    rules = {}
    for row in store.query(PROLOGUE + "SELECT ?p ?list WHERE { GRAPH ?g { ?p owl:propertyChainAxiom ?list } }"):
        steps = _reference_list(store, row["list"])
        if not steps or not all(isinstance(step, NamedNode) for step in steps):
            continue
        path = "/".join(str(step) for step in steps)
        rules[f"prp-spo2 (chain to {row['p'].value.split('#')[-1]})"] = (
            f"CONSTRUCT {{ ?x {row['p']} ?z }} WHERE {{ ?x {path} ?z . FILTER NOT EXISTS {{ ?x {row['p']} ?z }} }}")
    return rules


def _reference_list(store: Store, head) -> list:
    items = []
    first, rest, nil = NamedNode(RDF + "first"), NamedNode(RDF + "rest"), NamedNode(RDF + "nil")
    node = head
    while node != nil and len(items) < 100:
        firsts = list(store.quads_for_pattern(node, first, None))
        rests = list(store.quads_for_pattern(node, rest, None))
        if not firsts or not rests:
            return []
        items.append(firsts[0].object)
        node = rests[0].object
    return items


def reference_materialise(quads: list[Quad]) -> set[Quad]:
    """The previous engine's inferred graph (its technical self-links included: compared separately)."""
    store = Store()
    store.bulk_extend(quads)
    rules = {name: PROLOGUE + text for name, text in RULES.items()}
    rules.update({name: PROLOGUE + text for name, text in _reference_chain_rules(store).items()})
    while True:
        added = 0
        for rule in rules.values():
            new = [Quad(t.subject, t.predicate, t.object, INFERRED_GRAPH)
                   for t in store.query(rule, use_default_graph_as_union=True)
                   if not isinstance(t.subject, BlankNode) and not isinstance(t.object, BlankNode)]
            if new:
                store.extend(new)
                added += len(new)
        if not added:
            break
    technical = {row["p"] for row in store.query(
        PROLOGUE + "SELECT DISTINCT ?p WHERE { GRAPH ?g { ?r owl:hasSelf ?t ; owl:onProperty ?p } }")}
    return {q for q in store.quads_for_pattern(None, None, None, INFERRED_GRAPH) if q.predicate not in technical}


def seed_quads() -> list[Quad]:
    settings = Settings()
    inputs = read_inputs(settings.ontology_dir, settings.data_dir, settings.shapes_file)
    return inputs.ontology + inputs.data + list(country_quads()) + provenance_bundles(inputs.data)


def test_the_seed_data_infers_exactly_what_the_sparql_rules_inferred():
    quads = seed_quads()
    inferred, report = materialise(quads)
    expected = reference_materialise(quads)
    assert len(inferred) == len(set(inferred)) == report.inferred
    assert set(inferred) == expected
    assert len(expected) > 4000


EDGE_CASES = """
@prefix ex: <https://example.org/> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
<https://example.org/ontology> {
  ex:precedes a owl:TransitiveProperty .
  ex:near a owl:SymmetricProperty .
  ex:A rdfs:subClassOf ex:B . ex:B rdfs:subClassOf ex:C . ex:C owl:equivalentClass ex:D . ex:E owl:equivalentClass ex:A .
  ex:partOf rdfs:subPropertyOf ex:within . ex:within owl:inverseOf ex:contains .
  ex:within rdfs:domain ex:Thing ; rdfs:range ex:Place . ex:note rdfs:range xsd:string .
  ex:Red owl:equivalentClass [ owl:onProperty ex:colour ; owl:hasValue ex:red ] .
  ex:Selfish owl:equivalentClass [ owl:onProperty ex:isSelfish ; owl:hasSelf true ] .
  ex:Fake owl:equivalentClass [ owl:onProperty ex:isFake ; owl:hasSelf "true" ] .
  ex:grandparentOf owl:propertyChainAxiom ( ex:parentOf ex:parentOf ) .
  ex:selfishFriend owl:propertyChainAxiom ( ex:isSelfish ex:near ) .
  ex:blankChain owl:propertyChainAxiom ( ex:parentOf [ owl:inverseOf ex:parentOf ] ) .
}
<https://example.org/data> {
  ex:a1 ex:precedes ex:a2 . ex:a2 ex:precedes ex:a3 . ex:a3 ex:precedes ex:a4 . ex:a4 ex:precedes ex:a1 .
  ex:x ex:near ex:y . ex:x ex:near "a literal" . ex:x ex:near [ ex:colour ex:red ] .
  ex:e a ex:E . ex:d a ex:D .
  ex:room ex:partOf ex:house . ex:text ex:within "somewhere" .
  ex:r ex:colour ex:red . ex:s a ex:Red . ex:t a ex:Selfish . ex:t ex:near ex:u . ex:f a ex:Fake .
  ex:g1 ex:parentOf ex:g2 . ex:g2 ex:parentOf ex:g3 . ex:g3 ex:parentOf _:g4 . _:g4 ex:parentOf ex:g5 .
  ex:blankish ex:within _:somewhere .
  ex:p1 ex:precedes ex:p2 . ex:p2 ex:precedes ex:p3 .
}
"""


def test_edge_cases_infer_exactly_what_the_sparql_rules_inferred():
    """Cycles, chains through blank nodes, literals where a resource is expected, non-boolean hasSelf, both
    directions of equivalence and inverse: the two engines agree statement for statement."""
    quads = list(parse(EDGE_CASES, format=RdfFormat.TRIG))
    inferred, _ = materialise(quads)
    expected = reference_materialise(quads)
    assert set(inferred) == expected
    ex = "https://example.org/"
    assert Quad(NamedNode(ex + "a1"), NamedNode(ex + "precedes"), NamedNode(ex + "a1"), INFERRED_GRAPH) in expected
    assert Quad(NamedNode(ex + "g1"), NamedNode(ex + "grandparentOf"), NamedNode(ex + "g3"), INFERRED_GRAPH) in expected
    assert Quad(NamedNode(ex + "e"), NamedNode(RDF + "type"), NamedNode(ex + "D"), INFERRED_GRAPH) in expected
    assert not any(isinstance(q.object, (BlankNode, Literal)) and q.predicate == NamedNode(RDF + "type")
                   for q in inferred)


def example_graph(statements: str) -> list[Quad]:
    """`statements` (Turtle, with the ex:, owl: and rdfs: prefixes) as quads of one graph."""
    return list(parse(f"""
        @prefix ex: <https://example.org/> .
        @prefix owl: <http://www.w3.org/2002/07/owl#> .
        @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
        <https://example.org/g> {{ {statements} }}""", format=RdfFormat.TRIG))


def test_a_conclusion_that_is_an_axiom_is_applied_too():
    """If the rules conclude an axiom (here: a property becomes transitive by its domain), the new rule applies."""
    quads = example_graph("""
          ex:kind rdfs:range owl:TransitiveProperty . ex:meta ex:kind ex:before .
          ex:a ex:before ex:b . ex:b ex:before ex:c .""")
    inferred, _ = materialise(quads)
    ex = "https://example.org/"
    assert Quad(NamedNode(ex + "a"), NamedNode(ex + "before"), NamedNode(ex + "c"), INFERRED_GRAPH) in inferred
    assert set(inferred) == reference_materialise(quads)


def test_disjoint_classes_are_caught_after_inference():
    quads = seed_quads() + list(parse("""
        @prefix mig: <https://w3id.org/migkg/ontology#> .
        <https://w3id.org/migkg/source/x#s> { <https://w3id.org/migkg/id/colombo-process> a mig:Convention . }""",
                                      format=RdfFormat.TRIG))
    with pytest.raises(InconsistentData, match="declares disjoint"):
        materialise(quads)


def test_disjoint_classes_are_named_with_their_common_member_after_inference():
    """cax-dw over inferred types, from owl:disjointWith and owl:AllDisjointClasses alike."""
    quads = example_graph("""
          ex:A rdfs:subClassOf ex:B . ex:B owl:disjointWith ex:C . [] a owl:AllDisjointClasses ; owl:members ( ex:D ex:E ) .
          ex:x a ex:A , ex:C . ex:y a ex:D . ex:p rdfs:domain ex:E . ex:y ex:p ex:z . ex:w a ex:B , ex:D .""")
    with pytest.raises(InconsistentData) as failure:
        materialise(quads)
    lines = str(failure.value).splitlines()[1:]
    assert [line.strip() for line in lines] == [
        "https://example.org/x is both a https://example.org/B and a https://example.org/C, which the ontology "
        "declares disjoint",
        "https://example.org/y is both a https://example.org/D and a https://example.org/E, which the ontology "
        "declares disjoint"]
