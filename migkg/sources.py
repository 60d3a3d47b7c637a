"""Reading the ontology and data files into quads, with the file and line of every syntax error."""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import rdflib
from pyoxigraph import BlankNode, DefaultGraph, Literal, NamedNode, Quad, RdfFormat, parse

from .namespaces import BASE, MIG, ONTOLOGY_GRAPH, OWL, RDF, RDFS, SHAPES_GRAPH, XSD

FORMATS = {".ttl": RdfFormat.TURTLE, ".trig": RdfFormat.TRIG, ".nt": RdfFormat.N_TRIPLES, ".nq": RdfFormat.N_QUADS}
# Data may also come as RDF/XML or JSON-LD: a curator's file in either is read, not skipped (RDF/XML holds no
# named graph, so it is refused with the reason; JSON-LD can name them). Not in ontology/, which keeps a
# JSON-LD context (context.jsonld) that is no RDF.
DATA_FORMATS = {**FORMATS, ".rdf": RdfFormat.RDF_XML, ".owl": RdfFormat.RDF_XML, ".jsonld": RdfFormat.JSON_LD}


class InputError(Exception):
    """A problem in an input file that the user must fix; the message says where and what."""


@dataclass
class ParsedInputs:
    """Everything the build read, with where each subject was stated (for readable error messages)."""

    ontology: list[Quad] = field(default_factory=list)
    shapes: list[Quad] = field(default_factory=list)
    data: list[Quad] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    # Each file's SHA-256 as it was parsed: the build's identity, whatever happens to the file afterwards.
    digests: dict[Path, str] = field(default_factory=dict)
    subject_files: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def read(self, path: Path) -> tuple[list[Quad], bytes]:
        """The file's statements, and its bytes as they were read (for the line of a later error)."""
        quads, text = parse_file(path)
        self.files.append(path)
        self.digests[path] = hashlib.sha256(text).hexdigest()
        return quads, text

    def file_of(self, subject: str) -> str:
        files = sorted(self.subject_files.get(subject, ()))
        return ", ".join(files) if files else "(generated)"


def rdf_files(directory: Path, formats: dict = FORMATS) -> list[Path]:
    """The RDF files under a directory, in a stable order. InputError for a name of an RDF file that is no
    file (a broken link, a pipe): skipped, its statements would be missing without a word."""
    if not directory.is_dir():
        return []
    named = sorted(p for p in directory.rglob("*") if p.suffix.lower() in formats and not p.is_dir())  # .TTL too
    for path in named:
        if not path.is_file():
            raise InputError(f"{path}: is not a readable file (a broken link, a pipe or a device): point it at the "
                             "file, or remove it")
    return named


UTF8_BOM = b"\xef\xbb\xbf"


def parse_file(path: Path) -> tuple[list[Quad], bytes]:
    """The file's statements, and its bytes as they were read."""
    try:
        text = path.read_bytes()
        # Editors on Windows start UTF-8 files with a byte order mark, which Oxigraph reads as a subject.
        text = text[len(UTF8_BOM):] if text.startswith(UTF8_BOM) else text
        quads = list(parse(text, format=DATA_FORMATS[path.suffix.lower()], base_iri=path.resolve().as_uri()))
    except SyntaxError as error:
        where = f", line {error.lineno}" if error.lineno else ""
        why = ("a remote @context cannot be fetched (the build reads no network): put the context in the file"
               if "LoadDocumentCallback" in error.msg else error.msg)
        raise InputError(f"{path}{where}: syntax error. {why}") from None
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: cannot be read: {error}") from None
    _refuse_file_iris(path, text, quads)
    _refuse_ill_typed_literals(path, text, quads)
    return quads, text


def _line(text: bytes, written: str) -> str:
    """", line N" for the first line of `text` holding `written`, else "" (the statement was written otherwise)."""
    number = next((number for number, content in enumerate(text.splitlines(), 1) if written.encode() in content), None)
    return f", line {number}" if number else ""


def _refuse_file_iris(path: Path, text: bytes, quads: list[Quad]) -> None:
    """A relative IRI without @base is read against the file's own location (file:///…): the published graph
    would hold the curator's directory, and the resource would change with it."""
    for quad in quads:
        for term in (quad.subject, quad.predicate, quad.object, quad.graph_name):
            if isinstance(term, NamedNode) and term.value.startswith("file:"):
                written = term.value.removeprefix(path.resolve().parent.as_uri() + "/")
                raise InputError(f"{path}{_line(text, f'<{written}>')}: <{written}> is a relative IRI, read against the file's own location "
                                 f"({term.value}): write it in full (https://w3id.org/migkg/id/…) or as a prefixed name")


