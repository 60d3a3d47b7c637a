"""Counts that describe a store: statements per graph, resources per class (for the CLI, the explorer, VoID)."""

from __future__ import annotations

from pyoxigraph import Store

from .namespaces import MIG, sparql_prologue

TRIPLES_PER_GRAPH = """
SELECT ?graph (COUNT(*) AS ?triples) WHERE { GRAPH ?graph { ?s ?p ?o } }
GROUP BY ?graph ORDER BY DESC(?triples)
"""

RESOURCES_PER_CLASS = """
SELECT ?class (SAMPLE(?name) AS ?label) (COUNT(DISTINCT ?resource) AS ?resources) WHERE {
  ?resource a ?class .
  FILTER(STRSTARTS(STR(?class), STR(mig:)) || ?class IN (org:Membership, skos:Concept, skos:ConceptScheme))
  OPTIONAL { ?class rdfs:label ?name . FILTER(lang(?name) = "en") }
} GROUP BY ?class ORDER BY DESC(?resources)
"""


def triples_per_graph(store: Store) -> list[tuple[str, int]]:
    return [(row["graph"].value, int(row["triples"].value)) for row in store.query(TRIPLES_PER_GRAPH)]


def resources_per_class(store: Store) -> list[tuple[str, str, int]]:
    """(class IRI, English label, number of resources), counting inferred types too."""
    rows = store.query(sparql_prologue() + RESOURCES_PER_CLASS, use_default_graph_as_union=True)
    return [
        (row["class"].value, row["label"].value if row["label"] else row["class"].value.replace(MIG, "mig:"),
         int(row["resources"].value))
        for row in rows
    ]


def summary(store: Store) -> dict:
    graphs = triples_per_graph(store)
    return {
        "triples": sum(count for _, count in graphs),
        "graphs": {graph: count for graph, count in graphs},
        "classes": [{"class": iri, "label": label, "resources": count} for iri, label, count in resources_per_class(store)],
    }
