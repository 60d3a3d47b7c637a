"""/compare: which actors several consultation processes share and which are each one's own (with role and source),
and the overlap matrix of every process against every other (shared states, each cell a link to the comparison; in a
large graph, of the MATRIX_PROCESSES processes naming the most states).
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

from flask import Blueprint, abort, jsonify, render_template, request, url_for
from pyoxigraph import NamedNode

from .backend_access import backend
from . import atlas, explorer, kinds
from . import graph_views as views

blueprint = Blueprint("compare", __name__)

MAX_PROCESSES = 8

# Every membership held in one process, with the graphs that state it.
PROCESS_MEMBERSHIPS = """
SELECT $process ?member ?role ?graph WHERE {
  GRAPH ?graph { ?membership org:member ?member ; org:organization $process }
  ?membership org:role ?role .
}"""

IS_PROCESS = "ASK { $process a mig:ConsultationProcess }"


def compare_url(*processes: str) -> str:
    return url_for("compare.compare", process=[explorer.iri_path(p).removeprefix("id/") for p in processes])


def _processes_asked() -> list[NamedNode]:
    asked = []
    for value in request.args.getlist("process"):
        value = value.strip()
        if not value:
            continue
        path = value if value.startswith("id/") else "id/" + value
        try:
            node = NamedNode(explorer.iri_for_path(path))
        except ValueError:
            abort(400, description=f"{value!r} is not a resource of the knowledge graph.")
        if node not in asked:
            asked.append(node)
    if len(asked) > MAX_PROCESSES:
        abort(400, description=f"Compare at most {MAX_PROCESSES} processes at a time.")
    return asked


# The overlap matrix takes the processes naming the most states (every process of the curated graph that names any):
# 4 000 processes would be 16 million cells.
MATRIX_PROCESSES = 30

STATES_IN = """
SELECT DISTINCT ?process ?state WHERE {
  VALUES ?process { %s }
  ?membership org:organization ?process ; org:member ?state .
  ?state a mig:State .
}"""

# The processes sharing the most member states with one process (for its page).
SHARING_MOST = """
SELECT ?other (COUNT(DISTINCT ?state) AS ?shared) WHERE {
  ?mine org:organization $process ; org:member ?state .
  ?state a mig:State .
  ?theirs org:member ?state ; org:organization ?other .
  ?other a mig:ConsultationProcess .
  FILTER(?other != $process)
} GROUP BY ?other ORDER BY DESC(?shared) LIMIT %d"""


def overlap(store) -> dict:
    """Shared member states of every pair of the MATRIX_PROCESSES consultation processes naming the most states."""
    chosen = atlas.processes_with_states(store)[:MATRIX_PROCESSES]
    states_in = defaultdict(set)
    if chosen:
        for row in views.select(store, STATES_IN % " ".join(str(NamedNode(p)) for p in chosen)):
            states_in[row["process"].value].add(row["state"].value)
    names = views.annotate(store, [NamedNode(p) for p in states_in])
    processes = sorted(states_in, key=lambda p: names[p].label.casefold())
    shared = {(a, b): len(states_in[a] & states_in[b]) for a in processes for b in processes}
    return {"processes": processes, "states_in": states_in, "shared": shared, "names": names,
            "limited": len(atlas.processes_with_states(store)) > MATRIX_PROCESSES}


def most_shared_with(store, process: str, limit: int = 3) -> list[dict]:
    """The processes sharing the most member states with `process` (for its page), each with a comparison link."""
    # Ties at the limit are broken by name: a few more are read than shown.
    ranked = [(int(row["shared"].value), row["other"].value)
              for row in views.select(store, SHARING_MOST % (limit * 4), process=NamedNode(process))]
    names = views.annotate(store, [NamedNode(other) for _, other in ranked])
    ranked.sort(key=lambda item: (-item[0], names[item[1]].label.casefold()))
    return [{"label": names[other].label, "url": explorer.local_url(other), "shared": count,
             "compare": compare_url(process, other)} for count, other in ranked[:limit] if count]


def matrix_view(store) -> dict:
    table = overlap(store)
    processes = table["processes"]
    rows = []
    for a in processes:
        cells = []
        for b in processes:
            count = table["shared"][(a, b)]
            cells.append({"process": explorer.local_url(b), "count": count, "diagonal": a == b,
                          "url": compare_url(a, b) if a != b and count else None})
        rows.append({"iri": a, "label": table["names"][a].label, "url": explorer.local_url(a),
                     "states": len(table["states_in"][a]), "cells": cells})
    pairs = sorted(((table["shared"][(a, b)], a, b) for a, b in combinations(processes, 2)), reverse=True)
    return {"processes": [{"iri": p, "label": table["names"][p].label, "url": explorer.local_url(p),
                           "short": _short(table["names"][p])} for p in processes],
            "rows": rows, "limited": table["limited"],
            "top_pairs": [{"a": table["names"][a].label, "b": table["names"][b].label, "shared": n,
                           "url": compare_url(a, b)} for n, a, b in pairs[:5] if n]}


def _short(annotation: views.Annotation) -> str:
    acronyms = [text for text, _ in annotation.alternative_labels if text.isupper() and 2 <= len(text) <= 8]
    return acronyms[0] if acronyms else annotation.label


def comparison_view(store, processes: list[NamedNode]) -> dict:
    known = views.sections(store)
    taking_part: dict[str, dict[str, dict]] = defaultdict(dict)  # member -> process -> {roles, graphs}
    for process in processes:
        if not store.ask(IS_PROCESS, {"process": process}):
            abort(404, description=f"{explorer.local_url(process.value)} is not a consultation process of the graph.")
        for row in views.select(store, PROCESS_MEMBERSHIPS, process=process):
            entry = taking_part[row["member"].value].setdefault(process.value, {"roles": defaultdict(set)})
            entry["roles"][row["role"].value].add(row["graph"].value)
    iris = set(taking_part) | {p.value for p in processes}
    iris |= {role for per in taking_part.values() for entry in per.values() for role in entry["roles"]}
    names = views.annotate(store, [NamedNode(i) for i in iris])

    def row(member: str) -> dict:
        per_process = []
        for process in processes:
            entry = taking_part[member].get(process.value)
            roles = [] if entry is None else [
                {"role": names[role].label, "role_url": explorer.local_url(role),
                 "sources": explorer.sources_for(graphs, known)}
                for role, graphs in sorted(entry["roles"].items(), key=lambda item: kinds.role_rank(item[0]))]
            per_process.append({"process": process.value, "roles": roles})
        return {**explorer.ref(member, names), "in": per_process}

    every = {p.value for p in processes}
    shared = [m for m in taking_part if set(taking_part[m]) == every]
    order = lambda m: (explorer.kind_of(names[m].types)[0] != "state", names[m].label.casefold())  # noqa: E731
    only = {p.value: sorted((m for m in taking_part if set(taking_part[m]) == {p.value}), key=order)
            for p in processes}
    some = [m for m in taking_part if 1 < len(taking_part[m]) < len(every)]
    shared_states = [m for m in shared if explorer.kind_of(names[m].types)[0] == "state"]
    return {
        "processes": [{**explorer.ref(p.value, names), "members": sum(1 for m in taking_part if p.value in taking_part[m])}
                      for p in processes],
        "shared": [row(m) for m in sorted(shared, key=order)],
        "shared_states": len(shared_states),
        "some": [row(m) for m in sorted(some, key=order)],
        "only": [{**explorer.ref(p.value, names), "members": [row(m) for m in only[p.value]]} for p in processes],
    }


def compare_view() -> dict:
    store = backend()
    processes = _processes_asked()
    if len(processes) == 1:
        abort(400, description="Choose at least two processes to compare (process=…&process=…).")
    view = {"matrix": matrix_view(store), "comparison": None}
    if processes:
        view["comparison"] = comparison_view(store, processes)
    view["choices"] = view["matrix"]["processes"]
    view["chosen"] = [p.value for p in processes]
    return view


@blueprint.get("/compare")
def compare():
    view = compare_view()
    return render_template("compare.html", view=view,
                           json_url=url_for("compare.compare_json", process=request.args.getlist("process")))


@blueprint.get("/compare.json")
def compare_json():
    return jsonify(compare_view())
