"""The researcher's workbench behind /sparql: example short links, term completion, label look-ups, named downloads, vendor assets."""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, current_app, jsonify, request, send_from_directory
from pyoxigraph import Literal, NamedNode
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, NotFound

from migkg.catalogue import CannedQuery, QueryInputError, parse_value, readable_catalogue
from migkg.config import PROJECT_ROOT
from migkg.namespaces import ID, PREFIXES, SHAPES_GRAPH, prefixed

from . import explorer
from .backend_access import backend
from . import graph_views as views

blueprint = Blueprint("workbench", __name__)

# What the editor page may load, and from where: only this host (see the CSP below).
NODE_MODULES = PROJECT_ROOT / "node_modules"
EDITOR_DIR = NODE_MODULES / "@zazuko" / "yasqe" / "build"
EDITOR_FILES = {"yasqe.min.js", "yasqe.min.css"}
EDITOR_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                 "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'")

# Parameters of the SPARQL Protocol (and of this workbench) that an example link may carry besides its own.
PROTOCOL_PARAMETERS = {"format", "output", "results", "download", "default-graph-uri", "named-graph-uri"}
MAX_LABEL_IRIS = 500
DOWNLOAD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")
# The file suffix a download gets, by the media type the endpoint answered with.
SUFFIXES = {
    "application/sparql-results+json": "json", "application/json": "json",
    "application/sparql-results+xml": "srx", "text/csv": "csv", "text/tab-separated-values": "tsv",
    "text/turtle": "ttl", "application/n-triples": "nt", "application/rdf+xml": "rdf",
    "application/ld+json": "jsonld",
}


def _db():
    """The backend snapshot this request reads (one build per request)."""
    return backend()


# ------------------------------------------------------------------------------------------ names


def best_label(annotation: views.Annotation, language: str) -> tuple[str, str]:
    """The label to show a reader of `language`: theirs when the data has it, else the explorer's choice (English first)."""
    if language and language != "en":
        own = [text for predicate, text, lang in annotation.labels
               if lang == language and predicate != views.ALT_LABEL]
        if own:
            return own[0], language
    label = annotation.label
    languages = [lang for _, text, lang in annotation.labels if text == label]
    return label, (languages[0] if languages else "")


def _absolute_iri(value: str) -> NamedNode:
    try:
        node = NamedNode(value)
    except ValueError:
        raise BadRequest(f"{value[:80]!r} is not an IRI.") from None
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", value):
        raise BadRequest(f"{value[:80]!r} is not an absolute IRI.")
    return node


