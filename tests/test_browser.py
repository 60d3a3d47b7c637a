"""The explorer in headless Chromium: search → process → members, network views offline, state → process, XSS as text."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

from migkg.build import build
from migkg.config import Settings

from . import serving

pytestmark = pytest.mark.browser

XSS_DATA = Path(__file__).parent / "fixtures" / "xss" / "data"
XSS_LABEL = "<script>alert(1)</script>"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Watched:
    """A page that records page errors, dialogs and every request, and lets only loopback requests through."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.errors, self.dialogs, self.requests = [], [], []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("dialog", self._dialog)

    def _route(self, route):
        url = route.request.url
        self.requests.append(url)
        if urlparse(url).hostname == "127.0.0.1" or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            route.abort()

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def remote_requests(self):
        return [url for url in self.requests if urlparse(url).hostname != "127.0.0.1"
                and not url.startswith(("data:", "blob:"))]

    def close(self):
        self.context.close()


@pytest.fixture()
def watched(browser):
    page = Watched(browser)
    yield page
    page.close()


def wait_for_network(page):
    page.wait_for_selector("#network[data-stabilized=true]", timeout=60_000)
    return page.evaluate("Object.keys(window.migkgNetwork.getPositions()).length")


def test_search_colombo_open_the_process_see_its_eleven_members(live_server, watched, artifacts):
    page = watched.page
    page.goto(live_server + "/")
    page.screenshot(path=str(artifacts / "home.png"), full_page=True)
    page.fill("#home-search", "Colombo")
    page.wait_for_selector("#typeahead-list [role=option]")  # the type-ahead answers from /search.json
    page.press("#home-search", "Enter")
    page.wait_for_url("**/search?q=Colombo")
    page.click("ol.results a[href='/id/colombo-process']")
    page.wait_for_url("**/id/colombo-process")
    members = page.locator("#role-member ul.members > li")
    assert members.count() == 11
    assert "Viet Nam" in page.locator("#role-member").inner_text()
    assert "International Organization for Migration" in page.locator("#role-secretariat").inner_text()
    page.screenshot(path=str(artifacts / "entity-colombo-process.png"), full_page=True)
    assert watched.errors == [] and watched.remote_requests() == []


def test_network_view_draws_nodes_offline(live_server, watched, artifacts):
    page = watched.page
    page.goto(live_server + "/network/members/id/colombo-process")
    assert wait_for_network(page) >= 13
    assert page.evaluate("window.migkgNetwork.body.data.edges.length") >= 13
    page.screenshot(path=str(artifacts / "network-colombo-members.png"), full_page=True)
    page.goto(live_server + "/network/ego/id/bali-process?depth=2")
    assert wait_for_network(page) > 13
    assert watched.errors == [], watched.errors
    assert watched.requests and watched.remote_requests() == []


@pytest.mark.parametrize("path", ["/network/members/id/bali-process", "/network/ego/id/state/THA?depth=2"])
def test_a_phone_sees_the_network_picture_on_its_first_screen(live_server, browser, path):
    """At 360 x 640 the picture once began below the first screen (under the legend, counts and notes)."""
    context = browser.new_context(viewport={"width": 360, "height": 640})
    page = context.new_page()
    page.goto(live_server + path)
    picture = page.locator("#network").bounding_box()
    assert picture["y"] + picture["height"] <= 640 and picture["height"] >= 280, picture
    legend = page.locator(".network-bar").bounding_box()
    assert legend["y"] > picture["y"]  # the legend and depth follow the picture
    page.set_viewport_size({"width": 1280, "height": 900})  # a desktop keeps them above it
    assert page.locator(".network-bar").bounding_box()["y"] < page.locator("#network").bounding_box()["y"]
    context.close()


