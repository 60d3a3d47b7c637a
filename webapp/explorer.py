"""The explorer for people: home, search (with a JSON type-ahead), class lists and entity pages, each with a .json twin."""

from __future__ import annotations

import re
from collections import defaultdict

from flask import Blueprint, abort, current_app, jsonify, render_template, request, url_for
from pyoxigraph import Literal, NamedNode

from migkg.namespaces import MIG, ORG, PREFIXES, SKOS

from . import graph_views as views
from . import kinds
from .backend_access import backend

blueprint = Blueprint("explorer", __name__)

# The doors a diplomat starts from, in the order the home page shows them.
ENTRY_POINTS = [
    ("ConsultationProcess", "Processes", "Regional consultative processes, interregional forums and global processes"),
    ("Instrument", "Instruments", "Conventions, protocols, declarations, action plans and strategies"),
    ("CoordinationMechanism", "Coordination mechanisms", "National and inter-agency coordination mechanisms"),
    ("State", "States", "States named in the sources, with their memberships and roles"),
    ("Organization", "Organizations", "Intergovernmental, UN, non-governmental bodies and government agencies"),
]

def kind_of(types: set[str]) -> tuple[str, str, str]:
    """(css name, readable name, colour) of the first matching kind (declared in webapp/kinds.py)."""
    kind = kinds.kind_of(types)
    return kind.name, kind.title, kind.colour


@blueprint.get("/kinds.css")
def kinds_css():
    """The kind colours as a stylesheet, generated from webapp/kinds.py."""
    response = current_app.response_class(kinds.stylesheet(), mimetype="text/css")
    response.cache_control.max_age = 3600
    response.cache_control.public = True
    return response


@blueprint.get("/favicon.ico")
def favicon():
    return current_app.send_static_file("favicon.svg"), 200, {"Content-Type": "image/svg+xml"}


# ------------------------------------------------------------------------------------------ IRIs


def resource_base() -> str:
    return current_app.config["MIGKG"].resource_base


def local_url(iri: str) -> str:
    """Where the explorer shows an IRI: the local page for the graph's own IRIs, the IRI itself otherwise."""
    base = resource_base()
    if iri.startswith(base):
        rest = iri[len(base):]
        if rest.startswith(("id/", "source/")):
            return "/" + rest
        if rest.startswith("ontology"):
            return "/ontology" + rest[len("ontology"):]
    return iri


def iri_for_path(path: str) -> str:
    """The resource a local path stands for: /id/x is {resource_base}id/x."""
    return resource_base() + path.lstrip("/")


def class_slug(iri: str) -> str:
    if iri.startswith(MIG):
        return iri[len(MIG):]
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace) and prefix != "mig":
            return f"{prefix}:{iri[len(namespace):]}"
    return iri


def class_iri(slug: str) -> str | None:
    prefix, sep, local = slug.partition(":")
    if not sep:
        return MIG + slug if slug.isidentifier() else None
    namespace = PREFIXES.get(prefix)
    return namespace + local if namespace and local.replace("-", "_").isidentifier() else None


@blueprint.app_template_global()
def link_to(iri: str) -> str:
    return local_url(iri)


@blueprint.app_template_filter()
def sentence(text: str) -> str:
    """First letter upper-case, the rest untouched (Jinja's capitalize would turn "UN entity" into "Un entity")."""
    return text[:1].upper() + text[1:] if text else text


@blueprint.app_template_global()
def class_url(iri: str) -> str:
    return url_for("explorer.class_list", name=class_slug(iri))


# ---------------------------------------------------------------------------------- shared builders


def _built():
    db = backend()
    return db, db.build.id


def source_ref(source: views.Source) -> dict:
    url = None
    if source.kind == "section":
        url = local_url(source.graph)
    elif source.kind == "ontology":
        url = "/ontology"
    short = None
    if source.document_label:
        # "UNODC Toolkit to Combat Smuggling of Migrants, Tool 4" -> "UNODC Toolkit to Combat Smuggling of Migrants"
        short = re.split(r"[:,]", source.document_label, maxsplit=1)[0].strip()
        if len(short) > 24:
            short = " ".join(short.split()[:2])
        short = f"{short} {source.label}"
    dates = _source_dates()
    date = dates.get(source.graph) or (dates.get(source.document) if source.document else None)
    return {"graph": source.graph, "kind": source.kind, "label": source.label, "title": source.title,
            "document": source.document_label, "document_short": short, "url": url, "date": date}


