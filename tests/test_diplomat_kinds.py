"""Kinds are declared once (webapp/kinds.py) and tell apart under colour-vision deficiencies."""

from __future__ import annotations

from itertools import combinations

import pytest

from webapp import kinds

coloraide = pytest.importorskip("coloraide")

# CIEDE2000 distance below which two colours read as one; kinds sharing a shape must stay further apart
# for normal vision and for protanopia, deuteranopia and tritanopia (Brettel/Viénot simulation).
SAME_SHAPE_MIN_DELTA_E = 10
VISIONS = [None, "protan", "deutan", "tritan"]


def seen(colour: str, vision: str | None):
    value = coloraide.Color(colour)
    return value.filter(vision) if vision else value


@pytest.mark.parametrize("vision", VISIONS)
def test_kinds_of_one_shape_stay_apart_for_every_vision(vision):
    for a, b in combinations(kinds.kinds(), 2):
        if a.shape != b.shape:
            continue  # the shape tells them apart in networks and legends
        distance = seen(a.colour, vision).delta_e(seen(b.colour, vision), method="2000")
        assert distance >= SAME_SHAPE_MIN_DELTA_E, (a.name, b.name, vision, round(distance, 1))


def test_every_kind_has_a_distinct_look():
    looks = [(kind.colour, kind.shape) for kind in kinds.kinds()]
    assert len(looks) == len(set(looks))


def test_role_and_relation_orders_are_declared_once():
    assert kinds.role_rank("https://w3id.org/migkg/id/role/chair") < kinds.role_rank(
        "https://w3id.org/migkg/id/role/member") < kinds.role_rank("https://w3id.org/migkg/id/role/donor")
    assert kinds.relation_rank("instrument", kinds.MIG + "supplements") == 0
    assert kinds.relation_rank("instrument", "http://example.org/anything") == len(kinds.RELATION_ORDER["instrument"])
    assert kinds.kind_of({kinds.MIG + "State"}).name == "state"
    assert kinds.kind_of(set()) is kinds.OTHER
