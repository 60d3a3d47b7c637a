"""SHACL validation of the whole dataset with pyshacl, reported in plain words with the file to fix."""

from __future__ import annotations

from dataclasses import dataclass

import pyshacl
from pyoxigraph import NamedNode, Quad, RdfFormat, serialize
from rdflib import Graph, URIRef
from rdflib.namespace import RDFS, SH

from .namespaces import PROV, RDF, SOURCES_GRAPH
from .sources import ParsedInputs


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


def _to_rdflib(quads: list[Quad]) -> Graph:
    """The union of the quads as one rdflib Graph (SHACL validates a single data graph)."""
    triples = serialize((q.triple for q in quads), format=RdfFormat.N_TRIPLES)
    graph = Graph()
    graph.parse(data=triples, format="nt")
    return graph


def validate(union: list[Quad], shapes: list[Quad], inputs: ParsedInputs | None = None) -> list[Violation]:
    """Validate the union of all graphs against the shapes; return the violations, most useful first."""
    data_graph = _to_rdflib(union)
    shapes_graph = _to_rdflib(shapes)
    conforms, results, _ = pyshacl.validate(
        data_graph, shacl_graph=shapes_graph, inference="none", advanced=True, allow_warnings=True
    )
    if conforms:
        return []
    violations = []
    for result in results.subjects(RDF_TYPE, SH.ValidationResult):
        focus = results.value(result, SH.focusNode)
        path = results.value(result, SH.resultPath)
        message = results.value(result, SH.resultMessage)
        value = results.value(result, SH.value)
        label = data_graph.value(focus, RDFS.label)
        focus_text = f"{focus}" + (f" ({label})" if label else "")
        violations.append(
            Violation(
                focus=focus_text,
                path=_short(data_graph, path),
                message=str(message or "violates a shape"),
                value=_short(data_graph, value),
                files=inputs.file_of(str(focus)) if inputs else "",
            )
        )
    return sorted(violations, key=lambda v: (v.files, v.focus, v.path))


RDF_TYPE = URIRef(RDF + "type")


def _short(graph: Graph, node) -> str:
    if node is None:
        return ""
    if isinstance(node, URIRef):
        try:
            return graph.namespace_manager.normalizeUri(node)
        except Exception:  # rdflib raises on IRIs it cannot shorten
            return str(node)
    return str(node)

