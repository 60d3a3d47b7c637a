"""SHACL validation of the whole dataset, in the build's Oxigraph store, reported in plain words with the file to fix.

The shapes (ontology/shapes.ttl) are read into a small validator that implements the SHACL Core constraint
components the shapes use, with pyshacl's semantics (tests/test_build_shacl.py checks that it reports exactly
what pyshacl reports, on the seed data and on data broken against every component). A shape that uses any
other SHACL feature stops the build with a message naming it: nothing is ever skipped silently.

It reads the data through the store's indexes (one scan per property a shape names, one query per class a
shape names) instead of copying a million statements into an rdflib graph as pyshacl needs.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Iterable, Iterator

import rdflib
from pyoxigraph import BlankNode, Literal, NamedNode, Quad, RdfFormat, Store, serialize

from .namespaces import PROV, RDF, RDFS, SH, SOURCES_GRAPH, XSD
from .sources import ParsedInputs

# rdflib logs a traceback for every literal whose lexical form does not fit its datatype; SHACL reports
# those in plain words (sh:datatype), so the traceback would only bury the message the user needs.
logging.getLogger("rdflib.term").setLevel(logging.ERROR)


class UnsupportedShape(Exception):
    """The shapes use a SHACL feature this validator does not implement; the message names the shape."""


@dataclass(frozen=True)
class Violation:
    focus: str
    path: str
    message: str
    value: str
    files: str

    def __str__(self) -> str:
        where = f" (property {self.path})" if self.path else ""
        value = f" [value: {self.value}]" if self.value else ""
        return f"{self.files}: {self.focus}{where}: {self.message}{value}"


def provenance_bundles(data: list[Quad]) -> list[Quad]:
    """Type every named graph that holds curated statements as a prov:Bundle, so shapes can check it."""
    graphs = {q.graph_name for q in data if isinstance(q.graph_name, NamedNode) and q.graph_name != SOURCES_GRAPH}
    bundle = NamedNode(PROV + "Bundle")
    return [Quad(g, NamedNode(RDF + "type"), bundle, SOURCES_GRAPH) for g in sorted(graphs, key=str)]


# --- the shapes ---------------------------------------------------------------------------------

def _sh(name: str) -> NamedNode:
    return NamedNode(SH + name)


TYPE, SUBCLASS, LABEL = NamedNode(RDF + "type"), NamedNode(RDFS + "subClassOf"), NamedNode(RDFS + "label")
FIRST, REST, NIL = NamedNode(RDF + "first"), NamedNode(RDF + "rest"), NamedNode(RDF + "nil")
TARGETS = {_sh("targetClass"), _sh("targetSubjectsOf"), _sh("targetObjectsOf"), _sh("targetNode")}
# Value-node constraints: each value node is checked on its own (the result names it as sh:value).
VALUE_COMPONENTS = {_sh(n) for n in ("class", "datatype", "in", "nodeKind", "languageIn", "pattern", "or", "node",
                                     "minInclusive")}
COUNT_COMPONENTS = {_sh(n) for n in ("minCount", "maxCount", "qualifiedValueShape", "qualifiedMinCount",
                                     "qualifiedMaxCount")}
# Parameters that only describe a shape, and sh:flags (read with sh:pattern).
NON_VALIDATING = {_sh(n) for n in ("message", "name", "description", "order", "group", "flags", "path", "property")}
SHAPE_CLASSES = {_sh("NodeShape"), _sh("PropertyShape")}
NODE_KINDS = {
    "IRI": (NamedNode,), "BlankNode": (BlankNode,), "Literal": (Literal,), "BlankNodeOrIRI": (BlankNode, NamedNode),
    "BlankNodeOrLiteral": (BlankNode, Literal), "IRIOrLiteral": (NamedNode, Literal),
}


@dataclass(eq=False)
class Shape:
    node: object
    path: NamedNode | None = None
    message: str | None = None
    targets: list[tuple[NamedNode, object]] = field(default_factory=list)
    checks: list[tuple[str, object]] = field(default_factory=list)  # value-node constraints, in the shapes' order
    min_count: int | None = None
    max_count: int | None = None
    qualified: tuple["Shape", int | None, int | None] | None = None
    properties: list["Shape"] = field(default_factory=list)


class Shapes:
    """The shapes graph compiled: the shapes with targets, and the shapes they refer to."""

    def __init__(self, quads: Iterable[Quad]):
        self.statements: dict = defaultdict(lambda: defaultdict(list))
        for q in quads:
            self.statements[q.subject][q.predicate].append(q.object)
        self.compiled: dict[object, Shape] = {}
        roots = [s for s, props in self.statements.items()
                 if TARGETS & props.keys() or SHAPE_CLASSES & set(props.get(TYPE, ()))]
        self.targeted = [self.shape(s) for s in roots]
        self.targeted = [s for s in self.targeted if s.targets]
        for shape in self.targeted:
            self._check_reports(shape)

    def _one(self, node, predicate):
        values = self.statements[node].get(predicate, [])
        if len(values) > 1:
            raise UnsupportedShape(f"shape {node}: more than one {predicate} (each shape may have one)")
        return values[0] if values else None

    def _list(self, head) -> list:
        items, node = [], head
        while node != NIL:
            firsts, rests = self.statements[node].get(FIRST, []), self.statements[node].get(REST, [])
            if len(firsts) != 1 or len(rests) != 1 or len(items) > 10000:
                raise UnsupportedShape(f"{head} is not a well-formed RDF list")
            items.append(firsts[0])
            node = rests[0]
        return items

    def shape(self, node) -> Shape:
        if node in self.compiled:
            return self.compiled[node]
        shape = self.compiled[node] = Shape(node)
        props = self.statements[node]
        for predicate in props:
            if predicate.value.startswith(SH) and not (predicate in TARGETS or predicate in VALUE_COMPONENTS
                                                       or predicate in COUNT_COMPONENTS
                                                       or predicate in NON_VALIDATING):
                raise UnsupportedShape(f"shape {node} uses {predicate}, which migkg's SHACL validator does not "
                                       "implement (see migkg/validation.py)")
        path = self._one(node, _sh("path"))
        if path is not None and not isinstance(path, NamedNode):
            raise UnsupportedShape(f"shape {node}: only a property IRI is supported as sh:path")
        shape.path = path
        messages = sorted(props.get(_sh("message"), []), key=lambda m: (getattr(m, "language", "") != "en", m.value))
        shape.message = messages[0].value if messages else None
        for predicate in TARGETS:
            shape.targets += [(predicate, value) for value in props.get(predicate, [])]
        for predicate, values in props.items():
            name = predicate.value[len(SH):]
            for value in values if predicate in VALUE_COMPONENTS else ():
                if name == "or":
                    shape.checks.append(("or", [self.shape(member) for member in self._list(value)]))
                elif name == "node":
                    shape.checks.append(("node", self.shape(value)))
                elif name in ("in", "languageIn"):
                    items = self._list(value)
                    shape.checks.append((name, items if name == "in" else {i.value.lower() for i in items}))
                elif name == "pattern":
                    flags = self._one(node, _sh("flags"))
                    re_flags = (re.I if flags is not None and "i" in flags.value.lower() else 0) | \
                               (re.M if flags is not None and "m" in flags.value.lower() else 0)
                    shape.checks.append(("pattern", re.compile(value.value, re_flags)))
                elif name == "nodeKind":
                    shape.checks.append(("nodeKind", NODE_KINDS[value.value[len(SH):]]))
                else:
                    shape.checks.append((name, value))
        count = lambda p: int(self._one(node, p).value) if self._one(node, p) is not None else None  # noqa: E731
        shape.min_count, shape.max_count = count(_sh("minCount")), count(_sh("maxCount"))
        qualified = self._one(node, _sh("qualifiedValueShape"))
        if qualified is not None:
            shape.qualified = (self.shape(qualified), count(_sh("qualifiedMinCount")), count(_sh("qualifiedMaxCount")))
        if (shape.min_count is not None or shape.max_count is not None or shape.qualified) and path is None:
            raise UnsupportedShape(f"shape {node}: a count constraint needs sh:path")
        shape.properties = [self.shape(p) for p in props.get(_sh("property"), [])]
        return shape

    def read_predicates(self) -> set[NamedNode]:
        """The data predicates the shapes read besides rdf:type and rdfs:subClassOf: paths and target predicates."""
        read = set()
        for shape in self.compiled.values():
            read |= {shape.path} if shape.path is not None else set()
            read |= {value for kind, value in shape.targets if kind.value.endswith(("SubjectsOf", "ObjectsOf"))}
        return read

    def _check_reports(self, shape: Shape) -> None:
        """Every shape that reports a result must carry the sh:message the report shows."""
        reporting = ([shape] if shape.checks or shape.min_count is not None or shape.max_count is not None
                     or shape.qualified else []) + shape.properties
        for reporter in reporting:
            if reporter.message is None:
                raise UnsupportedShape(f"shape {reporter.node} reports violations but has no sh:message")
            if reporter is not shape and reporter.properties:
                raise UnsupportedShape(f"shape {reporter.node}: sh:property inside a property shape is not supported")


# --- the data -------------------------------------------------------------------------------------

class Data:
    """The union of the store's graphs, read through its indexes, each property and class once."""

    def __init__(self, store: Store):
        self.store = store
        self._by_predicate: dict[NamedNode, dict] = {}
        self._instances: dict[object, set] = {}
        self._by_object: dict[NamedNode, dict] = {}

    def values(self, node, path: NamedNode) -> set:
        if path not in self._by_predicate:
            index: dict = defaultdict(set)
            for q in self.store.quads_for_pattern(None, path, None):
                index[q.subject].add(q.object)
            self._by_predicate[path] = index
        return self._by_predicate[path].get(node, set())

    def subjects_of(self, predicate: NamedNode) -> set:
        self.values(None, predicate)
        return set(self._by_predicate[predicate])

    def objects_of(self, predicate: NamedNode) -> set:
        self.values(None, predicate)
        return {o for objects in self._by_predicate[predicate].values() for o in objects}

    def instances(self, cls) -> set:
        """Nodes with rdf:type a subclass (rdfs:subClassOf*, itself included) of `cls`, as SHACL defines it."""
        if cls not in self._instances:
            classes, frontier = {cls}, [cls]
            while frontier:
                found = self._subjects_by_object(SUBCLASS).get(frontier.pop(), set()) - classes
                classes |= found
                frontier += found
            by_class = self._subjects_by_object(TYPE)
            self._instances[cls] = set().union(*(by_class.get(c, set()) for c in classes))
        return self._instances[cls]

    def _subjects_by_object(self, predicate: NamedNode) -> dict:
        if predicate not in self._by_object:
            index: dict = defaultdict(set)
            for q in self.store.quads_for_pattern(None, predicate, None):
                index[q.object].add(q.subject)
            self._by_object[predicate] = index
        return self._by_object[predicate]

    def label(self, node) -> str:
        labels = sorted(self.values(node, LABEL), key=lambda t: (getattr(t, "language", None) != "en", t.value))
        return labels[0].value if labels else ""


