"""The canned query catalogue: `queries/*.rq` with a comment header (title, description, parameters)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pyoxigraph import Literal, NamedNode, QueryBoolean, QuerySolutions, QueryTriples, RdfFormat, Store, parse

from .namespaces import PREFIXES, XSD, prefixed, sparql_prologue
from .sparql_lexer import SparqlSyntaxError, bind_values
from .store import union_options

HEADER = re.compile(r"^#\s*(title|description|param)\s*:\s*(.*?)\s*$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class QueryInputError(ValueError):
    """A parameter value or query name the user gave cannot be used; the message says why."""


@dataclass(frozen=True)
class Parameter:
    name: str
    default: NamedNode | Literal | None


@dataclass(frozen=True)
class CannedQuery:
    slug: str
    title: str
    description: str
    text: str
    parameters: list[Parameter] = field(default_factory=list)
    path: Path | None = None

    def bindings(self, values: dict[str, str] | None = None) -> dict[str, NamedNode | Literal]:
        """Each parameter's value: the one given (parsed as a term) or its default."""
        values = dict(values or {})
        known = {p.name for p in self.parameters}
        unknown = sorted(set(values) - known)
        if unknown:
            raise QueryInputError(f"query {self.slug!r} has no parameter {', '.join(unknown)} "
                                  f"(it takes: {', '.join(sorted(known)) or 'none'})")
        bound = {}
        for parameter in self.parameters:
            if parameter.name in values and values[parameter.name] != "":
                bound[parameter.name] = parse_value(values[parameter.name], parameter.default)
            elif parameter.default is not None:
                bound[parameter.name] = parameter.default
        return bound

    def bound_text(self, values: dict[str, str] | None = None) -> str:
        """The query text with its parameters bound (see bind_parameters)."""
        return bind_parameters(self.text, self.bindings(values))


def bind_parameters(text: str, bindings: dict[str, NamedNode | Literal]) -> str:
    """Bind variables with a VALUES block first in the query's WHERE group (migkg.sparql_lexer.bind_values)."""
    try:
        return bind_values(text, bindings)
    except SparqlSyntaxError as error:
        raise QueryInputError(str(error)) from None


def parse_term(text: str) -> NamedNode | Literal:
    """A parameter value as an RDF term: `<iri>`, a bare absolute IRI, `prefix:local`, or a Turtle literal.

    Parsed by the Turtle parser, never pasted into query text, so a value cannot change a query.
    """
    text = text.strip()
    if not text:
        raise QueryInputError("empty parameter value")
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$", text):
        text = f"<{text}>"
    elif not (text.startswith(("<", '"', "'")) or re.match(r"^[a-zA-Z][\w-]*:[\w.\-/]*$", text)
              or re.match(r"^[+-]?\d+(\.\d+)?$", text) or text in ("true", "false")):
        return Literal(text)
    document = sparql_prologue().replace("PREFIX ", "@prefix ").replace(">\n", "> .\n")
    document += f"<urn:migkg:s> <urn:migkg:p> {text} .\n"
    try:
        triples = list(parse(document.encode(), format=RdfFormat.TURTLE))
    except SyntaxError:
        raise QueryInputError(f"cannot read {text!r} as an IRI or literal") from None
    if len(triples) != 1:
        raise QueryInputError(f"{text!r} is not a single IRI or literal")
    value = triples[0].object
    if not isinstance(value, (NamedNode, Literal)):
        raise QueryInputError(f"{text!r} is not an IRI or literal")
    return value


XSD_STRING = NamedNode(XSD + "string")


def term_text(term: NamedNode | Literal) -> str:
    """A term as a user would type it and parse_term reads it back: a prefixed name where a project prefix fits;
    a literal keeps its quotes, datatype or language (a bare 2004-01-01 would be a plain string)."""
    if isinstance(term, NamedNode):
        return prefixed(term.value) or f"<{term.value}>"
    return str(term)


def parse_value(text: str, default: NamedNode | Literal | None) -> NamedNode | Literal:
    """A parameter's value as parse_term reads it, but bare text where the default is a typed literal takes that
    type: `2010-01-01` for an xsd:date parameter is the date (as a string it equals no date: an empty answer)."""
    term = parse_term(text)
    if (isinstance(default, Literal) and default.datatype != XSD_STRING and not default.language
            and isinstance(term, Literal) and term.datatype == XSD_STRING and not term.language
            and not text.strip().startswith(("'", '"'))):
        return Literal(term.value, datatype=default.datatype)
    return term


def read_query(path: Path) -> CannedQuery:
    title, description, parameters = path.stem.replace("-", " ").capitalize(), "", []
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte order mark (Windows editors) is no part of the query
    except (OSError, UnicodeDecodeError) as error:
        raise QueryInputError(f"{path}: cannot be read as a UTF-8 query file: {error}") from None
    for line in text.splitlines():
        match = HEADER.match(line)
        if not match:
            if line.strip() and not line.lstrip().startswith("#"):
                break
            continue
        key, value = match.groups()
        if key == "title":
            title = value
        elif key == "description":
            description = value
        else:
            name, _, default = value.partition(" ")
            name = name.lstrip("?$")
            try:
                parameters.append(Parameter(name, parse_term(default) if default.strip() else None))
            except QueryInputError as error:
                raise QueryInputError(f"{path}: the default of parameter {name}: {error}") from None
    return CannedQuery(path.stem, title, description, text, parameters, path)


def load_catalogue(directory: Path) -> dict[str, CannedQuery]:
    """Every query in the directory, by slug, in name order. QueryInputError names a file that cannot be read."""
    if not directory.is_dir():
        return {}
    return {path.stem: read_query(path) for path in sorted(directory.glob("*.rq")) if SLUG.match(path.stem)}


def readable_catalogue(directory: Path) -> tuple[dict[str, CannedQuery], list[str]]:
    """The queries that can be read, by slug, and the names of the files that cannot: for pages, where one broken
    file must not take the others down."""
    queries, broken = {}, []
    if directory.is_dir():
        for path in sorted(path for path in directory.glob("*.rq") if SLUG.match(path.stem)):
            try:
                queries[path.stem] = read_query(path)
            except QueryInputError:
                broken.append(path.name)
    return queries, broken


def execute(store: Store, text: str) -> QuerySolutions | QueryBoolean | QueryTriples:
    """Run a query over the union of all graphs (see migkg.store.union_options) with the project's prefixes known."""
    return store.query(text, prefixes=PREFIXES, **union_options(store))
