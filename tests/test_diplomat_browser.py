"""The diplomat's views in headless Chromium: compare, map, timeline, honest absences, forgiving search, phone width;
screenshots at desktop (1366 px) and phone (390 px) width in test-artifacts/."""

from __future__ import annotations

import pytest

from tests.test_browser import Watched, browser  # noqa: F401  (the shared Chromium fixture)

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}

# One page of every type the site serves to people.
PAGE_TYPES = ["/", "/search?q=Colombo", "/class/ConsultationProcess", "/class/State", "/id/colombo-process",
              "/id/palermo-trafficking-protocol", "/id/gasim", "/id/state/THA", "/id/role/member",
              "/source/unodc-tool4", "/network/members/id/colombo-process", "/network/ego/id/iom?depth=2",
              "/network/lineage", "/compare", "/compare?process=colombo-process&process=abu-dhabi-dialogue",
              "/map", "/map?process=bali-process", "/timeline", "/ontology", "/downloads", "/sparql",
              "/no-such-page"]


class Diplomat(Watched):
    """A watched page that also records console errors."""

    def __init__(self, browser):  # noqa: F811
        super().__init__(browser)
        self.console_errors = []
        self.page.on("console", lambda message: self.console_errors.append(message.text)
                     if message.type == "error" else None)

    def clean(self):
        return self.errors == [] and self.console_errors == [] and self.remote_requests() == []


@pytest.fixture()
def diplomat(browser):  # noqa: F811
    page = Diplomat(browser)
    yield page
    page.close()


def shoot(page, artifacts, name, wait=None):
    """Screenshots at desktop and phone width (the page is reloaded at each width so that it lays out anew)."""
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.reload()
        if wait:
            page.wait_for_selector(wait, timeout=60_000)
        page.screenshot(path=str(artifacts / f"{name}-{label}.png"), full_page=label == "phone" or name != "network-100")
        page.set_viewport_size(DESKTOP)


def test_colombo_and_abu_dhabi_compared_in_one_page(live_server, diplomat, artifacts):
    page = diplomat.page
    page.goto(live_server + "/compare")
    page.check("input[name=process][value=colombo-process]")
    page.check("input[name=process][value=abu-dhabi-dialogue]")
    page.click("#choose button[type=submit]")
    page.wait_for_url("**/compare?process=*")
    assert "Abu Dhabi Dialogue and Colombo Process compared" in page.locator("h1").inner_text()
    assert page.locator("#shared .compare-list > li").count() == 11
    assert "International Organization for Migration" in page.locator("#only-2").inner_text()
    # the matrix cell leads to the same comparison
    page.goto(live_server + "/compare")
    page.click("table.matrix a[href='/compare?process=colombo-process&process=abu-dhabi-dialogue']")
    page.wait_for_selector("#shared")
    shoot(page, artifacts, "compare")
    assert diplomat.clean(), (diplomat.errors, diplomat.console_errors, diplomat.remote_requests())


def test_the_map_draws_with_nothing_fetched_from_elsewhere(live_server, diplomat, artifacts):
    page = diplomat.page
    page.goto(live_server + "/map")
    page.wait_for_selector("#world-map[data-drawn=true]", timeout=30_000)
    assert page.locator("#world-map a.country-link").count() >= 50
    assert page.locator("#world-map .map-legend li").count() >= 2
    assert "Malta" in page.locator(".map-missing").inner_text()  # named by the sources, too small to draw
    shoot(page, artifacts, "map", wait="#world-map[data-drawn=true]")
    page.select_option("select[name=process]", "id/bali-process")
    page.click("form.filters button")
    page.wait_for_selector("#world-map[data-drawn=true]")
    assert "co-chair" in page.locator("#world-map .map-legend").inner_text()
    page.goto(live_server + "/id/colombo-process")
    page.wait_for_selector("#entity-map[data-drawn=true]")
    assert page.locator("#entity-map a.country-link").count() == 11
    assert any("/assets/world-atlas/" in url for url in diplomat.requests)
    assert diplomat.clean(), (diplomat.errors, diplomat.console_errors, diplomat.remote_requests())


def test_the_map_api_is_reusable(live_server, diplomat):
    """MigkgMap.draw(element, {states: {ISO3: value}}) on any page, as the workbench's result view uses it."""
    page = diplomat.page
    page.goto(live_server + "/timeline")
    page.add_script_tag(url=live_server + "/static/map.js")
    result = page.evaluate("""() => { const box = document.createElement('div'); document.querySelector('main').appendChild(box);
        return MigkgMap.draw(box, {states: {THA: 2, FRA: 5, MLT: 1}, unit: 'rows'})
          .then(r => ({drawn: r.drawn, missing: r.missing, legend: box.querySelectorAll('.map-legend li').length,
                       note: box.querySelector('.map-missing').textContent})); }""")
    assert result["drawn"] == ["FRA", "THA"] and result["missing"] == ["MLT"]
    assert result["legend"] >= 2 and "MLT" in result["note"]
    assert diplomat.clean()


