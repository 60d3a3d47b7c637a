"""Every example query in queries/ runs against the built store and gives the answer its sources give."""

from __future__ import annotations

import json
import re

import pytest
from pyoxigraph import QueryBoolean, QueryTriples

from migkg.catalogue import execute, load_catalogue
from migkg.config import PROJECT_ROOT

QUERIES = load_catalogue(PROJECT_ROOT / "queries")
EXPECTATIONS = PROJECT_ROOT / "tests" / "queries"


def test_the_catalogue_holds_at_least_25_competency_questions():
    assert len(QUERIES) >= 25, sorted(QUERIES)


@pytest.mark.parametrize("slug", sorted(QUERIES))
def test_query_has_header_and_expected_answer(slug):
    query = QUERIES[slug]
    assert query.title and query.title != slug.replace("-", " ").capitalize(), f"{slug}.rq has no '# title:'"
    assert query.description, f"{slug}.rq has no '# description:'"
    assert (EXPECTATIONS / f"{slug}.json").is_file(), f"tests/queries/{slug}.json is missing"


def _cell(term) -> str | None:
    return None if term is None else term.value


@pytest.mark.parametrize("slug", sorted(QUERIES))
def test_query_answer(store, slug):
    path = EXPECTATIONS / f"{slug}.json"
    if not path.is_file():
        pytest.fail(f"no expectation file {path.name}")
    expected = json.loads(path.read_text(encoding="utf-8"))
    query = QUERIES[slug]
    results = execute(store, query.bound_text(expected.get("bindings")))
    if isinstance(results, QueryBoolean):
        assert "expect_ask" in expected, f"{slug}: an ASK query needs expect_ask"
        assert bool(results) is expected["expect_ask"]
        return
    assert not isinstance(results, QueryTriples), f"{slug}: example queries are SELECT or ASK"
    variables = [v.value for v in results.variables]
    rows = [{name: _cell(solution[name]) for name in variables} for solution in results]
    assert "expect_count" in expected or expected.get("expect_rows_include"), f"{slug}: the expectation asserts nothing"
    if "expect_count" in expected:
        assert len(rows) == expected["expect_count"], f"{slug}: {len(rows)} rows: {rows[:20]}"
    for partial in expected.get("expect_rows_include", []):
        assert any(all(str(row.get(k)) == str(v) for k, v in partial.items()) for row in rows), (
            f"{slug}: no row matches {partial}; rows: {rows[:20]}"
        )
    for partial in expected.get("expect_rows_exclude", []):
        assert not any(all(str(row.get(k)) == str(v) for k, v in partial.items()) for row in rows), (
            f"{slug}: a row matches the excluded {partial}"
        )
    if "expect_order" in expected:
        column, values = expected["expect_order"]["column"], expected["expect_order"]["values"]
        assert [row[column] for row in rows][: len(values)] == values


DUPLICATES_HEADER = re.compile(r"^#\s*duplicates\s*:\s*(\S.*)$", re.MULTILINE)


@pytest.mark.parametrize("slug", sorted(QUERIES))
def test_query_rows_are_distinct_unless_the_header_says_why(store, slug):
    """A row repeated (e.g. one per label a resource has in several graphs) reads as two answers."""
    query = QUERIES[slug]
    path = EXPECTATIONS / f"{slug}.json"
    expected = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    results = execute(store, query.bound_text(expected.get("bindings")))
    if isinstance(results, (QueryBoolean, QueryTriples)):
        return
    variables = [v.value for v in results.variables]
    rows = [tuple(_cell(solution[name]) for name in variables) for solution in results]
    reason = DUPLICATES_HEADER.search(query.text)
    if reason:
        return
    repeated = [row for row in set(rows) if rows.count(row) > 1]
    assert not repeated, f"{slug}: {len(rows) - len(set(rows))} repeated row(s), e.g. {repeated[:3]}"
    # one row per resource and label: a resource column never comes with two different labels
    for name in variables:
        if f"{name}Label" in variables:
            labels: dict[str, set] = {}
            for solution in execute(store, query.bound_text(expected.get("bindings"))):
                if solution[name] is not None:
                    labels.setdefault(solution[name].value, set()).add(_cell(solution[f"{name}Label"]))
            several = {k: v for k, v in labels.items() if len(v) > 1}
            assert not several, f"{slug}: ?{name} has several labels: {dict(list(several.items())[:3])}"


def test_a_query_file_with_a_byte_order_mark_keeps_its_header_and_runs(tmp_path, store):
    from migkg.catalogue import read_query

    path = tmp_path / "marked.rq"
    path.write_bytes(b"\xef\xbb\xbf# title: Marked\n# param: x \"1\"\nSELECT ?x WHERE {}\n")
    query = read_query(path)
    assert query.title == "Marked" and [p.name for p in query.parameters] == ["x"]
    assert not query.text.startswith("\ufeff")
    assert [row["x"].value for row in store.query(query.bound_text())] == ["1"]
