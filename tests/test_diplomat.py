"""The diplomat's views over HTTP (Flask client): compare, map, timeline, honest absences, relation order, the age of
facts, forgiving search, compression and CSP-ready pages."""

from __future__ import annotations

import re
import time

import pytest

BASE = "https://w3id.org/migkg/id/"


def get_json(client, path):
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.data[:300])
    return response.get_json()


# ------------------------------------------------------------------------------------------ compare


def test_colombo_and_abu_dhabi_compared_with_roles_and_sources(client):
    view = get_json(client, "/compare.json?process=colombo-process&process=abu-dhabi-dialogue")
    comparison = view["comparison"]
    shared = {row["label"] for row in comparison["shared"]}
    assert len(shared) == 11 and comparison["shared_states"] == 11
    assert {"Thailand", "Viet Nam", "India", "Philippines"} <= shared
    only_colombo, only_abu_dhabi = comparison["only"]
    assert "International Organization for Migration" in {row["label"] for row in only_colombo["members"]}
    assert only_abu_dhabi["members"] == []
    thailand = next(row for row in comparison["shared"] if row["label"] == "Thailand")
    for entry in thailand["in"]:
        assert entry["roles"][0]["role"] == "member"
        assert entry["roles"][0]["sources"][0]["label"] == "§ 4.14"


def test_overlap_matrix_links_each_shared_cell_to_its_comparison(client):
    matrix = get_json(client, "/compare.json")["matrix"]
    assert matrix["limited"] is False  # the curated graph's processes all fit (a large graph's 30 naming most states)
    labels = [p["label"] for p in matrix["processes"]]
    row = next(r for r in matrix["rows"] if r["label"] == "Colombo Process")
    cell = row["cells"][labels.index("Abu Dhabi Dialogue")]
    assert cell["count"] == 11
    assert cell["url"] == "/compare?process=colombo-process&process=abu-dhabi-dialogue"
    assert row["cells"][labels.index("Colombo Process")]["diagonal"]
    off_diagonal = [c["count"] for r in matrix["rows"] for c in r["cells"] if not c["diagonal"]]
    assert matrix["top_pairs"][0]["shared"] == max(off_diagonal) >= 11
    html = client.get("/compare").get_data(as_text=True)
    assert 'href="/compare?process=colombo-process&amp;process=abu-dhabi-dialogue"' in html


@pytest.mark.parametrize("query, status", [("?process=colombo-process", 400), ("?process=state/THA&process=colombo-process", 404),
                                           ("?process=%3Cscript%3E&process=x", 400),
                                           ("?" + "&".join(f"process=p{i}" for i in range(9)), 400)])
def test_compare_refuses_bad_choices_plainly(client, query, status):
    response = client.get("/compare.json" + query)
    assert response.status_code == status
    assert response.get_json()["message"]


def test_a_process_page_links_to_the_processes_sharing_most_members(client):
    view = get_json(client, "/id/colombo-process.json")
    first = view["shares_most_with"][0]
    assert first["label"] == "Abu Dhabi Dialogue" and first["shared"] == 11
    assert first["compare"] == "/compare?process=colombo-process&process=abu-dhabi-dialogue"


# ---------------------------------------------------------------------------------------------- map


def test_map_counts_processes_per_state_and_lists_what_it_cannot_draw(client):
    view = get_json(client, "/map.json")
    by_code = {row["code"]: row for row in view["rows"]}
    assert by_code["THA"]["value"] == 3  # Colombo Process, Abu Dhabi Dialogue, Bali Process
    assert view["states"]["THA"] == 3
    assert all(row["drawable"] is False for row in view["undrawable"])
    from webapp.atlas import drawable_codes

    drawable = drawable_codes()
    assert "THA" in drawable and "MLT" not in drawable  # Malta is below the 110m atlas's scale
    assert {row["code"] for row in view["undrawable"]} == {code for code in by_code if code not in drawable}


def test_map_of_one_process_colours_members_by_role(client):
    view = get_json(client, "/map.json?process=bali-process")
    assert view["states"]["AUS"] == "co-chair"  # its highest role (it is a donor and steering-group member too)
    assert set(view["states"].values()) <= {"co-chair", "chair", "secretariat", "member", "observer",
                                            "steering-group member", "country coordinator", "donor", "partner",
                                            "participant", "technical support", "coordinator"}
    assert view["selected"]["label"] == "Bali Process"


def test_map_of_a_treaty_shows_parties_or_says_the_sources_name_none(client):
    treaties = get_json(client, "/map.json")["instruments"]
    assert treaties
    for treaty in treaties:
        view = get_json(client, "/map.json?instrument=" + treaty["value"])
        if view["states"]:
            assert set(view["states"].values()) <= {"signature", "ratification", "accession", "acceptance",
                                                    "approval", "succession"}
            assert view["note"] is None
        else:
            assert "name no state" in view["note"]
    assert client.get("/map.json?instrument=colombo-process").status_code == 404
    assert client.get("/map.json?process=colombo-process&instrument=icrmw").status_code == 400


