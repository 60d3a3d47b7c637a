"""Dereferenceable IRIs: /id/… and /source/… answer with HTML for browsers and RDF for tools (content negotiation)."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import rdflib
from flask import Blueprint, Response, abort, current_app, jsonify, redirect, request
from pyoxigraph import DefaultGraph, NamedNode, Quad, RdfFormat, Triple, serialize

from migkg.namespaces import DCAT, PREFIXES, VOID

from . import conneg, explorer
from . import graph_views as views
from .backend_access import backend

blueprint = Blueprint("linked_data", __name__)

# What a resource is offered in, the first being the answer to `Accept: */*`.
OFFERED = [RdfFormat.TURTLE, RdfFormat.JSON_LD, RdfFormat.RDF_XML, RdfFormat.N_TRIPLES, RdfFormat.TRIG,
           RdfFormat.N_QUADS]
FORMAT_LABELS = [("HTML", "html", "text/html"), ("JSON", "json", "application/json"),
                 ("Turtle", "ttl", "text/turtle"), ("JSON-LD", "jsonld", "application/ld+json"),
                 ("RDF/XML", "rdf", "application/rdf+xml"), ("N-Triples", "nt", "application/n-triples"),
                 ("TriG (with sources)", "trig", "application/trig")]
PREFIXES_OUT = {**PREFIXES, "void": VOID, "dcat": DCAT}
ISO_ALPHA_3 = re.compile(r"[A-Za-z]{3}")  # a state's code, in whatever case it was typed


@lru_cache(maxsize=4)
def _context(path: str) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def jsonld_context() -> dict:
    """The project's JSON-LD @context (ontology/context.jsonld)."""
    return _context(str(current_app.config["MIGKG"].context_file))


def serialize_rdf(statements: list, fmt: RdfFormat) -> bytes:
    """Triples (or quads for TriG/N-Quads) in `fmt`; JSON-LD is compacted with the project's @context by rdflib."""
    if fmt in (RdfFormat.TRIG, RdfFormat.N_QUADS):
        quads = [s if isinstance(s, Quad) else Quad(s.subject, s.predicate, s.object, DefaultGraph())
                 for s in statements]
        return serialize(quads, format=fmt, prefixes=PREFIXES_OUT if fmt == RdfFormat.TRIG else None)
    triples = [Triple(s.subject, s.predicate, s.object) if isinstance(s, Quad) else s for s in statements]
    triples = list(dict.fromkeys(triples))
    if fmt == RdfFormat.JSON_LD:
        graph = rdflib.Graph()
        graph.parse(data=serialize(triples, format=RdfFormat.N_TRIPLES).decode("utf-8"), format="nt")
        context = jsonld_context()
        return graph.serialize(format="json-ld", context=context.get("@context", context), auto_compact=True,
                               indent=2).encode("utf-8")
    return serialize(triples, format=fmt, prefixes=PREFIXES_OUT if fmt == RdfFormat.TURTLE else None)


def negotiate(override: str | None):
    """'html', 'json', an RdfFormat, or a 406. `override` is a file suffix or ?format= value."""
    override = override or request.args.get("format")
    if override and override.strip().lower() == "json":
        return "json"  # the page's JSON twin; JSON-LD is asked for as jsonld or application/ld+json
    chosen = conneg.for_page(request.headers.get("Accept"), OFFERED, override)
    if chosen is None and override:
        abort(406, description=f"Format {override!r} is not offered; choose one of html, json, "
                               + ", ".join(fmt.file_extension for fmt in OFFERED))
    if chosen is None:
        abort(406, description="This resource is offered as HTML, Turtle (text/turtle), JSON-LD "
                               "(application/ld+json), RDF/XML (application/rdf+xml), N-Triples "
                               "(application/n-triples), TriG and N-Quads.")
    return chosen