@blueprint.route("/workbench/labels.json", methods=["GET", "POST"])
def labels():
    """Labels for up to MAX_LABEL_IRIS IRIs (`iri=` repeated, or a JSON body {"iris": [...]}), for result tables."""
    if request.method == "POST":
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("iris"), list) \
                or not all(isinstance(iri, str) for iri in body["iris"]):
            raise BadRequest('Send a JSON object {"iris": ["https://…", …]}.')
        iris = body["iris"]
        language = str(body.get("lang") or "")
    else:
        iris = request.args.getlist("iri")
        language = request.args.get("lang", "")
    if len(iris) > MAX_LABEL_IRIS:
        raise BadRequest(f"Ask for at most {MAX_LABEL_IRIS} IRIs at a time; this request has {len(iris)}.")
    language = language.split("-")[0].lower() if re.fullmatch(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*", language) else ""
    nodes = [_absolute_iri(iri) for iri in dict.fromkeys(iris)]
    annotations = views.annotate(_db(), nodes)
    found = {}
    for node in nodes:
        annotation = annotations[node.value]
        label, label_language = best_label(annotation, language)
        found[node.value] = {
            "label": label, "language": label_language, "known": bool(annotation.labels),
            "prefixed": prefixed(node.value), "href": explorer.local_url(node.value),
            "description": annotation.comment,
        }
    response = jsonify(labels=found)
    response.headers["Cache-Control"] = "no-cache"
    return response


# ------------------------------------------------------------------------------------- vocabulary

VOCABULARY = """
SELECT DISTINCT ?term ?kind WHERE {
  {
    VALUES ?declared { owl:Class rdfs:Class }
    GRAPH ?graph { ?term a ?declared } BIND("class" AS ?kind)
  } UNION {
    VALUES ?declared { owl:ObjectProperty owl:DatatypeProperty owl:AnnotationProperty rdf:Property }
    GRAPH ?graph { ?term a ?declared } BIND("property" AS ?kind)
  } UNION {
    GRAPH ?graph { ?resource a ?term } BIND("class" AS ?kind)
  } UNION {
    GRAPH ?graph { ?resource ?term ?value } BIND("property" AS ?kind)
  }
  FILTER(isIRI(?term) && ?graph != <%s>)
}""" % SHAPES_GRAPH.value  # the shapes describe what data may say, not what it says


@views.per_build
def vocabulary(db) -> dict:
    """The project's prefixes and the classes and properties the ontology declares or the data uses, as prefixed names."""
    kinds: dict[str, set[str]] = {"class": set(), "property": set()}
    for row in views.select(db, VOCABULARY):
        kinds[row["kind"].value].add(row["term"].value)
    terms = {iri for found in kinds.values() for iri in found}
    annotations = views.annotate(db, [NamedNode(iri) for iri in terms])

    def entries(iris):
        listed = []
        for iri in sorted(iris):
            name = prefixed(iri)
            if name is None:
                continue  # outside the known prefixes: completion writes prefixed names only
            annotation = annotations[iri]
            listed.append({"name": name, "iri": iri, "label": annotation.label if annotation.labels else "",
                           "description": annotation.comment or ""})
        return listed

    return {"prefixes": PREFIXES, "classes": entries(kinds["class"]), "properties": entries(kinds["property"])}


@blueprint.get("/workbench/vocabulary.json")
def vocabulary_json():
    db = _db()
    response = jsonify(vocabulary(db))
    response.set_etag(db.build.id, weak=True)
    response.headers["Cache-Control"] = "public, no-cache"
    return response.make_conditional(request)


# ------------------------------------------------------------------------------ example short links


def _catalogue() -> dict[str, CannedQuery]:
    return readable_catalogue(current_app.config["MIGKG"].queries_dir)[0]  # a broken file is listed by the editor


def resolve_value(parameter: str, text: str, default) -> NamedNode | Literal:
    """A parameter value as a term: IRI or literal syntax as written, or, where an IRI is expected, a resource's name."""
    text = text.strip()
    try:
        term = parse_value(text, default)  # a bare date for a date parameter is the date, as in `migkg query`
    except QueryInputError as error:
        raise BadRequest(f"`{parameter}`: {error}.") from None
    if isinstance(term, NamedNode) or not isinstance(default, NamedNode) or text.startswith(("'", '"')):
        return term
    hits = views.search(_db(), text, limit=5)
    exact = [iri for iri, points, _ in hits if points == 100]
    if len(exact) > 1:
        # A source page titled after a process ("Bali Process" on iom.int) is not the process: prefer resources.
        exact = [iri for iri in exact if iri.startswith(ID)] or exact
    if len(exact) == 1:
        return NamedNode(exact[0])
    if len(exact) > 1:
        raise BadRequest(f"`{parameter}`: {len(exact)} resources are named {text!r}; give the IRI of one: "
                         + ", ".join(prefixed(iri) or f"<{iri}>" for iri in exact) + ".")
    hint = f" Did you mean {', '.join(name.text for _, _, name in hits[:3])}?" if hits else ""
    raise BadRequest(f"`{parameter}`: no resource is named {text!r}.{hint}")


def expand_example(params: MultiDict) -> MultiDict:
    """`example=NAME&PARAM=VALUE…` (a short link) as the protocol request it stands for: the query text and its `$` bindings.

    Other protocol parameters (format, download, datasets) pass through; a parameter the example does not
    take is an error, so a mistyped link says so instead of silently answering with the default.
    """
    if "example" not in params:
        return params
    if "query" in params:
        raise BadRequest("Give either `example` (a catalogue query by name) or `query`, not both.")
    names = params.getlist("example")
    if len(names) != 1:
        raise BadRequest("Name one example: `example=NAME` once.")
    catalogue = _catalogue()
    canned = catalogue.get(names[0])
    if canned is None:
        raise NotFound(f"There is no example query named {names[0][:80]!r}; the catalogue is listed at /sparql.")
    by_name = {parameter.name: parameter for parameter in canned.parameters}
    expanded = MultiDict()
    expanded.add("query", canned.text)
    for key, values in params.lists():
        if key == "example":
            continue
        name = key.lstrip("$")
        if name in by_name:
            if len(values) != 1:
                raise BadRequest(f"Give `{name}` once.")
            if values[0].strip():
                term = resolve_value(name, values[0], by_name[name].default)
                expanded.add("$" + name, str(term))
        elif key in PROTOCOL_PARAMETERS:
            for value in values:
                expanded.add(key, value)
        else:
            takes = ", ".join(sorted(by_name)) or "no parameters"
            raise BadRequest(f"The example {canned.slug!r} has no parameter {key[:40]!r} (it takes: {takes}).")
    for name, parameter in by_name.items():
        if "$" + name not in expanded and parameter.default is not None:
            expanded.add("$" + name, str(parameter.default))
    return expanded


# ----------------------------------------------------------------------------- downloads and policy


@blueprint.after_app_request
def _downloads_and_policy(response: Response) -> Response:
    if request.path != "/sparql":
        return response
    # Download links are GETs; a POST body is not read again here (it may be over the size cap).
    name = request.args.get("download") if request.method == "GET" else None
    if name is not None and response.status_code == 200:
        if not DOWNLOAD_NAME.match(name):
            name = "query"
        suffix = SUFFIXES.get(response.mimetype, "txt")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.{suffix}"'
    if response.mimetype == "text/html":
        # The editor page loads nothing from another host and runs no inline script or style.
        response.headers.setdefault("Content-Security-Policy", EDITOR_POLICY)
    return response


@blueprint.get("/workbench/editor/<filename>")
def editor_asset(filename: str):
    """The YASQE editor from npm (@zazuko/yasqe, pinned in package-lock.json, installed by `make assets`), from this host."""
    if filename not in EDITOR_FILES:
        abort(404)
    if not (EDITOR_DIR / filename).is_file():
        abort(503, description="The SPARQL editor package is not installed: run `make assets` (npm ci).")
    return send_from_directory(EDITOR_DIR, filename, max_age=86400)
