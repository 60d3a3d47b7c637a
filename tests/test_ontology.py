"""The ontology: loads in rdflib and owlready2, documents every term, and is consistent under HermiT."""

from __future__ import annotations

import tempfile
from pathlib import Path

import owlready2
import pytest
import rdflib
from rdflib.namespace import OWL, RDF, RDFS

from migkg.config import PROJECT_ROOT
from migkg.reasoning import java_available

ONTOLOGY = PROJECT_ROOT / "ontology" / "migration.ttl"
MIG = rdflib.Namespace("https://w3id.org/migkg/ontology#")


@pytest.fixture(scope="module")
def graph() -> rdflib.Graph:
    return rdflib.Graph().parse(ONTOLOGY, format="turtle")


def test_every_term_has_an_english_label_and_comment(graph):
    kinds = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty)
    terms = {s for kind in kinds for s in graph.subjects(RDF.type, kind) if str(s).startswith(str(MIG))}
    assert len(terms) > 80
    for term in terms:
        labels = [o for o in graph.objects(term, RDFS.label) if getattr(o, "language", None) == "en"]
        assert labels, f"{term} has no English label"
        assert graph.value(term, RDFS.comment), f"{term} has no comment"


def test_backbone_classes_and_properties_exist(graph):
    for name in ("Actor", "State", "Organization", "IntergovernmentalOrganization", "UNEntity",
                 "NonGovernmentalOrganization", "GovernmentAgency", "Instrument", "Treaty", "Convention",
                 "Protocol", "Declaration", "ActionPlan", "PolicyFramework", "Resolution", "GuidingPrinciples",
                 "ConsultationProcess", "RegionalConsultativeProcess", "InterregionalForum", "GlobalProcess",
                 "CoordinationMechanism", "NationalCoordinationMechanism", "InterAgencyMechanism",
                 "ProcessStage", "SourceDocument"):
        assert (MIG[name], RDF.type, OWL.Class) in graph, name
    for name, inverse in (("hasMember", "memberOf"), ("hasObserver", "observerOf"), ("supplements", "supplementedBy"),
                          ("agencyOf", "hasAgency"), ("nextStage", "previousStage")):
        assert (MIG[name], OWL.inverseOf, MIG[inverse]) in graph, name
    assert (MIG.hasSecretariat, OWL.propertyChainAxiom, None) in graph
    assert (MIG.chairedBy, OWL.propertyChainAxiom, None) in graph


def test_loads_in_owlready2_and_is_consistent_under_hermit(graph):
    if not java_available():
        pytest.fail("this machine kind has a JRE: `make test` installs it (default-jre-headless)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "migration.nt"
        graph.serialize(path, format="nt")
        world = owlready2.World()
        ontology = world.get_ontology(path.as_uri()).load()
        assert ontology.search_one(iri=str(MIG.RegionalConsultativeProcess)) is not None
        owlready2.sync_reasoner_hermit(world, debug=0, ignore_unsupported_datatypes=True)
        assert list(world.inconsistent_classes()) == []
        world.close()
