"""The set-up promise: the README names two commands, and CI runs the test one."""

from __future__ import annotations

import re

from migkg.config import PROJECT_ROOT


def test_readme_names_exactly_the_two_setup_commands():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^(make \w+)", setup, flags=re.MULTILINE)
    assert commands == ["make serve", "make test"]


def test_ci_runs_the_readme_test_command():
    script = (PROJECT_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lines = [line.strip() for line in script.splitlines() if line.strip() and not line.startswith("#")]
    assert "make test" in lines


def test_makefile_targets_install_what_they_need():
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^serve: install system-deps build$", makefile, flags=re.MULTILINE)
    assert re.search(r"^test: install system-deps$", makefile, flags=re.MULTILINE)
    assert "chromium" in makefile and "default-jre-headless" in makefile


def test_every_path_in_the_readme_web_surface_answers(client):
    """The README's page list is a promise: each example path in its table's first column is served."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    surface = readme.split("## The web surface", 1)[1].split("\n## ", 1)[0]
    cells = [line.split("|")[1] for line in surface.splitlines() if line.startswith("| `/")]
    paths = [path for cell in cells for path in re.findall(r"`(/[^`]*)`", cell)]
    assert {"/compare?process=colombo-process&process=abu-dhabi-dialogue", "/timeline?kind=instrument"} <= set(paths)
    assert any(path.startswith("/map") for path in paths) and any(path.startswith("/assets/") for path in paths)
    answers = {path: client.get(path).status_code for path in paths}
    assert all(status == 200 for status in answers.values()), answers


def test_every_html_page_in_the_readme_web_surface_has_its_json_twin_or_is_named_without(client):
    """'append `.json`' is a promise for each page of the table; the README names the pages that have none."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    surface = readme.split("## The web surface", 1)[1].split("\n## ", 1)[0]
    cells = [line.split("|")[1] for line in surface.splitlines() if line.startswith("| `/")]
    paths = [path for cell in cells for path in re.findall(r"`(/[^`]*)`", cell)]
    without = re.search(r"((?:`/[^`]*`(?:, | and )?)+) have none", surface)
    assert without, "the README no longer says which pages have no .json twin"
    exceptions = set(re.findall(r"`(/[^`]*)`", without.group(1)))
    twins = {}
    for path in paths:
        page = client.get(path, headers={"Accept": "text/html"})
        if not page.mimetype == "text/html":
            continue
        base, _, query = path.partition("?")
        twin = client.get(base + ".json" + (f"?{query}" if query else ""))
        twins[path] = (twin.status_code, twin.mimetype)
        expected = (404, "application/json") if base in exceptions else (200, "application/json")
        assert twins[path] == expected, (path, twins[path])
    assert exceptions <= set(twins) and len(twins) >= 10, twins
