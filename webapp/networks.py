"""Network pictures (pyvis/vis-network, fully offline): a process's members, a state's processes, instrument lineage, ego networks.

pyvis builds the node, edge and option objects; the page is our own template, which loads vis-network from
this app (the copy inside the pyvis package) and passes every text as data, so nothing reaches the page as HTML.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pyvis
from flask import Blueprint, abort, jsonify, render_template, request, send_from_directory, url_for
from pyoxigraph import NamedNode
from pyvis.network import Network

from . import explorer, kinds
from . import graph_views as views
from .backend_access import backend

blueprint = Blueprint("networks", __name__)

VIS_NETWORK_DIR = Path(pyvis.__file__).resolve().parent / "lib" / "vis-9.1.2"
MAX_NODES = 150
MAX_DEPTH = 3

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"  # the page's own font, in the canvas too
# Above this many links, edge labels would cover the picture: they are shown on hover instead (static/network.js).
EDGE_LABEL_LIMIT = 40


def options(nodes: int) -> dict:
    """vis-network options for a picture of `nodes` nodes: sizes and labels scale with the node's links, small
    labels are not drawn until zoomed in, and the layout spreads further as the picture grows."""
    large = nodes > 50
    return {
        "nodes": {"borderWidth": 1, "font": {"size": 14, "face": FONT, "strokeWidth": 4, "strokeColor": "#ffffff",
                                             "color": "#1d2733"},
                  "scaling": {"min": 10, "max": 40,
                              "label": {"enabled": True, "min": 12 if large else 13, "max": 36 if large else 20,
                                        "maxVisible": 30, "drawThreshold": 8 if large else 5}}},
        "edges": {"arrows": {"to": {"enabled": True, "scaleFactor": 0.45}},
                  "color": {"color": "#b3bcc6", "highlight": "#1d2733", "hover": "#1d2733"},
                  "width": 1, "hoverWidth": 1.5,
                  "font": {"size": 11, "face": FONT, "color": "#3d4956", "strokeWidth": 3, "align": "middle"},
                  "smooth": {"enabled": not large, "type": "continuous"}},
        "physics": {"solver": "forceAtlas2Based",
                    "forceAtlas2Based": {"gravitationalConstant": -45 if large else -60,
                                         "springLength": 80 if large else 110, "avoidOverlap": 1,
                                         "centralGravity": 0.02 if large else 0.012},
                    "stabilization": {"enabled": True, "iterations": 600 if large else 300, "fit": True}},
        # Keys move the picture only while it has the focus: bound to the window, vis-network would take the
        # arrow and page keys from the depth menu and from scrolling the page.
        "interaction": {"hover": True, "tooltipDelay": 120, "navigationButtons": False,
                        "keyboard": {"enabled": True, "bindToWindow": False},
                        "hideEdgesOnDrag": large},
        "layout": {"improvedLayout": nodes <= 100},
    }


OPTIONS = options(0)


@blueprint.get("/vendor/vis-network/<path:filename>")
def vis_network(filename: str):
    """vis-network's script and styles, served from the pyvis package itself: no CDN."""
    if filename not in ("vis-network.min.js", "vis-network.css"):
        abort(404)
    return send_from_directory(VIS_NETWORK_DIR, filename, max_age=86400)


def _short(annotation: views.Annotation) -> str:
    """Node caption: the acronym when there is one (IOM, IGC), else the name, cut to fit a drawing."""
    acronyms = [text for text, _ in annotation.alternative_labels if text.isupper() and 2 <= len(text) <= 10]
    text = acronyms[0] if acronyms else short_name(annotation)
    return text if len(text) <= 34 else text[:32].rstrip() + "…"


def short_name(annotation: views.Annotation) -> str:
    """The name to put in a title: a long official name gives way to its common short name (Colombo Process)."""
    shorter = sorted((text for text, language in annotation.alternative_labels
                      if language in ("en", "") and len(text) < len(annotation.label)), key=len)
    if len(annotation.label) > 50 and shorter and len(shorter[-1]) > 3:
        return shorter[-1]
    return annotation.label


