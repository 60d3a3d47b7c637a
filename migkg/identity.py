"""One IRI per thing: find resources of one class that share a normalised name without a recorded decision."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations

from pyoxigraph import Literal, NamedNode, Quad

from .namespaces import DCTERMS, OWL, RDF, RDFS, SKOS, STATE

NAME_PREDICATES = {RDFS + "label", DCTERMS + "title"}
SAME_THING = {SKOS + "exactMatch", OWL + "sameAs"}
# Two resources may share a name when they are different things: the curator links them with
# owl:differentFrom and says why in a skos:editorialNote on one of them (see data/README.md).
DIFFERENT_THING = OWL + "differentFrom"
REASON = SKOS + "editorialNote"
TYPE = RDF + "type"
CONCEPT = SKOS + "Concept"
IN_SCHEME = SKOS + "inScheme"


def normalised(name: str) -> str:
    """Case, accents, punctuation and spacing do not make two names different."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", folded).split())


@dataclass(frozen=True)
class SharedName:
    resource: str
    other: str
    class_iri: str
    name: str

    def __str__(self) -> str:
        return (
            f"{self.resource} and {self.other} are both {self.class_iri} named \"{self.name}\": "
            "one thing should have one IRI. Merge them, link them with skos:exactMatch or owl:sameAs, "
            "or record that they differ (owl:differentFrom plus a skos:editorialNote saying why)."
        )


def shared_names(data: list[Quad]) -> list[SharedName]:
    """Pairs of resources of one asserted class whose label or title normalises to the same text."""
    classes: dict[str, set[str]] = defaultdict(set)
    names: dict[str, dict[str, str]] = defaultdict(dict)
    linked: set[frozenset[str]] = set()
    different: set[frozenset[str]] = set()
    explained: set[str] = set()
    schemes: dict[str, set[str]] = defaultdict(set)
    for quad in data:
        subject, predicate, obj = quad.subject, quad.predicate.value, quad.object
        if not isinstance(subject, NamedNode):
            continue
        if predicate == TYPE and isinstance(obj, NamedNode):
            classes[subject.value].add(obj.value)
        elif predicate in NAME_PREDICATES and isinstance(obj, Literal):
            key = normalised(obj.value)
            if key:
                names[subject.value].setdefault(key, obj.value)
        elif predicate in SAME_THING and isinstance(obj, NamedNode):
            linked.add(frozenset((subject.value, obj.value)))
        elif predicate == DIFFERENT_THING and isinstance(obj, NamedNode):
            different.add(frozenset((subject.value, obj.value)))
        elif predicate == REASON:
            explained.add(subject.value)
        elif predicate == IN_SCHEME and isinstance(obj, NamedNode):
            schemes[subject.value].add(obj.value)

    by_class_and_name: dict[tuple[str, str], set[str]] = defaultdict(set)
    for resource, resource_names in names.items():
        for class_iri in classes.get(resource, ()):
            # A concept is one thing within its scheme: "prosecution" among the 3 Ps and among a
            # police force's pillars are two concepts.
            kinds = [f"{class_iri} in {s}" for s in sorted(schemes[resource])] if class_iri == CONCEPT else [class_iri]
            for kind in kinds or [class_iri]:
                for key in resource_names:
                    by_class_and_name[(kind, key)].add(resource)

    found: dict[frozenset[str], SharedName] = {}
    for (class_iri, key), resources in sorted(by_class_and_name.items()):
        for first, second in combinations(sorted(resources), 2):
            pair = frozenset((first, second))
            if pair in found or pair in linked:
                continue
            if pair in different and (first in explained or second in explained):
                continue
            found[pair] = SharedName(first, second, class_iri, names[first][key])
    return sorted(found.values(), key=lambda s: (s.resource, s.other))


def states_linked_as_one(data: list[Quad]) -> list[str]:
    """owl:sameAs / skos:exactMatch between two states: two ISO 3166-1 codes are two countries (the build makes
    each from pycountry), and a reasoner reading owl:sameAs would merge their memberships and treaty actions."""
    return sorted(f"{q.subject} {q.predicate} {q.object}: two ISO 3166-1 codes are two countries, never the same thing"
                  for q in data if q.predicate.value in SAME_THING and q.subject != q.object
                  and q.subject.value.startswith(STATE) and isinstance(q.object, NamedNode)
                  and q.object.value.startswith(STATE))


def check_identity(data: list[Quad]) -> str | None:
    """A plain message naming every pair that shares a name or states linked as one, or None when every thing has
    one IRI."""
    problems = [str(p) for p in shared_names(data)] + states_linked_as_one(data)
    if not problems:
        return None
    return f"identity: {len(problems)} pair(s) of resources share a name or are linked as one:\n  " + "\n  ".join(problems)
