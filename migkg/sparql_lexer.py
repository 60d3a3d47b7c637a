"""A SPARQL 1.1 tokenizer: what the server must know about a query before running it, decided on tokens.

The grammar's terminals (IRIREF, the four string forms, comments, variables, prefixed names, numbers,
language tags, operators) are read as the grammar defines them, in one left-to-right pass, so nothing
inside a string, an IRI or a comment is mistaken for a keyword. One ambiguity is lexical in SPARQL
itself: `<` opens an IRI or is the less-than operator. The grammar only allows the operator inside an
expression (FILTER, BIND, HAVING, ORDER/GROUP BY conditions, SELECT expressions, function arguments)
right after an operand, so the tokenizer tracks that context the way a parser does.

Every step consumes at least one character and no pattern rescans text past its own end, so the cost
is linear in the query's length; an unterminated string or IRI is a syntax error at once.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass
from typing import NamedTuple

from pyoxigraph import Literal, NamedNode


class SparqlSyntaxError(ValueError):
    """The text cannot be tokenized as SPARQL; the message gives line and column."""


class Token(NamedTuple):  # a tuple: built hundreds of times per query, so as cheap as Python allows
    kind: str  # word, var, iri, pname, string, number, langtag, punct
    text: str
    start: int
    end: int

    @property
    def keyword(self) -> str | None:
        return self.text.upper() if self.kind == "word" else None


_PN_CHARS_BASE = "A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D" \
                 "\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\U00010000-\U000EFFFF"
_PN_CHARS = _PN_CHARS_BASE + "_0-9\u00B7\u0300-\u036F\u203F-\u2040\\-"
_LONG_STRINGS = {'"""': re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""', re.DOTALL),
                 "'''": re.compile(r"'''(?:[^'\\]|\\.|'(?!''))*'''", re.DOTALL)}
_SHORT_STRINGS = {'"': re.compile(r'"(?:[^"\\\r\n]|\\.)*"'), "'": re.compile(r"'(?:[^'\\\r\n]|\\.)*'")}
# Codepoint escapes: Oxigraph (since 0.4) and Jena read them in strings and IRIs only, as Turtle does.
_UCHAR = r"\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"
_IRIREF = re.compile(rf'<(?:[^<>"{{}}|^`\\\x00-\x20]|{_UCHAR})*>')
_CODEPOINT_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
# SPARQL 1.1's text decodes every escape before parsing (QLever and Jena's strict mode do so): an escaped
# quote, backslash, angle bracket or line break ends a string, IRI or comment there and not here.
_DELIMITERS = frozenset(map(ord, "\"'\\<>\r\n"))
_VAR = re.compile(rf"[?$][{_PN_CHARS_BASE}_0-9][{_PN_CHARS_BASE}_0-9\u00B7\u0300-\u036F\u203F-\u2040]*")
_PNAME = re.compile(
    rf"(?:[{_PN_CHARS_BASE}][{_PN_CHARS}.]*)?:(?:[{_PN_CHARS}:.]|%[0-9A-Fa-f]{{2}}|\\[-_~.!$&'()*+,;=/?#@%])*")
_BNODE = re.compile(rf"_:[{_PN_CHARS}.]*")
_WORD = re.compile(rf"[{_PN_CHARS_BASE}_][{_PN_CHARS_BASE}_0-9]*")
_NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_LANGTAG = re.compile(r"@[A-Za-z]+(?:-[A-Za-z0-9]+)*")
_OPERATORS = frozenset(("&&", "||", "!=", "<=", ">=", "^^"))
# Characters that only ever start punctuation (no variable, blank node, name, number or tag starts so).
_PUNCTUATION = frozenset("{}()[],;*=!|&^/")

# Keywords after which "(" opens an expression rather than an RDF collection.
_EXPRESSION_OPENERS = {"FILTER", "BIND", "HAVING", "BY", "ASC", "DESC", "IN", "EXISTS"}
# Tokens after which, inside an expression, "<" is the less-than operator.
_OPERAND_ENDS = {"var", "iri", "pname", "string", "number", "langtag", "bnode"}
_CLOSE = {")": "(", "]": "[", "}": "{"}


