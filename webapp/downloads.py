"""/downloads: the whole dataset as TriG, N-Quads, Turtle, JSON-LD (migkg.export.dump), and its VoID/DCAT description (also /.well-known/void)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, jsonify, render_template, request, send_file
from pyoxigraph import BlankNode, Literal, NamedNode, RdfFormat, Triple
from werkzeug.http import parse_range_header

from migkg.export import FORMATS as EXPORT_FORMATS
from migkg.namespaces import DCAT, DCTERMS, FOAF, MIG, ONTOLOGY_IRI, RDF, RDFS, VOID, XSD

from . import conneg, explorer
from . import graph_views as views
from .linked_data import serialize_rdf
from .security import public_root
from .backend_access import backend

blueprint = Blueprint("downloads", __name__)

# file suffix -> (migkg.export name, media type, what it is)
DUMPS = {
    "trig": ("trig", "application/trig", "TriG: every statement in the named graph of its source section"),
    "nq": ("nquads", "application/n-quads", "N-Quads: the same, one statement per line"),
    "ttl": ("turtle", "text/turtle", "Turtle: all graphs merged"),
    "jsonld": ("jsonld", "application/ld+json", "JSON-LD: all graphs merged"),
    "nt": ("ntriples", "application/n-triples", "N-Triples: all graphs merged, one statement per line"),
}
VOID_OFFERED = [RdfFormat.TURTLE, RdfFormat.JSON_LD, RdfFormat.RDF_XML, RdfFormat.N_TRIPLES]

EXAMPLES = """
SELECT ?resource (COUNT(?membership) AS ?memberships) WHERE {
  ?resource a mig:ConsultationProcess .
  OPTIONAL { ?membership org:organization ?resource }
} GROUP BY ?resource ORDER BY DESC(?memberships) ?resource LIMIT 3"""

LICENSE = f"""SELECT ?license WHERE {{ <{ONTOLOGY_IRI}> dcterms:license ?license }} LIMIT 1"""


def dump_file(suffix: str) -> Path:
    """The dump of the request's build, as the backend keeps it (a build file, or its private cache)."""
    name, _, _ = DUMPS[suffix]
    return backend().dump(EXPORT_FORMATS[name][0])


def dataset_iri() -> str:
    return explorer.resource_base() + "dataset"


def void_triples() -> list[Triple]:
    """VoID + DCAT description of the dataset: size, classes, sources, endpoint, dumps, examples, licence."""
    db = backend()
    root = public_root()
    dataset = NamedNode(dataset_iri())
    summary = db.build.summary
    graphs = summary.get("graphs", {})

    def t(s, p, o):
        triples.append(Triple(s, NamedNode(p), o))

    triples: list[Triple] = []
    t(dataset, RDF + "type", NamedNode(VOID + "Dataset"))
    t(dataset, RDF + "type", NamedNode(DCAT + "Dataset"))
    t(dataset, DCTERMS + "title", Literal("migkg: the migration governance knowledge graph", language="en"))
    t(dataset, DCTERMS + "description", Literal(
        "Consultation processes, coordination mechanisms, instruments and the states and organizations that take "
        "part in them, curated from public documents; every statement is kept in the named graph of the source "
        "section that states it.", language="en"))
    if db.build.built_at:
        t(dataset, DCTERMS + "modified", Literal(db.build.built_at, datatype=NamedNode(XSD + "dateTime")))
    for row in views.select(db, LICENSE):
        t(dataset, DCTERMS + "license", row["license"])
    t(dataset, VOID + "triples", Literal(str(sum(graphs.values())), datatype=NamedNode(XSD + "integer")))
    counts = views.class_counts(db)
    entities = sum(count for cls, count in counts.items() if cls in (MIG + "Actor", MIG + "Instrument",
                                                                    MIG + "ConsultationProcess",
                                                                    MIG + "CoordinationMechanism"))
    t(dataset, VOID + "entities", Literal(str(entities), datatype=NamedNode(XSD + "integer")))
    t(dataset, VOID + "uriSpace", Literal(explorer.resource_base() + "id/"))
    t(dataset, VOID + "vocabulary", NamedNode(MIG))
    t(dataset, VOID + "sparqlEndpoint", NamedNode(root + "sparql"))
    t(dataset, FOAF + "homepage", NamedNode(root))
    for row in views.select(db, EXAMPLES):
        t(dataset, VOID + "exampleResource", row["resource"])
    t(dataset, VOID + "exampleResource", NamedNode(explorer.resource_base() + "id/state/THA"))
    for cls, count in sorted(counts.items()):
        if cls.startswith(MIG):
            partition = BlankNode()
            t(dataset, VOID + "classPartition", partition)
            t(partition, VOID + "class", NamedNode(cls))
            t(partition, VOID + "entities", Literal(str(count), datatype=NamedNode(XSD + "integer")))
    known = views.sections(db)
    for document in sorted({section.document for section in known.values() if section.document}):
        t(dataset, DCTERMS + "source", NamedNode(document))
    for graph, count in sorted(graphs.items()):
        subset = NamedNode(graph)
        t(dataset, VOID + "subset", subset)
        t(subset, RDF + "type", NamedNode(VOID + "Dataset"))
        t(subset, VOID + "triples", Literal(str(count), datatype=NamedNode(XSD + "integer")))
        source = views.source_of(graph, known)
        t(subset, RDFS + "label", Literal(f"{source.document_label} {source.label}".strip()
                                          if source.document_label else source.label, language="en"))
    for suffix, (_, media, description) in DUMPS.items():
        url = NamedNode(f"{root}downloads/migkg.{suffix}")
        t(dataset, VOID + "dataDump", url)
        distribution = BlankNode()
        t(dataset, DCAT + "distribution", distribution)
        t(distribution, RDF + "type", NamedNode(DCAT + "Distribution"))
        t(distribution, DCAT + "downloadURL", url)
        t(distribution, DCAT + "mediaType", Literal(media))
        t(distribution, DCTERMS + "description", Literal(description, language="en"))
    return triples