def test_the_timeline_draws(live_server, diplomat, artifacts):
    page = diplomat.page
    page.goto(live_server + "/timeline")
    assert page.locator("#timeline-overview circle.mark").count() > 50
    assert "Bali Process" in page.locator("#y2002").inner_text()
    page.select_option("select[name=kind]", "instrument")
    page.click("form.filters button")
    page.wait_for_url("**/timeline?kind=instrument*")
    assert page.locator("li.event").count() > 5
    page.goto(live_server + "/timeline")
    shoot(page, artifacts, "timeline")
    assert diplomat.clean()


# The visible boxes of the elements a selector finds, with their text and rendered font size (px on screen).
LABEL_BOXES = """(selector) => [...document.querySelectorAll(selector)].filter(e => getComputedStyle(e).display !== 'none')
    .map(e => { const r = e.getBoundingClientRect(); return {text: e.textContent, left: r.left, right: r.right, top: r.top,
                bottom: r.bottom, height: r.height}; })"""


def overlapping(boxes):
    return [(a["text"], b["text"]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
            if a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]]


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_timeline_overview_years_are_readable_and_apart(live_server, browser, size):  # noqa: F811
    context = browser.new_context(viewport=size)
    try:
        page = context.new_page()
        page.goto(live_server + "/timeline")
        years = page.evaluate(LABEL_BOXES, "#timeline-overview text.tick")
        strip = page.locator("#timeline-overview").bounding_box()
        assert len(years) >= 5 and overlapping(years) == []
        assert all(box["height"] >= 10 for box in years), years  # about 11 px type at phone width, not 5 px
        inside = [box["text"] for box in years if box["bottom"] > strip["y"] + strip["height"] + 1
                  or box["left"] < strip["x"] - 1 or box["right"] > strip["x"] + strip["width"] + 1]
        assert inside == []  # none cut off under the axis or at either end
    finally:
        context.close()


def test_the_bali_page_says_its_secretariat_is_not_stated(live_server, diplomat, artifacts):
    page = diplomat.page
    page.goto(live_server + "/id/bali-process")
    assert "not stated in the sources" in page.locator("#expected-secretariat").inner_text()
    assert "more than 50 participating states" in page.locator("#unnamed-members").inner_text()
    page.goto(live_server + "/id/palermo-trafficking-protocol")
    assert page.locator("#expected-ratifications").count() == 1 and page.locator("#expected-signatories").count() == 1
    assert page.locator("#outgoing th").first.inner_text().startswith("supplements")
    shoot(page, artifacts, "entity-trafficking-protocol")
    assert diplomat.clean()


def test_misspelt_and_foreign_names_find_their_resource(live_server, diplomat, artifacts):
    page = diplomat.page
    page.goto(live_server + "/")
    page.fill("#home-search", "Colmbo")
    page.wait_for_selector("#typeahead-list [role=option]")
    assert "Colombo Process" in page.locator("#typeahead-list").inner_text()
    assert page.get_attribute("#home-search", "aria-expanded") == "true"
    page.press("#home-search", "ArrowDown")
    assert page.get_attribute("#home-search", "aria-activedescendant") == "typeahead-list-option-0"
    page.press("#home-search", "Enter")
    page.wait_for_url("**/id/colombo-process")
    for typed, expected in (("Mexique", "/id/state/MEX"), ("Deutschland", "/id/state/DEU")):
        page.goto(live_server + f"/search?q={typed}")
        assert page.locator(f"ol.results a[href='{expected}']").count() == 1
    page.goto(live_server + "/search?q=Colmbo")
    assert "Did you mean colombo?" in page.locator(".did-you-mean").inner_text()
    page.goto(live_server + "/")
    shoot(page, artifacts, "home")
    assert diplomat.clean()


def test_a_hundred_node_network_is_readable(live_server, diplomat, artifacts):
    page = diplomat.page
    page.goto(live_server + "/network/ego/id/iom?depth=2")
    page.wait_for_selector("#network[data-stabilized=true]", timeout=60_000)
    nodes = page.evaluate("Object.keys(window.migkgNetwork.getPositions()).length")
    assert 100 <= nodes <= 150
    box = page.locator("#network").bounding_box()
    assert box["height"] <= DESKTOP["height"]  # the canvas fits the screen
    # edge labels wait for hover in a picture this large
    assert page.evaluate("window.migkgNetwork.body.data.edges.get().every(e => !e.label || e.label === ' ')")
    font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "system-ui" in font
    shoot(page, artifacts, "network-100", wait="#network[data-stabilized=true]")
    assert diplomat.clean()


@pytest.mark.parametrize("path", PAGE_TYPES)
def test_no_page_type_scrolls_sideways_at_phone_width(live_server, browser, path):  # noqa: F811
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    try:
        page.goto(live_server + path)
        if path.startswith("/map"):
            page.wait_for_selector("[data-drawn=true]", timeout=30_000)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (path, width)
        header = page.locator("header").first.bounding_box()
        assert header["height"] <= PHONE["height"] / 4, (path, header["height"])  # a compact header
    finally:
        context.close()