def test_country_codes_for_the_atlas_come_from_pycountry(client):
    codes = get_json(client, "/map/codes.json")
    assert codes["764"] == "THA" and codes["276"] == "DEU"


def test_state_and_process_pages_carry_their_small_map(client):
    process = get_json(client, "/id/colombo-process.json")["map"]
    assert process["map"]["states"]["LKA"] == "member" and len(process["map"]["states"]) == 11
    state = get_json(client, "/id/state/THA.json")["map"]
    assert state["map"]["states"]["THA"] == "this state"
    assert state["map"]["states"]["LKA"] == "shares a process"


# ----------------------------------------------------------------------------------------- timeline


def test_timeline_holds_foundings_adoptions_and_dated_figures(client):
    view = get_json(client, "/timeline.json")
    events = [(e["date"], e["about"]["label"], e["event"]) for year in view["years"] for e in year["events"]]
    assert ("2002-02", "Bali Process", "founded") in events
    adoptions = {e["about"]["iri"] for year in view["years"] for e in year["events"] if e["event"] == "adopted"}
    assert BASE + "palermo-trafficking-protocol" in adoptions
    assert any(event == "figure" for _, _, event in events)
    assert [e[0] for e in events] == sorted(e[0] for e in events)


def test_timeline_filters_by_kind_and_theme(client):
    instruments = get_json(client, "/timeline.json?kind=instrument")
    assert instruments["count"] > 0
    assert {e["kind"] for y in instruments["years"] for e in y["events"]} == {"instrument"}
    themed = get_json(client, "/timeline.json?theme=trafficking-in-persons")
    everything = get_json(client, "/timeline.json")
    assert 0 < themed["count"] < everything["count"]
    assert client.get("/timeline.json?kind=nonsense").status_code == 400
    assert client.get("/timeline.json?theme=no-such-theme").status_code == 404


# -------------------------------------------------------------------------------- honest absences


def test_bali_process_page_says_its_secretariat_is_not_stated(client):
    view = get_json(client, "/id/bali-process.json")
    expected = {e["key"]: e for e in view["expected"]}
    assert expected["secretariat"]["stated"] is False
    assert expected["chair"]["stated"] and {v["label"] for v in expected["chair"]["entries"]} == {"Australia",
                                                                                                   "Indonesia"}
    html = client.get("/id/bali-process", headers={"Accept": "text/html"}).get_data(as_text=True)
    secretariat = re.search(r'id="expected-secretariat".*?</div>', html, re.S).group(0)
    assert "not stated in the sources" in secretariat


def test_budapest_counts_more_states_than_it_names_on_page_and_network(client):
    view = get_json(client, "/id/budapest-process.json")
    assert view["unnamed_members"] == {"stated": "more than 50 participating states", "as_of": "2010", "named": 0}
    network = get_json(client, "/network/members/id/budapest-process.json")
    assert network["note"] == "The sources give more than 50 participating states (as of 2010); none of them is named."
    assert get_json(client, "/id/colombo-process.json")["unnamed_members"] is None  # 11 stated, 11 named


def test_trafficking_protocol_shows_signatories_and_ratifications_apart(client):
    view = get_json(client, "/id/palermo-trafficking-protocol.json")
    expected = {e["key"]: e for e in view["expected"]}
    signatories = [entry["value"] for entry in expected["signatories"]["entries"]]
    assert any(value.startswith("117 (as of 20") for value in signatories)
    ratifications = [entry["value"] for entry in expected["ratifications"]["entries"]]
    assert not set(signatories) & set(ratifications)  # two rows, never one lumped figure
    assert expected["supplements"]["stated"]
    icrmw = {e["key"]: e for e in get_json(client, "/id/icrmw.json")["expected"]}
    assert "supplements" not in icrmw  # a convention supplements nothing
    assert "46 (as of 2013)" in [entry["value"] for entry in icrmw["ratifications"]["entries"]]