class Validator:
    def __init__(self, data: Data):
        self.data = data
        # Whether a node conforms to a nested shape (sh:or's members, sh:node) depends on the node alone: each
        # resource's rdf:type values are checked against the same sh:or, a million times at 1 M statements.
        self._verdicts: dict[tuple, bool] = {}

    def focus_nodes(self, shape: Shape) -> set:
        nodes: set = set()
        for kind, value in shape.targets:
            name = kind.value[len(SH):]
            if name == "targetClass":
                nodes |= self.data.instances(value)
            elif name == "targetSubjectsOf":
                nodes |= self.data.subjects_of(value)
            elif name == "targetObjectsOf":
                nodes |= self.data.objects_of(value)
            else:
                nodes.add(value)
        return nodes

    def value_nodes(self, focus, shape: Shape) -> set:
        return {focus} if shape.path is None else self.data.values(focus, shape.path)

    def count_failures(self, values: set, shape: Shape) -> int:
        """How many count constraints (min, max, qualified min and max) the value nodes break."""
        failures = 0
        if shape.min_count is not None and len(values) < shape.min_count:
            failures += 1
        if shape.max_count is not None and len(values) > shape.max_count:
            failures += 1
        if shape.qualified:
            qualified, least, most = shape.qualified
            conforming = sum(1 for v in values if self.conforms(v, qualified))
            failures += (least is not None and conforming < least) + (most is not None and conforming > most)
        return failures

    def failing_values(self, values: set, shape: Shape) -> Iterator:
        """Each value node that breaks one of the shape's value constraints, once per constraint it breaks."""
        for kind, argument in shape.checks:
            for value in values:
                if not self.value_conforms(value, kind, argument):
                    yield value

    def conforms(self, focus, shape: Shape) -> bool:
        values = self.value_nodes(focus, shape)
        if self.count_failures(values, shape) or next(self.failing_values(values, shape), None) is not None:
            return False
        return all(self.conforms(v, p) for v in values for p in shape.properties)

    def value_conforms(self, value, kind: str, argument) -> bool:
        if kind == "class":
            return not isinstance(value, Literal) and value in self.data.instances(argument)
        if kind == "datatype":
            return _has_datatype(value, argument)
        if kind == "in":
            return value in argument
        if kind == "nodeKind":
            return isinstance(value, argument)
        if kind == "languageIn":
            if not isinstance(value, Literal) or not value.language:
                return False
            language = value.language.lower()
            return "*" in argument or language in argument or language.split("-")[0] in argument
        if kind == "pattern":
            return not isinstance(value, BlankNode) and argument.search(value.value) is not None
        if kind in ("or", "node"):
            key = (value, id(argument))
            verdict = self._verdicts.get(key)
            if verdict is None:
                verdict = (any(self.conforms(value, member) for member in argument) if kind == "or"
                           else self.conforms(value, argument))
                self._verdicts[key] = verdict
            return verdict
        if kind == "minInclusive":
            return _at_least(value, argument)
        raise UnsupportedShape(f"constraint sh:{kind}")

    def results(self, shape: Shape) -> Iterator[tuple]:
        """(focus, path, message, value) for every validation result of a shape with targets."""
        for focus in self.focus_nodes(shape):
            for reporter in ([shape] if shape.path is not None or shape.checks else []) + shape.properties:
                values = self.value_nodes(focus, reporter)
                for _ in range(self.count_failures(values, reporter)):
                    yield focus, reporter.path, reporter.message, None
                for value in self.failing_values(values, reporter):
                    yield focus, reporter.path, reporter.message, value


