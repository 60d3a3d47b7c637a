"""Network views: members of a process, processes of a state, instrument lineage, ego networks; offline and escaped."""

from __future__ import annotations

import re


def test_members_network_draws_every_member_with_its_role(client):
    graph = client.get("/network/members/id/colombo-process.json").get_json()
    labels = {node["label"] for node in graph["nodes"]}
    assert {"Thailand", "Viet Nam", "Afghanistan", "IOM"} <= labels
    roles = {edge["label"] for edge in graph["edges"]}
    assert {"member", "secretariat"} <= roles
    assert sum(1 for edge in graph["edges"] if edge["label"] == "member") == 11
    assert {entry["name"] for entry in graph["legend"]} >= {"state", "process", "igo"}


def test_network_page_loads_vis_network_from_this_app_only(client):
    html = client.get("/network/members/id/colombo-process").text
    sources = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html) + re.findall(r'<link[^>]*\bhref="([^"]+)"', html)
    assert sources and all(src.startswith("/") and not src.startswith("//") for src in sources)
    assert "/vendor/vis-network/vis-network.min.js" in sources
    script = client.get("/vendor/vis-network/vis-network.min.js")
    assert script.status_code == 200 and b"vis-network" in script.data[:2000]
    assert client.get("/vendor/vis-network/../network.py").status_code == 404


def test_state_network_shows_its_processes(client):
    graph = client.get("/network/state/id/state/THA.json").get_json()
    edges = {(edge["to"], edge["label"]) for edge in graph["edges"]}
    assert ("/id/colombo-process", "member") in edges
    assert ("/id/bali-process", "country coordinator") in edges


def test_instrument_lineage_links_protocols_to_their_convention(client):
    graph = client.get("/network/lineage.json").get_json()
    edges = {(edge["from"], edge["label"], edge["to"]) for edge in graph["edges"]}
    assert ("/id/palermo-trafficking-protocol", "supplements", "/id/untoc") in edges
    assert ("/id/palermo-smuggling-protocol", "supplements", "/id/untoc") in edges


def test_ego_network_grows_with_depth_and_checks_it(client):
    one = client.get("/network/ego/id/colombo-process.json?depth=1").get_json()
    two = client.get("/network/ego/id/colombo-process.json?depth=2").get_json()
    assert len(two["nodes"]) > len(one["nodes"]) >= 12
    assert client.get("/network/ego/id/colombo-process?depth=9").status_code == 400
    assert client.get("/network/ego/id/colombo-process?depth=deep").status_code == 400
    assert client.get("/network/ego/id/no-such-thing").status_code == 404
    assert 'name="depth"' in client.get("/network/ego/id/colombo-process?depth=2").text


def test_a_picture_with_nothing_to_draw_is_refused_plainly(client):
    # A process or a treaty takes part in nothing: no one-node "Processes of Bali Process".
    for path in ("/network/state/id/bali-process", "/network/state/id/icrmw.json"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "takes part in no process" in response.text
    assert client.get("/network/state/id/iom.json").status_code == 200  # a body with memberships has its picture


def test_lineage_focus_must_be_in_the_lineage(client):
    # A state, or an instrument no other instrument builds on, is not drawn as a lone node beside the lineage.
    for focus in ("id/state/THA", "id/icrmw"):
        response = client.get(f"/network/lineage.json?focus={focus}")
        assert response.status_code == 404, focus
        assert "no recorded lineage" in response.get_json()["message"]
    graph = client.get("/network/lineage.json?focus=id/palermo-trafficking-protocol").get_json()
    assert graph["focus"] == "/id/palermo-trafficking-protocol"


def test_instrument_pages_offer_the_lineage_only_when_they_have_one(client):
    titles = lambda path: [n["title"] for n in client.get(path).get_json()["networks"]]  # noqa: E731
    assert "Instrument lineage" in titles("/id/palermo-trafficking-protocol.json")
    assert "Instrument lineage" not in titles("/id/icrmw.json")
