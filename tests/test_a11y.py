"""Accessibility: axe-core (from npm, served by this host) finds no serious or critical violation on any page type
(the SPARQL editor and a result table included), the open type-ahead, the map, the compare page or /ontology; every
page has a skip link and a favicon."""

from __future__ import annotations

import pytest

from tests.test_browser import Watched, browser  # noqa: F401  (the shared Chromium fixture)
from tests.test_diplomat_browser import PAGE_TYPES

pytestmark = pytest.mark.browser

AXE = "/assets/axe-core/axe.min.js"
# WCAG 2.0-2.2 A and AA (target size included) and axe's best practices.
RUN_AXE = """() => axe.run(document, {resultTypes: ['violations'], runOnly: {type: 'tag',
    values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}}).then(result => result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')))"""


def serious_violations(page, base):
    page.add_script_tag(url=base + AXE)
    return page.evaluate(RUN_AXE)


@pytest.fixture(scope="module")
def checker(browser):  # noqa: F811
    page = Watched(browser)
    yield page
    page.close()


# Every page type, the SPARQL editor (YASQE) included, and the workbench with an answer drawn as a table.
RESULT_TABLE = "/sparql?example=process-members-and-roles"
AXE_PAGES = PAGE_TYPES + [RESULT_TABLE]


def test_axe_finds_nothing_serious_on_any_page_type(live_server, checker):
    page, found = checker.page, {}
    for path in AXE_PAGES:
        page.goto(live_server + path)
        if path.startswith("/map") or path in ("/id/colombo-process", "/id/state/THA"):
            page.wait_for_selector("[data-drawn=true]", timeout=30_000)  # the drawn map is checked too
        if path.startswith("/network/"):
            page.wait_for_selector("#network[data-stabilized=true]", timeout=60_000)
        if path.startswith("/sparql"):  # the editor with its highlighted tokens (a string among them)
            page.wait_for_selector(".CodeMirror .cm-string")
        if path == RESULT_TABLE:  # and the answer's table
            page.wait_for_selector(".results-table tbody tr", timeout=30_000)
        violations = serious_violations(page, live_server)
        if violations:
            found[path] = violations
    assert found == {}
    assert checker.remote_requests() == []


def test_axe_finds_nothing_serious_in_the_open_type_ahead(live_server, checker):
    page = checker.page
    page.goto(live_server + "/")
    page.fill("#home-search", "Colombo")
    page.wait_for_selector("#typeahead-list [role=option]")
    page.press("#home-search", "ArrowDown")
    assert serious_violations(page, live_server) == []


def test_every_page_starts_with_a_skip_link_and_has_a_favicon(live_server, checker):
    page = checker.page
    for path in ("/", "/id/bali-process", "/map", "/ontology"):
        page.goto(live_server + path)
        page.keyboard.press("Tab")
        focused = page.evaluate("[document.activeElement.className, document.activeElement.getAttribute('href')]")
        assert focused == ["skip-link", "#main"], path
        assert page.locator("link[rel=icon]").count() == 1
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main", path


# The smallest common phone, on the pages with the widest tables (memberships, figures) and the most source badges.
SMALL_PHONE = {"width": 360, "height": 740}
CROWDED_PAGES = ["/id/iom", "/id/gcim-report", "/id/role/member", "/id/palermo-trafficking-protocol"]


def test_crowded_pages_fit_a_small_phone_and_keep_their_targets_apart(live_server, browser):  # noqa: F811
    context = browser.new_context(viewport=SMALL_PHONE)
    try:
        page, found = context.new_page(), {}
        for path in CROWDED_PAGES:
            page.goto(live_server + path)
            width = page.evaluate("document.scrollingElement.scrollWidth")
            problems = serious_violations(page, live_server) + ([f"scrolls sideways ({width} px)"]
                                                                if width > SMALL_PHONE["width"] else [])
            if problems:
                found[path] = problems
        assert found == {}
    finally:
        context.close()


def test_a_keyboard_can_skip_the_map_links(live_server, checker):
    """A state's small map holds a link per state (some forty for Thailand): one key press gets past them all."""
    page = checker.page
    page.goto(live_server + "/id/state/THA")
    page.wait_for_selector("#entity-map[data-drawn=true]", timeout=30_000)
    assert page.locator("#entity-map a.country-link").count() > 30
    page.focus("#entity-map-skip")
    assert page.evaluate("document.activeElement.getBoundingClientRect().width") > 0  # shown once focused
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('.map') === null && "
                         "Boolean(document.getElementById('entity-map').compareDocumentPosition(document.activeElement)"
                         " & Node.DOCUMENT_POSITION_FOLLOWING)")
