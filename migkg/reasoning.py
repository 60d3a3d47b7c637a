"""OWL 2 reasoning: RL rules to a fixpoint (materialised into the inferred graph) and a HermiT DL check.

The rules are the OWL 2 RL ones the ontology uses (subclass, equivalence, subproperty, inverse,
symmetric, transitive, domain, range, hasValue, hasSelf, property chains); each reads its axioms
from the statements, so a new axiom needs no code. They are applied semi-naively in Python (each round
joins only the statements new in the previous one). HermiT (the jar owlready2 ships, run by Java) then
checks that ontology plus data are consistent and that no class is unsatisfiable.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from collections import defaultdict
from typing import Iterable

from pyoxigraph import BlankNode, Literal, NamedNode, Quad, RdfFormat, Store, Triple, Variable, serialize

from .config import env_number
from .lifetime import end_with_parent
from .namespaces import INFERRED_GRAPH, OWL, RDF, RDFS, XSD, sparql_prologue

LOG = logging.getLogger(__name__)

PROLOGUE = sparql_prologue()

# The OWL 2 RL rules applied (names as in the OWL 2 RL profile, section 4.3), each read generically from the
# axioms in the statements, so a new axiom needs no code:
#   cax-sco  x a c, c rdfs:subClassOf d (d an IRI)                      → x a d
#   cax-eqc  x a c, c owl:equivalentClass d or d owl:equivalentClass c  → x a d   (c and d IRIs)
#   prp-spo1 x p y, p rdfs:subPropertyOf q (q an IRI)                    → x q y
#   prp-inv  x p y, p owl:inverseOf q or q owl:inverseOf p (y no literal) → y q x
#   prp-symp x p y, p a owl:SymmetricProperty                          → y p x
#   prp-trp  x p y, y p z, p a owl:TransitiveProperty                  → x p z
#   prp-dom  x p y, p rdfs:domain c (c an IRI)                          → x a c
#   prp-rng  x p y, p rdfs:range c (c an IRI class, y no literal)        → y a c
#   cls-hv2  x p v, c owl:equivalentClass [owl:hasValue v; owl:onProperty p] (c an IRI) → x a c
#   cls-hv1  x a c, the same axiom                                      → x p v
#   hasSelf  x a c, c owl:equivalentClass [owl:hasSelf true; owl:onProperty p]         → x p x
#   prp-spo2 x p1 y1, y1 p2 y2 … yn-1 pn z, p owl:propertyChainAxiom (p1 … pn)         → x p z
# A conclusion is kept only as a statement about IRIs (no blank node as subject or object, no literal as
# subject); a conclusion already stated in any graph is not repeated in the inferred graph.
# The rules work on terms in their N-Triples form (IRIs in <>, literals in quotes, blank nodes _:…): Python
# strings hash once and compare fast, where pyoxigraph terms hash in Rust at every dictionary lookup.
_TYPE, _SUBCLASS, _SUBPROPERTY = f"<{RDF}type>", f"<{RDFS}subClassOf>", f"<{RDFS}subPropertyOf>"
_DOMAIN, _RANGE, _LITERAL = f"<{RDFS}domain>", f"<{RDFS}range>", f"<{RDFS}Literal>"
_EQUIVALENT, _INVERSE = f"<{OWL}equivalentClass>", f"<{OWL}inverseOf>"
_SYMMETRIC, _TRANSITIVE = f"<{OWL}SymmetricProperty>", f"<{OWL}TransitiveProperty>"
_HAS_VALUE, _HAS_SELF, _ON_PROPERTY = f"<{OWL}hasValue>", f"<{OWL}hasSelf>", f"<{OWL}onProperty>"
_CHAIN, _FIRST, _REST, _NIL = f"<{OWL}propertyChainAxiom>", f"<{RDF}first>", f"<{RDF}rest>", f"<{RDF}nil>"
_TRUE = {str(Literal("true", datatype=NamedNode(XSD + "boolean"))), str(Literal("1", datatype=NamedNode(XSD + "boolean")))}


def _is_iri(term: str) -> bool:
    return term[0] == "<"


def _is_literal(term: str) -> bool:
    return term[0] == '"'


def _is_blank(term: str) -> bool:
    return term[0] == "_"
# The predicates of axioms (rdf:type only with owl:SymmetricProperty / owl:TransitiveProperty as object).
_SCHEMA_PREDICATES = {_TYPE, _SUBCLASS, _SUBPROPERTY, _DOMAIN, _RANGE, _EQUIVALENT, _INVERSE, _HAS_VALUE, _HAS_SELF,
                      _ON_PROPERTY, _CHAIN, _FIRST, _REST}
RULE_NAMES = {
    "cax-sco": "cax-sco (subclass)", "cax-eqc": "cax-eqc (equivalent classes)", "prp-spo1": "prp-spo1 (subproperty)",
    "prp-inv": "prp-inv (inverse)", "prp-symp": "prp-symp (symmetric)", "prp-trp": "prp-trp (transitive)",
    "prp-dom": "prp-dom (domain)", "prp-rng": "prp-rng (range)", "cls-hv2": "cls-hv2 (hasValue to class)",
    "cls-hv1": "cls-hv1 (class to hasValue)", "hasSelf": "hasSelf (class to self-link)",
}

# The RL consistency checks (cax-dw, prp-fp): the pairs of disjoint classes (their common members are found
# in Python), then one small query per functional property: one query joining the axioms with a million
# statements took seconds.
DISJOINT_PAIRS = """
SELECT DISTINCT ?c1 ?c2 WHERE {
  { ?c1 owl:disjointWith ?c2 }
  UNION
  { ?all a owl:AllDisjointClasses ; owl:members ?list .
    ?list rdf:rest*/rdf:first ?c1 . ?list rdf:rest*/rdf:first ?c2 . FILTER(?c1 != ?c2) }
  FILTER(STR(?c1) < STR(?c2))
}
"""
FUNCTIONAL_PROPERTIES = "SELECT DISTINCT ?p WHERE { ?p a owl:FunctionalProperty }"
TWO_VALUES = "SELECT DISTINCT ?x ?p ?y1 ?y2 WHERE { ?x ?p ?y1 , ?y2 . FILTER(STR(?y1) < STR(?y2)) }"
SHOWN_PROBLEMS = 50  # per check, the first by resource (as SPARQL orders them)


class InconsistentData(Exception):
    """Ontology and data contradict each other; the message says which resources and axioms."""


@dataclass
class ReasoningReport:
    inferred: int = 0
    rounds: int = 0
    per_rule: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    dl_check: str = "not run"
    dl_seconds: float = 0.0


class _Axioms:
    """The schema side of every rule, read from the statements (any graph): what each rule joins data with."""

    def __init__(self, triples: Iterable[tuple]):
        by_predicate: dict[str, list[tuple]] = defaultdict(list)
        for s, p, o in triples:
            if p in _SCHEMA_PREDICATES and (p != _TYPE or o in (_SYMMETRIC, _TRANSITIVE)):
                by_predicate[p].append((s, o))
        pairs = lambda p: by_predicate.get(p, ())  # noqa: E731

        self.superclasses = _index((c, d) for c, d in pairs(_SUBCLASS) if _is_iri(d))
        equivalent = [(c, d) for c, d in pairs(_EQUIVALENT) if _is_iri(c) and _is_iri(d)]
        self.equivalents = _index(equivalent + [(d, c) for c, d in equivalent])
        self.superproperties = _index((p, q) for p, q in pairs(_SUBPROPERTY) if _is_iri(q))
        inverse = list(pairs(_INVERSE))
        self.inverses = _index(inverse + [(q, p) for p, q in inverse])
        self.symmetric = {s for s, o in pairs(_TYPE) if o == _SYMMETRIC}
        self.transitive = {s for s, o in pairs(_TYPE) if o == _TRANSITIVE}
        self.domains = _index((p, c) for p, c in pairs(_DOMAIN) if _is_iri(c))
        self.ranges = _index((p, c) for p, c in pairs(_RANGE) if _is_iri(c)
                             and not c.startswith("<" + XSD) and c != _LITERAL)
        has_value, on_property, has_self = _index(pairs(_HAS_VALUE)), _index(pairs(_ON_PROPERTY)), _index(pairs(_HAS_SELF))
        self.values_of_class: dict = defaultdict(set)  # cls-hv1: c → {(p, v)}
        self.classes_of_value: dict = defaultdict(set)  # cls-hv2: (p, v) → {c}
        self.self_links: dict = defaultdict(set)  # hasSelf: c → {p}
        for c, r in pairs(_EQUIVALENT):
            for p in on_property.get(r, ()):
                if _is_iri(c):
                    for v in has_value.get(r, ()):
                        self.values_of_class[c].add((p, v))
                        self.classes_of_value[(p, v)].add(c)
                if any(t in _TRUE for t in has_self.get(r, ())):  # SPARQL `?t = true`
                    self.self_links[c].add(p)
        # The properties whose statements hasSelf rolifies: technical, kept out of the published graph.
        self.technical = set(_on_property_of(has_self, on_property))
        first, rest = _index(pairs(_FIRST)), _index(pairs(_REST))
        self.chains: list[tuple[str, list[str]]] = []
        for p, head in pairs(_CHAIN):
            steps = _rdf_list(head, first, rest)
            if _is_iri(p) and steps and all(_is_iri(step) for step in steps):
                self.chains.append((p, steps))
        self.values_by_property: dict = defaultdict(dict)  # cls-hv2 by property: p → {v → {c}}
        for (p, v), classes in self.classes_of_value.items():
            self.values_by_property[p][v] = classes
        # prp-spo2 by the step a new statement matches: p → (chain, rule name, steps before reversed, steps after)
        self.chain_positions: dict = defaultdict(list)
        for chain, steps in self.chains:
            name = f"prp-spo2 (chain to {chain[1:-1].split('#')[-1]})"
            for position, step in enumerate(steps):
                self.chain_positions[step].append((chain, name, steps[:position][::-1], steps[position + 1:]))
        # Statements whose predicate a join rule reads from both ends are indexed by subject and by object.
        self.joined = set(self.transitive) | {step for _, steps in self.chains for step in steps}
        self.signature = frozenset((p, frozenset(pairs)) for p, pairs in by_predicate.items())


def _on_property_of(has_self: dict, on_property: dict):
    """The properties of the hasSelf restrictions."""
    for r in has_self:
        yield from on_property.get(r, ())


def _index(pairs: Iterable[tuple]) -> dict:
    index: dict = defaultdict(set)
    for key, value in pairs:
        index[key].add(value)
    return index


def _rdf_list(head, first: dict, rest: dict) -> list:
    """The members of a well-formed RDF list (at most 100), or [] when it is not one."""
    items, node = [], head
    while str(node) != _NIL and len(items) < 100:
        if not first.get(node) or not rest.get(node):
            return []
        items.append(min(first[node], key=str))
        node = min(rest[node], key=str)
    return items


def materialise(quads: list[Quad], store: Store | None = None) -> tuple[list[Quad], ReasoningReport]:
    """Apply the RL rules to a fixpoint; return the new statements (in the inferred graph) and a report.

    Semi-naive evaluation: each round applies the rules only to the statements that are new since the
    previous round (joined with all statements known so far), so no conclusion is derived twice from the
    same premises. The RL consistency checks then run in an Oxigraph store holding `quads` plus the
    inferences: `store` if given (it must already hold `quads`; the published inferred statements are
    added to it, the technical self-links only for the checks).
    """
    started = time.perf_counter()
    report = ReasoningReport()
    # N-Triples form → pyoxigraph term, to give the conclusions back as quads (rdf:type may be concluded first)
    terms: dict[str, object] = {_TYPE: NamedNode(RDF + "type")}
    known: set[tuple] = set()
    for quad in quads:
        s, p, o = quad.subject, quad.predicate, quad.object
        key = (str(s), str(p), str(o))
        terms[key[0]], terms[key[1]], terms[key[2]] = s, p, o
        known.add(key)
    inferred: list[tuple] = []
    axioms = _Axioms(known)
    delta: list[tuple] = list(known)
    checked = 0  # the inferred statements looked at for new axioms
    while True:
        by_subject, by_object = _join_indexes(known, axioms.joined)
        while delta:
            report.rounds += 1
            delta = _round(delta, axioms, known, by_subject, by_object, inferred, report.per_rule)
        # A conclusion that is itself an axiom (absurd in practice: a property whose range is
        # owl:TransitiveProperty, …) changes the rules: apply the new rules to everything again.
        if not any(p in _SCHEMA_PREDICATES and (p != _TYPE or o in (_SYMMETRIC, _TRANSITIVE))
                   for _, p, o in inferred[checked:]):
            break
        checked = len(inferred)
        changed = _Axioms(known)
        if changed.signature == axioms.signature:
            break
        axioms, delta = changed, list(known)
    technical = axioms.technical
    inferred_quads = [Quad(terms[s], terms[p], terms[o], INFERRED_GRAPH) for s, p, o in inferred]
    if store is None:
        store = Store()
        store.bulk_extend(quads)
    store.bulk_extend(inferred_quads)
    _check_rl_consistency(store, known, terms)
    published = []
    for quad, (_, p, _) in zip(inferred_quads, inferred):
        if p in technical:
            store.remove(quad)  # the store then holds what the build publishes, as SHACL must see it
        else:
            published.append(quad)
    report.inferred = len(published)
    report.seconds = time.perf_counter() - started
    return published, report


def _join_indexes(known: set[tuple], joined: set) -> tuple[dict, dict]:
    by_subject: dict = defaultdict(lambda: defaultdict(set))
    by_object: dict = defaultdict(lambda: defaultdict(set))
    if joined:
        for s, p, o in known:
            if p in joined:
                by_subject[p][s].add(o)
                by_object[p][o].add(s)
    return by_subject, by_object


def _round(delta: list[tuple], axioms: _Axioms, known: set[tuple], by_subject: dict, by_object: dict,
           inferred: list[tuple], per_rule: dict[str, int]) -> list[tuple]:
    """One semi-naive round: every conclusion with at least one premise in `delta`; returns the new ones.

    The new statements are taken predicate by predicate, so that each rule is looked up once per predicate
    (most predicates, rdfs:label first, take part in no rule); each rule's conclusions for one predicate are
    gathered first and then kept, new ones only, with set operations (a Python call per conclusion cost more
    than the joins). A conclusion kept is in the join indexes at once, and in the next round's delta."""
    new: list[tuple] = []
    joined = axioms.joined

    def keep(rule: str, conclusions, predicate: str | None = None) -> None:
        """`predicate`: that of every conclusion, if they share one."""
        # RL conclusions about blank nodes or literal subjects are not kept (as before)
        fresh = {t for t in conclusions if t[0][0] == "<" and t[1][0] == "<" and t[2][0] != "_"}
        fresh -= known
        if not fresh:
            return
        known.update(fresh)
        new.extend(fresh)
        per_rule[rule] = per_rule.get(rule, 0) + len(fresh)
        if joined and (predicate is None or predicate in joined):
            for s, p, o in fresh:
                if p in joined:
                    by_subject[p][s].add(o)
                    by_object[p][o].add(s)

    names = RULE_NAMES
    pairs_by_predicate: dict[str, list[tuple]] = defaultdict(list)
    for s, p, o in delta:
        pairs_by_predicate[p].append((s, o))
    for p, pairs in pairs_by_predicate.items():
        if p == _TYPE:
            superclasses, equivalents = axioms.superclasses, axioms.equivalents
            keep(names["cax-sco"], [(s, _TYPE, d) for s, c in pairs for d in superclasses.get(c, ())], _TYPE)
            keep(names["cax-eqc"], [(s, _TYPE, d) for s, c in pairs for d in equivalents.get(c, ())], _TYPE)
            values_of_class, self_links = axioms.values_of_class, axioms.self_links
            keep(names["cls-hv1"], [(s, q, v) for s, c in pairs for q, v in values_of_class.get(c, ())])
            keep(names["hasSelf"], [(s, q, s) for s, c in pairs for q in self_links.get(c, ())])
        for q in axioms.superproperties.get(p, ()):
            keep(names["prp-spo1"], [(s, q, o) for s, o in pairs], q)
        for q in axioms.inverses.get(p, ()):
            if _is_iri(q):
                keep(names["prp-inv"], [(o, q, s) for s, o in pairs], q)  # a literal o is no subject: dropped
        for c in axioms.ranges.get(p, ()):
            keep(names["prp-rng"], [(o, _TYPE, c) for s, o in pairs], _TYPE)
        if p in axioms.symmetric:
            keep(names["prp-symp"], [(o, p, s) for s, o in pairs], p)
        for c in axioms.domains.get(p, ()):
            keep(names["prp-dom"], [(s, _TYPE, c) for s, o in pairs], _TYPE)
        values = axioms.values_by_property.get(p)
        if values:
            keep(names["cls-hv2"], [(s, _TYPE, c) for s, o in pairs for c in values.get(o, ())], _TYPE)
        if p in axioms.transitive:
            after, before = by_subject[p], by_object[p]
            keep(names["prp-trp"], [(s, p, z) for s, o in pairs for z in after.get(o, ())] +
                 [(w, p, o) for s, o in pairs for w in before.get(s, ())], p)
        for chain, name, before, after in axioms.chain_positions.get(p, ()):
            # Only the pairs with a neighbour along the next step each way start walks (most have none: a
            # membership's member is a step of twelve chains, one per role, and the membership has one role).
            live = pairs
            if before:
                neighbours = by_object[before[0]]
                live = [(s, o) for s, o in live if s in neighbours]
            if after and live:
                neighbours = by_subject[after[0]]
                live = [(s, o) for s, o in live if o in neighbours]
            if live:
                keep(name, [(start, chain, end) for s, o in live
                            for start in _walk(s, before, by_object) for end in _walk(o, after, by_subject)], chain)
    inferred += new
    return new


