"""The explorer's pages for people: home, search, class lists and entity pages, and their .json twins."""

from __future__ import annotations

import re

import pytest

COLOMBO_MEMBERS = {"Afghanistan", "Bangladesh", "China", "India", "Indonesia", "Nepal", "Pakistan", "Philippines",
                   "Sri Lanka", "Thailand", "Viet Nam"}


def test_home_shows_counts_sources_search_and_entry_points(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert 'name="q"' in html and "/search.json" in html
    for entry in ("/class/ConsultationProcess", "/class/Instrument", "/class/CoordinationMechanism", "/class/State",
                  "/class/Organization"):
        assert f'href="{entry}"' in html
    assert "/source/unodc-tool4" in html
    view = client.get("/index.json").get_json()
    processes = next(e for e in view["entry_points"] if e["class"].endswith("#ConsultationProcess"))
    assert processes["count"] >= 10
    assert any(s["url"] == "/source/unodc-tool4" and s["statements"] > 0 for s in view["sources"])


@pytest.mark.parametrize("query, expected", [
    ("Colombo", "/id/colombo-process"), ("colombo process", "/id/colombo-process"), ("IGC", "/id/igc"),
    ("igc", "/id/igc"), ("Gemeinsames Analyse", "/id/gasim"), ("THAILAND", "/id/state/THA"), ("THA", "/id/state/THA"),
])
def test_search_is_blind_to_case_and_finds_acronyms_and_other_languages(client, query, expected):
    results = client.get("/search.json", query_string={"q": query}).get_json()["results"]
    assert results and results[0]["url"] == expected


def test_search_page_lists_results_with_their_kind(client):
    html = client.get("/search", query_string={"q": "Colombo"}).text
    assert 'href="/id/colombo-process"' in html
    assert "regional consultative process" in html


def test_search_input_errors_are_4xx(client):
    assert client.get("/search.json?q=x&limit=lots").status_code == 400
    assert client.get("/search.json", query_string={"q": ""}).get_json()["results"] == []


def test_class_list_filters_by_member_state_theme_and_sorts(client):
    everything = client.get("/class/ConsultationProcess.json").get_json()
    assert "/id/colombo-process" in {row["url"] for row in everything["rows"]}
    by_member = client.get("/class/ConsultationProcess.json?member=THA").get_json()
    assert {"/id/colombo-process", "/id/bali-process"} <= {row["url"] for row in by_member["rows"]}
    assert "/id/igc" not in {row["url"] for row in by_member["rows"]}
    by_theme = client.get("/class/ConsultationProcess.json?theme=labour-migration").get_json()
    assert "/id/colombo-process" in {row["url"] for row in by_theme["rows"]}
    assert all(any(t["url"] == "/id/theme/labour-migration" for t in row["themes"]) for row in by_theme["rows"])
    by_size = client.get("/class/ConsultationProcess.json?sort=members").get_json()["rows"]
    sizes = [row["members"] for row in by_size]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] >= 11
    html = client.get("/class/ConsultationProcess?member=THA").text
    assert '<option value="THA" selected>Thailand</option>' in html


def test_class_list_errors(client):
    assert client.get("/class/NoSuchClass").status_code == 404
    assert client.get("/class/State?member=%3Cscript%3E").status_code == 400
    assert client.get("/class/org:Membership").status_code == 200


def test_states_list_shows_states_the_sources_mention(client):
    mentioned = client.get("/class/State.json").get_json()
    everything = client.get("/class/State.json?all=1").get_json()
    assert "/id/state/THA" in {row["url"] for row in mentioned["rows"]}
    assert mentioned["count"] < everything["count"] >= 249