def test_arrow_keys_belong_to_the_page_until_the_picture_has_focus(live_server, watched):
    """The depth menu and page scrolling keep their keys; the picture pans with them once focused (Tab reaches it)."""
    page = watched.page
    page.set_viewport_size({"width": 1280, "height": 600})
    page.goto(live_server + "/network/ego/id/colombo-process")
    wait_for_network(page)
    view = "JSON.stringify(window.migkgNetwork.getViewPosition())"
    before = page.evaluate(view)
    page.focus("#depth")
    page.keyboard.press("ArrowDown")  # chooses 2 links, and stays on the page with the focus in the menu
    assert page.evaluate("[document.activeElement.id, document.activeElement.value]") == ["depth", "2"]
    assert page.evaluate(view) == before
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the Show button
    page.wait_for_url("**/network/ego/id/colombo-process?depth=2")
    wait_for_network(page)
    before = page.evaluate(view)
    page.keyboard.press("PageDown")
    page.wait_for_timeout(300)  # the pages' CSP forbids wait_for_function's eval
    assert page.evaluate("scrollY") > 0 and page.evaluate(view) == before
    page.focus("#network .vis-network")  # the picture's own focusable frame (vis-network gives it tabindex 0)
    page.keyboard.down("ArrowRight")  # held: the picture pans while the key is down
    page.wait_for_timeout(300)
    page.keyboard.up("ArrowRight")
    assert page.evaluate(view) != before
    # The same rule for a class list's filters: the arrow keys step through them, the Apply button applies.
    page.goto(live_server + "/class/ConsultationProcess")
    page.focus("select[name=theme]")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert page.url.endswith("/class/ConsultationProcess")
    assert page.evaluate("document.activeElement.name") == "theme"
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/class/ConsultationProcess?theme=*")
    assert watched.errors == []


def test_follow_a_link_from_a_state_to_a_process(live_server, watched):
    page = watched.page
    page.goto(live_server + "/id/state/THA")
    page.click("#memberships a[href='/id/colombo-process']")
    page.wait_for_url("**/id/colombo-process")
    assert "Colombo Process" in page.locator("h1").first.inner_text()
    assert watched.errors == []


# ------------------------------------------------------------------------------------------ XSS fixture


@pytest.fixture(scope="module")
def xss_server(tmp_path_factory):
    """The production server over a store built from the real ontology and the XSS fixture data only."""
    root = tmp_path_factory.mktemp("xss-store")
    settings = Settings().with_changes(data_dir=XSS_DATA, store_path=root / "store")
    build(settings, dl_check=False)
    with serving.serving({"MIGKG_STORE": str(settings.store_path)}, workers=1) as server:
        yield server.base


XSS_PAGES = ["/id/xss-process", "/id/state/THA", "/id/rcm", "/source/xss-fixture", "/search?q=alert",
             "/class/RegionalConsultativeProcess", "/network/members/id/xss-process",
             "/network/ego/id/xss-process?depth=2", "/network/state/id/state/THA"]


def test_markup_in_the_data_never_reaches_html_unescaped(xss_server):
    for path in XSS_PAGES:
        html = requests.get(xss_server + path, headers={"Accept": "text/html"}, timeout=30).text
        for raw in (XSS_LABEL, "<img src=x", "<b>document", "<i>markup", 'href="javascript'):
            assert raw not in html, (path, raw)
    entity = requests.get(xss_server + "/id/xss-process", headers={"Accept": "text/html"}, timeout=30).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in entity


def test_markup_shows_as_text_on_every_page_and_tooltip(xss_server, watched):
    page = watched.page
    for path in XSS_PAGES:
        page.goto(xss_server + path)
        if "/network/" in path:
            wait_for_network(page)
        else:
            assert XSS_LABEL in page.locator("main").inner_text(), path
    page.goto(xss_server + "/network/members/id/xss-process")
    wait_for_network(page)
    # hover the process node: its tooltip is the label as text
    position = page.evaluate("""() => { const n = window.migkgNetwork;
        const p = n.canvasToDOM(n.getPositions(['/id/xss-process'])['/id/xss-process']);
        const box = document.getElementById('network').getBoundingClientRect();
        return {x: box.left + p.x, y: box.top + p.y}; }""")
    page.mouse.move(position["x"], position["y"])
    tooltip = page.wait_for_selector("div.vis-tooltip", state="visible", timeout=10_000)
    assert XSS_LABEL in tooltip.inner_text()
    assert "<script" not in tooltip.inner_html()
    page.goto(xss_server + "/")
    page.fill("#home-search", "alert")
    page.wait_for_selector("#typeahead-list [role=option]")
    assert XSS_LABEL in page.locator("#typeahead-list").inner_text()
    assert watched.dialogs == [] and watched.errors == [] and watched.remote_requests() == []