def _walk(node: str, steps, index: dict):
    """The nodes reached from `node` along `steps` (through `index`: by subject forwards, by object backwards).
    The result may be one of the index's own sets: read it before the index changes."""
    if not steps:
        return (node,)
    nodes = index[steps[0]].get(node, ())
    for step in steps[1:]:
        if not nodes:
            break
        by_node = index[step]
        nodes = {reached for node in nodes for reached in by_node.get(node, ())}
    return nodes


def _check_rl_consistency(store: Store, known: set[tuple], terms: dict) -> None:
    """Disjoint classes and functional properties, checked without Java (OWL 2 RL cax-dw, prp-fp).

    `store` and `known` (the same statements in N-Triples form; `terms` gives their terms back) hold the
    statements and all inferences: the disjoint pairs are read from the store, their common members from
    `known` (one pass over the types in Python, where a query per pair took seconds at 1 M statements)."""
    union = {"use_default_graph_as_union": True}
    pairs = [(str(pair["c1"]), str(pair["c2"])) for pair in store.query(PROLOGUE + DISJOINT_PAIRS, **union)]
    members: dict = {c: set() for pair in pairs for c in pair}
    for s, p, o in known:
        if p == _TYPE and o in members:
            members[o].add(s)
    disjoint = [{"x": terms[x], "c1": terms[c1], "c2": terms[c2]}
                for c1, c2 in pairs for x in members[c1] & members[c2]]
    functional = [row for prop in store.query(PROLOGUE + FUNCTIONAL_PROPERTIES, **union)
                  for row in store.query(TWO_VALUES, substitutions={Variable("p"): prop["p"]}, **union)]
    problems = [
        f"{row['x'].value} is both a {row['c1'].value} and a {row['c2'].value}, which the ontology declares disjoint"
        for row in _first_by_resource(disjoint, "c1", "c2")
    ] + [
        f"{row['x'].value} has two values for the functional property {row['p'].value}: "
        f"{row['y1'].value} and {row['y2'].value}"
        for row in _first_by_resource(functional, "p", "y1", "y2")
    ]
    if problems:
        raise InconsistentData("the data contradicts the ontology:\n  " + "\n  ".join(problems))


