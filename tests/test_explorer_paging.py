"""The explorer's whole-graph pages on a graph with thousands of processes and memberships: class lists, search and
the timeline page on (?page=N, previous/next links, a 400 or 404 for a page that is not one), the map, compare
and facets stay bounded, and every page type stays under a size bound."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from pyoxigraph import Literal, NamedNode, Quad

from migkg.namespaces import ID, INFERRED_GRAPH, MIG, ORG, RDF, RDFS, SOURCE
from migkg.stats import summary
from migkg.store import open_read_only, publish

PROCESSES = 2500  # with 4 memberships each: 10 000 memberships, more than a list is sorted for
MEMBERS = 4
# No page of a large graph may be larger than this (the class list of 2 500 processes was 1.6 MB on one page).
PAGE_BYTES = 400_000


@pytest.fixture(scope="module")
def large(settings, tmp_path_factory):
    """The curated graph plus 2 500 generated processes, each with 4 member states, a founding year and a theme."""
    real = open_read_only(settings.store_path).store
    quads = list(real)
    states = sorted({q.subject.value for q in real.quads_for_pattern(None, NamedNode(RDF + "type"),
                                                                    NamedNode(MIG + "State"), None)
                     if q.subject.value.startswith(ID + "state/")})
    themes = sorted({q.object.value for q in real.quads_for_pattern(None, NamedNode(MIG + "addressesTheme"), None, None)})
    rdf_type, label = NamedNode(RDF + "type"), NamedNode(RDFS + "label")
    member_role = NamedNode(ID + "role/member")
    for p in range(PROCESSES):
        process, graph = NamedNode(f"{ID}generated-process-{p:04d}"), NamedNode(f"{SOURCE}generated#s{p % 50}")
        quads += [Quad(process, rdf_type, NamedNode(MIG + "RegionalConsultativeProcess"), graph),
                  Quad(process, rdf_type, NamedNode(MIG + "ConsultationProcess"), INFERRED_GRAPH),
                  Quad(process, label, Literal(f"Generated process {p:04d}", language="en"), graph),
                  Quad(process, NamedNode(MIG + "establishedIn"), Literal(str(1980 + p % 40)), graph),
                  Quad(process, NamedNode(MIG + "addressesTheme"), NamedNode(themes[p % len(themes)]), graph)]
        for m in range(MEMBERS):
            membership = NamedNode(f"{ID}generated-membership-{p:04d}-{m}")
            state = NamedNode(states[(p * 7 + m * 13) % len(states)])
            quads += [Quad(membership, rdf_type, NamedNode(ORG + "Membership"), graph),
                      Quad(membership, NamedNode(ORG + "member"), state, graph),
                      Quad(membership, NamedNode(ORG + "organization"), process, graph),
                      Quad(membership, NamedNode(ORG + "role"), member_role, graph)]
    store_path = tmp_path_factory.mktemp("migkg-large") / "store"
    publish(store_path, quads, {"build_id": f"large-{len(quads)}", "built_at": "2026-01-01T00:00:00Z"},
            describe=lambda store: {"summary": summary(store)})
    from webapp import create_app

    app = create_app(settings.with_changes(store_path=store_path))
    app.config.update(TESTING=True)
    return app.test_client()


def links(html: str) -> dict[str, str]:
    return {rel: href.replace("&amp;", "&") for href, rel in re.findall(r'<a href="([^"]+)" rel="(next|prev)">', html)}


def test_a_class_list_pages_in_name_order_to_its_end(large):
    first = large.get("/class/ConsultationProcess.json").get_json()
    assert first["count"] == first["total"] > PROCESSES and first["sorted"] is True
    page = first["page"]
    assert (page["number"], page["size"], page["first"], page["last"]) == (1, 200, 1, 200)
    assert page["pages"] == -(-first["count"] // 200) and page["previous"] is None
    second = large.get(page["next"]).get_json()
    names = [row["label"].casefold() for row in first["rows"] + second["rows"]]
    assert names == sorted(names) and len(set(names)) == 400  # page 2 goes on where page 1 ended
    last = large.get(f"/class/ConsultationProcess.json?page={page['pages']}").get_json()
    assert last["page"]["next"] is None and len(last["rows"]) == first["count"] - (page["pages"] - 1) * 200
    # The HTML page shows the same rows, with the links the URL builder made.
    html = large.get("/class/ConsultationProcess?page=2").get_data(as_text=True)
    assert links(html) == {"prev": "/class/ConsultationProcess?page=1", "next": "/class/ConsultationProcess?page=3"}
    assert html.count('<tr>') - 1 == len(second["rows"]) and second["rows"][0]["label"] in html
    assert "201–400 of" in html


def test_sorts_and_filters_page_in_the_engine(large):
    by_members = large.get("/class/ConsultationProcess.json?sort=members").get_json()["rows"]
    assert by_members[0]["members"] >= by_members[-1]["members"] and by_members[0]["members"] > 0
    by_date = large.get("/class/ConsultationProcess.json?sort=date&page=2").get_json()["rows"]
    dates = [row["date"] for row in by_date if row["date"]]
    assert dates == sorted(dates)
    view = large.get("/class/ConsultationProcess.json?member=THA").get_json()
    assert 0 < view["count"] < view["total"] and all(row["members"] for row in view["rows"])
    # Facets are the most common values with their counts, never every value of the graph.
    options = view["options"]["member"]
    assert 0 < len(options) <= 200 and all(option["count"] > 0 for option in options)
    assert {"value": "THA", "label": "Thailand"}.items() <= next(o for o in options if o["value"] == "THA").items()
    # A state beyond the 200 most common is still offered, with its count, once chosen.
    offered = {o["value"] for o in large.get("/class/ConsultationProcess.json").get_json()["options"]["member"]}
    states = [row["iri"].rsplit("/", 1)[-1] for page in (1, 2)
              for row in large.get(f"/class/State.json?all=1&page={page}").get_json()["rows"]]
    rare = next(code for code in states if code not in offered
                and large.get(f"/class/ConsultationProcess.json?member={code}").status_code == 200)
    chosen = large.get(f"/class/ConsultationProcess.json?member={rare}").get_json()
    assert next(o for o in chosen["options"]["member"] if o["value"] == rare)["count"] == chosen["count"] > 0


def test_a_list_too_long_to_sort_pages_in_stored_order(large):
    first = large.get("/class/org:Membership.json").get_json()
    assert first["count"] > 10_000 and first["sorted"] is False
    second = large.get("/class/org:Membership.json?page=2").get_json()
    assert {row["iri"] for row in first["rows"]}.isdisjoint(row["iri"] for row in second["rows"])
    assert len(second["rows"]) == 200
    assert "Too many to sort" in large.get("/class/org:Membership").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/class/ConsultationProcess", "/class/ConsultationProcess.json", "/timeline",
                                  "/timeline.json", "/search?q=generated", "/search.json?q=generated&limit=50"])
@pytest.mark.parametrize("page, status", [("0", 400), ("-1", 400), ("abc", 400), ("1e3", 400), ("2.0", 400),
                                          ("\uff12", 400), ("99999999999999999999", 400), ("", 400),
                                          ("9999", 404)])
def test_a_page_that_is_not_one_is_refused_plainly(large, path, page, status):
    response = large.get(path + ("&" if "?" in path else "?") + "page=" + quote(page))
    assert response.status_code == status
    text = response.get_data(as_text=True)
    assert ("page must be a whole number" if status == 400 else "There is no page 9999") in text


def test_search_and_timeline_page_on(large):
    first = large.get("/search.json?q=generated process&limit=100").get_json()
    assert first["total"] >= PROCESSES and first["count"] == 100 and first["more"] is True
    second = large.get(first["page"]["next"]).get_json()
    assert {r["iri"] for r in first["results"]}.isdisjoint(r["iri"] for r in second["results"])
    timeline = large.get("/timeline.json").get_json()
    assert timeline["count"] > PROCESSES and sum(len(year["events"]) for year in timeline["years"]) == 200
    assert timeline["overview"]["from"] <= 1980 and timeline["overview"]["to"] >= 2019
    later = large.get(timeline["page"]["next"]).get_json()
    assert later["years"][0]["year"] >= timeline["years"][-1]["year"]
    html = large.get("/timeline?kind=process&page=2").get_data(as_text=True)
    assert links(html)["prev"] == "/timeline?kind=process&page=1"


def test_map_and_compare_stay_bounded(large):
    world = large.get("/map.json").get_json()
    assert len(world["processes"]) <= 300 and len(world["rows"]) <= 250
    assert max(row["value"] for row in world["rows"]) > 30  # counted per state over every process
    chosen = large.get("/map.json?process=generated-process-2499").get_json()  # beyond the choice list's 300
    assert chosen["selected"]["process"] == "id/generated-process-2499" and len(chosen["rows"]) == MEMBERS
    matrix = large.get("/compare.json").get_json()["matrix"]
    assert len(matrix["processes"]) == 30 and matrix["limited"] is True
    assert "the 30 processes naming the most states" in large.get("/compare").get_data(as_text=True)
    pair = large.get("/compare.json?process=generated-process-0001&process=generated-process-0002").get_json()
    assert len(pair["comparison"]["processes"]) == 2


@pytest.mark.parametrize("path", ["/", "/index.json", "/class/ConsultationProcess", "/class/State", "/class/State.json",
                                  "/class/org:Membership", "/class/RegionalConsultativeProcess?sort=kind",
                                  "/search?q=a", "/search.json?q=a&limit=100", "/map", "/map.json", "/timeline",
                                  "/timeline.json", "/compare", "/compare.json", "/id/generated-process-0007",
                                  "/id/state/THA", "/id/state/THA.json", "/network/members/id/generated-process-0007",
                                  "/network/ego/id/state/THA"])
def test_every_page_type_stays_under_its_size_bound(large, path):
    response = large.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    assert len(response.data) < PAGE_BYTES


def test_a_state_in_hundreds_of_processes_draws_a_bounded_network(large, monkeypatch):
    from webapp import networks

    # Here a state takes part in about 40 processes; on a 1 M-statement graph, 800 (415 kB, every one drawn).
    monkeypatch.setattr(networks, "MAX_NODES", 20)
    picture = large.get("/network/state/id/state/THA.json").get_json()
    assert picture["truncated"] is True and len(picture["nodes"]) <= 21  # the state and its first 20 links
    html = large.get("/network/state/id/state/THA").get_data(as_text=True)
    assert "only the first" in html and "Open a neighbour's own network" in html
