"""OWL 2 reasoning: RL rules to a fixpoint (materialised into the inferred graph) and a HermiT DL check.

The rules are the OWL 2 RL ones the ontology uses (subclass, equivalence, subproperty, inverse,
symmetric, transitive, domain, range, hasValue, hasSelf, property chains); each reads its axioms
from the ontology graph, so a new axiom needs no code. HermiT (owlready2, Java) then checks that
ontology plus data are consistent and that no class is unsatisfiable.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from pyoxigraph import BlankNode, DefaultGraph, NamedNode, Quad, RdfFormat, Store

from .namespaces import INFERRED_GRAPH, RDF, sparql_prologue

LOG = logging.getLogger(__name__)

PROLOGUE = sparql_prologue()

# Generic RL rules over the union of all graphs. Each is a CONSTRUCT of what is not yet known.
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

DISJOINT_CHECK = """
SELECT DISTINCT ?x ?c1 ?c2 WHERE {
  { ?c1 owl:disjointWith ?c2 }
  UNION
  { ?all a owl:AllDisjointClasses ; owl:members ?list .
    ?list rdf:rest*/rdf:first ?c1 . ?list rdf:rest*/rdf:first ?c2 . FILTER(?c1 != ?c2) }
  ?x a ?c1 , ?c2 .
  FILTER(STR(?c1) < STR(?c2))
} ORDER BY ?x LIMIT 50
"""

FUNCTIONAL_CHECK = """
SELECT DISTINCT ?x ?p ?y1 ?y2 WHERE {
  ?p a owl:FunctionalProperty . ?x ?p ?y1 , ?y2 . FILTER(STR(?y1) < STR(?y2))
} ORDER BY ?x LIMIT 50
"""


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


def _chain_rules(store: Store) -> dict[str, str]:
    """One CONSTRUCT per owl:propertyChainAxiom, as a SPARQL sequence path (prp-spo2)."""
    rules = {}
    chains = store.query(
        PROLOGUE + "SELECT ?p ?list WHERE { GRAPH ?g { ?p owl:propertyChainAxiom ?list } }",
    )
    for row in chains:
        steps = _rdf_list(store, row["list"])
        if not steps or not all(isinstance(step, NamedNode) for step in steps):
            continue
        path = "/".join(str(step) for step in steps)  # NamedNode str() is the escaped <iri> form
        rules[f"prp-spo2 (chain to {row['p'].value.split('#')[-1]})"] = (
            f"CONSTRUCT {{ ?x {row['p']} ?z }} WHERE {{ ?x {path} ?z . FILTER NOT EXISTS {{ ?x {row['p']} ?z }} }}"
        )
    return rules


def _rdf_list(store: Store, head) -> list:
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


def _self_link_properties(store: Store) -> set[NamedNode]:
    """Properties used only to rolify memberships (hasSelf); their x p x links are kept out of the output."""
    rows = store.query(PROLOGUE + "SELECT DISTINCT ?p WHERE { GRAPH ?g { ?r owl:hasSelf ?t ; owl:onProperty ?p } }")
    return {row["p"] for row in rows}


def materialise(quads: list[Quad]) -> tuple[list[Quad], ReasoningReport]:
    """Apply the RL rules to a fixpoint; return the new statements (in the inferred graph) and a report."""
    started = time.perf_counter()
    report = ReasoningReport()
    store = Store()
    store.bulk_extend(quads)
    rules = {name: PROLOGUE + text for name, text in RULES.items()}
    rules.update({name: PROLOGUE + text for name, text in _chain_rules(store).items()})
    technical = _self_link_properties(store)
    while True:
        report.rounds += 1
        added = 0
        for name, rule in rules.items():
            new = [
                Quad(t.subject, t.predicate, t.object, INFERRED_GRAPH)
                for t in store.query(rule, use_default_graph_as_union=True)
                if not isinstance(t.subject, BlankNode) and not isinstance(t.object, BlankNode)
            ]
            if new:
                store.extend(new)
                added += len(new)
                report.per_rule[name] = report.per_rule.get(name, 0) + len(new)
        if not added or report.rounds > 50:
            break
    _check_rl_consistency(store)
    inferred = [
        q for q in store.quads_for_pattern(None, None, None, INFERRED_GRAPH) if q.predicate not in technical
    ]
    report.inferred = len(inferred)
    report.seconds = time.perf_counter() - started
    return inferred, report


def _check_rl_consistency(store: Store) -> None:
    """Disjoint classes and functional properties, checked without Java (OWL 2 RL cax-dw, prp-fp)."""
    problems = []
    for row in store.query(PROLOGUE + DISJOINT_CHECK, use_default_graph_as_union=True):
        problems.append(
            f"{row['x'].value} is both a {row['c1'].value} and a {row['c2'].value}, which the ontology declares disjoint"
        )
    for row in store.query(PROLOGUE + FUNCTIONAL_CHECK, use_default_graph_as_union=True):
        problems.append(
            f"{row['x'].value} has two values for the functional property {row['p'].value}: "
            f"{row['y1'].value} and {row['y2'].value}"
        )
    if problems:
        raise InconsistentData("the data contradicts the ontology:\n  " + "\n  ".join(problems))


def java_available() -> bool:
    return shutil.which("java") is not None


def check_with_hermit(quads: list[Quad], passed_dir: Path | None = None, inputs_key: str = "") -> tuple[str, float]:
    """Run HermiT over ontology + asserted data. Returns (status, seconds); raises InconsistentData.

    Without Java the check is skipped and the status says so plainly. With `passed_dir` and an
    `inputs_key` (a hash of the input files: the statements' blank-node labels differ per parse), a pass
    is recorded under that key with the reasoner's version and the statement count, and the same inputs
    are not checked again (a failure is never recorded).
    """
    if not java_available():
        return "skipped: no Java runtime found, so the OWL 2 DL consistency check (HermiT) did not run", 0.0
    started = time.perf_counter()
    record = None
    if passed_dir is not None and inputs_key:
        checked = f"{inputs_key} owlready2 {importlib.metadata.version('owlready2')} {len(quads)}"
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


def _run_hermit(quads: list[Quad]) -> str:
    import owlready2  # imported here: it is slow to import and only the build needs it

    store = Store()
    store.extend(Quad(q.subject, q.predicate, q.object) for q in quads)
    with tempfile.TemporaryDirectory(prefix="migkg-hermit-") as tmp:
        path = Path(tmp) / "graph.nt"
        store.dump(output=str(path), format=RdfFormat.N_TRIPLES, from_graph=DefaultGraph())
        world = owlready2.World()
        try:
            ontology = world.get_ontology(path.as_uri()).load()
            owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0,
                                           ignore_unsupported_datatypes=True)
        except owlready2.OwlReadyInconsistentOntologyError:
            raise InconsistentData(
                "HermiT found the ontology and data inconsistent (an individual in disjoint classes, "
                "or a value against a restriction); run `migkg validate` for the RL checks that name it"
            ) from None
        except owlready2.OwlReadyJavaError as error:
            return f"failed to run: {str(error).strip().splitlines()[-1][:300]}"
        unsatisfiable = [c.iri for c in world.inconsistent_classes()]
        world.close()
        del ontology
    if unsatisfiable:
        raise InconsistentData("HermiT found unsatisfiable classes: " + ", ".join(sorted(unsatisfiable)))
    return "passed (HermiT: consistent, no unsatisfiable class)"