def _has_datatype(value, datatype: NamedNode) -> bool:
    """sh:datatype as pyshacl decides it (rdflib's view of the literal: a plain string has no datatype)."""
    if not isinstance(value, Literal):
        return False
    if datatype.value == RDFS + "Literal":
        return True
    if value.language:
        return datatype.value == RDF + "langString"
    if value.datatype.value == XSD + "string":
        return datatype.value == XSD + "string"
    if datatype.value == RDFS + "Datatype":
        return True
    if value.datatype != datatype:
        return False
    literal = rdflib.Literal(value.value, datatype=rdflib.URIRef(datatype.value))
    if literal.ill_typed is True:
        return False
    expected = PYTHON_TYPES.get(datatype.value)
    return expected is None or isinstance(literal.value, expected)


def _at_least(value, bound: Literal) -> bool:
    """sh:minInclusive as pyshacl decides it: a literal whose value compares with the bound's and is not below it
    (an IRI, a blank node, an ill-typed literal, a string against a number: not conforming)."""
    if not isinstance(value, Literal):
        return False
    ours, least = (rdflib.Literal(term.value, lang=term.language,
                                  datatype=None if term.language else rdflib.URIRef(term.datatype.value)).value
                   for term in (value, bound))
    if ours is None or least is None or isinstance(ours, str) != isinstance(least, str):
        return False
    try:
        return ours >= least
    except TypeError:
        return False