def _position(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


_SKIP = re.compile(r"[ \t\r\n]*(?:#[^\r\n]*[ \t\r\n]*)*")  # white space and comments between tokens
_TERMINAL = re.compile("|".join([
    f"(?P<var>{_VAR.pattern})",
    f"(?P<bnode>{_BNODE.pattern})",
    f"(?P<langtag>{_LANGTAG.pattern})",
    f"(?P<pname>{_PNAME.pattern})",
    f"(?P<word>{_WORD.pattern})",
    f"(?P<number>{_NUMBER.pattern})",
]))


def tokenize(text: str) -> list[Token]:
    """The tokens of `text`, comments and white space left out; SparqlSyntaxError when a terminal is broken."""
    found: list[Token] = []
    append = found.append
    # A stack of open brackets; "(" is recorded as "(e" (expression) or "(c" (collection, or arguments
    # that hold no expression). Inside "{" or "[" we are back in triple-pattern context.
    stack: list[str] = []
    # In a SELECT projection or a GROUP BY / ORDER BY / HAVING list, "(" opens an expression.
    in_conditions = False
    length = len(text)
    position = 0
    previous = None
    terminal = _TERMINAL.match
    skip = _SKIP.match
    while position < length:
        char = text[position]
        if char in " \t\r\n#":
            position = skip(text, position).end()
            continue
        if char in "\"'":
            pattern = _LONG_STRINGS.get(text[position:position + 3]) or _SHORT_STRINGS[char]
            match = pattern.match(text, position)
            if not match:
                raise SparqlSyntaxError(f"unterminated string at {_position(text, position)}")
            kind, end = "string", match.end()
        elif char == "<":
            operator = bool(stack) and stack[-1] == "(e" and previous is not None and (
                previous.kind in _OPERAND_ENDS or previous.text in (")", "]")
                or previous.keyword in ("TRUE", "FALSE"))
            match = None if operator else _IRIREF.match(text, position)
            if match:
                kind, end = "iri", match.end()
            else:
                kind, end = "punct", position + (2 if text.startswith("<=", position) else 1)
        else:
            match = None if char in _PUNCTUATION else terminal(text, position)
            if match is not None:
                kind, end = match.lastgroup, match.end()
            else:
                kind = "punct"
                operator = text[position:position + 2]
                if operator not in _OPERATORS:
                    operator = char
                end = position + len(operator)
                if operator == "(":
                    expression = (bool(stack) and stack[-1] == "(e") or in_conditions or previous is not None and (
                        previous.keyword in _EXPRESSION_OPENERS
                        or (previous.kind == "word" and previous.keyword not in ("A", "VALUES"))
                        or (previous.kind in ("iri", "pname") and bool(stack) and stack[-1] == "(e"))
                    stack.append("(e" if expression else "(c")
                elif operator in "[{":
                    in_conditions = False
                    stack.append(operator)
                elif operator in _CLOSE:
                    if operator == "}":
                        in_conditions = False
                    if stack and stack[-1][0] == _CLOSE[operator]:
                        stack.pop()
        previous = Token(kind, text[position:end], position, end)
        append(previous)
        position = end
        if kind == "word":
            keyword = previous.keyword
            if keyword in ("SELECT", "BY", "HAVING"):
                in_conditions = True
            elif keyword in ("WHERE", "FROM", "LIMIT", "OFFSET", "VALUES"):
                in_conditions = False
    if "\\u" in text or "\\U" in text:
        _check_escapes(text, found)
    return found


def _check_escapes(text: str, tokens: list[Token]) -> None:
    """Refuse codepoint escapes that an engine decoding them before parsing would read as other tokens.

    Every engine must see the tokens seen here (no SERVICE hidden, no dataset escaped, no value bound
    inside a string), so an escape is kept only in a string, an IRI or a comment, and only for a
    character that delimits none of them.
    """
    starts = [token.start for token in tokens]
    for match in _CODEPOINT_ESCAPE.finditer(text):
        index = bisect.bisect_right(starts, match.start()) - 1
        token = tokens[index] if index >= 0 and match.start() < tokens[index].end else None  # None: a comment
        if token is not None and token.kind not in ("string", "iri"):
            raise SparqlSyntaxError(f"a codepoint escape ({match.group()}) outside a string or an IRI at "
                                    f"{_position(text, match.start())}: write the character itself")
        code = int(match.group(1) or match.group(2), 16)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise SparqlSyntaxError(f"the codepoint escape {match.group()} at {_position(text, match.start())} "
                                    "names no Unicode character")
        if code in _DELIMITERS:
            raise SparqlSyntaxError(f"a codepoint escape of a quote, backslash, angle bracket or line break "
                                    f"({match.group()}) at {_position(text, match.start())}: SPARQL engines "
                                    "read it differently; in a string write it as \\\", \\', \\\\ or \\n")


def _unescaped(iri_text: str) -> str:
    """An IRI as written between < and >, its codepoint escapes decoded."""
    return _CODEPOINT_ESCAPE.sub(lambda match: chr(int(match.group(1) or match.group(2), 16)), iri_text)


@dataclass(frozen=True)
class QueryShape:
    """What the server needs to know about a query: its form, federation, dataset clause, where to bind."""

    form: str | None  # SELECT, ASK, CONSTRUCT, DESCRIBE, or None (not a query: e.g. an update)
    uses_service: bool
    has_dataset_clause: bool  # FROM / FROM NAMED: the query chooses its own dataset
    where_open: int | None  # offset just after the "{" that opens the query's WHERE group
    short_construct: bool  # CONSTRUCT WHERE { ... }: the group is also the template
    dataset_at: int | None = None  # where FROM clauses may be inserted: before WHERE (or its "{")
    uses_graph: bool = False  # GRAPH patterns: the query reads named graphs
    # FROM anywhere but before the WHERE group (a subquery's: no SPARQL 1.1, but Virtuoso reads it)
    misplaced_dataset_clause: bool = False


UPDATE_KEYWORDS = {"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"}


def is_update(text: str) -> bool:
    """Whether `text` reads as a SPARQL Update request: an update keyword comes before any query form."""
    try:
        tokens = tokenize(text)
    except SparqlSyntaxError:
        return False
    for token in tokens:
        if token.keyword in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"):
            return False
        if token.keyword in UPDATE_KEYWORDS:
            return True
    return False


SHAPES_KEPT = 2048  # shapes of recent query texts (explorer pages and catalogue queries repeat theirs)
SHAPE_TEXT_KEPT = 8192  # longer texts are tokenized each time, so the memory kept stays bounded


def may_name(text: str, keywords: tuple[str, ...]) -> bool:
    """False only if no word token of `text` can be one of `keywords` (upper case), without tokenizing.

    A keyword token is a word whose `str.upper()` is the keyword; `upper` maps character by character,
    so such a word leaves the keyword in the upper-cased text. Lines whose first character after spaces
    and tabs is `#` are left out: they are whole comments (a comment runs to the next CR or LF, and only a
    long string can hold either, so without one every line starts outside any token). Costs
    microseconds where tokenizing a query costs half a millisecond.
    """
    upper = text.upper()
    if "\\U" in upper:
        return True  # codepoint escapes: the tokenizer refuses those engines read differently
    if not any(keyword in upper for keyword in keywords):
        return False
    if '"""' in text or "'''" in text:
        return True
    # Split on SPARQL's line ends only: str.splitlines also splits on U+2028 and the like, which a
    # string or an IRI may hold.
    code = [line for line in _LINE_END.split(upper) if not line.lstrip(" \t").startswith("#")]
    return any(keyword in line for line in code for keyword in keywords)


_LINE_END = re.compile(r"[\r\n]")

# Oxigraph parses and evaluates a query by recursion: one level per nested bracket, and one per UNION,
# MINUS, OPTIONAL, BIND (...) or operator chained inside a group. A few thousand levels overflow a query
# process's stack and kill it (SIGSEGV), whatever the time and memory limits. Measured with an 8 MB stack:
# 300 nested FILTER EXISTS groups pass and 1 000 crash (each level is three units below); 1 000 nested
# groups, OPTIONALs, MINUSes or BINDs pass and 3 000 crash.
MAX_NESTING = 500
_NESTING_KEYWORDS = {"UNION", "MINUS", "OPTIONAL", "BIND", "FILTER", "EXISTS", "VALUES", "GRAPH", "SERVICE"}
_NESTING_OPERATORS = frozenset(("!", "&&", "||", "+", "-", "*", "/", "|", "^"))
_NESTING_BYTES = b"({[!&|+*-/^"  # every bracket and operator unit starts with one of these


def nesting(text: str) -> int:
    """How deep the engine's recursion on `text` can go, counted on tokens (an upper bound, never an underestimate).

    Each open bracket is a level, and so is each chaining operator, or keyword with the bracket it introduces
    ("FILTER NOT EXISTS {" is two), until the bracket it sits in closes: ten MINUS clauses in one group nest
    ten deep in the query's algebra. A keyword no bracket follows is a syntax error, not recursion.
    """
    chained_in: list[int] = []  # per open bracket: the chaining units seen directly inside it
    chained = deepest = keywords = 0
    for token in tokenize(text):
        units = 0
        if token.kind == "punct" and token.text in "({[":
            # The keywords before a "(" or "{" count in the enclosing group (no keyword introduces a "[").
            units, keywords = (min(keywords, 2) if token.text != "[" else 0), 0
        elif token.kind == "punct" and token.text in ")}]":
            keywords = 0
            if chained_in:
                chained -= chained_in.pop()
        elif token.text in _NESTING_OPERATORS:
            units = 1
        elif token.keyword in _NESTING_KEYWORDS:
            keywords += 1
        if units:
            chained += units
            if chained_in:
                chained_in[-1] += units
        if token.kind == "punct" and token.text in "({[":
            chained_in.append(0)
        deepest = max(deepest, len(chained_in) + chained)
    return deepest


def nests_too_deep(text: str) -> int | None:
    """`text`'s nesting when it is over MAX_NESTING, else None; tokenizes only texts that might be."""
    if len(text) <= MAX_NESTING:
        return None  # every unit takes a character at least
    # A bound counted in bytes, in a few microseconds (str methods on a text holding any non-ASCII character
    # are several times slower): the units' characters, and two keywords per "(" or "{".
    encoded = text.encode("utf-8", "surrogatepass")
    bound = len(encoded) - len(encoded.translate(None, _NESTING_BYTES)) \
        + 2 * (encoded.count(b"(") + encoded.count(b"{"))
    if bound <= MAX_NESTING:
        return None
    # IRIs hold most of the characters counted (/ and -): explorer queries listing many resources get here.
    depth = _kept_nesting(text) if len(text) <= SHAPE_TEXT_KEPT else nesting(text)
    return depth if depth > MAX_NESTING else None


@functools.lru_cache(maxsize=SHAPES_KEPT)
def _kept_nesting(text: str) -> int:
    return nesting(text)


def shape(text: str) -> QueryShape:
    """What the server needs to know about `text` (tokenized once per distinct short text)."""
    return _kept_shape(text) if len(text) <= SHAPE_TEXT_KEPT else _shape(text)


@functools.lru_cache(maxsize=SHAPES_KEPT)
def _kept_shape(text: str) -> QueryShape:
    return _shape(text)


def _shape(text: str) -> QueryShape:
    tokens = tokenize(text)
    words = [token.keyword for token in tokens if token.kind == "word"]
    form = None
    form_index = None
    for index, token in enumerate(tokens):
        if token.keyword in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"):
            form, form_index = token.keyword, index
            break
        if token.keyword in UPDATE_KEYWORDS:
            break
    where_open = None
    short_construct = False
    has_dataset_clause = False
    dataset_clauses = 0
    if form_index is not None:
        index = form_index + 1
        if form == "CONSTRUCT" and index < len(tokens) and tokens[index].text == "{":
            index = _skip_group(tokens, index)
        elif form == "CONSTRUCT" and index + 1 < len(tokens) and tokens[index].keyword == "WHERE":
            short_construct = True
        dataset_at = None
        in_expression = 0  # a projection's "(EXISTS { … } AS ?x)" holds a group that is not the WHERE group
        for position in range(index, len(tokens)):
            token = tokens[position]
            if token.kind == "punct" and token.text in "()":
                in_expression += 1 if token.text == "(" else -1
                continue
            if in_expression > 0:
                continue
            if token.keyword == "FROM":
                has_dataset_clause = True
                dataset_clauses += 1
            if token.keyword == "WHERE" and dataset_at is None:
                dataset_at = token.start
            if token.text == "{":
                where_open = token.end
                if dataset_at is None:
                    dataset_at = token.start
                break
        return QueryShape(form, "SERVICE" in words, has_dataset_clause, where_open, short_construct, dataset_at,
                          "GRAPH" in words, words.count("FROM") > dataset_clauses)
    return QueryShape(form, "SERVICE" in words, has_dataset_clause, where_open, short_construct)


def _skip_group(tokens: list[Token], index: int) -> int:
    """The index after the "}" that closes the "{" at `index`."""
    depth = 0
    for position in range(index, len(tokens)):
        if tokens[position].text == "{":
            depth += 1
        elif tokens[position].text == "}":
            depth -= 1
            if depth == 0:
                return position + 1
    return len(tokens)


@dataclass(frozen=True)
class GraphReference:
    """One graph a FROM (or, `named`, a FROM NAMED) clause names, at text[start:end]; the clause starts at `clause`."""

    start: int
    end: int
    iri: str | None  # None: a prefixed name whose prefix is declared nowhere
    named: bool
    clause: int


def dataset_references(text: str, prefixes: dict[str, str]) -> list[GraphReference]:
    """The graphs the query's own FROM / FROM NAMED clauses name, in text order.

    Prefixed names are resolved with the query's PREFIX declarations over `prefixes`.
    """
    tokens = tokenize(text)
    declared = dict(prefixes)
    found = []
    for index, token in enumerate(tokens):
        if token.keyword == "PREFIX" and index + 2 < len(tokens) and tokens[index + 2].kind == "iri":
            declared[tokens[index + 1].text[:-1]] = _unescaped(tokens[index + 2].text[1:-1])
        elif token.keyword == "FROM" and index + 1 < len(tokens):
            named = tokens[index + 1].keyword == "NAMED"
            target = tokens[index + 2] if named and index + 2 < len(tokens) else tokens[index + 1]
            if target.kind == "iri":
                found.append(GraphReference(target.start, target.end, _unescaped(target.text[1:-1]), named,
                                            token.start))
            elif target.kind == "pname":
                prefix, _, local = target.text.partition(":")
                base = declared.get(prefix)
                found.append(GraphReference(target.start, target.end, None if base is None else base + local, named,
                                            token.start))
    return found


def without_dataset(text: str) -> str:
    """The query without its own FROM / FROM NAMED clauses: a dataset the protocol names replaces them
    (SPARQL 1.1 Protocol 2.1.4); added beside them, a FROM <private-graph> would still be read."""
    for reference in reversed(dataset_references(text, {})):
        text = text[:reference.clause] + " " + text[reference.end:]
    return text


def with_dataset(text: str, default_graphs, named_graphs) -> str:
    """The query with FROM / FROM NAMED clauses for these graphs (IRIs already validated as NamedNodes)."""
    found = shape(text)
    if found.dataset_at is None:
        raise SparqlSyntaxError("the query has no WHERE group to give a dataset to")
    clauses = "".join(f" FROM {graph}" for graph in default_graphs) + \
        "".join(f" FROM NAMED {graph}" for graph in named_graphs)
    return text[:found.dataset_at] + clauses + " " + text[found.dataset_at:]


def bind_values(text: str, bindings: dict[str, NamedNode | Literal]) -> str:
    """Bind variables with a VALUES block first in the query's WHERE group.

    pyoxigraph's `substitutions` only accept projected variables and a trailing VALUES joins after
    aggregation, so the block goes first in the group, found by the tokenizer (never inside a string,
    an IRI or a comment). Terms are written by pyoxigraph (N-Triples syntax, escaped), never pasted
    from user text. The one form with no room in its group, CONSTRUCT WHERE { }, has no aggregation,
    so a trailing VALUES clause binds it the same way.
    """
    if not bindings:
        return text
    names = " ".join(f"?{name}" for name in bindings)
    values = " ".join(str(term) for term in bindings.values())
    block = f" VALUES ({names}) {{ ({values}) }} "
    found = shape(text)
    if found.short_construct:
        return text + "\n" + block
    if found.where_open is None:
        raise SparqlSyntaxError("a query with parameters needs a WHERE { … } group to bind them in")
    return text[:found.where_open] + block + text[found.where_open:]