def _first_by_resource(rows: list, *others: str) -> list:
    """ORDER BY ?x LIMIT 50, as SPARQL orders resources (blank nodes before IRIs, IRIs by code point)."""
    def order(row):
        return (not isinstance(row["x"], BlankNode), row["x"].value, *(str(row[name]) for name in others))
    return sorted(rows, key=order)[:SHOWN_PROBLEMS]


def java_available() -> bool:
    return shutil.which("java") is not None


def check_with_hermit(quads: list[Quad], passed_dir: Path | None = None, inputs_key: str = "") -> tuple[str, float]:
    """Run HermiT over ontology + asserted data. Returns (status, seconds); raises InconsistentData.

    Without Java the check is skipped and the status says so plainly. With `passed_dir` and an
    `inputs_key` (a hash of the input files: the statements' blank-node labels differ per parse), a pass
    is recorded under that key with the reasoner's version, the way it is asked and the statement count,
    and the same inputs are not checked again (a failure is never recorded).
    """
    if not java_available():
        return "skipped: no Java runtime found, so the OWL 2 DL consistency check (HermiT) did not run", 0.0
    started = time.perf_counter()
    record = None
    if passed_dir is not None and inputs_key:
        checked = (f"{inputs_key} owlready2 {importlib.metadata.version('owlready2')} {HERMIT_ACTIONS} "
                   f"{len(quads)}")
        digest = hashlib.sha256(checked.encode()).hexdigest()
        record = passed_dir / f"{digest}.passed"
        if record.is_file():
            return (f"passed (HermiT: consistent, no unsatisfiable class; the same {len(quads)} statements passed "
                    "before)", time.perf_counter() - started)
    status = _run_hermit(quads)
    if record is not None and status.startswith("passed"):
        try:
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text(status + "\n", encoding="utf-8")
        except OSError as error:  # an unwritable cache only means the check runs again next time
            LOG.warning("could not remember the passed DL check in %s: %s", passed_dir, error.strerror)
    return status, time.perf_counter() - started


