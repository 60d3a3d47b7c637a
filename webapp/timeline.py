"""/timeline: when processes and bodies began, when instruments were adopted and entered into force, and the dated
figures the sources give, in one time line filterable by kind and theme."""

from __future__ import annotations

from collections import defaultdict

from flask import Blueprint, abort, jsonify, render_template, request, url_for
from pyoxigraph import NamedNode

from .backend_access import backend
from . import explorer
from . import graph_views as views

blueprint = Blueprint("timeline", __name__)

# Dated events: a body's founding, an instrument's adoption or entry into force, a meeting, a dated figure.
EVENTS = """
SELECT ?subject ?event ?date ?graph WHERE {
  {
    GRAPH ?graph { ?subject mig:establishedIn ?date } BIND("founded" AS ?event)
  } UNION {
    GRAPH ?graph { ?subject mig:adoptedOn ?date } BIND("adopted" AS ?event)
  } UNION {
    GRAPH ?graph { ?subject mig:entryIntoForce ?date } BIND("in force" AS ?event)
  } UNION {
    GRAPH ?graph { ?subject a mig:Meeting ; dcterms:date ?date } BIND("meeting" AS ?event)
  } UNION {
    GRAPH ?graph { ?subject a mig:Observation ; mig:asOf ?date } BIND("figure" AS ?event)
  }
  FILTER(?graph != <https://w3id.org/migkg/graph/inferred>)
}"""

# The figures' wording ("more than 50 participating states") and what they are about.
FIGURE_DETAILS = """
SELECT ?observation ?entity ?measure ?value ?qualifier WHERE {
  ?observation a mig:Observation ; mig:observedEntity ?entity ; mig:value ?value .
  OPTIONAL { ?observation mig:measure ?measure }
  OPTIONAL { ?observation mig:valueQualifier ?qualifier }
}"""

THEMES = """
SELECT ?subject ?theme WHERE { ?subject mig:addressesTheme ?theme }"""

# A founded instrument is an instrument's event, not a process's (the kind filter needs it before any name is read).
DATED_INSTRUMENTS = """
SELECT DISTINCT ?subject WHERE { ?subject mig:establishedIn ?date ; a mig:Instrument }"""

# The time line shows this many events a page (the curated graph's hundred or so on one); the strip above it
# shows the whole span.
EVENTS_PAGE = 200

EVENT_TITLES = {"founded": "founded", "adopted": "adopted", "in force": "entered into force",
                "meeting": "met", "figure": "figure"}
# What ?kind= may ask for, and which events each kind covers.
FILTER_KINDS = {"process": "Processes and bodies founded", "instrument": "Instruments adopted or in force",
                "meeting": "Meetings", "figure": "Dated figures"}


def _event_kind(event: str, subject_kind: str) -> str:
    if event == "figure":
        return "figure"
    if event == "meeting":
        return "meeting"
    return "instrument" if subject_kind == "instrument" or event in ("adopted", "in force") else "process"


@views.per_build
def events(store) -> list[dict]:
    """Every dated event with its subject, date, year and graphs (cached per build)."""
    found: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for row in views.select_whole(store, EVENTS):
        found[(row["subject"].value, row["event"].value, row["date"].value)].add(row["graph"].value)
    figures = {row["observation"].value: row for row in views.select_whole(store, FIGURE_DETAILS)}
    themes = defaultdict(set)
    for row in views.select_whole(store, THEMES):
        themes[row["subject"].value].add(row["theme"].value)
    instruments = {row["subject"].value for row in views.select_whole(store, DATED_INSTRUMENTS)}
    listed = []
    for (subject, event, date), graphs in found.items():
        if not date[:4].isdigit():
            continue
        figure = figures.get(subject)
        about = figure["entity"].value if figure is not None else subject
        listed.append({"subject": subject, "about": about, "event": event, "date": date, "year": int(date[:4]),
                       "kind": _event_kind(event, "instrument" if about in instruments else "process"),
                       "graphs": graphs, "themes": themes.get(about, set()),
                       "measure": figure["measure"].value if figure is not None and figure["measure"] else None,
                       "value": figure["value"].value if figure is not None else None,
                       "qualifier": figure["qualifier"].value if figure is not None and figure["qualifier"] else None})
    return sorted(listed, key=lambda e: (e["date"], e["event"], e["subject"]))