def _source_dates() -> dict[str, str]:
    """Dates of the sources (per build), so that every source badge can say how old its statement is."""
    store = backend()
    return views.source_dates(store)


def as_of(sources: list[dict]) -> str | None:
    """The age of a fact stated by dated sources: the latest of their dates."""
    dates = [source["date"] for source in sources if source.get("date")]
    return max(dates) if dates else None


def sources_for(graphs, known) -> list[dict]:
    found = [views.source_of(graph, known) for graph in sorted(graphs)]
    # The asserted sources first; "inferred" only when nothing else states it.
    asserted = [source for source in found if source.kind != "inferred"]
    return [source_ref(source) for source in (asserted or found)]


def ref(iri: str, annotations: dict[str, views.Annotation]) -> dict:
    annotation = annotations.get(iri) or views.Annotation(iri)
    kind, kind_title, colour = kind_of(annotation.types)
    return {"iri": iri, "label": annotation.label, "url": local_url(iri), "kind": kind, "kind_title": kind_title,
            "description": annotation.comment}


def literal_ref(literal: Literal) -> dict:
    datatype = literal.datatype.value if literal.datatype else None
    short = datatype.rsplit("#", 1)[-1] if datatype else None
    return {"value": literal.value, "language": literal.language, "datatype": short}


def most_specific(types: set[str], ancestors: dict[str, set[str]]) -> list[str]:
    """The types that are not superclasses of another of the resource's types."""
    candidates = {t for t in types if t.startswith(MIG) or t in (ORG + "Membership", SKOS + "Concept",
                                                                   SKOS + "ConceptScheme", ORG + "Role")}
    return sorted(t for t in candidates if not any(t in ancestors.get(other, ()) for other in candidates - {t}))


@views.per_build
def ancestors_by_class(store) -> dict[str, set[str]]:
    """class -> all its superclasses, from the ontology's subclass axioms (cached per build)."""
    parents = defaultdict(set)
    for child, parent in views.subclass_pairs(store):
        parents[child].add(parent)
    found = {}
    for cls in list(parents):
        seen, todo = set(), list(parents[cls])
        while todo:
            parent = todo.pop()
            if parent not in seen:
                seen.add(parent)
                todo.extend(parents.get(parent, ()))
        found[cls] = seen
    return found


def wants_json_twin(path_suffix: bool) -> bool:
    return path_suffix or request.args.get("format") == "json"


# ------------------------------------------------------------------------------------------ home


def home_view() -> dict:
    store, build_id = _built()
    counts = views.class_counts(store)
    states_in_data = views.class_total(store, NamedNode(MIG + "State"), in_data=True)
    entry_points = []
    for local, title, blurb in ENTRY_POINTS:
        count = states_in_data if local == "State" else counts.get(MIG + local, 0)
        entry_points.append({"class": MIG + local, "title": title, "description": blurb, "count": count,
                             "url": url_for("explorer.class_list", name=local)})
    annotations = views.annotate(store, [NamedNode(c) for c in counts if c.startswith(MIG) or c.startswith(ORG)
                                         or c.startswith(SKOS)])
    # The ontology's own classes (and SKOS concepts); the rolified membership classes are a reasoning device.
    shown = {cls for cls in annotations if (cls.startswith(MIG) and not cls.endswith("Membership"))
             or cls == SKOS + "Concept"}
    classes = sorted(({"class": cls, "label": annotations[cls].label, "count": count, "url": class_url(cls)}
                      for cls, count in counts.items() if cls in shown),
                     key=lambda row: (-row["count"], row["label"]))
    known = views.sections(store)
    per_graph = store.build.summary.get("graphs", {})
    documents = defaultdict(lambda: {"sections": 0, "statements": 0})
    for graph, section in known.items():
        documents[section.document]["sections"] += 1
        documents[section.document]["statements"] += per_graph.get(graph, 0)
    document_names = views.annotate(store, [NamedNode(d) for d in documents])
    sources = [{"iri": iri, "label": document_names[iri].label, "url": local_url(iri), **figures}
               for iri, figures in sorted(documents.items(), key=lambda item: document_names[item[0]].label)]
    return {"build_id": build_id, "built_at": store.build.built_at,
            "statements": sum(per_graph.values()), "entry_points": entry_points, "classes": classes,
            "sources": sources}