# How HermiT is asked (and a key of the pass cache). Consistency with one fresh witness individual per
# named class: a model of ontology + data in which every class has a member proves at once that the
# ontology is consistent and that no class is unsatisfiable. Only when that fails does HermiT classify
# (-U, the classes equivalent to owl:Nothing) to say which of the two it is; owlready2's sync_reasoner
# classified classes and properties and realised every individual (-c -O -D -I) each time, which the
# check never read.
HERMIT_ACTIONS = "witnesses -k (an ABox summary first); on failure -k -U; --ignoreUnsupportedDatatypes"
# HermiT's input is prepared on the terms' N-Triples forms, like the rules (Python strings hash and compare
# several times faster than pyoxigraph terms); the terms themselves are kept to write it with pyoxigraph.
_ANNOTATION_PROPERTY = f"<{OWL}AnnotationProperty>"
# Annotation properties built into OWL 2 (section 5.5 of the structural specification).
_BUILT_IN_ANNOTATIONS = {f"<{RDFS}{n}>" for n in ("label", "comment", "seeAlso", "isDefinedBy")} | {
    f"<{OWL}{n}>" for n in ("versionInfo", "deprecated", "priorVersion", "backwardCompatibleWith", "incompatibleWith")}
_OTHER_PROPERTY_TYPES = {f"<{OWL}{n}>" for n in ("ObjectProperty", "DatatypeProperty", "FunctionalProperty",
                                                 "InverseFunctionalProperty", "TransitiveProperty",
                                                 "SymmetricProperty", "AsymmetricProperty", "ReflexiveProperty",
                                                 "IrreflexiveProperty")} | {f"<{RDF}Property>"}
