"""Each source section's named entities are in the graph of that section (tests/coverage/*.json)."""

from __future__ import annotations

import json

import pytest
from pyoxigraph import NamedNode

from migkg.config import PROJECT_ROOT

COVERAGE = sorted((PROJECT_ROOT / "tests" / "coverage").glob("*.json"))
CASES = [
    (path.stem, section, entity)
    for path in COVERAGE
    for section, entities in json.loads(path.read_text(encoding="utf-8")).items()
    for entity in entities
]
DOCUMENTS = ["unodc-tool4", "koser-2013", "iom-mc-inf-255", "iom-haque", "iom-essentials-tip"]


def test_every_source_document_has_curated_sections():
    sections = {section for _, section, _ in CASES}
    for document in DOCUMENTS:
        assert any(s.startswith(f"https://w3id.org/migkg/source/{document}#") for s in sections), document


@pytest.mark.parametrize("unodc_section", ["4.10", "4.11", "4.12", "4.13", "4.14", "4.15", "4.7"])
def test_the_unodc_sections_named_in_the_issue_are_covered(unodc_section):
    assert any(s == f"https://w3id.org/migkg/source/unodc-tool4#s{unodc_section}" for _, s, _ in CASES)


@pytest.mark.parametrize("stem, section, entity", CASES, ids=[f"{c[0]}:{c[2].rsplit('/id/', 1)[-1]}" for c in CASES])
def test_entity_named_in_its_section(store, stem, section, entity):
    graph, node = NamedNode(section), NamedNode(entity)
    assert store.contains_named_graph(graph), f"{stem}: no graph {section}"
    mentioned = next(store.quads_for_pattern(node, None, None, graph), None) or next(
        store.quads_for_pattern(None, None, node, graph), None)
    assert mentioned is not None, f"{entity} is not stated in {section}"
    assert any(True for _ in store.quads_for_pattern(node, NamedNode("http://www.w3.org/2000/01/rdf-schema#label"), None)), (
        f"{entity} has no label anywhere"
    )
