"""The IRIs migkg mints and the vocabularies it reuses, as pyoxigraph NamedNodes."""

import re

from pyoxigraph import NamedNode

BASE = "https://w3id.org/migkg/"
ONTOLOGY_IRI = BASE + "ontology"
MIG = BASE + "ontology#"
ID = BASE + "id/"
STATE = ID + "state/"
SOURCE = BASE + "source/"
GRAPH = BASE + "graph/"

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
ORG = "http://www.w3.org/ns/org#"
DCTERMS = "http://purl.org/dc/terms/"
PROV = "http://www.w3.org/ns/prov#"
FOAF = "http://xmlns.com/foaf/0.1/"
VOID = "http://rdfs.org/ns/void#"
DCAT = "http://www.w3.org/ns/dcat#"
SH = "http://www.w3.org/ns/shacl#"

# Named graphs the build writes besides the per-section source graphs.
ONTOLOGY_GRAPH = NamedNode(GRAPH + "ontology")
SHAPES_GRAPH = NamedNode(GRAPH + "shapes")
REFERENCE_GRAPH = NamedNode(GRAPH + "reference")
INFERRED_GRAPH = NamedNode(GRAPH + "inferred")
SOURCES_GRAPH = NamedNode(GRAPH + "sources")

# Prefixes known to every query (migkg query, /sparql, the explorer).
PREFIXES = {
    "mig": MIG,
    "id": ID,
    "state": STATE,
    "src": SOURCE,
    "rdf": RDF,
    "rdfs": RDFS,
    "owl": OWL,
    "xsd": XSD,
    "skos": SKOS,
    "org": ORG,
    "dcterms": DCTERMS,
    "prov": PROV,
    "foaf": FOAF,
}


def term(namespace: str, local: str) -> NamedNode:
    """The NamedNode for `local` in `namespace`."""
    return NamedNode(namespace + local)


def sparql_prologue(prefixes: dict[str, str] = PREFIXES) -> str:
    """PREFIX declarations for `prefixes`, to put in front of a query text."""
    return "".join(f"PREFIX {name}: <{iri}>\n" for name, iri in prefixes.items())


_LOCAL_NAME = re.compile(r"(?:[A-Za-z0-9_](?:[\w.-]*[\w-])?)?")


def prefixed(iri: str) -> str | None:
    """`mig:Actor` for an IRI in one of the project's namespaces (the longest that fits), else None."""
    for prefix, namespace in sorted(PREFIXES.items(), key=lambda item: -len(item[1])):
        if iri.startswith(namespace) and _LOCAL_NAME.fullmatch(iri[len(namespace):]):
            return f"{prefix}:{iri[len(namespace):]}"
    return None