_RDF_TYPE = NamedNode(RDF + "type")

DLInput = dict  # (subject, predicate, object) in N-Triples form → a Quad holding those terms


def dl_input(quads: Iterable[Quad]) -> DLInput:
    """The statements HermiT needs: all of them but annotation assertions, once each whatever the graph.

    Why this is sound: in OWL 2 DL (the Direct Semantics) annotations have no meaning, so removing an
    annotation assertion changes neither consistency nor the satisfiability of any class. A statement is
    taken for an annotation assertion only when its predicate is an annotation property for certain: built
    into OWL 2 or declared owl:AnnotationProperty, never typed as any other kind of property, and never the
    subject or object of a statement besides its own declaration and annotations (no rdfs:subPropertyOf,
    domain, range, restriction, chain, inverse, key, …), so it can only be read as an annotation
    property. Everything else is kept, including every literal value of a data property.
    tests/test_build_dl.py shows the check still catches an
    inconsistent ABox and an unsatisfiable class, and that the reduction keeps a property used both ways.
    """
    triples = {(str(q.subject), str(q.predicate), str(q.object)): q for q in quads}
    declared = {s for s, p, o in triples if p == _TYPE and o == _ANNOTATION_PROPERTY}
    candidates = (declared | _BUILT_IN_ANNOTATIONS)
    other_use = {s for s, p, o in triples if s in candidates and not (
        (p == _TYPE and o == _ANNOTATION_PROPERTY) or p in candidates)}
    other_use |= {s for s, p, o in triples if p == _TYPE and o in _OTHER_PROPERTY_TYPES and s in candidates}
    other_use |= {o for s, p, o in triples if o in candidates}
    annotations = candidates - other_use
    return {t: q for t, q in triples.items() if t[1] not in annotations or t[2] == _ANNOTATION_PROPERTY}


