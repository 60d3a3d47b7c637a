"""Reference data generated, not typed: every ISO 3166-1 country as a mig:State, from pycountry."""

from __future__ import annotations

from typing import Iterator

import pycountry
from pyoxigraph import Literal, NamedNode, Quad

from .namespaces import MIG, RDF, RDFS, REFERENCE_GRAPH, SKOS, STATE, term

STATE_CLASS = term(MIG, "State")


def state_iri(alpha_3: str) -> NamedNode:
    return NamedNode(STATE + alpha_3.upper())


def country_quads() -> Iterator[Quad]:
    """Type, English name, other official and common names and the three ISO codes of each country."""
    for country in pycountry.countries:
        state = state_iri(country.alpha_3)
        statements = [
            (term(RDF, "type"), STATE_CLASS),
            (term(RDFS, "label"), Literal(country.name, language="en")),
            (term(MIG, "iso3166Alpha3"), Literal(country.alpha_3)),
            (term(MIG, "iso3166Alpha2"), Literal(country.alpha_2)),
            (term(MIG, "iso3166Numeric"), Literal(country.numeric)),
            (term(SKOS, "notation"), Literal(country.alpha_3)),
        ]
        for extra in ("official_name", "common_name"):
            name = getattr(country, extra, None)
            if name and name != country.name:
                statements.append((term(SKOS, "altLabel"), Literal(name, language="en")))
        for predicate, value in statements:
            yield Quad(state, predicate, value, REFERENCE_GRAPH)


def is_known_code(alpha_3: str) -> bool:
    return pycountry.countries.get(alpha_3=alpha_3.upper()) is not None
