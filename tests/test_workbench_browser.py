"""The workbench in headless Chromium: highlighting and completion, Ctrl+Enter, labelled links, a compact table,
every result view offline without console errors, parameters by name, share links that reproduce the answer."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from tests.test_browser import Watched, browser  # noqa: F401  (the shared Chromium fixture)

pytestmark = pytest.mark.browser

STATES_BY_PROCESSES = ("SELECT ?state (COUNT(DISTINCT ?process) AS ?processes) WHERE { "
                       "?process mig:hasMember ?state . ?state a mig:State } GROUP BY ?state")
FOUNDING_DATES = "SELECT ?organization ?date WHERE { ?organization mig:establishedIn ?date } ORDER BY ?date"
MEMBERS_GRAPH = "CONSTRUCT WHERE { id:colombo-process mig:hasMember ?member . ?member rdfs:label ?label }"


def answered(page, pattern=r" in [\d.]+ s"):
    """Wait for the status line to report an answer (no page-side eval: the page forbids it by CSP)."""
    page.locator("#status").filter(has_text=re.compile(pattern)).wait_for(timeout=30_000)


class Bench(Watched):
    """A watched page that also records console errors (CSP refusals show up there)."""

    def __init__(self, browser, width=1366, height=900):  # noqa: F811
        super().__init__(browser)
        self.context.close()
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.console = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: message.type == "error" and self.console.append(message.text))

    def open(self, base, path):
        self.page.goto(base + path)
        answered(self.page)

    def clean(self):
        assert self.remote_requests() == []
        assert self.errors == [] and self.console == []


@pytest.fixture()
def bench(browser):  # noqa: F811
    page = Bench(browser)
    yield page
    page.close()


def query_path(text):
    return "/sparql?" + urlencode({"query": text})


def test_editor_highlights_completes_and_runs_by_ctrl_enter(live_server, bench, artifacts):
    page = bench.page
    page.goto(live_server + "/sparql")
    page.wait_for_selector(".CodeMirror .cm-keyword")
    page.click("button.example[data-slug=process-members-and-roles]")
    page.click(".CodeMirror")
    page.keyboard.press("Control+End")
    page.keyboard.type("\n# ?x a mig:Cons")  # inside a comment: no completion
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+Enter")
    answered(page, r"^13 rows")
    link = page.locator("a.iri-label", has_text="Colombo Process").first
    assert link.get_attribute("href") == "/id/colombo-process"
    assert "id:colombo-process" in link.get_attribute("title")
    # Completion of the ontology's classes after `a`.
    page.click("button.example[data-slug=process-member-counts]")
    page.click(".CodeMirror")
    page.keyboard.press("Control+Home")
    page.keyboard.type("SELECT * WHERE { ?p a mig:Consul")
    page.wait_for_selector(".CodeMirror-hints")
    hints = page.locator(".CodeMirror-hint").all_text_contents()
    assert any(hint.startswith("mig:ConsultationProcess") for hint in hints), hints
    page.screenshot(path=str(artifacts / "workbench-editor.png"))
    bench.clean()


def test_thirteen_row_example_fits_one_screen_with_linked_labels(live_server, bench, artifacts):
    bench.open(live_server, "/sparql?example=process-members-and-roles")
    page = bench.page
    assert page.locator("#status").text_content().startswith("13 rows")
    rows = page.locator(".results-table tbody tr")
    assert rows.count() == 13
    first, last = rows.first.bounding_box(), rows.last.bounding_box()
    assert first["y"] >= 0 and last["y"] + last["height"] <= 900, (first, last)
    assert page.locator("a.iri-label", has_text="Afghanistan").count() == 1
    assert page.locator("td a.iri-label", has_text="UNODC Tool 4").count() == 13  # ?sources as links
    page.screenshot(path=str(artifacts / "workbench-table.png"))
    bench.clean()


@pytest.mark.parametrize("name, path, view, ready", [
    ("map", query_path(STATES_BY_PROCESSES), "map", "#result-map[data-drawn=true]"),
    ("chart", query_path(STATES_BY_PROCESSES), "chart", "svg.bar-chart rect"),
    ("timeline", query_path(FOUNDING_DATES), "timeline", "svg.timeline circle"),
    ("network", query_path(MEMBERS_GRAPH), "network", "#result-network[data-stabilized=true]"),
])
def test_each_result_view_draws_offline_without_errors(live_server, bench, artifacts, name, path, view, ready):
    bench.open(live_server, path)
    page = bench.page
    if page.locator("#results").get_attribute("data-view") != view:
        page.click(f"#views button[data-view={view}]")
    page.wait_for_selector(ready, timeout=60_000)
    page.locator("#answer").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"workbench-view-{name}.png"))
    bench.clean()


@pytest.mark.parametrize("width", [390, 1366])
def test_timeline_labels_fit_the_drawing_and_never_overlap(live_server, browser, artifacts, width):  # noqa: F811
    """Events of the same date (the Khartoum Process twice in 2014) and long names stay apart, readable and uncut."""
    bench = Bench(browser, width=width, height=844)
    try:
        bench.open(live_server, query_path(FOUNDING_DATES))
        page = bench.page
        page.wait_for_selector("svg.timeline circle")
        labels = page.evaluate("""() => [...document.querySelectorAll('svg.timeline text.event-label')].map(e => {
            const r = e.getBoundingClientRect(), title = e.parentNode.querySelector('title').textContent;
            return {text: e.textContent, title: title, left: r.left, right: r.right, top: r.top, bottom: r.bottom,
                    height: r.height}; })""")
        drawing = page.locator("svg.timeline").bounding_box()
        assert len(labels) == page.locator("svg.timeline circle").count() > 20
        clashes = [(a["text"], b["text"]) for i, a in enumerate(labels) for b in labels[i + 1:]
                   if a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]]
        assert clashes == []
        inside = [label["text"] for label in labels
                  if label["left"] < drawing["x"] - 1 or label["right"] > drawing["x"] + drawing["width"] + 1]
        assert inside == []  # no label runs past the drawing's edge
        assert all(label["height"] >= 12 for label in labels)  # the page's 12 px type, also on a phone
        for label in labels:  # a name cut short keeps its date, and its whole text is in the tooltip
            name, date = label["title"].rsplit(" — ", 1)
            start, ellipsis, rest = label["text"].partition("…")
            assert rest == f" ({date[:10]})" and name.startswith(start) if ellipsis else label["text"] == f"{name} ({date[:10]})", label
        page.locator("svg.timeline").screenshot(path=str(artifacts / f"workbench-timeline-{width}.png"))
        bench.clean()
    finally:
        bench.close()


def test_views_are_chosen_by_the_shape_of_the_answer(live_server, bench):
    for path, view in ((query_path(STATES_BY_PROCESSES), "map"), (query_path(FOUNDING_DATES), "timeline"),
                       (query_path(MEMBERS_GRAPH), "network"), ("/sparql?example=process-members-and-roles", "table")):
        bench.open(live_server, path)
        assert bench.page.locator("#results").get_attribute("data-view") == view, path
    bench.clean()


def test_parameters_by_name_with_type_ahead_and_unknown_names(live_server, bench):
    page = bench.page
    page.goto(live_server + "/sparql")
    page.click("button.example[data-slug=process-members-and-roles]")
    field = page.locator("#param-process")
    field.fill("")
    field.type("Bali Pro")
    page.wait_for_selector(".suggestion")
    page.locator(".suggestion", has_text="Bali Process").first.dispatch_event("mousedown")
    assert field.input_value() == "id:bali-process"
    assert "example=process-members-and-roles&process=id%3Abali-process" in page.locator("#share-link").input_value()
    field.fill("Atlantis Process")
    page.click("#run")
    page.wait_for_selector(".parameter-hint.error")
    assert "No resource is named" in page.locator(".parameter-hint").text_content()
    bench.clean()


def test_share_links_reproduce_the_answer_in_a_fresh_page(live_server, browser, artifacts):  # noqa: F811
    for path in (query_path(FOUNDING_DATES), "/sparql?example=processes-of-state&state=state%3APHL"):
        first = Bench(browser)
        first.open(live_server, path)
        first.page.click("#views button[data-view=table]")
        link = first.page.locator("#share-link").input_value()
        table = first.page.locator(".results-table tbody").inner_text()
        first.clean()
        first.close()
        assert len(link) < 400 and ("#q=" in link or "example=" in link)
        fresh = Bench(browser)
        fresh.page.goto(link)
        answered(fresh.page)
        fresh.page.click("#views button[data-view=table]")
        assert fresh.page.locator(".results-table tbody").inner_text() == table
        fresh.clean()
        fresh.close()


def test_phone_width_results_page(live_server, browser, artifacts):  # noqa: F811
    phone = Bench(browser, width=390, height=844)
    phone.open(live_server, "/sparql?example=process-members-and-roles")
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    phone.page.screenshot(path=str(artifacts / "workbench-phone-390.png"))
    assert width <= 392, width  # the table scrolls in its own box, not the page
    phone.clean()
    phone.close()


def test_back_from_a_result_link_returns_to_the_query_that_was_run(live_server, bench):
    """The address bar follows the query last run, so Back (or a reload) brings back that query and its answer."""
    page = bench.page
    page.goto(live_server + "/sparql")
    page.click("button.example[data-slug=process-members-and-roles]")
    page.click("#run")
    answered(page)
    page.fill("#parameter-inputs input", "Bali Process")
    page.click("#run")
    answered(page, r"\d+ rows in")
    asked = page.locator(".results-table tbody").inner_text()
    assert "Australia" in asked
    page.locator(".results-table a.iri-label", has_text="Australia").first.click()
    page.wait_for_url("**/id/state/AUS")
    page.go_back()
    answered(page)
    assert page.locator("#example-title").inner_text().startswith("Members of a process")
    page.click("#views button[data-view=table]")
    assert page.locator(".results-table tbody").inner_text() == asked
    bench.clean()