def abox_summary(triples: DLInput) -> list[Triple]:
    """The triples with the individuals of like description merged into one: what HermiT checks first.

    Which individuals are merged: an IRI that occurs only as the subject of `rdf:type C` (C a class,
    owl:Thing or owl:NamedIndividual) and as the subject or object of statements whose predicate is no RDF,
    RDFS or OWL term: an individual that only class and property assertions mention. Every other term keeps
    its name: classes, properties, blank nodes, literals, and any individual the axioms name (an
    owl:hasValue or owl:oneOf member, an owl:sameAs or owl:differentFrom end, …). Individuals are merged
    when they have the same asserted classes, the same predicates out and in, and the same values for the
    properties that owl:hasValue restrictions read (so that the classes those restrictions define stay
    apart); each group is named by its first member.

    Why a pass of the summary is a pass of the whole: the summary is the image of the triples under the
    merge f, which changes only individuals of class and property assertions. Take any model I' of the
    summary (with the witnesses, which are never merged) and let I be I' with each individual a
    interpreted as f(a) is in I'. Every axiom that names no merged individual reads the same in I; each
    class assertion C(a) holds because C(f(a)) does, each property assertion p(a, b) because p(f(a), f(b))
    does (literals are never merged); keys hold because I names a subset of what I' names. So I is a
    model of the whole: consistent, with every class (through its witness) non-empty. The converse does
    not hold (merging can add a clash: two values of a functional property, disjoint classes, a new
    self-link), so a summary that fails proves nothing and the whole input is checked as before.
    """
    restricted = {s for s, p, o in triples if p == _HAS_VALUE}
    value_properties = {o for s, p, o in triples if p == _ON_PROPERTY and s in restricted}
    fixed: set = set()
    classes: dict = defaultdict(set)
    out: dict = defaultdict(set)
    incoming: dict = defaultdict(set)
    for s, p, o in triples:
        if p == _TYPE:
            fixed.add(o)
            if _is_iri(o) and o[1:].startswith(_VOCABULARY) and o not in _INDIVIDUAL_TYPES:
                fixed.add(s)  # a class, property, restriction, list, ontology, … declared as such
            else:
                classes[s].add(o)
        elif p[1:].startswith(_VOCABULARY):
            fixed.add(s)
            fixed.add(o)
        else:
            fixed.add(p)
            out[s].add((p, o) if p in value_properties else p)
            incoming[o].add(p)
    groups: dict = defaultdict(list)
    for term in classes.keys() | out.keys() | incoming.keys():
        if _is_iri(term) and term not in fixed:
            groups[(frozenset(classes.get(term, ())), frozenset(out.get(term, ())),
                    frozenset(incoming.get(term, ())))].append(term)
    image: dict = {}
    for members in groups.values():
        if len(members) > 1:
            first = min(members)
            named = NamedNode(first[1:-1])  # an IRI's N-Triples form is the IRI in <>, never escaped
            for member in members:
                image[member] = (first, named)
    summary: dict = {}
    for (s, p, o), quad in triples.items():
        merged_s, merged_o = image.get(s), image.get(o)
        if merged_s is None and merged_o is None:
            summary.setdefault((s, p, o), Triple(quad.subject, quad.predicate, quad.object))
            continue
        key = (merged_s[0] if merged_s else s, p, merged_o[0] if merged_o else o)
        if key not in summary:
            summary[key] = Triple(merged_s[1] if merged_s else quad.subject, quad.predicate,
                                  merged_o[1] if merged_o else quad.object)
    return list(summary.values())


