"""Whole-dataset dumps in the standard RDF formats, written by pyoxigraph's serializers."""

from __future__ import annotations

from typing import BinaryIO

from pyoxigraph import RdfFormat, Store

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
        store.dump(output, format=rdf_format)
    else:
        triples = store.query(UNION, use_default_graph_as_union=True)
        triples.serialize(output, format=rdf_format)
