"""One IRI per thing: the build refuses two resources of one class with one name, unless a curator recorded why."""

from __future__ import annotations

import pytest

from migkg.build import BuildFailed, prepare
from migkg.config import PROJECT_ROOT
from migkg.identity import check_identity, normalised, shared_names
from migkg.sources import read_inputs
from tests.test_build import PREFIXES, make_project, COLOMBO

TWO_COLOMBOS = PREFIXES + """
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
<https://w3id.org/migkg/source/test-doc#s1> {
  id:colombo-process-2 a mig:RegionalConsultativeProcess ; rdfs:label " COLOMBO  process."@en .
}
"""


def test_names_differing_only_in_case_accents_punctuation_and_spacing_are_one_name():
    assert normalised("Côte d'Ivoire ") == normalised("cote d ivoire") == "cote d ivoire"
    assert normalised("The  COLOMBO process.") == normalised("the colombo process")
    assert normalised("World Migration 2003") != normalised("World Migration Report 2003")


def test_build_fails_naming_both_iris(tmp_path):
    project = make_project(tmp_path, {"colombo.trig": COLOMBO, "again.trig": TWO_COLOMBOS})
    with pytest.raises(BuildFailed) as failure:
        prepare(project, dl_check=False)
    message = str(failure.value)
    assert "https://w3id.org/migkg/id/colombo-process and https://w3id.org/migkg/id/colombo-process-2" in message
    assert "RegionalConsultativeProcess" in message and "Colombo Process" in message


@pytest.mark.parametrize(
    "link",
    [
        "id:colombo-process-2 skos:exactMatch id:colombo-process .",
        "id:colombo-process owl:sameAs id:colombo-process-2 .",
        'id:colombo-process-2 owl:differentFrom id:colombo-process ; skos:editorialNote "A namesake in a test."@en .',
    ],
)
def test_a_recorded_decision_lets_the_pair_pass(tmp_path, link):
    linked = TWO_COLOMBOS.replace("}\n", f"  {link}\n}}\n")
    project = make_project(tmp_path, {"colombo.trig": COLOMBO, "again.trig": linked})
    inputs = read_inputs(project.ontology_dir, project.data_dir, project.shapes_file)
    assert check_identity(inputs.data) is None


def test_different_from_without_a_reason_is_not_enough(tmp_path):
    unexplained = TWO_COLOMBOS.replace("}\n", "  id:colombo-process-2 owl:differentFrom id:colombo-process .\n}\n")
    project = make_project(tmp_path, {"colombo.trig": COLOMBO, "again.trig": unexplained})
    inputs = read_inputs(project.ontology_dir, project.data_dir, project.shapes_file)
    assert [s.other for s in shared_names(inputs.data)] == ["https://w3id.org/migkg/id/colombo-process-2"]


def test_concepts_of_different_schemes_may_share_a_name(tmp_path):
    concepts = PREFIXES + """
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
<https://w3id.org/migkg/source/test-doc#s1> {
  id:a a skos:Concept ; rdfs:label "prosecution"@en ; skos:inScheme id:scheme-a .
  id:b a skos:Concept ; rdfs:label "Prosecution"@en ; skos:inScheme id:scheme-b .
  id:c a skos:Concept ; rdfs:label "prosecution"@en ; skos:inScheme id:scheme-b .
}
"""
    project = make_project(tmp_path, {"colombo.trig": COLOMBO, "concepts.trig": concepts})
    inputs = read_inputs(project.ontology_dir, project.data_dir, project.shapes_file)
    assert [(s.resource, s.other) for s in shared_names(inputs.data)] == [
        ("https://w3id.org/migkg/id/b", "https://w3id.org/migkg/id/c")]


def test_the_curated_data_has_one_iri_per_thing():
    inputs = read_inputs(PROJECT_ROOT / "ontology", PROJECT_ROOT / "data", PROJECT_ROOT / "ontology" / "shapes.ttl")
    assert check_identity(inputs.data) is None


@pytest.mark.parametrize("retired", ["gcim-report-2005", "report/world-migration-report-2003",
                                     "report/iom-migrant-trafficking-and-human-smuggling-in-europe-2000"])
def test_the_three_duplicate_works_are_merged(retired):
    for path in (PROJECT_ROOT / "data").glob("*.trig"):
        assert f"/id/{retired}>" not in path.read_text(encoding="utf-8")
        assert f":{retired.rsplit('/', 1)[-1]}\n" not in path.read_text(encoding="utf-8")