def _hermit_classpath() -> str:
    """HermiT as owlready2 ships it (found without importing owlready2, which is slow to import)."""
    spec = importlib.util.find_spec("owlready2")
    hermit = Path(spec.origin).parent / "hermit"
    return os.pathsep.join([str(hermit), str(hermit / "HermiT.jar")])


def _run_hermit(quads: list[Quad]) -> str:
    triples = dl_input(quads)
    witnesses = [Triple(NamedNode(f"urn:migkg:dl-check:witness:{number}"), _RDF_TYPE, NamedNode(cls))
                 for number, cls in enumerate(sorted(named_classes(triples)))]
    # First the summary (see abox_summary): if it passes, so does the whole; if not, the whole is checked.
    summary = abox_summary(triples)
    if len(summary) < len(triples):
        run = _hermit(summary + witnesses, "-k")
        if run.returncode == 0 and "owl#Thing is satisfiable" in run.stdout:
            return "passed (HermiT: consistent, no unsatisfiable class)"
    whole = [Triple(q.subject, q.predicate, q.object) for q in triples.values()]
    run = _hermit(whole + witnesses, "-k")
    if run.returncode == 0 and "owl#Thing is satisfiable" in run.stdout:
        return "passed (HermiT: consistent, no unsatisfiable class)"
    run = _hermit(whole, "-k", "-U")  # which is it: an inconsistent ABox, or an unsatisfiable class?
    if run.returncode != 0:
        if "InconsistentOntologyException" in run.stderr or "Inconsistent ontology" in run.stderr:
            raise InconsistentData(
                "HermiT found the ontology and data inconsistent (an individual in disjoint classes, "
                "or a value against a restriction); run `migkg validate` for the RL checks that name it")
        last = (run.stderr.strip() or run.stdout.strip() or f"exit status {run.returncode}").splitlines()[-1]
        return f"failed to run: {last[:300]}"
    if "owl#Thing is satisfiable" not in run.stdout:
        raise InconsistentData("HermiT found the ontology and data inconsistent (owl:Thing is unsatisfiable)")
    unsatisfiable = _unsatisfiable_classes(run.stdout)
    if unsatisfiable:
        raise InconsistentData("HermiT found unsatisfiable classes: " + ", ".join(sorted(unsatisfiable)))
    # Every class is satisfiable, but not all at once beside distinct witnesses (nominals can force two
    # witnesses to be one individual): still a pass.
    return "passed (HermiT: consistent, no unsatisfiable class)"