def test_process_page_lists_members_roles_figures_and_sources(client):
    html = client.get("/id/colombo-process", headers={"Accept": "text/html"}).text
    members_section = html.split('id="participants"', 1)[1].split("</section>", 1)[0]
    member_group = members_section.split('id="role-member"', 1)[1].split("</ul>", 1)[0]
    names = set(re.findall(r'class="res kind-state" href="/id/state/[A-Z]{3}"[^>]*>([^<]+)</a>', member_group))
    assert names == COLOMBO_MEMBERS
    secretariat = members_section.split('id="role-secretariat"', 1)[1].split("</ul>", 1)[0]
    assert "International Organization for Migration" in secretariat
    figures = html.split('id="figures"', 1)[1].split("</section>", 1)[0]
    assert ">11</a>" in figures and "2010" in figures
    assert "§ 4.14" in html and 'href="/source/unodc-tool4#s4.14"' in html


def test_state_page_lists_memberships_with_roles(client):
    view = client.get("/id/state/THA.json").get_json()
    roles = {(m["url"], m["role"]["label"]) for m in view["memberships"]}
    assert ("/id/colombo-process", "member") in roles
    assert ("/id/bali-process", "country coordinator") in roles
    assert any(s["label"] == "ISO 3166 (pycountry)" for g in view["facts"] for v in g["entries"] for s in v["sources"])


def test_relations_have_readable_labels_and_property_descriptions(client):
    html = client.get("/id/palermo-trafficking-protocol", headers={"Accept": "text/html"}).text
    # the property's rdfs:comment is the hover text of its label
    assert re.search(r'<a class="property" href="/ontology#supplements" title="[^"]+">supplements</a>', html)
    assert 'href="/id/untoc"' in html
    # no link shows a raw IRI of the graph where a label exists
    assert not re.search(r'>https://w3id\.org/migkg/id/[^<]*</a>', html)


def test_inferred_statements_are_marked(client):
    view = client.get("/id/untoc.json").get_json()
    supplemented = next(g for g in view["outgoing"] if g["property"].endswith("#supplementedBy"))
    assert all(entry["inferred"] for entry in supplemented["entries"])


def test_a_filter_value_no_row_carries_is_refused_not_shown_as_an_empty_list(client):
    # "0 of 29" under filters that all read "any" (the value is no option) would look like a broken page.
    for query, message in (("theme=bogus", "addresses the theme 'bogus'"), ("region=nowhere", "is in the region"),
                           ("member=ATL", "has the member state 'ATL'")):
        response = client.get(f"/class/ConsultationProcess?{query}")
        assert response.status_code == 404, query
        assert message in response.text.replace("&#39;", "'"), query
    assert client.get("/class/ConsultationProcess.json?theme=bogus").get_json()["status"] == 404
    assert client.get("/class/ConsultationProcess.json?theme=labour-migration").status_code == 200


def test_the_search_page_json_link_holds_every_result_the_page_lists(client):
    html = client.get("/search?q=migration").text
    listed = html.split('<ol class="results">', 1)[1].split("</ol>", 1)[0].count("<li>")
    json_url = re.search(r'<link rel="alternate" type="application/json" href="([^"]+)"', html).group(1)
    twin = client.get(json_url.replace("&amp;", "&")).get_json()
    assert twin["count"] == listed > 20


def test_a_search_cut_at_its_limit_says_there_is_more(client):
    # "100 results for migration" read as all of them; the page says they are the best 100 of more, and pages on.
    cut = client.get("/search.json?q=migration&limit=100").get_json()
    assert cut["count"] == 100 and cut["more"] is True and cut["total"] > 100
    html = client.get("/search?q=migration").text
    assert f"{cut['total']} results for “migration”, best first: 1–100 below" in html
    following = re.search(r'<a href="([^"]+)" rel="next">', html).group(1).replace("&amp;", "&")
    second = client.get(following)
    assert second.status_code == 200 and "best first: 101–" in second.text
    whole = client.get("/search.json?q=Colombo Process").get_json()
    assert whole["more"] is False and "best first" not in client.get("/search?q=Colombo Process").text
