"""/map: who takes part where, as a world map (states coloured by how many processes they take part in, or by
their role in one process, or by their action on one instrument), plus the small maps of process and state pages.

The geometry is Natural Earth 110m from npm `world-atlas`, drawn in the browser by static/map.js; states are
joined by ISO 3166-1 alpha-3, and the states the sources name that the map cannot draw are listed under it.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict

import pycountry
from flask import Blueprint, abort, jsonify, render_template, request, url_for
from pyoxigraph import NamedNode


from .backend_access import backend
from . import explorer, kinds
from . import graph_views as views
from .vendor import package_file

blueprint = Blueprint("atlas", __name__)

# The map never reads every membership (158 000 in a 1 M-statement graph): per state a count, per process its
# states, per state the states it meets, each one bounded query.
# (Counted in a subquery and joined after: 1.5 s on 1 M statements, 5 s as one group.)
STATE_PROCESS_COUNTS = """
SELECT ?state ?code ?processes WHERE {
  { SELECT ?state (COUNT(DISTINCT ?process) AS ?processes) WHERE {
      ?membership org:member ?state ; org:organization ?process .
      ?process a mig:ConsultationProcess .
    } GROUP BY ?state }
  ?state a mig:State ; mig:iso3166Alpha3 ?code .
}"""

# The processes a map can show, those naming the most states first (a choice list, not every process of a large graph).
PROCESSES_WITH_STATES = """
SELECT ?process ?states WHERE {
  { SELECT ?process (COUNT(DISTINCT ?state) AS ?states) WHERE {
      ?membership org:member ?state ; org:organization ?process .
      ?state a mig:State .
    } GROUP BY ?process }
  ?process a mig:ConsultationProcess .
} ORDER BY DESC(?states) ?process LIMIT %d"""
PROCESS_CHOICES = 300

PROCESS_STATES = """
SELECT DISTINCT ?state ?code ?role WHERE {
  ?membership org:organization $process ; org:member ?state ; org:role ?role .
  ?state a mig:State ; mig:iso3166Alpha3 ?code .
}"""

IS_PROCESS_WITH_STATES = """
ASK { ?membership org:organization $process ; org:member ?state . $process a mig:ConsultationProcess . ?state a mig:State }"""

STATES_MET = """
SELECT DISTINCT ?state ?code WHERE {
  ?mine org:member $focus ; org:organization ?process .
  ?process a mig:ConsultationProcess .
  ?theirs org:organization ?process ; org:member ?state .
  ?state a mig:State ; mig:iso3166Alpha3 ?code .
}"""

# Each state's signatures, ratifications and accessions of one instrument (treaty-action nodes).
TREATY_ACTIONS = """
SELECT DISTINCT $instrument ?state ?code ?type ?date WHERE {
  ?action mig:actionOn $instrument ; mig:actingState ?state ; mig:actionType ?type .
  ?state mig:iso3166Alpha3 ?code .
  OPTIONAL { ?action mig:actionDate ?date }
}"""

TREATIES = """
SELECT DISTINCT ?instrument WHERE { ?instrument a mig:Treaty FILTER(isIRI(?instrument)) }"""

# A later action outranks an earlier one when a state has several (signed, then ratified).
ACTION_RANK = {"signature": 0, "acceptance": 1, "approval": 1, "accession": 2, "ratification": 2}


@functools.lru_cache(maxsize=1)
def drawable_codes() -> frozenset[str]:
    """The alpha-3 codes of the states the 110m atlas has a shape for (small island states have none)."""
    topology = json.loads(package_file("world-atlas", "countries-110m.json").read_text(encoding="utf-8"))
    numeric = {geometry.get("id") for geometry in topology["objects"]["countries"]["geometries"]}
    return frozenset(country.alpha_3 for country in pycountry.countries if country.numeric in numeric)


@blueprint.get("/map/codes.json")
def codes():
    """ISO 3166 numeric (the atlas's feature ids) -> alpha-3, from pycountry; map.js joins states with it."""
    response = jsonify({country.numeric: country.alpha_3 for country in pycountry.countries})
    response.cache_control.max_age = 86400
    response.cache_control.public = True
    return response


@views.per_build
def processes_per_state(store) -> dict[str, tuple[str, int]]:
    """state -> (alpha-3, how many consultation processes it takes part in), cached per build."""
    return {row["state"].value: (row["code"].value, int(row["processes"].value))
            for row in views.select(store, STATE_PROCESS_COUNTS)}


@views.per_build
def processes_with_states(store) -> list[str]:
    """The consultation processes that name member states, those naming most first (at most PROCESS_CHOICES)."""
    return [row["process"].value for row in views.select(store, PROCESSES_WITH_STATES % PROCESS_CHOICES)]


def states_of_process(store, process: str) -> dict[str, tuple[str, str]]:
    """state -> (alpha-3, its highest role) in one process."""
    best: dict[str, tuple[str, str]] = {}
    for row in views.select(store, PROCESS_STATES, process=NamedNode(process)):
        state, role = row["state"].value, row["role"].value
        if state not in best or kinds.role_rank(role) < kinds.role_rank(best[state][1]):
            best[state] = (row["code"].value, role)
    return best


def _state_entries(codes_by_state: dict[str, str], values: dict[str, object], annotations) -> dict:
    """The map's data for map.js plus the list of states it cannot draw (shown under the map without JS too)."""
    drawable = drawable_codes()
    states, labels, links, rows = {}, {}, {}, []
    for state, value in values.items():
        code = codes_by_state[state]
        label = annotations[state].label if state in annotations else code
        states[code], labels[code], links[code] = value, label, explorer.local_url(state)
        rows.append({"iri": state, "code": code, "label": label, "url": explorer.local_url(state), "value": value,
                     "drawable": code in drawable})
    rows.sort(key=lambda row: (-row["value"] if isinstance(row["value"], int) else 0, row["label"].casefold()))
    return {"states": states, "labels": labels, "links": links, "rows": rows,
            "undrawable": [row for row in rows if not row["drawable"]]}


def _choice(name: str) -> NamedNode | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        node = NamedNode(explorer.iri_for_path(value if value.startswith("id/") else "id/" + value))
    except ValueError:
        abort(400, description=f"{value!r} is not a resource of the knowledge graph.")
    return node


def map_view() -> dict:
    store = backend()
    processes = list(processes_with_states(store))
    treaties = sorted(row["instrument"].value for row in views.select(store, TREATIES))
    process, instrument = _choice("process"), _choice("instrument")
    if process is not None and instrument is not None:
        abort(400, description="Choose a process or an instrument, not both.")
    codes_by_state = {state: code for state, (code, _) in processes_per_state(store).items()}
    values: dict[str, object] = {}
    title, unit, note = "States by the number of consultation processes they take part in", "processes", None
    if process is not None:
        if not store.ask(IS_PROCESS_WITH_STATES, {"process": process}):
            abort(404, description="No state memberships are recorded for this process; choose one from the list.")
        if process.value not in processes:
            processes.append(process.value)  # chosen from beyond the list's first PROCESS_CHOICES: still shown chosen
        best = states_of_process(store, process.value)
        codes_by_state.update({state: code for state, (code, _) in best.items()})
        role_names = views.annotate(store, [NamedNode(role) for _, role in best.values()])
        values = {state: role_names[role].label for state, (_, role) in best.items()}
        unit = ""
    elif instrument is not None:
        if instrument.value not in treaties:
            abort(404, description="This is not a treaty of the knowledge graph; choose one from the list.")
        latest: dict[str, tuple[int, str]] = {}
        for row in views.select(store, TREATY_ACTIONS, instrument=instrument):
            kind = row["type"].value.rsplit("/", 1)[-1]
            codes_by_state[row["state"].value] = row["code"].value
            rank = (ACTION_RANK.get(kind, 0), kind)
            if row["state"].value not in latest or rank > latest[row["state"].value]:
                latest[row["state"].value] = rank
        values = {state: kind for state, (_, kind) in latest.items()}
        unit = ""
        if not values:
            note = ("The sources name no state's signature, ratification or accession of this instrument; "
                    "its page gives the figures they state.")
    else:
        values = {state: count for state, (_, count) in processes_per_state(store).items()}
    chosen = process or instrument
    annotations = views.annotate(store, [NamedNode(i) for i in set(values) | set(processes) | set(treaties)])
    if chosen is not None:
        name = annotations[chosen.value].label if chosen.value in annotations else chosen.value
        title = (f"States in {name}, by role" if process is not None
                 else f"States' signatures, ratifications and accessions of {name}")
    entries = _state_entries(codes_by_state, values, annotations)
    return {
        "title": title, "unit": unit, "note": note,
        "selected": {"process": explorer.iri_path(process.value) if process else None,
                     "instrument": explorer.iri_path(instrument.value) if instrument else None,
                     "label": annotations[chosen.value].label if chosen is not None else None,
                     "url": explorer.local_url(chosen.value) if chosen is not None else None},
        "processes": sorted(({"value": explorer.iri_path(p), "label": annotations[p].label} for p in processes),
                            key=lambda o: o["label"].casefold()),
        "instruments": sorted(({"value": explorer.iri_path(t), "label": annotations[t].label} for t in treaties),
                              key=lambda o: o["label"].casefold()),
        "map": {"states": entries["states"], "labels": entries["labels"], "links": entries["links"],
                "title": title, "unit": unit, "unitOne": "process" if unit else "", "legendTitle": title,
                "listMissing": False},
        "rows": entries["rows"], "undrawable": entries["undrawable"],
    }


@blueprint.get("/map")
def world_map():
    view = map_view()
    return render_template("map.html", view=view, json_url=url_for("atlas.world_map_json", **request.args))


@blueprint.get("/map.json")
def world_map_json():
    view = map_view()
    return jsonify({key: value for key, value in view.items() if key != "map"} | {"states": view["map"]["states"]})


def small_map(store, resource: str, kind: str) -> dict | None:
    """The small map of a process page (its member states by role) or a state page (the states it meets in processes)."""
    if kind == "process":
        best = states_of_process(store, resource)
        if not best:
            return None
        codes_by_state = {state: code for state, (code, _) in best.items()}
        role_names = views.annotate(store, [NamedNode(role) for _, role in best.values()])
        values = {state: role_names[role].label for state, (_, role) in best.items()}
        title = "Where its member states are"
    elif kind == "state":
        met = {row["state"].value: row["code"].value
               for row in views.select(store, STATES_MET, focus=NamedNode(resource))}
        if not met:
            return None
        codes_by_state = met
        values = {state: "shares a process" for state in met if state != resource}
        if resource in met:
            values[resource] = "this state"
        title = "States it meets in consultation processes"
    else:
        return None
    annotations = views.annotate(store, [NamedNode(s) for s in values])
    entries = _state_entries(codes_by_state, values, annotations)
    return {"title": title, "undrawable": entries["undrawable"],
            "map": {"states": entries["states"], "labels": entries["labels"], "links": entries["links"],
                    "title": title, "listMissing": False}}