def downloads_view() -> dict:
    build = backend().build
    return {"build_id": build.id, "built_at": build.built_at,
            "dumps": [{"url": f"/downloads/migkg.{suffix}", "format": name, "media_type": media,
                       "description": description} for suffix, (name, media, description) in DUMPS.items()],
            "void": [{"url": f"/downloads/void.{fmt.file_extension}", "media_type": fmt.media_type}
                     for fmt in VOID_OFFERED],
            "sparql": "/sparql", "ontology": "/ontology", "dataset": dataset_iri()}


@blueprint.get("/downloads")
def downloads():
    return render_template("downloads.html", view=downloads_view(), json_url="/downloads.json")


@blueprint.get("/downloads.json")
def downloads_json():
    return jsonify(downloads_view())


@blueprint.get("/downloads/migkg.<suffix>")
def download(suffix: str):
    if suffix not in DUMPS:
        abort(404, description="Dumps are offered as " + ", ".join(f"migkg.{s}" for s in DUMPS) + ".")
    if not _servable_range(request.headers.get("Range")):
        # Werkzeug answers 416 to any Range it cannot serve; HTTP says to ignore a range unit the server does
        # not know (RFC 9110 14.2), and it may ignore several ranges: such a request gets the whole dump.
        request.environ.pop("HTTP_RANGE", None)
    response = send_file(dump_file(suffix), mimetype=DUMPS[suffix][1], as_attachment=True,
                         download_name=f"migkg-{backend().build.id[:12]}.{suffix}", etag=True, conditional=True)
    # The URL stays while the build changes: caches revalidate (a 304 while the file is the same), never
    # serving the previous build's dump for an hour as /static's max-age would.
    response.headers["Cache-Control"] = "public, no-cache"
    return response


def _servable_range(header: str | None) -> bool:
    """No Range header, or one byte range (satisfiable or not: past the end is still a 416)."""
    if header is None:
        return True
    parsed = parse_range_header(header)
    return parsed is not None and parsed.units == "bytes" and len(parsed.ranges) == 1


def void_response(fmt):
    response = Response(serialize_rdf(void_triples(), fmt), mimetype=fmt.media_type)
    response.headers["Vary"] = "Accept"
    return response


@blueprint.get("/downloads/void.<suffix>")
def void_file(suffix: str):
    fmt = conneg.by_name(suffix, VOID_OFFERED)
    if fmt is None:
        abort(404, description="The VoID description is offered as "
                               + ", ".join(f"void.{f.file_extension}" for f in VOID_OFFERED))
    return void_response(fmt)


@blueprint.get("/.well-known/void")
@blueprint.get("/dataset")
def well_known_void():
    chosen = conneg.for_page(request.headers.get("Accept"), VOID_OFFERED, request.args.get("format"))
    if chosen == "html":
        return downloads()
    if chosen is None:
        abort(406, description="The VoID description is offered as Turtle, JSON-LD, RDF/XML and N-Triples.")
    return void_response(chosen)