def _split_suffix(path: str) -> tuple[str, str | None]:
    stem, dot, suffix = path.rpartition(".")
    if dot and "/" not in suffix and (suffix in ("html", "json") or conneg.by_name(suffix, OFFERED)):
        return stem, suffix
    return path, None


def _resource(path: str) -> tuple[NamedNode, str | None]:
    """The resource a local path names, and the format its suffix asks for; 404 if there is none."""
    store = backend()
    candidates = [(path, None)]
    stem, suffix = _split_suffix(path)
    if suffix:
        # /id/x.ttl is x in Turtle, unless a resource is really called "x.ttl".
        candidates.append((stem, suffix))
    for candidate, fmt in candidates:
        try:
            node = NamedNode(explorer.iri_for_path(candidate))
        except ValueError:
            continue
        if views.exists(store, node):
            return node, fmt
    for candidate, fmt in candidates:
        # A state's ISO 3166 code typed in lower case (/id/state/tha): sent on to the code as written (THA).
        head, _, code = candidate.rpartition("/")
        if head == "id/state" and ISO_ALPHA_3.fullmatch(code) and code != code.upper() and views.exists(
                store, NamedNode(explorer.iri_for_path(f"{head}/{code.upper()}"))):
            target = f"/{head}/{code.upper()}" + (f".{fmt}" if fmt else "")
            abort(redirect(target + (f"?{request.query_string.decode()}" if request.query_string else ""), 301))
    abort(404, description=f"There is no resource /{path} in the knowledge graph.")


def format_links(local: str) -> list[tuple[str, str, str]]:
    return [(label, f"{local}.{suffix}", media) for label, suffix, media in FORMAT_LABELS]


def _statements_of(resource: NamedNode) -> list:
    store = backend()
    triples = views.resource_triples(store, resource)
    if resource.value.startswith(explorer.resource_base() + "source/"):
        triples += [Triple(s, p, o) for s, p, o in views.section_descriptions(store, resource)]
    return triples


def _quads_of(resource: NamedNode) -> list:
    """Statements with the graph (source section) that holds each: for TriG and N-Quads."""
    store = backend()
    found = views.statements(store, resource)
    quads = []
    for (predicate, term), graphs in found.outgoing.items():
        quads += [Quad(resource, NamedNode(predicate), term, NamedNode(g)) for g in graphs]
    for (predicate, term), graphs in found.incoming.items():
        quads += [Quad(term, NamedNode(predicate), resource, NamedNode(g)) for g in graphs]
    labels = [t for t in _statements_of(resource) if t.subject != resource and t.object != resource]
    return quads + labels


def answer(path: str):
    resource, suffix = _resource(path)
    chosen = negotiate(suffix)
    local = explorer.local_url(resource.value)
    formats = format_links(local)
    # A representation changes only with the build: crawlers revalidate and get a 304 without a rendering.
    tag = f"{backend().build.id}-{chosen if isinstance(chosen, str) else chosen.file_extension}"
    if request.if_none_match.contains_weak(tag):
        response = Response(status=304)
    elif chosen == "html":
        page = explorer.render_entity(resource, formats)
        response = Response(page, mimetype="text/html")
    elif chosen == "json":
        response = jsonify(explorer.entity_view(resource))
    else:
        statements = _quads_of(resource) if chosen in (RdfFormat.TRIG, RdfFormat.N_QUADS) else _statements_of(resource)
        body = serialize_rdf(statements, chosen)
        response = Response(body, mimetype=chosen.media_type)
        if chosen != RdfFormat.RDF_XML:
            response.headers["Content-Type"] = f"{chosen.media_type}; charset=utf-8"
    response.set_etag(tag, weak=True)
    response.headers["Vary"] = "Accept"
    response.headers["Link"] = ", ".join(f'<{url}>; rel="alternate"; type="{media}"' for _, url, media in formats)
    return response


@blueprint.get("/id/<path:path>")
def resource_page(path: str):
    return answer("id/" + path)


@blueprint.get("/source/<path:path>")
def source_page(path: str):
    return answer("source/" + path)