def draw(focus: str | None, links: list[tuple[str, str, str]], extra_nodes=(), truncated=False) -> dict:
    """Nodes coloured by kind and edges labelled by property or role, as vis-network data via pyvis."""
    store = backend()
    iris = {focus} if focus else set()
    for subject, predicate, obj in links:
        iris |= {subject, obj}
    iris |= set(extra_nodes)
    predicates = {predicate for _, predicate, _ in links}
    annotations = views.annotate(store, [NamedNode(i) for i in iris | predicates])
    iris = {i for i in iris if not views.is_membership_or_observation(annotations[i].types)}

    # pyvis only builds the node/edge/options data here; its own HTML page (with CDN tags) is never
    # rendered: network.html draws the data with the vis-network copy this app serves.
    net = Network(directed=True, height="640px", width="100%", cdn_resources="in_line")
    kinds_used = set()
    degree = defaultdict(int)
    for subject, _, obj in links:
        if subject in iris and obj in iris:
            degree[subject] += 1
            degree[obj] += 1
    for iri in sorted(iris):
        annotation = annotations[iri]
        kind = kinds.kind_of(annotation.types)
        kinds_used.add(kind.name)
        # Plain text only: vis-network shows a string title with innerText, never as HTML.
        tooltip = "\n".join(x for x in (annotation.label, kind.title, annotation.comment or "") if x)
        # A node's size (and its label's) grows with its links; the focus is always the largest.
        value = max(degree.values(), default=1) * 1.5 if iri == focus else degree[iri] or 1
        net.add_node(explorer.local_url(iri), label=_short(annotation), title=tooltip,
                     color={"background": kind.colour, "border": "#1d2733",
                            "highlight": {"background": kind.colour, "border": "#000000"}},
                     shape=kind.shape, value=value, url=explorer.local_url(iri), kind=kind.name,
                     borderWidth=3 if iri == focus else 1)
    seen = set()
    for subject, predicate, obj in sorted(links):  # in one order whatever order the engine gave the rows in
        if subject not in iris or obj not in iris:
            continue
        label = annotations[predicate].label
        key = (subject, label, obj)
        if key in seen:
            continue
        seen.add(key)
        net.add_edge(explorer.local_url(subject), explorer.local_url(obj), label=label,
                     title=f"{annotations[subject].label} — {label} — {annotations[obj].label}")
    net.options = options(len(iris))
    nodes, edges, _heading, _height, _width, drawn_options = net.get_network_data()
    listing = sorted(({"label": annotations[i].label, "url": explorer.local_url(i),
                       "kind": explorer.kind_of(annotations[i].types)[0]} for i in iris),
                     key=lambda n: n["label"].casefold())
    return {"nodes": nodes, "edges": edges, "options": json.loads(drawn_options), "truncated": truncated,
            "legend": [{"name": k.name, "title": k.title, "colour": k.colour, "shape": k.shape}
                       for k in kinds.kinds() if k.name in kinds_used], "listing": listing,
            "edge_labels_on_hover": len(edges) > EDGE_LABEL_LIMIT,
            "focus": explorer.local_url(focus) if focus else None,
            "focus_label": annotations[focus].label if focus else None,
            "focus_name": short_name(annotations[focus]) if focus else None}


def _resource(path: str) -> tuple[str, NamedNode]:
    path = path[: -len(".json")] if path.endswith(".json") else path
    try:
        node = NamedNode(explorer.iri_for_path(path))
    except ValueError:
        abort(404, description=f"There is no resource /{path} in the knowledge graph.")
    if not views.exists(backend(), node):
        abort(404, description=f"There is no resource /{path} in the knowledge graph.")
    return path, node


def respond(path: str, title: str, description: str, graph: dict, controls: dict | None = None):
    graph = {**graph, "title": title, "description": description}
    if path.endswith(".json") or request.args.get("format") == "json":
        return jsonify(graph)
    json_url = request.path + ".json" + (("?" + request.query_string.decode()) if request.query_string else "")
    return render_template("network.html", graph=graph, controls=controls or {}, json_url=json_url)


def first_links(links: list[tuple[str, str, str]]) -> tuple[list[tuple[str, str, str]], bool]:
    """At most MAX_NODES links (the same ones on every engine), and whether some were left out: a state of a large
    graph takes part in hundreds of processes."""
    links = sorted(set(links))
    return links[:MAX_NODES], len(links) > MAX_NODES