@blueprint.get("/")
def home():
    return render_template("home.html", view=home_view(), json_url="/index.json")


@blueprint.get("/index.json")
@blueprint.get("/.json")
def home_json():
    return jsonify(home_view())


# ----------------------------------------------------------------------------------------- search


# A concept's scheme tells two same-named concepts apart ("trafficking in persons": a theme, a movement type).
CONCEPT_SCHEMES = """
SELECT ?concept ?scheme WHERE { VALUES ?concept { %s } ?concept skos:inScheme ?scheme }"""


def search_view(text: str, limit: int) -> dict:
    store, build_id = _built()
    kind = request.args.get("kind", "").strip()
    kind_names = {k.name: k.title for k in kinds.kinds()}
    if kind and kind not in kind_names:
        abort(400, description="kind must be one of: " + ", ".join(kind_names))
    number = page_number()
    answer = (views.find(store, text, limit=limit * number, kind=kind or None) if text.strip()
              else views.SearchAnswer([]))
    page = paging(answer.total, limit, number)
    hits, more = answer.hits[(number - 1) * limit:], answer.total > number * limit
    annotations = views.annotate(store, [NamedNode(iri) for iri, _, _ in hits])
    ancestors = ancestors_by_class(store)
    type_names = views.annotate(store, [NamedNode(t) for a in annotations.values() for t in a.types
                                        if t.startswith(MIG)])
    concepts = [NamedNode(iri) for iri, _, _ in hits if SKOS + "Concept" in annotations[iri].types]
    schemes = {}
    if concepts:
        rows = views.select(store, CONCEPT_SCHEMES % " ".join(str(node) for node in concepts))
        pairs = [(row["concept"].value, row["scheme"].value) for row in rows]
        scheme_names = views.annotate(store, [NamedNode(scheme) for _, scheme in pairs])
        schemes = {concept: scheme_names[scheme].label for concept, scheme in pairs}
    results = []
    for iri, points, name in hits:
        entry = ref(iri, annotations)
        specific = most_specific(annotations[iri].types, ancestors)
        type_label = ", ".join(type_names[t].label for t in specific if t in type_names)
        entry.update({"score": points, "matched": name.text, "matched_language": name.language,
                      "fuzzy": points < 30 and points != 0 and name.normalised not in views.normalise(text),
                      "type": schemes.get(iri) or type_label})
        results.append(entry)
    return {"query": text[:views.MAX_QUERY_CHARS], "count": len(results), "total": answer.total, "more": more,
            "page": page, "results": results, "kind": kind,
            "kinds": [{"value": k, "label": title} for k, title in kind_names.items()],
            "suggestion": answer.suggestion, "shortened": answer.truncated_query}


# The search page lists this many results; its .json twin (whose own default is 20, for type-ahead) is asked for as many.
PAGE_RESULTS = 100


@blueprint.get("/search")
def search():
    text = request.args.get("q", "")
    return render_template("search.html", view=search_view(text, PAGE_RESULTS),
                           json_url=url_for("explorer.search_json", q=text[:views.MAX_QUERY_CHARS],
                                            kind=request.args.get("kind") or None, limit=PAGE_RESULTS,
                                            page=request.args.get("page") or None))


@blueprint.get("/search.json")
def search_json():
    try:
        limit = max(1, min(PAGE_RESULTS, int(request.args.get("limit", "20"))))
    except ValueError:
        abort(400, description=f"limit must be a whole number between 1 and {PAGE_RESULTS}")
    return jsonify(search_view(request.args.get("q", ""), limit))


# ------------------------------------------------------------------------------------- class lists

SORTS = {"name": "name", "members": "members", "date": "date", "kind": "kind"}
FILTER_WORDING = {"theme": "addresses the theme", "region": "is in the region", "member": "has the member state"}


def _filter_node(kind: str, value: str) -> NamedNode:
    """A filter value from the query string as a resource IRI (theme=asylum, region=asia, member=THA)."""
    base = resource_base() + "id/"
    path = {"theme": "theme/", "region": "region/", "member": "state/"}[kind]
    try:
        return NamedNode(base + path + value)
    except ValueError:
        abort(400, description=f"{value!r} is not a valid {kind}")