def timeline_view() -> dict:
    store = backend()
    kind = request.args.get("kind", "").strip()
    if kind and kind not in FILTER_KINDS:
        abort(400, description="kind must be one of: " + ", ".join(FILTER_KINDS))
    theme = request.args.get("theme", "").strip()
    theme_iri = None
    if theme:
        try:
            theme_iri = NamedNode(explorer.resource_base() + "id/theme/" + theme).value
        except ValueError:
            abort(400, description=f"{theme!r} is not a theme of the knowledge graph.")
    number = explorer.page_number()
    everything = events(store)
    all_themes_iris = {t for e in everything for t in e["themes"]}
    if theme_iri and theme_iri not in all_themes_iris:
        abort(404, description=f"No dated event addresses a theme {theme!r}.")
    chosen = [e for e in everything if (not kind or e["kind"] == kind) and (not theme_iri or theme_iri in e["themes"])]
    page = explorer.paging(len(chosen), EVENTS_PAGE, number)
    shown = chosen[(number - 1) * EVENTS_PAGE:number * EVENTS_PAGE]
    by_year = defaultdict(list)
    for e in chosen:
        by_year[e["year"]].append(e)
    marked = [e for rows in by_year.values() for e in rows[:MARKS_A_YEAR]]
    # Names for this page's events, the strip's marks and the theme choices only.
    iris = {e["about"] for e in shown + marked} | {e["subject"] for e in shown} | all_themes_iris
    iris |= {e["measure"] for e in shown + marked if e["measure"]} | {e["qualifier"] for e in shown + marked if e["qualifier"]}
    names = views.annotate(store, [NamedNode(i) for i in iris])
    known = views.sections(store)
    all_themes = sorted(all_themes_iris, key=lambda t: names[t].label.casefold())

    def what(e) -> str:
        if e["event"] != "figure":
            return EVENT_TITLES[e["event"]]
        qualifier = names[e["qualifier"]].label if e["qualifier"] and not e["qualifier"].endswith("/exact") else ""
        measure = names[e["measure"]].label if e["measure"] else "figure"
        return f"{qualifier + ' ' if qualifier else ''}{e['value']} {measure}"

    years = defaultdict(list)
    for e in shown:
        years[e["year"]].append({"date": e["date"], "year": e["year"], "event": e["event"], "kind": e["kind"],
                                 "what": what(e), "about": explorer.ref(e["about"], names),
                                 "url": explorer.local_url(e["subject"]),
                                 "sources": explorer.sources_for(e["graphs"], known)})
    span = (min(by_year), max(by_year)) if by_year else None
    return {"kind": kind, "theme": theme, "kinds": FILTER_KINDS, "count": len(chosen), "page": page,
            "themes": [{"value": t.rsplit("/", 1)[-1], "label": names[t].label} for t in all_themes],
            "years": [{"year": year, "events": years[year]} for year in sorted(years)],
            "overview": overview(by_year, span, lambda e: f"{e['date']}: {names[e['about']].label} — {what(e)}")
            if span else None}


MARKS_A_YEAR = 8


def overview(years: dict[int, list[dict]], span: tuple[int, int], title) -> dict:
    """A strip of the whole span: one mark per event, stacked within its year, ticks every decade (drawn as SVG)."""
    first, last = span[0] - span[0] % 10, span[1] + (10 - span[1] % 10) % 10 or span[1] + 1
    if last == first:
        last = first + 10
    # Room under the axis and at both ends for the larger year labels a phone draws (webapp/static/explorer.css).
    width, height, left, right = 900, 132, 36, 36
    x = lambda year: left + (year - first) * (width - left - right) / (last - first)  # noqa: E731
    marks = []
    for year, rows in years.items():
        for level, row in enumerate(rows[:MARKS_A_YEAR]):
            marks.append({"x": round(x(year), 1), "y": 86 - level * 9, "kind": row["kind"], "title": title(row)})
    ticks = [{"x": round(x(year), 1), "year": year} for year in range(first, last + 1, 10)]
    return {"width": width, "height": height, "marks": marks, "ticks": ticks, "from": span[0], "to": span[1]}


@blueprint.get("/timeline")
def timeline():
    view = timeline_view()
    return render_template("timeline.html", view=view, json_url=url_for("timeline.timeline_json", **request.args))


@blueprint.get("/timeline.json")
def timeline_json():
    return jsonify(timeline_view())