@blueprint.get("/network/members/<path:path>")
def members(path: str):
    """The members of a process or body, with an edge per role (member, observer, chair, secretariat, …)."""
    _, node = _resource(path)
    links = views.membership_links(backend(), [node])
    links, truncated = first_links([link for link in links if link[2] == node.value])
    graph = draw(node.value, links, truncated=truncated)
    if len(graph["nodes"]) <= 1:
        abort(404, description="No memberships are recorded in this process or body.")
    graph["note"] = unnamed_note(node)
    return respond(path, f"Members of {graph['focus_name']}",
                   "Every actor the sources name as taking part, with its role.", graph)


def unnamed_note(node: NamedNode) -> str | None:
    """When the sources count more members than they name ("more than 50 states"), the picture says so."""
    store = backend()
    memberships, figures = views.memberships(store, node), views.figures(store, node)
    iris = {node.value} | {m.member for m in memberships} | {f.measure for f in figures if f.measure}
    iris |= {f.qualifier for f in figures if f.qualifier}
    annotations = views.annotate(store, [NamedNode(i) for i in iris])
    kind = explorer.kind_of(annotations[node.value].types)[0]
    unnamed = explorer.unnamed_members(kind, memberships, figures, annotations, node.value)
    if not unnamed:
        return None
    as_of = f" (as of {unnamed['as_of']})" if unnamed["as_of"] else ""
    named = f"only {unnamed['named']} of them are named and drawn" if unnamed["named"] else "none of them is named"
    return f"The sources give {unnamed['stated']}{as_of}; {named}."


@blueprint.get("/network/state/<path:path>")
def state_processes(path: str):
    """The processes and bodies a state takes part in, with its role in each."""
    _, node = _resource(path)
    links, truncated = first_links([link for link in views.membership_links(backend(), [node])
                                    if link[0] == node.value])
    if not links:
        abort(404, description=f"/{explorer.iri_path(node.value)} takes part in no process or body the sources name.")
    graph = draw(node.value, links, truncated=truncated)
    return respond(path, f"Processes of {graph['focus_name']}",
                   "The processes, forums and bodies this state takes part in, and its role in each.", graph)


@blueprint.get("/network/lineage")
@blueprint.get("/network/lineage.json")
def lineage():
    """Instrument lineage: protocols supplementing conventions, plans implementing declarations, parts of wholes."""
    focus = request.args.get("focus")
    focus_iri = None
    if focus:
        _, node = _resource(focus)
        focus_iri = node.value
        if not views.in_lineage(backend(), focus_iri):
            abort(404, description=f"/{explorer.iri_path(focus_iri)} has no recorded lineage: no instrument of the "
                                   "graph supplements, implements or is part of it, nor it of one.")
    links = views.lineage(backend())
    graph = draw(focus_iri, links)
    path = "lineage.json" if request.path.endswith(".json") else "lineage"
    return respond(path, "Instrument lineage",
                   "How instruments build on each other: a protocol supplements its convention, an action plan "
                   "implements a declaration, a part belongs to a larger instrument.", graph)


@blueprint.get("/network/ego/<path:path>")
def ego(path: str):
    """Everything within `depth` links of one resource (memberships drawn as role edges)."""
    _, node = _resource(path)
    try:
        depth = int(request.args.get("depth", "1"))
    except ValueError:
        abort(400, description="depth must be a whole number from 1 to 3")
    if not 1 <= depth <= MAX_DEPTH:
        abort(400, description="depth must be a whole number from 1 to 3")
    store = backend()
    seen, frontier, links, truncated = {node.value}, [node], [], False
    for _ in range(depth):
        found = views.links(store, frontier)
        next_frontier = []
        for subject, predicate, obj in sorted(found):  # the same neighbours kept past MAX_NODES on every engine
            for neighbour in (subject, obj):
                if neighbour not in seen:
                    if len(seen) >= MAX_NODES:
                        truncated = True
                        continue
                    seen.add(neighbour)
                    next_frontier.append(NamedNode(neighbour))
            if subject in seen and obj in seen:
                links.append((subject, predicate, obj))
        frontier = next_frontier
        if not frontier:
            break
    graph = draw(node.value, links, truncated=truncated)
    controls = {"depth": depth, "max_depth": MAX_DEPTH, "action": url_for("networks.ego", path=path)}
    return respond(path, f"Network around {graph['focus_name']}",
                   f"Resources within {depth} link{'s' if depth > 1 else ''}; memberships are drawn as edges "
                   "labelled with the role.", graph, controls)
