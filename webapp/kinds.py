"""Kinds of resources, declared once: colour and network shape per kind, role order, relation order and the facts a diplomat expects per kind.

Entity badges, network nodes and legends, the map and the generated stylesheet (`/kinds.css`) all read
this module, so a colour or an order is changed here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from migkg.namespaces import DCTERMS, MIG, SKOS

ID = "https://w3id.org/migkg/id/"


@dataclass(frozen=True)
class Kind:
    name: str  # CSS class suffix and JSON value: "state", "process", …
    title: str
    colour: str
    shape: str  # a vis-network node shape, so that kinds differ by more than colour


# The first class in this list that a resource has decides its kind. Colours are Paul Tol's "muted"
# scheme, chosen to stay apart for protanopia, deuteranopia and tritanopia (tests/test_diplomat_kinds.py
# checks it with a colour-vision simulation); shapes tell kinds apart where colours still come close.
KIND_CLASSES: list[tuple[str, Kind]] = [
    (MIG + "State", Kind("state", "State", "#88ccee", "dot")),
    (MIG + "UNEntity", Kind("un", "UN entity", "#332288", "square")),
    (MIG + "IntergovernmentalOrganization", Kind("igo", "Intergovernmental organization", "#117733", "square")),
    (MIG + "NonGovernmentalOrganization", Kind("ngo", "Non-governmental organization", "#999933", "triangle")),
    (MIG + "GovernmentAgency", Kind("agency", "Government agency", "#aa4499", "triangleDown")),
    (MIG + "ConsultationProcess", Kind("process", "Consultation process", "#cc6677", "diamond")),
    (MIG + "CoordinationMechanism", Kind("mechanism", "Coordination mechanism", "#882255", "hexagon")),
    (MIG + "Instrument", Kind("instrument", "Instrument", "#ddcc77", "star")),
    (MIG + "Meeting", Kind("meeting", "Meeting", "#44aa99", "dot")),
    (MIG + "Organization", Kind("organization", "Organization", "#117733", "square")),
    (MIG + "Place", Kind("place", "Place or region", "#bbbbbb", "triangle")),
    (MIG + "Region", Kind("place", "Place or region", "#bbbbbb", "triangle")),
    (SKOS + "Concept", Kind("concept", "Theme or concept", "#dddddd", "ellipse")),
]
OTHER = Kind("other", "Other", "#a0a0a0", "dot")


def kind_of(types: set[str]) -> Kind:
    for cls, kind in KIND_CLASSES:
        if cls in types:
            return kind
    return OTHER


def kinds() -> list[Kind]:
    """Each kind once, in declaration order (legends, filters, the stylesheet)."""
    seen, found = set(), []
    for _, kind in KIND_CLASSES + [(None, OTHER)]:
        if kind.name not in seen:
            seen.add(kind.name)
            found.append(kind)
    return found


def stylesheet() -> str:
    """The kind colours as CSS (served as /kinds.css): dots, badges and legend swatches."""
    lines = ["/* Generated from webapp/kinds.py: one colour per kind of resource. */"]
    for kind in kinds():
        lines.append(f".kind-{kind.name} {{ --kind-colour: {kind.colour}; }}")
    lines.append(".dot, .swatch-kind { background: var(--kind-colour, #a0a0a0); }")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------ roles

# Who leads a process comes before who belongs to it, and belonging before helping.
ROLE_ORDER = ["chair", "co-chair", "secretariat", "member", "observer", "steering-group-member",
              "country-coordinator", "coordinator", "partner", "technical-support", "donor", "participant"]


def role_rank(role_iri: str) -> int:
    tail = role_iri.rsplit("/", 1)[-1]
    return ROLE_ORDER.index(tail) if tail in ROLE_ORDER else len(ROLE_ORDER)


# -------------------------------------------------------------------------------------- relations

# The relations a reader looks for first, per kind; any other relation follows alphabetically.
RELATION_ORDER: dict[str, list[str]] = {
    "instrument": [MIG + "supplements", MIG + "supplementedBy", MIG + "adoptedBy", MIG + "adoptedAt",
                   MIG + "implements", MIG + "implementedBy", MIG + "overseenBy", MIG + "setOutIn",
                   DCTERMS + "isPartOf", DCTERMS + "hasPart", MIG + "addressesTheme"],
    "process": [MIG + "succeeded", MIG + "succeededBy", MIG + "initiatedBy", MIG + "initiatedAt",
                MIG + "establishedAt", MIG + "coversRegion", MIG + "addressesTheme", MIG + "hasMeeting",
                MIG + "hasSubOrganization"],
    "mechanism": [MIG + "succeeded", MIG + "succeededBy", MIG + "coordinatedBy", MIG + "addressesTheme"],
    "state": [MIG + "memberOf", MIG + "observerOf"],
}
# Kinds whose page shows figures (ratifications, signatories) before anything else.
FIGURES_FIRST = {"instrument"}


def relation_rank(kind: str, predicate: str) -> int:
    order = RELATION_ORDER.get(kind, [])
    return order.index(predicate) if predicate in order else len(order)


# ------------------------------------------------------------------------------ expected facts


@dataclass(frozen=True)
class Expected:
    """A fact a reader expects on a page of some kind; the page says when the sources state none."""

    key: str
    label: str
    roles: tuple[str, ...] = ()  # satisfied by a membership in one of these roles
    predicates: tuple[str, ...] = ()  # … or by a statement with one of these predicates
    measures: tuple[str, ...] = ()  # … or by a figure of one of these measures
    only_for: str | None = None  # a class the resource must have (mig:Protocol for "supplements")


ROLE, MEASURE = ID + "role/", ID + "measure/"

EXPECTED: dict[str, list[Expected]] = {
    "process": [
        Expected("members", "Members", roles=(ROLE + "member",)),
        Expected("secretariat", "Secretariat", roles=(ROLE + "secretariat",), predicates=(MIG + "hasSecretariat",)),
        Expected("chair", "Chair", roles=(ROLE + "chair", ROLE + "co-chair"), predicates=(MIG + "chairedBy",)),
        Expected("founded", "Founding date", predicates=(MIG + "establishedIn",)),
    ],
    "instrument": [
        Expected("supplements", "Supplements", predicates=(MIG + "supplements",), only_for=MIG + "Protocol"),
        Expected("adopted", "Adoption", predicates=(MIG + "adoptedOn",)),
        Expected("ratifications", "Ratifications", measures=(MEASURE + "ratifications",), only_for=MIG + "Treaty"),
        Expected("signatories", "Signatories", measures=(MEASURE + "signatories",), only_for=MIG + "Treaty"),
    ],
}

# Figures that count members without naming them: a process's named members are compared with these.
MEMBER_COUNT_MEASURES = (MEASURE + "member-states", MEASURE + "participating-states")
NOT_STATED = "not stated in the sources"