# The Python value rdflib must produce for a literal of these datatypes (pyshacl's _assert_actual_datatype).
PYTHON_TYPES = {XSD + "integer": int, XSD + "float": float, XSD + "decimal": Decimal, XSD + "boolean": bool,
                XSD + "date": date, XSD + "time": time, XSD + "dateTime": datetime}


# --- reporting --------------------------------------------------------------------------------------

def validate(union: list[Quad] | Store, shapes: list[Quad], inputs: ParsedInputs | None = None) -> list[Violation]:
    """Validate the union of all graphs (a list of quads, or a store holding them) against the shapes.

    Returns the violations, most useful first, as pyshacl words them; raises UnsupportedShape for a shape
    it cannot check. The decision is this module's validator's. Only when it finds a violation is the
    report written by pyshacl (its wording of the report's own results is what users read; the sh:detail
    results it nests under them repeat a value's fault), over the statements whose predicate the shapes
    can read: that is the same report as over
    all statements, because SHACL Core reads the data graph only through targets (rdf:type,
    rdfs:subClassOf, the target predicates), property paths (here: single predicates), sh:class
    (rdf:type, rdfs:subClassOf), and the report adds each focus node's rdfs:label; every other feature is
    refused by Shapes before.
    """
    store = union if isinstance(union, Store) else _store_of(union)
    compiled = Shapes(shapes)
    found = check(store, compiled, inputs)
    if not found:
        return []
    return _pyshacl_report(store, compiled, shapes, inputs) or found


