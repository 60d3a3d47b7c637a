"""Whole-dataset dumps in the standard RDF formats, written by pyoxigraph's serializers."""

from __future__ import annotations

from typing import BinaryIO

from pyoxigraph import DefaultGraph, RdfFormat, Store, serialize

# name -> (format, holds named graphs)
FORMATS = {
    "trig": (RdfFormat.TRIG, True),
    "nquads": (RdfFormat.N_QUADS, True),
    "turtle": (RdfFormat.TURTLE, False),
    "ntriples": (RdfFormat.N_TRIPLES, False),
    "jsonld": (RdfFormat.JSON_LD, False),
    "rdfxml": (RdfFormat.RDF_XML, False),
}

UNION = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"


def dump(store: Store, name: str, output: BinaryIO) -> None:
    """Write the dataset: quad formats keep every named graph; triple formats get the union graph."""
    rdf_format, quads = FORMATS[name]
    if quads:
        if next(store.quads_for_pattern(None, None, None, DefaultGraph()), None) is None:
            store.dump(output, format=rdf_format)
        else:  # a published store's default graph is a copy of the union (store.UNION_IN_DEFAULT_GRAPH)
            serialize((quad for graph in store.named_graphs() for quad in store.quads_for_pattern(None, None, None, graph)),
                      output, format=rdf_format)
    else:
        triples = store.query(UNION, use_default_graph_as_union=True)
        triples.serialize(output, format=rdf_format)