def test_relations_follow_the_order_declared_per_kind(client):
    view = get_json(client, "/id/palermo-trafficking-protocol.json")
    assert view["outgoing"][0]["label"] == "supplements"
    assert view["figures_first"] is True
    html = client.get("/id/palermo-trafficking-protocol", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert html.index('id="figures"') < html.index('id="outgoing"')
    assert get_json(client, "/id/bali-process.json")["figures_first"] is False


def test_memberships_and_sources_carry_the_date_of_their_source(client):
    view = get_json(client, "/id/state/THA.json")
    colombo = next(m for m in view["memberships"] if m["label"] == "Colombo Process")
    assert colombo["as_of"] == "2010" and colombo["sources"][0]["date"] == "2010"
    html = client.get("/id/colombo-process", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "as of 2010" in html and '<span class="src-date">2010</span>' in html


# ------------------------------------------------------------------------------------------- search


@pytest.mark.parametrize("typed, found", [("Colmbo", "colombo-process"), ("Budapset", "budapest-process"),
                                          ("Colombo Proccess", "colombo-process"), ("Mexique", "state/MEX"),
                                          ("Deutschland", "state/DEU"), ("Alemania", "state/DEU")])
def test_search_forgives_typos_and_other_languages(client, typed, found):
    view = get_json(client, f"/search.json?q={typed}&limit=5")
    assert BASE + found in [r["iri"] for r in view["results"]], view["results"]


def test_a_typo_gets_a_did_you_mean(client):
    view = get_json(client, "/search.json?q=Colmbo")
    assert view["suggestion"] == "colombo"
    html = client.get("/search?q=Colmbo").get_data(as_text=True)
    assert "Did you mean" in html and 'href="/search?q=colombo"' in html
    assert get_json(client, "/search.json?q=Colombo")["suggestion"] is None


def test_search_filters_by_kind_and_gives_one_result_per_resource(client):
    everything = get_json(client, "/search.json?q=trafficking&limit=100")
    iris = [r["iri"] for r in everything["results"]]
    assert len(iris) == len(set(iris))
    kinds_found = {r["kind"] for r in everything["results"]}
    assert {"instrument", "concept"} <= kinds_found
    instruments = get_json(client, "/search.json?q=trafficking&limit=100&kind=instrument")
    assert instruments["results"] and {r["kind"] for r in instruments["results"]} == {"instrument"}
    assert client.get("/search.json?q=x&kind=spaceship").status_code == 400
    # two concepts of one name are told apart by their scheme
    same_name = [r for r in everything["results"] if r["label"] == "trafficking in persons"]
    assert len({r["type"] for r in same_name}) == len(same_name)


def test_a_huge_query_costs_what_a_short_one_does(client):
    get_json(client, "/search.json?q=warm")  # build the index first
    started = time.perf_counter()
    view = get_json(client, "/search.json?q=" + "+".join(["colombo"] * 1900))
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, elapsed
    assert view["results"][0]["iri"] == BASE + "colombo-process" and view["shortened"]
    from webapp import graph_views

    assert len(graph_views.search_terms("a " * 5000)) == graph_views.MAX_QUERY_TOKENS


# ------------------------------------------------------------------------------ transport and pages


def test_text_responses_are_compressed_and_vendor_files_cached(client):
    response = client.get("/network/ego/id/bali-process?depth=2", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert len(response.data) * 4 < len(client.get("/network/ego/id/bali-process?depth=2").data)
    # files are streamed, and Flask-Compress streams brotli (what browsers ask for), not gzip
    atlas = client.get("/assets/world-atlas/countries-110m.json", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert atlas.status_code == 200 and atlas.headers["Content-Encoding"] == "br"
    assert "max-age=604800" in atlas.headers["Cache-Control"]
    assert client.get("/assets/world-atlas/package.json").status_code == 404
    assert client.get("/assets/../pyproject.toml").status_code == 404


PAGES = ["/", "/search?q=Colombo", "/class/ConsultationProcess", "/id/colombo-process", "/id/state/THA",
         "/id/palermo-trafficking-protocol", "/source/unodc-tool4", "/network/members/id/colombo-process",
         "/network/ego/id/bali-process?depth=2", "/compare", "/compare?process=colombo-process&process=bali-process",
         "/map", "/timeline", "/ontology", "/downloads", "/no-such-page"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_no_inline_script_or_style(client, path):
    html = client.get(path, headers={"Accept": "text/html"}).get_data(as_text=True)
    for script in re.findall(r"<script\b[^>]*>", html, re.IGNORECASE):
        assert "src=" in script or re.search(r'type="application/(ld\+)?json"', script), (path, script)
    assert not re.search(r"<style\b", html, re.IGNORECASE), path
    assert not re.search(r"\sstyle\s*=", html, re.IGNORECASE), path
    assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE), path
    assert '<html lang="en">' in html and 'name="viewport"' in html and 'rel="icon"' in html


def test_ontology_page_has_unique_ids_and_landmarks(client):
    html = client.get("/ontology", headers={"Accept": "text/html"}).get_data(as_text=True)
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    assert "<main" in html and '<nav aria-label="Contents">' in html and 'class="skip-link"' in html
    css = client.get("/ontology/pylode.css")
    assert css.status_code == 200 and "#toc" in css.get_data(as_text=True)


def test_favicon_and_kind_stylesheet(client):
    assert client.get("/favicon.ico").headers["Content-Type"].startswith("image/svg+xml")
    css = client.get("/kinds.css").get_data(as_text=True)
    from webapp import kinds

    for kind in kinds.kinds():
        assert f".kind-{kind.name} {{ --kind-colour: {kind.colour}; }}" in css


@pytest.mark.parametrize("path", ["/", "/search?q=Colombo", "/class/State", "/id/colombo-process", "/source/unodc-tool4",
                                  "/network/lineage", "/compare", "/map", "/timeline", "/ontology", "/downloads"])
def test_every_page_names_its_json_twin_in_its_head(client, path):
    """Datasette's rule, found by tools as well as people: <link rel="alternate" type="application/json">, which answers."""
    html = client.get(path, headers={"Accept": "text/html"}).get_data(as_text=True)
    head = html.split("</head>", 1)[0]
    twin = re.search(r'<link rel="alternate" type="application/json" href="([^"]+)"', head)
    assert twin, path
    assert client.get(twin.group(1).replace("&amp;", "&")).headers["Content-Type"] == "application/json"