def hermit_heap_mb() -> int:
    """HermiT's Java heap in MB, MIGKG_HERMIT_MEMORY_MB (SettingError with a plain message if unusable)."""
    return env_number("MIGKG_HERMIT_MEMORY_MB", 2000, 64)


def _hermit(triples: list[Triple], *actions: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="migkg-hermit-") as tmp:
        path = Path(tmp) / "graph.nt"
        with open(path, "wb") as output:
            serialize(triples, output, format=RdfFormat.N_TRIPLES)
        heap = hermit_heap_mb()
        command = ["java", f"-Xmx{heap}M", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", _hermit_classpath(),
                   "org.semanticweb.HermiT.cli.CommandLine", *actions, "--ignoreUnsupportedDatatypes", path.as_uri()]
        # The JVM ends with the process that waits for it (see migkg.lifetime): a killed build leaves none behind.
        return subprocess.run(command, capture_output=True, text=True,
                              preexec_fn=functools.partial(end_with_parent, os.getpid()))


# Where an IRI stands for a class in the RDF mapping of OWL 2 (objects of these, subjects too for the first).
_CLASS_BOTH_ENDS = {f"<{RDFS}subClassOf>", f"<{OWL}equivalentClass>", f"<{OWL}disjointWith>"}
_CLASS_OBJECT = {_TYPE, f"<{OWL}complementOf>", f"<{OWL}someValuesFrom>", f"<{OWL}allValuesFrom>",
                 f"<{OWL}onClass>", f"<{RDFS}domain>", f"<{RDFS}range>"}
_CLASS_SUBJECT = {f"<{OWL}hasKey>", f"<{OWL}disjointUnionOf>"}
_CLASS_LISTS = {f"<{OWL}{n}>" for n in ("unionOf", "intersectionOf", "disjointUnionOf", "members")}
_VOCABULARY = (RDF, RDFS, OWL, XSD)
# Objects of rdf:type that leave the subject a plain individual (a declaration, a class assertion).
_INDIVIDUAL_TYPES = {f"<{OWL}NamedIndividual>", f"<{OWL}Thing>"}


def named_classes(triples: Iterable[tuple[str, str, str]]) -> set[str]:
    """Every IRI the triples (in N-Triples form) use as a class, as IRIs (generously: a non-class among them
    only gets a witness it can always have), except the built-in vocabulary and declared datatypes."""
    triples = list(triples)
    datatypes = {s for s, p, o in triples if p == _TYPE and o == f"<{RDFS}Datatype>"}
    # The range or filler of a data property is a datatype (a witness would pun it into a class and could
    # change how the OWL API reads the axioms about it), unless a class-only position names it as well.
    data_properties = {s for s, p, o in triples if p == _TYPE and o == f"<{OWL}DatatypeProperty>"}
    on_data_property = {s for s, p, o in triples if p == _ON_PROPERTY and o in data_properties}
    fillers = (f"<{OWL}someValuesFrom>", f"<{OWL}allValuesFrom>")
    data_ranges = {o for s, p, o in triples if (p == _RANGE and s in data_properties) or (
        p in fillers and s in on_data_property)}
    class_only = {t for s, p, o in triples if p in _CLASS_BOTH_ENDS for t in (s, o)} | {
        s for s, p, o in triples if p == _TYPE and o == f"<{OWL}Class>"}
    first = _index((s, o) for s, p, o in triples if p == _FIRST)
    rest = _index((s, o) for s, p, o in triples if p == _REST)
    found = set()
    for s, p, o in triples:
        if p in _CLASS_BOTH_ENDS:
            found |= {s, o}
        elif p in _CLASS_OBJECT:
            found.add(o)
        elif p in _CLASS_SUBJECT:
            found.add(s)
        if p in _CLASS_LISTS:
            found |= set(_rdf_list(o, first, rest))
    found -= datatypes | (data_ranges - class_only)
    return {c[1:-1] for c in found if _is_iri(c) and not c[1:].startswith(_VOCABULARY)}


def _unsatisfiable_classes(output: str) -> list[str]:
    """The classes HermiT lists as equivalent to owl:Nothing (the input has no prefixes: full IRIs in <>)."""
    lines = output.split("Classes equivalent to 'owl:Nothing':", 1)
    if len(lines) < 2:
        raise InconsistentData("HermiT did not list the unsatisfiable classes: " + output.strip()[-300:])
    classes = []
    for line in lines[1].lstrip("\r\n").splitlines():
        if not line.startswith("\t"):
            break
        name = line.strip()
        if name not in ("owl:Nothing", f"<{OWL}Nothing>"):
            classes.append(name[1:-1] if name.startswith("<") else name)
    return classes