# A class list shows this many resources a page (the curated graph's states and organizations fit on one), and
# each filter offers the most common values (every value the curated graph has).
CLASS_PAGE_SIZE = 200
FACET_VALUES = 200
# No list is longer than this many pages: page=10**9 is refused before any query.
MAX_PAGE = 100_000


def page_number() -> int:
    """The `page` asked for (1 if none): a whole number from 1, else a 400 saying so."""
    text = request.args.get("page", "1").strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        abort(400, description=f"page must be a whole number from 1 to {MAX_PAGE}, not {text[:40]!r}")
    return int(text)


def paging(total: int, size: int, number: int) -> dict:
    """Which items page `number` shows and the links to its neighbours (this URL with another page=); a page past
    the last is a 404 (page 1 of an empty list is not)."""
    pages = max(1, -(-total // size))
    if number > pages:
        abort(404, description=f"There is no page {number}: the list has {pages} page{'s' if pages > 1 else ''} "
                               f"of {size} (of {total} in all).")

    def link(page: int) -> str:
        values = {**request.view_args, **request.args.to_dict(), "page": page}
        return url_for(request.endpoint, **values)

    return {"number": number, "pages": pages, "size": size, "total": total,
            "first": min(total, (number - 1) * size + 1), "last": min(total, number * size),
            "previous": link(number - 1) if number > 1 else None, "next": link(number + 1) if number < pages else None}


def class_list_view(name: str) -> dict:
    store, build_id = _built()
    cls = class_iri(name)
    if cls is None:
        abort(404, description=f"There is no class {name!r} in the ontology.")
    cls_node = NamedNode(cls)
    show_all = request.args.get("all") == "1"
    only_in_data = cls == MIG + "State" and not show_all
    number = page_number()
    filters = {kind: request.args.get(kind, "").strip() for kind in ("theme", "region", "member")}
    chosen = {kind: _filter_node(kind, value) for kind, value in filters.items() if value}
    sort = SORTS.get(request.args.get("sort", "name"), "name")
    everything = views.class_total(store, cls_node, in_data=only_in_data)
    cls_annotation = views.annotate(store, [cls_node])[cls]
    if not everything and not cls_annotation.labels:
        abort(404, description=f"There is no class {name!r} in the ontology.")
    total = views.class_total(store, cls_node, in_data=only_in_data, filters=chosen) if chosen else everything
    if chosen and not total:
        # The filter would show "0 of N" under selects that read "any": say what is wrong instead.
        abort(404, description=f"No {cls_annotation.label} " + " and ".join(
            f"{FILTER_WORDING[kind]} {filters[kind]!r}" for kind in chosen) + ".")
    page = paging(total, CLASS_PAGE_SIZE, number)
    ordered = total <= views.SORTED_UP_TO
    members = views.class_page(store, cls_node, sort if ordered else None, CLASS_PAGE_SIZE,
                               (number - 1) * CLASS_PAGE_SIZE, in_data=only_in_data, filters=chosen)
    facets = views.facets(store, members)
    annotations = views.annotate(store, [NamedNode(iri) for iri in members])
    ancestors = ancestors_by_class(store)
    facet_counts = {kind: views.class_facet(store, cls_node, kind, FACET_VALUES, in_data=only_in_data)
                    for kind in ("theme", "region", "member")}
    for kind, value in chosen.items():
        if value.value not in facet_counts[kind]:  # a chosen value stays selectable though not among the top
            facet_counts[kind][value.value] = views.class_total(store, cls_node, in_data=only_in_data,
                                                                filters={kind: value})
    linked = {v for iri in members for key in ("theme", "region", "process", "agency of")
              for v in facets.get(iri, {}).get(key, ())} | {v for counts in facet_counts.values() for v in counts}
    linked_names = views.annotate(store, [NamedNode(iri) for iri in linked])
    type_iris = {t for iri in members for t in most_specific(annotations[iri].types, ancestors)}
    type_names = views.annotate(store, [NamedNode(t) for t in type_iris])

    items = []
    for iri in members:
        own = facets.get(iri, {})
        annotation = annotations[iri]
        specific = most_specific(annotation.types, ancestors)
        dates = sorted(own.get("established", set()) | own.get("adopted", set()))
        items.append({
            **ref(iri, annotations),
            "names": [text for text, _ in annotation.alternative_labels][:3],
            "type": ", ".join(type_names[t].label for t in specific if t in type_names),
            "themes": sorted((ref(t, linked_names) for t in own.get("theme", ())), key=lambda r: r["label"]),
            "regions": sorted((ref(t, linked_names) for t in own.get("region", ())), key=lambda r: r["label"]),
            "processes": sorted((ref(t, linked_names) for t in own.get("process", ())), key=lambda r: r["label"]),
            "process_count": own.get("processes", 0),
            "agency_of": sorted((ref(t, linked_names) for t in own.get("agency of", ())), key=lambda r: r["label"]),
            "members": own.get("full members", 0),
            "date": dates[0] if dates else None,
        })
    if ordered and sort == "name":
        # The engine sorts by the English label; the page shows the best label, in the same order where they agree.
        items.sort(key=lambda item: item["label"].casefold())

    def options(kind):
        return sorted(({"value": iri.rsplit("/", 1)[-1], "label": linked_names[iri].label, "count": count}
                       for iri, count in facet_counts[kind].items() if iri in linked_names),
                      key=lambda o: o["label"].casefold())

    return {"class": cls, "name": name, "label": cls_annotation.label, "description": cls_annotation.comment,
            "count": total, "total": everything, "sort": sort, "sorted": ordered, "sorted_up_to": views.SORTED_UP_TO,
            "filters": filters,
            "options": {kind: options(kind) for kind in facet_counts}, "all": show_all,
            "states_note": only_in_data, "page": page, "rows": items}


@blueprint.get("/class/<name>")
def class_list(name: str):
    if name.endswith(".json"):
        return jsonify(class_list_view(name[: -len(".json")]))
    view = class_list_view(name)
    args = {k: v for k, v in request.args.items()}
    return render_template("class_list.html", view=view,
                           json_url=url_for("explorer.class_list", name=name + ".json", **args))


# ------------------------------------------------------------------------------------- entity pages


def entity_view(resource: NamedNode) -> dict | None:
    """Everything the entity page shows about one resource, as plain data (the page's .json twin)."""
    from . import atlas, compare  # they build on this module's helpers

    store, build_id = _built()
    statements = views.statements(store, resource)
    if not statements.outgoing and not statements.incoming:
        return None
    iri = resource.value
    known = views.sections(store)
    shortcut_properties = views.shortcuts(store)
    inverse = views.inverses(store)
    memberships = views.memberships(store, resource)
    figures = views.figures(store, resource)

    linked = {iri}
    for (predicate, term) in list(statements.outgoing) + list(statements.incoming):
        linked.add(predicate)
        if isinstance(term, NamedNode):
            linked.add(term.value)
    for membership in memberships:
        linked |= {membership.member, membership.organization, membership.role}
    for figure in figures:
        linked |= {x for x in (figure.measure, figure.qualifier) if x}
    annotations = views.annotate(store, [NamedNode(x) for x in linked])
    me = annotations[iri]
    ancestors = ancestors_by_class(store)
    asserted_types = {term.value for (predicate, term), graphs in statements.outgoing.items()
                      if predicate == views.RDF_TYPE and graphs - {views.INFERRED_GRAPH.value}}
    specific = most_specific(asserted_types or me.types, ancestors) or sorted(asserted_types or me.types)
    type_names = views.annotate(store, [NamedNode(t) for t in specific])
    kind, kind_title, colour = kind_of(me.types)

    def hidden(predicate: str) -> bool:
        return (predicate in views.HEADER_PREDICATES or predicate in views.MEMBERSHIP_PREDICATES
                or predicate in views.OBSERVATION_PREDICATES or predicate in shortcut_properties
                or bool(views.TECHNICAL.match(predicate)))

    def group(entries, direction):
        groups = defaultdict(list)
        for (predicate, term), graphs in entries.items():
            if hidden(predicate):
                continue
            if direction == "in" and any((inv, term) in statements.outgoing for inv in inverse.get(predicate, ())):
                continue  # already shown as the outgoing inverse (e.g. "supplemented by" for "supplements")
            value = ref(term.value, annotations) if isinstance(term, NamedNode) else (
                literal_ref(term) if isinstance(term, Literal) else {"value": "(blank node)"})
            if isinstance(term, NamedNode) and not term.value.startswith(resource_base()):
                value["external"] = term.value not in annotations or not annotations[term.value].labels
                if value["external"]:
                    value["label"] = term.value  # a web address is best shown as itself
            value["sources"] = sources_for(graphs, known)
            value["inferred"] = graphs <= {views.INFERRED_GRAPH.value}
            groups[predicate].append(value)
        result = []
        for predicate, values in groups.items():
            annotation = annotations.get(predicate) or views.Annotation(predicate)
            values.sort(key=lambda v: (v.get("label") or v.get("value") or "").casefold())
            result.append({"property": predicate, "label": annotation.label, "description": annotation.comment,
                           "url": local_url(predicate), "count": len(values), "entries": values,
                           "literal": all("label" not in v for v in values)})
        result.sort(key=lambda g: (kinds.relation_rank(kind, g["property"]), not g["literal"], g["label"].casefold()))
        return result

    def membership_row(membership, counterpart):
        cited_by = sources_for(membership.graphs, known)
        return {**ref(counterpart, annotations), "role": ref(membership.role, annotations),
                "membership": local_url(membership.iri), "start": membership.start, "end": membership.end,
                "remit": membership.remit, "sources": cited_by, "as_of": as_of(cited_by)}

    roles_held_in = defaultdict(list)
    memberships_held = []
    for membership in memberships:
        if membership.organization == iri:
            roles_held_in[membership.role].append(membership_row(membership, membership.member))
        if membership.member == iri:
            memberships_held.append(membership_row(membership, membership.organization))

    role_rank = kinds.role_rank

    participants = [{"role": ref(role, annotations), "count": len(rows),
                     "members": sorted(rows, key=lambda r: r["label"].casefold())}
                    for role, rows in sorted(roles_held_in.items(), key=lambda item: role_rank(item[0]))]
    memberships_held.sort(key=lambda r: (r["label"].casefold(), role_rank(r["role"]["iri"])))

    figure_rows = [{"measure": ref(f.measure, annotations) if f.measure else None, "value": f.value,
                    "qualifier": annotations[f.qualifier].label if f.qualifier else None,
                    "exact": (f.qualifier or "").endswith("/exact"),
                    "as_of": f.as_of, "url": local_url(f.iri), "sources": sources_for(f.graphs, known)}
                   for f in figures]

    expected = expected_facts(kind, me.types, statements, memberships, figures, annotations, iri)
    unnamed = unnamed_members(kind, memberships, figures, annotations, iri)
    related_processes = compare.most_shared_with(store, iri) if kind == "process" else []
    small_map = atlas.small_map(store, iri, kind) if kind in ("process", "state") else None

    all_graphs = set().union(*statements.outgoing.values(), *statements.incoming.values())
    cited = {}
    for graph in sorted(all_graphs):
        source = views.source_of(graph, known)
        if source.kind == "section":
            cited[graph] = source_ref(source)

    networks = [{"title": "Ego network", "url": url_for("networks.ego", path=iri_path(iri))}]
    if participants:
        networks.insert(0, {"title": "Members and roles", "url": url_for("networks.members", path=iri_path(iri))})
    if memberships_held and MIG + "State" in me.types:
        networks.insert(0, {"title": "Processes of this state",
                            "url": url_for("networks.state_processes", path=iri_path(iri))})
    if MIG + "Instrument" in me.types and views.in_lineage(store, iri):
        networks.insert(0, {"title": "Instrument lineage", "url": url_for("networks.lineage", focus=iri_path(iri))})

    document = None
    if MIG + "SourceDocument" in me.types:
        contents = views.section_contents(store, resource)
        described = {subject for rows in contents.values() for subject, _ in rows}
        names = views.annotate(store, [NamedNode(s) for s in described])
        document = []
        for graph, rows in sorted(contents.items(), key=lambda item: _section_order(item[0])):
            source = views.source_of(graph, known)
            document.append({"anchor": graph.split("#", 1)[-1] if "#" in graph else graph, "graph": graph,
                             "label": source.label, "title": source.title,
                             "resources": sorted(({**ref(s, names), "statements": n} for s, n in rows),
                                                 key=lambda r: r["label"].casefold())})

    return {
        "iri": iri, "url": local_url(iri), "label": me.label,
        "names": [{"text": text, "language": language} for text, language in me.alternative_labels],
        "description": me.comment,
        "types": [{"iri": t, "label": type_names[t].label, "url": class_url(t)} for t in specific],
        "kind": kind, "kind_title": kind_title, "colour": colour,
        "participants": participants, "memberships": memberships_held, "figures": figure_rows,
        "facts": [g for g in group(statements.outgoing, "out") if g["literal"]],
        "outgoing": [g for g in group(statements.outgoing, "out") if not g["literal"]],
        "incoming": group(statements.incoming, "in"),
        "sources": list(cited.values()), "networks": networks, "sections": document,
        "expected": expected, "unnamed_members": unnamed, "figures_first": kind in kinds.FIGURES_FIRST,
        "shares_most_with": related_processes, "map": small_map,
    }


def expected_facts(kind, types, statements, memberships, figures, annotations, iri) -> list[dict]:
    """The facts a reader expects of this kind of resource (kinds.EXPECTED), each with what the sources
    give or, honestly, that they state none."""
    found = []
    for expected in kinds.EXPECTED.get(kind, []):
        if expected.only_for and expected.only_for not in types:
            continue
        values = []
        for membership in memberships:
            if membership.organization == iri and membership.role in expected.roles:
                values.append(ref(membership.member, annotations))
        for (predicate, term), _graphs in statements.outgoing.items():
            if predicate in expected.predicates:
                values.append(ref(term.value, annotations) if isinstance(term, NamedNode) else literal_ref(term))
        for figure in figures:
            if figure.measure in expected.measures:
                qualifier = annotations[figure.qualifier].label if figure.qualifier and not figure.qualifier.endswith(
                    "/exact") else ""
                values.append({"value": f"{qualifier + ' ' if qualifier else ''}{figure.value}"
                                        + (f" (as of {figure.as_of})" if figure.as_of else "")})
        unique = {}
        for value in values:
            unique.setdefault(value.get("iri") or value.get("value"), value)
        values = list(unique.values())
        found.append({"key": expected.key, "label": expected.label, "count": len(values),
                      "entries": sorted(values, key=lambda v: (v.get("label") or v.get("value") or ""))[:6],
                      "stated": bool(values)})
    return found


def unnamed_members(kind, memberships, figures, annotations, iri) -> dict | None:
    """Where the sources give only a count ("more than 50 states") and name fewer, say so."""
    if kind != "process":
        return None
    named = {m.member for m in memberships if m.organization == iri
             and MIG + "State" in annotations.get(m.member, views.Annotation(m.member)).types}
    counts = [f for f in figures if f.measure in kinds.MEMBER_COUNT_MEASURES]
    if not counts:
        return None
    latest = max(counts, key=lambda f: f.as_of or "")
    try:
        stated = float(latest.value)
    except ValueError:
        return None
    qualifier = latest.qualifier or ""
    if len(named) >= stated and not qualifier.endswith(("more-than", "about")):
        return None
    if len(named) > stated:
        return None
    words = annotations[qualifier].label if qualifier and not qualifier.endswith("/exact") else ""
    measure = annotations[latest.measure].label if latest.measure else "states"
    return {"stated": f"{words + ' ' if words else ''}{latest.value} {measure}", "as_of": latest.as_of,
            "named": len(named)}


def _section_order(graph: str):
    tail = graph.split("#", 1)[-1]
    parts = [int(p) if p.isdigit() else p for p in tail.replace("s", "", 1).split(".")] if tail[:1] == "s" else [tail]
    return [(0, p) if isinstance(p, int) else (1, p) for p in parts]


def iri_path(iri: str) -> str:
    """The path of a resource under the resource base ("id/colombo-process")."""
    base = resource_base()
    return iri[len(base):] if iri.startswith(base) else iri


def render_entity(resource: NamedNode, formats: list[tuple[str, str, str]]):
    """The HTML entity page (used by /id/… and /source/… for browsers); None if the resource is unknown."""
    view = entity_view(resource)
    if view is None:
        return None
    return render_template("entity.html", view=view, formats=formats,
                           json_url=next((url for label, url, _ in formats if label == "JSON"), None))

