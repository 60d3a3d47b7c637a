"""Whole-dataset dumps in the standard RDF formats, written by pyoxigraph's serializers."""

from __future__ import annotations

from typing import BinaryIO

from pyoxigraph import RdfFormat, Store, serialize

from .store import union_options

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
    union = union_options(store)
    if quads and union:
        store.dump(output, format=rdf_format)
    elif quads:  # a published build: its default graph is the union's copy, not part of the dataset
        serialize((quad for graph in store.named_graphs() for quad in store.quads_for_pattern(None, None, None, graph)),
                  output, format=rdf_format)
    else:
        store.query(UNION, **union).serialize(output, format=rdf_format)