def read_inputs(ontology_dir: Path, data_dir: Path, shapes_file: Path) -> ParsedInputs:
    """Parse every ontology and data file. Ontology files go to the ontology graph, data keeps its graphs.

    Data statements outside any named graph are refused: a fact without a source section has no provenance.
    """
    inputs = ParsedInputs()
    # A mistyped directory must not build (and publish) a graph without its facts.
    for directory, what in ((ontology_dir, "ontology"), (data_dir, "data")):
        if not directory.is_dir():
            raise InputError(f"the {what} directory {directory} does not exist (or is not a directory)")
    if not shapes_file.is_file():
        raise InputError(f"the shapes file {shapes_file} does not exist: without it the data would be published "
                         "unvalidated")
    data_files = rdf_files(data_dir, DATA_FORMATS)
    if not data_files:
        raise InputError(f"no data files ({', '.join(sorted(DATA_FORMATS))}) in {data_dir}: a build without curated "
                         "data would replace the graph being served with an empty one")
    for path in rdf_files(ontology_dir):
        quads, _ = inputs.read(path)
        target = SHAPES_GRAPH if path.resolve() == shapes_file.resolve() else ONTOLOGY_GRAPH
        bucket = inputs.shapes if target == SHAPES_GRAPH else inputs.ontology
        bucket.extend(Quad(q.subject, q.predicate, q.object, target) for q in quads)
    if not inputs.shapes:
        raise InputError(f"the shapes file {shapes_file} holds no shapes: without them the data would be published "
                         "unvalidated")
    properties = {q.subject for q in inputs.ontology if q.predicate == TYPE and q.object in PROPERTY_CLASSES}
    inferred_only = {q.subject for q in inputs.ontology if q.predicate == PROPERTY_CHAIN}
    inferred_only |= {end for q in inputs.ontology if q.predicate == INVERSE and {q.subject, q.object} & inferred_only
                      for end in (q.subject, q.object)}  # mig:memberOf too
    names: dict[tuple, tuple[Literal, Path]] = {}
    for path in data_files:
        quads, text = inputs.read(path)
        if not quads:
            # Refused as an empty data directory is: a truncated save would publish the graph without its facts.
            raise InputError(f"{path}: holds no statements (only comments and prefixes, or nothing): a data file "
                             "that lost its facts would silently remove them from the graph; restore them, or remove "
                             "the file")
        loose = [q for q in quads if isinstance(q.graph_name, DefaultGraph)]
        if loose:
            first = loose[0]
            raise InputError(
                f"{path}: {len(loose)} statement(s) outside any named graph, e.g. "
                f"{first.subject} {first.predicate} {first.object}: put every fact in the graph of "
                "the source section that states it (see data/README.md)"
            )
        _refuse_foreign_statements(path, quads, properties, inferred_only)
        _refuse_blank_nodes(path, text, quads)
        _refuse_second_names(path, text, quads, names)
        for quad in quads:
            if isinstance(quad.subject, NamedNode):
                inputs.subject_files[quad.subject.value].add(str(path.name))
        inputs.data.extend(quads)
    return inputs


# rdflib logs a traceback for each literal it cannot convert; the build says what is wrong instead.
logging.getLogger("rdflib.term").setLevel(logging.ERROR)
# Lexical forms (XML Schema 1.1) of datatypes rdflib takes without a check ("20x3"^^xsd:gYear had a value of None).
_YEAR, _ZONE = r"-?([1-9][0-9]{3,}|0[0-9]{3})", r"(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))?"
UNCHECKED_BY_RDFLIB = {XSD + "gYear": re.compile(_YEAR + _ZONE),
                       XSD + "gYearMonth": re.compile(_YEAR + "-(0[1-9]|1[0-2])" + _ZONE)}


@functools.lru_cache(maxsize=65536)
def _ill_typed(value: str, datatype: str) -> bool:
    # Kept per value: dates and years repeat across memberships and treaty actions (half the real data's are repeats).
    lexical_form = UNCHECKED_BY_RDFLIB.get(datatype)
    if lexical_form is not None:
        return lexical_form.fullmatch(value) is None
    return bool(rdflib.Literal(value, datatype=rdflib.URIRef(datatype)).ill_typed)


def _refuse_ill_typed_literals(path: Path, text: bytes, quads: list[Quad]) -> None:
    """A literal whose text is no value of its XML Schema datatype ("2013-02-30"^^xsd:date, "two"^^xsd:integer)
    sorts, compares and filters as nothing: refused wherever it is, not only where a shape checks the datatype."""
    for quad in quads:
        literal = quad.object
        if not isinstance(literal, Literal) or not literal.datatype.value.startswith(XSD):
            continue
        if _ill_typed(literal.value, literal.datatype.value):
            raise InputError(f"{path}{_line(text, literal.value)}: {quad.subject} {quad.predicate} {literal}: "
                             f"{literal.value!r} is not a valid xsd:{literal.datatype.value.removeprefix(XSD)}")


