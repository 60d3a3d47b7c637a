"""The SPARQL the explorer's pages need (labels, statements, memberships, figures, class lists, search, network edges), in one place.

Every query binds its inputs with pyoxigraph `substitutions` or a VALUES block built from NamedNodes the
store itself returned (or that pyoxigraph validated), never by pasting request text into query text.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

from pyoxigraph import Literal, NamedNode

from migkg.backend import Snapshot

from migkg.namespaces import (DCTERMS, FOAF, INFERRED_GRAPH, MIG, ONTOLOGY_GRAPH, ORG, RDF, RDFS,
                              REFERENCE_GRAPH, SHAPES_GRAPH, SKOS, SOURCES_GRAPH)

RDF_TYPE = RDF + "type"
LABEL = RDFS + "label"
COMMENT = RDFS + "comment"
PREF_LABEL = SKOS + "prefLabel"
ALT_LABEL = SKOS + "altLabel"
TITLE = DCTERMS + "title"
NAME = FOAF + "name"
MEMBERSHIP = ORG + "Membership"
OBSERVATION = MIG + "Observation"

# Shown in the page header, not again among the relations.
HEADER_PREDICATES = {RDF_TYPE, LABEL, COMMENT, PREF_LABEL, ALT_LABEL}
# Links to and from membership nodes and observations: shown as the Participation and Figures tables.
MEMBERSHIP_PREDICATES = {ORG + "member", ORG + "organization", ORG + "hasMembership", MIG + "membership"}
OBSERVATION_PREDICATES = {MIG + "observedEntity", MIG + "hasObservation"}
# Technical self-links that exist only so that OWL property chains can pick memberships by role.
TECHNICAL = re.compile(re.escape(MIG) + r"is\w+Membership$")

LABEL_RANK = {LABEL: 0, PREF_LABEL: 1, NAME: 2, TITLE: 3, ALT_LABEL: 4}


def select(db: Snapshot, text: str, **bindings):
    """Run a query through the backend (its limits, the union of all graphs, the project's prefixes), `bindings` bound."""
    return db.select(text, bindings or None)


_query = select

# Rows a per-build index (every name for search, every dated event) may read in one answer. The row cap is for an
# answer a person reads; these are read once per build and kept, and the byte cap and the time limit still hold.
WHOLE_READ_ROWS = 1_000_000


def select_whole(db: Snapshot, text: str):
    """`select` for a per-build index: the whole answer, past the row cap of a single page's query."""
    return db.select(text, max_rows=WHOLE_READ_ROWS)


def _values(nodes) -> str:
    """A VALUES body from NamedNodes; NamedNode has already refused any character that could end the IRI."""
    return " ".join(str(node) for node in nodes if isinstance(node, NamedNode))


def _literal_value(term) -> str | None:
    return term.value if term is not None else None


# ---------------------------------------------------------------------------------------------- labels


@dataclass
class Annotation:
    """What the explorer needs to show a link to a resource: its labels, one-line description and types."""

    iri: str
    labels: list[tuple[str, str, str]] = field(default_factory=list)  # (predicate, text, language)
    comments: list[tuple[str, str]] = field(default_factory=list)  # (text, language)
    types: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        if not self.labels:
            return fallback_label(self.iri)

        # Ties go to the shorter, then the alphabetically first name: engines return rows in any order.
        def rank(entry):
            predicate, text, language = entry
            return (language not in ("en", ""), LABEL_RANK.get(predicate, 9), language != "en", len(text), text)

        return min(self.labels, key=rank)[1]

    @property
    def alternative_labels(self) -> list[tuple[str, str]]:
        """Every other name (other languages, acronyms, former names), without repeats."""
        best, seen, names = self.label, set(), []
        for predicate, text, language in sorted(self.labels, key=lambda e: (LABEL_RANK.get(e[0], 9), e[2], e[1])):
            if text != best and text not in seen and predicate != TITLE:
                seen.add(text)
                names.append((text, language))
        return names

    @property
    def comment(self) -> str | None:
        if not self.comments:
            return None
        english = [text for text, language in self.comments if language in ("en", "")]
        return min(english or [text for text, _ in self.comments])  # the same one whatever the row order


def fallback_label(iri: str) -> str:
    """A readable name for an IRI that has no label: its last segment, un-hyphenated."""
    tail = re.split(r"[#/]", iri.rstrip("/#"))[-1] or iri
    if re.fullmatch(r"[A-Z]{3}", tail):
        return tail
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", tail).replace("-", " ").replace("_", " ")
    return words[:1].upper() + words[1:]


# The predicates as a FILTER, not a second VALUES block: with both, the engine reads every rdf:type statement of
# the graph (4 s for 200 states on a 1 M-statement build; 0.2 s this way).
ANNOTATE = """
SELECT ?resource ?predicate ?value WHERE {
  VALUES ?resource { %s }
  ?resource ?predicate ?value .
  FILTER(?predicate IN (rdfs:label, skos:prefLabel, skos:altLabel, dcterms:title, foaf:name, rdfs:comment, rdf:type))
}"""


def annotate(db: Snapshot, iris) -> dict[str, Annotation]:
    """Labels, descriptions and types (asserted and inferred) for many resources in one query."""
    nodes = {iri if isinstance(iri, NamedNode) else NamedNode(iri) for iri in iris}
    found = {node.value: Annotation(node.value) for node in nodes}
    if not nodes:
        return found
    for row in _query(db, ANNOTATE % _values(nodes)):
        entry = found[row["resource"].value]
        predicate, value = row["predicate"].value, row["value"]
        if predicate == RDF_TYPE:
            entry.types.add(value.value)
        elif not isinstance(value, Literal):
            continue
        elif predicate == COMMENT:
            if (value.value, value.language or "") not in entry.comments:
                entry.comments.append((value.value, value.language or ""))
        elif (predicate, value.value, value.language or "") not in entry.labels:
            entry.labels.append((predicate, value.value, value.language or ""))
    return found


# --------------------------------------------------------------------------------------- provenance


@dataclass(frozen=True)
class Source:
    """Where a statement comes from: a source section (with its document), the reasoner or the ISO list."""

    graph: str
    kind: str  # "section", "inferred", "reference", "ontology"
    label: str
    title: str = ""
    document: str | None = None
    document_label: str = ""


SECTIONS = """
SELECT ?section ?sectionLabel ?title ?label ?document ?documentLabel WHERE {
  GRAPH <%s> {
    ?section dcterms:isPartOf ?document .
    OPTIONAL { ?section mig:sectionLabel ?sectionLabel }
    OPTIONAL { ?section dcterms:title ?title }
    OPTIONAL { ?section rdfs:label ?label }
    OPTIONAL { ?document rdfs:label ?documentLabel }
  }
}""" % SOURCES_GRAPH.value

_cache_lock = threading.Lock()


def per_build(compute):
    """Cache `compute(db)` for one build: computed once per worker, recomputed after a new build is swapped in."""
    cache: dict[str, object] = {}

    def cached(db: Snapshot):
        build_id = db.build.id
        with _cache_lock:
            if build_id in cache:
                return cache[build_id]
        value = compute(db)
        with _cache_lock:
            cache.clear()
            cache[build_id] = value
        return value

    cached.__doc__, cached.__name__ = compute.__doc__, compute.__name__
    return cached


@per_build
def sections(db: Snapshot) -> dict[str, Source]:
    """Every source section described in the sources graph, by graph IRI (cached per build)."""
    found = {}
    for row in _query(db, SECTIONS):
        iri = row["section"].value
        number = _literal_value(row["sectionLabel"])
        document_label = _literal_value(row["documentLabel"]) or fallback_label(row["document"].value)
        found[iri] = Source(
            graph=iri, kind="section",
            label=f"§ {number}" if number else (_literal_value(row["label"]) or fallback_label(iri)),
            title=_literal_value(row["title"]) or _literal_value(row["label"]) or "",
            document=row["document"].value, document_label=document_label)
    return found


def source_of(graph: str, known: dict[str, Source]) -> Source:
    if graph in known:
        return known[graph]
    if graph == INFERRED_GRAPH.value:
        return Source(graph, "inferred", "inferred",
                      "derived by the OWL 2 RL reasoner from the asserted statements")
    if graph == REFERENCE_GRAPH.value:
        return Source(graph, "reference", "ISO 3166 (pycountry)", "ISO 3166-1 country list, from pycountry")
    if graph == ONTOLOGY_GRAPH.value:
        return Source(graph, "ontology", "ontology", "the migkg ontology")
    if graph == SOURCES_GRAPH.value:
        return Source(graph, "ontology", "source list", "descriptions of the source documents")
    return Source(graph, "section", fallback_label(graph))


# --------------------------------------------------------------------------------------- statements

EXISTS = "ASK { { $resource ?p ?o } UNION { ?s ?p $resource } }"

OUTGOING = """
SELECT $resource ?predicate ?object ?graph WHERE {
  GRAPH ?graph { $resource ?predicate ?object }
  FILTER(?graph != <%s>)
}""" % SHAPES_GRAPH.value

INCOMING = """
SELECT $resource ?subject ?predicate ?graph WHERE {
  GRAPH ?graph { ?subject ?predicate $resource }
  FILTER(?graph != <%s>)
}""" % SHAPES_GRAPH.value


def exists(db: Snapshot, resource: NamedNode) -> bool:
    return db.ask(EXISTS, {"resource": resource})


@dataclass
class Statements:
    """A resource's statements with the graphs that hold them: {(predicate, term): {graph IRIs}}."""

    outgoing: dict[tuple[str, object], set[str]]
    incoming: dict[tuple[str, object], set[str]]


def statements(db: Snapshot, resource: NamedNode) -> Statements:
    outgoing, incoming = defaultdict(set), defaultdict(set)
    for row in _query(db, OUTGOING, resource=resource):
        outgoing[(row["predicate"].value, row["object"])].add(row["graph"].value)
    for row in _query(db, INCOMING, resource=resource):
        incoming[(row["predicate"].value, row["subject"])].add(row["graph"].value)
    return Statements(dict(outgoing), dict(incoming))


SHORTCUTS = """
SELECT DISTINCT ?property WHERE {
  GRAPH <%s> {
    { ?property owl:propertyChainAxiom ?chain } UNION { ?shortcut owl:propertyChainAxiom ?chain ; owl:inverseOf ?property }
    UNION { ?shortcut owl:propertyChainAxiom ?chain . ?property owl:inverseOf ?shortcut }
  }
}""" % ONTOLOGY_GRAPH.value

@per_build
def shortcuts(db: Snapshot) -> set[str]:
    """Properties the reasoner derives from memberships (mig:hasMember, mig:memberOf, …) and their inverses."""
    return {row["property"].value for row in _query(db, SHORTCUTS)}


INVERSES = """
SELECT ?property ?inverse WHERE {
  GRAPH <%s> { { ?property owl:inverseOf ?inverse } UNION { ?inverse owl:inverseOf ?property } }
}""" % ONTOLOGY_GRAPH.value

@per_build
def inverses(db: Snapshot) -> dict[str, set[str]]:
    """property -> its inverses, so that an incoming link already shown as an outgoing inverse is not shown twice."""
    found = defaultdict(set)
    for row in _query(db, INVERSES):
        found[row["property"].value].add(row["inverse"].value)
    return dict(found)


# ---------------------------------------------------------------------------------------- memberships


@dataclass
class Membership:
    iri: str
    member: str
    organization: str
    role: str
    graphs: set[str] = field(default_factory=set)
    start: str | None = None
    end: str | None = None
    remit: str | None = None


# $resource in each branch's patterns: as FILTER(?member = $resource || ...) the engine read every membership of
# the graph (4-5 s for one process of a 1 M-statement build; 0.02 s this way).
MEMBERSHIPS = """
SELECT $resource ?membership ?member ?organization ?role ?graph ?start ?end ?remit WHERE {
  { GRAPH ?graph { ?membership org:member $resource ; org:member ?member ; org:organization ?organization } }
  UNION { GRAPH ?graph { ?membership org:organization $resource ; org:organization ?organization ; org:member ?member } }
  ?membership org:role ?role .
  OPTIONAL { ?membership mig:startDate ?start }
  OPTIONAL { ?membership mig:endDate ?end }
  OPTIONAL { ?membership mig:remit ?remit }
}"""


def memberships(db: Snapshot, resource: NamedNode) -> list[Membership]:
    """Memberships held in `resource` and by `resource`, with the graphs that state them."""
    found: dict[tuple[str, str], Membership] = {}
    for row in _query(db, MEMBERSHIPS, resource=resource):
        key = (row["membership"].value, row["role"].value)
        entry = found.setdefault(key, Membership(
            row["membership"].value, row["member"].value, row["organization"].value, row["role"].value,
            start=_literal_value(row["start"]), end=_literal_value(row["end"]), remit=_literal_value(row["remit"])))
        entry.graphs.add(row["graph"].value)
    return list(found.values())


# ---------------------------------------------------------------------------------------- figures


@dataclass
class Figure:
    iri: str
    measure: str | None
    value: str
    as_of: str | None
    qualifier: str | None
    graphs: set[str] = field(default_factory=set)


FIGURES = """
SELECT $resource ?observation ?measure ?value ?asOf ?qualifier ?graph WHERE {
  GRAPH ?graph { ?observation mig:observedEntity $resource }
  ?observation mig:value ?value .
  OPTIONAL { ?observation mig:measure ?measure }
  OPTIONAL { ?observation mig:asOf ?asOf }
  OPTIONAL { ?observation mig:valueQualifier ?qualifier }
} ORDER BY ?measure DESC(?asOf)"""


def figures(db: Snapshot, resource: NamedNode) -> list[Figure]:
    """Dated figures (mig:Observation) about a resource, each with the graphs that state it."""
    found: dict[str, Figure] = {}
    for row in _query(db, FIGURES, resource=resource):
        iri = row["observation"].value
        entry = found.setdefault(iri, Figure(
            iri, _literal_value(row["measure"]), row["value"].value, _literal_value(row["asOf"]),
            _literal_value(row["qualifier"])))
        entry.graphs.add(row["graph"].value)
    return list(found.values())


# ------------------------------------------------------------------------------------ source documents

SECTION_CONTENTS = """
SELECT $document ?section ?subject (COUNT(*) AS ?statements) WHERE {
  GRAPH <%s> { ?section dcterms:isPartOf $document }
  GRAPH ?section { ?subject ?p ?o }
  FILTER NOT EXISTS { GRAPH ?section { ?subject a ?type FILTER(?type IN (org:Membership, mig:Observation)) } }
} GROUP BY $document ?section ?subject""" % SOURCES_GRAPH.value


def section_contents(db: Snapshot, document: NamedNode) -> dict[str, list[tuple[str, int]]]:
    """For each section of a source document, the resources it describes and how many statements it makes."""
    found = defaultdict(list)
    for row in _query(db, SECTION_CONTENTS, document=document):
        found[row["section"].value].append((row["subject"].value, int(row["statements"].value)))
    return dict(found)


HASH_DESCRIPTIONS = """
SELECT $document ?section ?predicate ?object WHERE {
  GRAPH <%s> { ?section dcterms:isPartOf $document ; ?predicate ?object }
}""" % SOURCES_GRAPH.value


def section_descriptions(db: Snapshot, document: NamedNode) -> list[tuple[NamedNode, NamedNode, object]]:
    """The statements describing a document's sections (hash IRIs of the document's IRI)."""
    return [(row["section"], NamedNode(row["predicate"].value), row["object"])
            for row in _query(db, HASH_DESCRIPTIONS, document=document)]


# ------------------------------------------------------------------------------------- resource RDF

DESCRIBE = """
CONSTRUCT { $resource ?p ?o . ?s ?q $resource . ?linked rdfs:label ?label . ?linked skos:altLabel ?alt }
WHERE {
  { $resource ?p ?o }
  UNION { ?s ?q $resource }
  UNION { { $resource ?any ?linked } UNION { ?linked ?any $resource }
          FILTER(isIRI(?linked) && ?linked != $resource)
          { ?linked rdfs:label ?label } UNION { ?linked skos:altLabel ?alt } }
}"""


def resource_triples(db: Snapshot, resource: NamedNode) -> list:
    """The RDF of a resource: its outgoing and incoming statements and the labels of what it links to."""
    return db.construct(DESCRIBE, {"resource": resource})


# ------------------------------------------------------------------------------------------- search


def normalise(text: str) -> str:
    """Case-, accent- and punctuation-blind form of a label: "Análisis-Zentrum" -> "analisis zentrum"."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(re.sub(r"[^\w]+", " ", plain.casefold()).split())


@dataclass(frozen=True)
class Name:
    resource: str
    text: str
    language: str
    predicate: str
    normalised: str


# Memberships and observations have labels too ("Thailand — member, Colombo Process"), but a search for
# Thailand should find Thailand: they are reached from the pages of what they link.
SEARCHABLE = """
SELECT ?resource ?predicate ?text WHERE {
  VALUES ?predicate { rdfs:label skos:prefLabel skos:altLabel foaf:name skos:notation }
  GRAPH ?graph { ?resource ?predicate ?text }
  FILTER(isIRI(?resource) && isLiteral(?text) && ?graph NOT IN (<%s>, <%s>))
  FILTER(!STRSTARTS(STR(?resource), STR(mig:)))
  FILTER NOT EXISTS { ?resource a ?auxiliary FILTER(?auxiliary IN (org:Membership, mig:Observation)) }
}""" % (SHAPES_GRAPH.value, ONTOLOGY_GRAPH.value)

SEARCHABLE_CONCEPTS = """
SELECT ?resource ?predicate ?text WHERE {
  VALUES ?predicate { rdfs:label skos:prefLabel skos:altLabel }
  GRAPH <%s> { ?resource ?predicate ?text . ?resource a ?type }
  FILTER(isIRI(?resource) && isLiteral(?text) && !STRSTARTS(STR(?resource), STR(mig:)))
}""" % ONTOLOGY_GRAPH.value

@per_build
def names(db: Snapshot) -> list[Name]:
    """Every name of every resource (labels, alternative labels, ISO codes), normalised; cached per build."""
    found = set()
    for query in (SEARCHABLE, SEARCHABLE_CONCEPTS):
        for row in select_whole(db, query):
            text = row["text"]
            found.add(Name(row["resource"].value, text.value, text.language or "", row["predicate"].value,
                           normalise(text.value)))
    return sorted(found, key=lambda name: (name.resource, name.predicate, name.text))


def score(query: str, name: Name) -> int:
    """How well a normalised query matches one name; 0 means no match."""
    if not query:
        return 0
    text = name.normalised
    if text == query:
        return 100
    words = text.split()
    tokens = query.split()
    if text.startswith(query):
        return 80
    if all(any(word.startswith(token) for word in words) for token in tokens):
        return 60
    if query in text:
        return 40
    initials = "".join(word[0] for word in words if len(word) > 3 or word.isupper())
    if len(query) >= 3 and " " not in query and initials.startswith(query):
        return 30
    return 0


# A search is bounded before any work: 1,900 tokens in q= must cost what 8 do (issue 9, item 8).
MAX_QUERY_CHARS = 200
MAX_QUERY_TOKENS = 8
# Fuzzy matching: a word of 4+ letters may differ by about one letter in four ("Colmbo", "Budapset").
FUZZY_MIN_TOKEN = 4
FUZZY_CUTOFF = 75
# Country names in the languages of the processes' members and the UN, from pycountry's gettext catalogues.
COUNTRY_NAME_LANGUAGES = ("fr", "es", "de", "nl", "it", "pt", "ru", "ar", "zh_CN")

# The states the sources speak of (not the whole ISO list), with their codes.
STATE_CODES = """
SELECT DISTINCT ?resource ?code WHERE {
  ?resource a mig:State ; mig:iso3166Alpha3 ?code .
  GRAPH ?graph { { ?resource ?p ?o } UNION { ?s ?q ?resource } }
  FILTER(?graph NOT IN (<%s>, <%s>, <%s>, <%s>))
}""" % (REFERENCE_GRAPH.value, INFERRED_GRAPH.value, ONTOLOGY_GRAPH.value, SHAPES_GRAPH.value)

# The types of the named resources only, a chunk at a time: every resource's types include the memberships', and
# 158 000 memberships passed the answer caps.
RESOURCE_TYPES = """
SELECT ?resource ?type WHERE { VALUES ?resource { %s } ?resource a ?type FILTER(isIRI(?type)) }"""
TYPES_CHUNK = 500


def search_terms(text: str) -> list[str]:
    """The normalised query as at most MAX_QUERY_TOKENS tokens, from at most MAX_QUERY_CHARS characters."""
    return normalise(text[:MAX_QUERY_CHARS]).split()[:MAX_QUERY_TOKENS]


def country_names(db: Snapshot) -> list[Name]:
    """The states' names in other languages (Mexique, Deutschland, Turquía) from pycountry's translations."""
    import gettext

    import pycountry

    catalogues = []
    for language in COUNTRY_NAME_LANGUAGES:
        try:
            catalogues.append((language.split("_")[0],
                               gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])))
        except OSError:
            continue  # a pycountry release without this catalogue: fewer languages, not an error
    found = []
    for row in _query(db, STATE_CODES):
        country = pycountry.countries.get(alpha_3=row["code"].value)
        if country is None:
            continue
        english = {country.name, getattr(country, "common_name", country.name),
                   getattr(country, "official_name", country.name)}
        for language, catalogue in catalogues:
            for name in english:
                translated = catalogue.gettext(name)
                if translated not in english:
                    found.append(Name(row["resource"].value, translated, language, ALT_LABEL, normalise(translated)))
    return found


@dataclass
class SearchIndex:
    """Every name of every resource, its words, and an inverted index from word to names (built once per build)."""

    names: list[Name]
    kinds: dict[str, str]
    words: list[str] = field(default_factory=list)
    names_with_word: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self):
        index = defaultdict(list)
        for position, name in enumerate(self.names):
            for word in set(name.normalised.split()):
                index[word].append(position)
        self.names_with_word = dict(index)
        self.words = sorted(index)


_search_index: dict[str, SearchIndex] = {}


def search_index(db: Snapshot) -> SearchIndex:
    """The search index of this build (built once per worker and build; names come from the per-build cache)."""
    build_id = db.build.id
    with _cache_lock:
        if build_id in _search_index:
            return _search_index[build_id]
    from . import kinds as kind_table

    every = names(db) + country_names(db)
    named = sorted({name.resource for name in every})
    types = defaultdict(set)
    for start in range(0, len(named), TYPES_CHUNK):
        chunk = [NamedNode(iri) for iri in named[start:start + TYPES_CHUNK]]
        for row in select_whole(db, RESOURCE_TYPES % _values(chunk)):
            types[row["resource"].value].add(row["type"].value)
    resource_kinds = {name.resource: kind_table.kind_of(types.get(name.resource, set())).name for name in every}
    index = SearchIndex(sorted(set(every), key=lambda n: (n.resource, n.predicate, n.text)), resource_kinds)
    with _cache_lock:
        _search_index.clear()
        _search_index[build_id] = index
    return index


@dataclass
class SearchAnswer:
    hits: list[tuple[str, int, Name]]
    suggestion: str | None = None  # "did you mean": the query with its misspelt words corrected
    truncated_query: bool = False
    total: int = 0  # how many resources matched, of which `hits` are the best


def search(db: Snapshot, text: str, limit: int = 50, kind: str | None = None) -> list[tuple[str, int, Name]]:
    """Resources whose names match `text`, best first: (resource IRI, score, the name that matched)."""
    return find(db, text, limit, kind).hits


def find(db: Snapshot, text: str, limit: int = 50, kind: str | None = None) -> SearchAnswer:
    """Search with typo tolerance: exact, prefix and initials matches first, then names whose words are close to
    every query word (rapidfuzz), with the corrected query as a suggestion. One result per resource."""
    from rapidfuzz import fuzz, process

    index = search_index(db)
    tokens = search_terms(text)
    query = " ".join(tokens)
    truncated = len(normalise(text[:MAX_QUERY_CHARS]).split()) > MAX_QUERY_TOKENS or len(text) > MAX_QUERY_CHARS
    best: dict[str, tuple[int, Name]] = {}

    def consider(name: Name, points: int):
        if kind and index.kinds.get(name.resource) != kind:
            return
        if name.resource not in best or points > best[name.resource][0]:
            best[name.resource] = (points, name)

    if query:
        for name in index.names:
            points = score(query, name)
            if points:
                consider(name, points)
    suggestion = None
    if query and not any(points >= 80 for points, _ in best.values()):
        # Each word of 4+ letters is matched against the vocabulary of all names; shorter words must match exactly.
        corrections: list[dict[str, float]] = []
        for token in tokens:
            close = {token: 100.0} if token in index.names_with_word else {}
            if len(token) >= FUZZY_MIN_TOKEN:
                for word, similarity, _ in process.extract(token, index.words, scorer=fuzz.ratio,
                                                           score_cutoff=FUZZY_CUTOFF, limit=12):
                    close[word] = max(close.get(word, 0), similarity)
            prefixed = [word for word in index.words if word.startswith(token)][:50] if len(token) >= 3 else []
            for word in prefixed:
                close.setdefault(word, 90.0)
            corrections.append(close)
        if all(corrections):
            candidates = None
            for close in corrections:
                having = {position for word in close for position in index.names_with_word[word]}
                candidates = having if candidates is None else candidates & having
            for position in sorted(candidates or ()):
                name = index.names[position]
                words = set(name.normalised.split())
                similarity = sum(max(v for w, v in close.items() if w in words) for close in corrections) / len(tokens)
                consider(name, max(1, int(similarity / 4)))  # below every exact match (25 at most)
            corrected = [max(close.items(), key=lambda item: (item[1], -len(item[0])))[0] for close in corrections]
            if best and corrected != tokens:
                suggestion = " ".join(corrected)
    ranked = sorted(best.items(), key=lambda item: (-item[1][0], len(item[1][1].text), item[1][1].text))
    return SearchAnswer([(resource, points, name) for resource, (points, name) in ranked[:limit]], suggestion,
                        truncated, len(ranked))


# ---------------------------------------------------------------------------------------- class lists

# Class lists are paged by the engine (a graph may hold thousands of a class): the filters, sort keys, facets
# and per-row details below are fixed texts chosen by name, their values bound, never pasted in.
IN_DATA = """FILTER EXISTS {
    GRAPH ?dataGraph { { ?resource ?anyPredicate ?anyObject } UNION { ?anySubject ?anyPredicate ?resource } }
    FILTER(?dataGraph NOT IN (<%s>, <%s>, <%s>, <%s>))
  }""" % (REFERENCE_GRAPH.value, INFERRED_GRAPH.value, ONTOLOGY_GRAPH.value, SHAPES_GRAPH.value)

LIST_FILTERS = {
    "theme": "?resource mig:addressesTheme $theme .",
    "region": "?resource mig:coversRegion $region .",
    "member": "?filterMembership org:organization ?resource ; org:member $member .",
}

# name: the English (or untagged) label, lower-cased; a resource without one sorts by its IRI.
LIST_SORTS = {
    "name": ("", "", ""),
    # counted apart and joined after: counted beside the names, a 4 000-process graph's page took 3 s, 2 s this way
    "members": ("(MIN(?fullMembers) AS ?members)",
                """OPTIONAL { SELECT ?resource (COUNT(*) AS ?fullMembers) WHERE {
                    ?fullMembership org:role <https://w3id.org/migkg/id/role/member> ; org:organization ?resource
                  } GROUP BY ?resource }""", "DESC(COALESCE(?members, 0))"),
    "date": ("(MIN(STR(?since)) AS ?date)", "OPTIONAL { ?resource mig:establishedIn|mig:adoptedOn ?since }",
             "(!BOUND(?date)) ?date"),
    "kind": ("(MIN(?typeName) AS ?kind)",
             """OPTIONAL { GRAPH ?typeGraph { ?resource a ?type } FILTER(?typeGraph != <%s>)
                ?type rdfs:label ?typeLabel FILTER(lang(?typeLabel) IN ("en", ""))
                BIND(LCASE(STR(?typeLabel)) AS ?typeName) }""" % INFERRED_GRAPH.value, "(!BOUND(?kind)) ?kind"),
}

CLASS_PAGE = """
SELECT ?resource (MIN(?name) AS ?byName) %(key)s WHERE {
  ?resource a $class FILTER(isIRI(?resource))
  %(filters)s
  OPTIONAL { ?resource rdfs:label|skos:prefLabel|foaf:name ?label FILTER(lang(?label) IN ("en", "")) }
  BIND(LCASE(COALESCE(STR(?label), STR(?resource))) AS ?name)
  %(join)s
} GROUP BY ?resource ORDER BY %(order)s ?byName ?resource LIMIT %(limit)d OFFSET %(offset)d"""

# A list longer than this is paged in the order the engine stores it: ORDER BY reads each term's text from disk,
# and sorting a 158 000-membership list took over 10 s (4 000 processes: 0.5 s).
SORTED_UP_TO = 10_000

CLASS_STORED_ORDER = """
SELECT DISTINCT ?resource WHERE {
  ?resource a $class FILTER(isIRI(?resource))
  %(filters)s
} LIMIT %(limit)d OFFSET %(offset)d"""

CLASS_TOTAL = """
SELECT (COUNT(DISTINCT ?resource) AS ?total) WHERE { ?resource a $class FILTER(isIRI(?resource)) %(filters)s }"""

# The values a list can be filtered by, the most common first, with how many resources have each.
LIST_FACETS = {
    "theme": "?resource mig:addressesTheme ?value .",
    "region": "?resource mig:coversRegion ?value .",
}

# Member states are counted in a subquery that names the class itself (a bound $class does not reach into it):
# 0.01 s for instruments, which have no members, and 3 s for 4 000 processes with 160 000 memberships (9 s as one group).
CLASS_MEMBER_FACET = """
SELECT ?value ?resources WHERE {
  { SELECT ?value (COUNT(DISTINCT ?resource) AS ?resources) WHERE {
      ?facetMembership org:organization ?resource ; org:member ?value .
      ?resource a %(class)s FILTER(isIRI(?resource))
      %(filters)s
    } GROUP BY ?value }
  ?value a mig:State .
} ORDER BY DESC(?resources) ?value LIMIT %(limit)d"""

CLASS_FACET = """
SELECT ?value (COUNT(DISTINCT ?resource) AS ?resources) WHERE {
  ?resource a $class FILTER(isIRI(?resource))
  %(filters)s
  %(facet)s
} GROUP BY ?value ORDER BY DESC(?resources) ?value LIMIT %(limit)d"""

# A page's own details: themes, regions, dates, whose agency, scheme (a few each)...
ROW_FACETS = """
SELECT ?resource ?facet ?value WHERE {
  VALUES ?resource { %s }
  {
    ?resource mig:addressesTheme ?value BIND("theme" AS ?facet)
  } UNION {
    ?resource mig:coversRegion ?value BIND("region" AS ?facet)
  } UNION {
    ?resource mig:establishedIn ?value BIND("established" AS ?facet)
  } UNION {
    ?resource mig:adoptedOn ?value BIND("adopted" AS ?facet)
  } UNION {
    ?resource mig:agencyOf ?value BIND("agency of" AS ?facet)
  } UNION {
    ?resource skos:inScheme ?value BIND("scheme" AS ?facet)
  }
}"""

# ... and how many full members each has and how many processes each takes part in (a state may take part in
# hundreds: counted here, named only where few, PROCESSES_NAMED).
ROW_COUNTS = """
SELECT ?resource (COUNT(DISTINCT ?fullMembership) AS ?members) (COUNT(DISTINCT ?process) AS ?processes) WHERE {
  { VALUES ?resource { %(resources)s }
    ?fullMembership org:organization ?resource ; org:role <https://w3id.org/migkg/id/role/member> }
  UNION { VALUES ?resource { %(resources)s } ?takingPart org:member ?resource ; org:organization ?process }
} GROUP BY ?resource"""

ROW_PROCESSES = """
SELECT DISTINCT ?resource ?process WHERE { VALUES ?resource { %s } ?takingPart org:member ?resource ; org:organization ?process }"""

PROCESSES_NAMED = 12


def _list_text(template: str, in_data: bool, filters: dict[str, NamedNode], **parts) -> str:
    snippets = [LIST_FILTERS[kind] for kind in sorted(filters)] + ([IN_DATA] if in_data else [])
    return template % {"filters": "\n  ".join(snippets), **parts}


def class_page(db: Snapshot, cls: NamedNode, sort: str | None, limit: int, offset: int, in_data: bool = False,
               filters: dict[str, NamedNode] | None = None) -> list[str]:
    """One page of a class's resources (IRIs), sorted by `sort` (a LIST_SORTS key) then name; None: in stored order."""
    filters = filters or {}
    if sort is None:
        text = _list_text(CLASS_STORED_ORDER, in_data, filters, limit=limit, offset=offset)
    else:
        key, join, order = LIST_SORTS[sort]
        text = _list_text(CLASS_PAGE, in_data, filters, key=key, join=join, order=order, limit=limit, offset=offset)
    return [row["resource"].value for row in _query(db, text, **{"class": cls}, **filters)]


def class_total(db: Snapshot, cls: NamedNode, in_data: bool = False, filters: dict[str, NamedNode] | None = None) -> int:
    """How many resources of a class (with the filters) there are."""
    filters = filters or {}
    rows = list(_query(db, _list_text(CLASS_TOTAL, in_data, filters), **{"class": cls}, **filters))
    return int(rows[0]["total"].value) if rows else 0


@per_build
def _class_facets(db: Snapshot) -> dict:
    return {}


def class_facet(db: Snapshot, cls: NamedNode, facet: str, limit: int, in_data: bool = False) -> dict[str, int]:
    """The `limit` most common values of one facet (theme, region, member) over a class: value -> resources.
    Kept per build: the member states of 4 000 processes take seconds to count, and every page of the list shows them."""
    cache, key = _class_facets(db), (cls.value, facet, limit, in_data)
    with _cache_lock:
        if key in cache:
            return dict(cache[key])
    if facet == "member":
        text = _list_text(CLASS_MEMBER_FACET, in_data, {}, limit=limit, **{"class": str(cls)})
    else:
        text = _list_text(CLASS_FACET, in_data, {}, facet=LIST_FACETS[facet], limit=limit)
    found = {row["value"].value: int(row["resources"].value) for row in _query(db, text, **{"class": cls})}
    with _cache_lock:
        cache[key] = found
    return dict(found)


def facets(db: Snapshot, resources: list[str]) -> dict[str, dict[str, set[str]]]:
    """resource -> facet name -> values (themes, regions, dates, processes if few) for one page of a class list,
    with the counts "full members" and "processes" as one-element sets of numbers."""
    found: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    nodes = [NamedNode(iri) for iri in resources]
    if not nodes:
        return found
    for row in _query(db, ROW_FACETS % _values(nodes)):
        found[row["resource"].value][row["facet"].value].add(row["value"].value)
    few = []
    # The VALUES block in each branch: outside the UNION, the engine would join every membership of the graph first.
    for row in _query(db, ROW_COUNTS % {"resources": _values(nodes)}):
        own = found[row["resource"].value]
        own["full members"] = int(row["members"].value)
        own["processes"] = int(row["processes"].value)
        if 0 < own["processes"] <= PROCESSES_NAMED:
            few.append(row["resource"])
    if few:
        for row in _query(db, ROW_PROCESSES % _values(few)):
            found[row["resource"].value]["process"].add(row["process"].value)
    return found


CLASSES = """
SELECT ?class (COUNT(DISTINCT ?resource) AS ?resources) WHERE {
  ?resource a ?class .
  FILTER(isIRI(?resource))
} GROUP BY ?class"""


def class_counts(db: Snapshot) -> dict[str, int]:
    return {row["class"].value: int(row["resources"].value) for row in _query(db, CLASSES)}


SUBCLASSES = """
SELECT ?class ?parent WHERE { GRAPH <%s> { ?class rdfs:subClassOf ?parent FILTER(isIRI(?parent)) } }""" % (
    ONTOLOGY_GRAPH.value)


def subclass_pairs(db: Snapshot) -> list[tuple[str, str]]:
    return [(row["class"].value, row["parent"].value) for row in _query(db, SUBCLASSES)]


# --------------------------------------------------------------------------------------- networks

# Asserted links between resources (inferred inverses and shortcuts would draw every link twice).
LINKS = """
SELECT DISTINCT ?subject ?predicate ?object WHERE {
  VALUES ?node { %s }
  GRAPH ?graph {
    { ?node ?predicate ?object BIND(?node AS ?subject) } UNION { ?subject ?predicate ?node BIND(?node AS ?object) }
  }
  FILTER(isIRI(?subject) && isIRI(?object) && ?subject != ?object)
  FILTER(?graph NOT IN (<%s>, <%s>, <%s>, <%s>, <%s>))
  FILTER(?predicate NOT IN (rdf:type, org:member, org:organization, org:role, mig:observedEntity, foaf:homepage,
                            dcterms:source, skos:inScheme, mig:measure, mig:valueQualifier))
}""" % ("%s", INFERRED_GRAPH.value, ONTOLOGY_GRAPH.value, SHAPES_GRAPH.value, REFERENCE_GRAPH.value,
        SOURCES_GRAPH.value)

MEMBERSHIP_LINKS = """
SELECT DISTINCT ?member ?organization ?role WHERE {
  { VALUES ?member { %(nodes)s } ?membership org:member ?member ; org:organization ?organization ; org:role ?role }
  UNION { VALUES ?organization { %(nodes)s } ?membership org:organization ?organization ; org:member ?member ; org:role ?role }
}"""


def links(db: Snapshot, nodes: list[NamedNode]) -> list[tuple[str, str, str]]:
    """(subject, predicate, object) asserted between the given nodes and their neighbours, memberships collapsed."""
    found = []
    if not nodes:
        return found
    for row in _query(db, LINKS % _values(nodes)):
        found.append((row["subject"].value, row["predicate"].value, row["object"].value))
    return found + membership_links(db, nodes)


def membership_links(db: Snapshot, nodes: list[NamedNode]) -> list[tuple[str, str, str]]:
    """(member, role, organization) for every membership held by or in the given nodes."""
    if not nodes:
        return []
    return [(row["member"].value, row["role"].value, row["organization"].value)
            for row in _query(db, MEMBERSHIP_LINKS % {"nodes": _values(nodes)})]


LINEAGE = """
SELECT DISTINCT ?subject ?predicate ?object WHERE {
  VALUES ?predicate { mig:supplements mig:implements dcterms:isPartOf mig:succeeded mig:adoptedAt mig:setOutIn }
  ?subject ?predicate ?object .
  { ?subject a mig:Instrument } UNION { ?object a mig:Instrument }
}"""


@per_build
def lineage(db: Snapshot) -> list[tuple[str, str, str]]:
    """Links between instruments: protocols to conventions, action plans to declarations, parts to wholes (per build)."""
    return [(row["subject"].value, row["predicate"].value, row["object"].value) for row in _query(db, LINEAGE)]


def in_lineage(db: Snapshot, iri: str) -> bool:
    """Whether the lineage picture has a link to or from `iri` (most instruments stand alone)."""
    return any(iri in (subject, obj) for subject, _, obj in lineage(db))


def is_membership_or_observation(types: set[str]) -> bool:
    return MEMBERSHIP in types or OBSERVATION in types



# ------------------------------------------------------------------------------------- source dates

# The date a source document or section states (published, created, or read): dcterms:date, issued or created,
# on the section itself or on the document it belongs to.
SOURCE_DATES = """
SELECT ?source ?date WHERE {
  VALUES ?property { dcterms:date dcterms:issued dcterms:created }
  ?source ?property ?date .
  { ?source a mig:SourceDocument } UNION { ?source dcterms:isPartOf ?document . ?document a mig:SourceDocument }
}"""


@per_build
def source_dates(db: Snapshot) -> dict[str, str]:
    """Source document or section IRI -> the latest date stated for it (cached per build)."""
    found: dict[str, str] = {}
    for row in _query(db, SOURCE_DATES):
        source, date = row["source"].value, row["date"].value
        if source not in found or date > found[source]:
            found[source] = date
    return found