def check(store: Store, shapes: Shapes, inputs: ParsedInputs | None = None) -> list[Violation]:
    """The validation results of the shapes with targets, by this module's validator (no sh:detail results)."""
    data = Data(store)
    validator = Validator(data)
    names = rdflib.Graph().namespace_manager  # the prefixes pyshacl's report used: rdflib's defaults
    violations = []
    for shape in shapes.targeted:
        for focus, path, message, value in validator.results(shape):
            label = data.label(focus)
            violations.append(Violation(
                focus=_text(focus) + (f" ({label})" if label else ""),
                path=_short(names, path),
                message=message,
                value=_short(names, value),
                files=inputs.file_of(_text(focus)) if inputs else "",
            ))
    return sorted(violations, key=lambda v: (v.files, v.focus, v.path, v.message, v.value))


def _store_of(quads: list[Quad]) -> Store:
    store = Store()
    store.bulk_extend(quads)
    return store


def _pyshacl_report(store: Store, shapes: Shapes, shape_quads: list[Quad], inputs) -> list[Violation]:
    import pyshacl  # only a failing build needs it

    read = {TYPE, SUBCLASS, LABEL} | shapes.read_predicates()
    data_graph = rdflib.Graph()
    data_graph.parse(data=serialize((q.triple for p in read for q in store.quads_for_pattern(None, p, None)),
                                    format=RdfFormat.N_TRIPLES), format="nt")
    shapes_graph = rdflib.Graph()
    shapes_graph.parse(data=serialize((q.triple for q in shape_quads), format=RdfFormat.N_TRIPLES), format="nt")
    conforms, results, _ = pyshacl.validate(data_graph, shacl_graph=shapes_graph, inference="none", advanced=True,
                                            allow_warnings=True)
    if conforms:
        return []
    sh = rdflib.Namespace(SH)
    violations = []
    # The report's own results (sh:result), not those nested under them as sh:detail (an sh:node's inner
    # shape's results about the value): the value is reported once, by the shape the data broke.
    for result in set(results.objects(None, sh.result)):
        focus = results.value(result, sh.focusNode)
        label = data_graph.value(focus, rdflib.RDFS.label)
        violations.append(Violation(
            focus=f"{focus}" + (f" ({label})" if label else ""),
            path=_short_rdflib(data_graph, results.value(result, sh.resultPath)),
            message=str(results.value(result, sh.resultMessage) or "violates a shape"),
            value=_short_rdflib(data_graph, results.value(result, sh.value)),
            files=inputs.file_of(str(focus)) if inputs else "",
        ))
    return sorted(violations, key=lambda v: (v.files, v.focus, v.path, v.message, v.value))


def _short_rdflib(graph: rdflib.Graph, node) -> str:
    if node is None:
        return ""
    if isinstance(node, rdflib.URIRef):
        try:
            return graph.namespace_manager.normalizeUri(node)
        except Exception:  # rdflib raises on IRIs it cannot shorten
            return str(node)
    return str(node)


def _text(term) -> str:
    return term.value if isinstance(term, (NamedNode, BlankNode, Literal)) else str(term)


def _short(names, node) -> str:
    if node is None:
        return ""
    if isinstance(node, NamedNode):
        try:
            return names.normalizeUri(rdflib.URIRef(node.value))
        except Exception:  # rdflib raises on IRIs it cannot shorten
            return node.value
    return _text(node)