# Predicates that define a term (its class, place in the hierarchy, domain, range, name): the ontology's terms
# are defined in ontology/ alone. Data may still annotate them with what a source says (skos:scopeNote).
DEFINING_NAMESPACES = (RDF, RDFS, OWL)
TYPE = NamedNode(RDF + "type")
PROPERTY_CHAIN, INVERSE = NamedNode(OWL + "propertyChainAxiom"), NamedNode(OWL + "inverseOf")
PROPERTY_CLASSES = {NamedNode(OWL + kind) for kind in ("ObjectProperty", "DatatypeProperty", "AnnotationProperty",
                                                        "TransitiveProperty", "SymmetricProperty",
                                                        "FunctionalProperty")} | {NamedNode(RDF + "Property")}


def _refuse_foreign_statements(path: Path, quads: list[Quad], properties: set[NamedNode],
                               inferred_only: set[NamedNode]) -> None:
    """Refuse graphs named by blank nodes (no section can be cited by one), statements about resources outside
    the project's namespace, definitions of the ontology's terms, properties of its namespace that it does not
    declare (properties: those it declares), and the shortcuts the reasoner infers from memberships
    (inferred_only: the properties defined by a property chain)."""
    for quad in quads:
        if isinstance(quad.graph_name, BlankNode):
            raise InputError(f"{path}: a graph is named by a blank node (_:{quad.graph_name.value}), e.g. "
                             f"{quad.subject} {quad.predicate} {quad.object}: name it by the source section "
                             "that states its facts (…/source/{doc}#{section}, see data/README.md)")
        if isinstance(quad.subject, NamedNode) and not quad.subject.value.startswith(BASE):
            raise InputError(f"{path}: a statement about {quad.subject}, outside {BASE}: the data describes only "
                             f"the project's own resources ({BASE}id/…); link to others as objects")
        if (isinstance(quad.subject, NamedNode) and quad.subject.value.startswith(MIG)
                and quad.predicate.value.startswith(DEFINING_NAMESPACES)):
            raise InputError(f"{path}: {quad.subject} {quad.predicate} {quad.object} defines an ontology term: "
                             "the terms are defined in ontology/migration.ttl; data may only annotate them "
                             "with what a source says (skos:scopeNote)")
        if quad.predicate.value.startswith(MIG) and quad.predicate not in properties:
            # A typo (mig:establishedin): its statements would be published and never found by a query or shape.
            raise InputError(f"{path}: {quad.subject} uses {quad.predicate}, a property the ontology does not "
                             "declare (a misspelt name?): use one of ontology/migration.ttl's properties")
        if quad.predicate in inferred_only:
            # Asserted, it would stand without the membership's role, dates and remit.
            raise InputError(f"{path}: {quad.subject} {quad.predicate} {quad.object}: the reasoner infers "
                             f"{quad.predicate.value.removeprefix(MIG)} from memberships: state the org:Membership "
                             "(member, organization, role) instead (see data/README.md)")


def _refuse_blank_nodes(path: Path, text: bytes, quads: list[Quad]) -> None:
    """A resource without an IRI (`[ a org:Membership ; … ]`, `_:m1`) cannot be linked to, cited or looked up at
    /id/…, and is a new resource at every build: every resource is named under the project's base (DESIGN.md)."""
    for quad in quads:
        blank = next((term for term in (quad.subject, quad.object) if isinstance(term, BlankNode)), None)
        if blank is None:
            continue
        said = "; ".join(f"{q.predicate} {q.object}" for q in quads
                         if q.subject == blank and not isinstance(q.object, BlankNode))
        raise InputError(f"{path}{_line(text, f'_:{blank.value}')}: in graph {quad.graph_name}, a resource without "
                         f"an IRI (a blank node, [ … ] or _:…){f' ({said[:200]})' if said else ''}: name it under "
                         f"{BASE}id/ (a membership: id/membership/{{organization}}/{{member}}/{{role}}; see the "
                         "identifiers in data/README.md)")


LABEL = NamedNode(RDFS + "label")


def _refuse_second_names(path: Path, text: bytes, quads: list[Quad], names: dict[tuple, tuple[Literal, Path]]) -> None:
    """Two rdfs:labels in one language from one source (one graph, in any of the files): pages and searches would
    show either. Another source may name the resource otherwise (its own graph); acronyms and former names are
    skos:altLabel. `names`: the labels of the files read before, filled in."""
    for quad in quads:
        name = quad.object
        if quad.predicate != LABEL or not isinstance(name, Literal) or not name.language:
            continue
        first, first_file = names.setdefault((quad.subject, quad.graph_name, name.language.lower()), (name, path))
        if first != name:
            elsewhere = f" (in {first_file.name})" if first_file != path else ""
            raise InputError(f"{path}{_line(text, name.value)}: {quad.subject} has two rdfs:label in @{name.language} "
                             f"in graph {quad.graph_name}: {first.value!r}{elsewhere} and {name.value!r}: keep the "
                             "name the source uses as rdfs:label and give the other as skos:altLabel")
