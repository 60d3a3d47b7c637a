"""Content negotiation: pick an RDF or SPARQL-results format from an Accept header and an explicit override."""

from __future__ import annotations

import functools

from typing import Iterable, Sequence, TypeVar

from pyoxigraph import QueryResultsFormat, RdfFormat
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

Format = TypeVar("Format", RdfFormat, QueryResultsFormat)

# Media types clients send besides the canonical one, and short names used in `format=`/`output=`
# parameters (SPARQLWrapper, Virtuoso-style links, the editor's download links).
_ALIASES: dict[object, tuple[tuple[str, ...], tuple[str, ...]]] = {
    QueryResultsFormat.JSON: (("application/sparql-results+json", "application/json"), ("json", "srj")),
    QueryResultsFormat.XML: (("application/sparql-results+xml", "application/xml", "text/xml"), ("xml", "srx")),
    QueryResultsFormat.CSV: (("text/csv",), ("csv",)),
    QueryResultsFormat.TSV: (("text/tab-separated-values",), ("tsv", "tab")),
    RdfFormat.TURTLE: (("text/turtle", "application/turtle", "application/x-turtle"), ("turtle", "ttl")),
    RdfFormat.N_TRIPLES: (("application/n-triples", "text/plain"), ("ntriples", "n-triples", "nt")),
    RdfFormat.RDF_XML: (("application/rdf+xml", "application/xml", "text/xml"), ("rdfxml", "rdf+xml", "rdf", "xml", "owl")),
    RdfFormat.JSON_LD: (("application/ld+json", "application/x-json+ld", "application/json"), ("jsonld", "json-ld", "json")),
    RdfFormat.N_QUADS: (("application/n-quads",), ("nquads", "n-quads", "nq")),
    RdfFormat.TRIG: (("application/trig",), ("trig",)),
}


def media_types(fmt: RdfFormat | QueryResultsFormat) -> tuple[str, ...]:
    """The canonical media type of `fmt` first, then the aliases clients also use for it."""
    canonical = fmt.media_type.split(";", 1)[0].strip()  # pyoxigraph writes "text/csv; charset=utf-8"
    aliases = _ALIASES.get(fmt, ((), ()))[0]
    return (canonical,) + tuple(m for m in aliases if m != canonical)


def by_name(name: str, offered: Iterable[Format]) -> Format | None:
    """The offered format a `format=` value names: a short name (`json`, `ttl`), an extension or a media type."""
    wanted = name.strip().lower()
    if not wanted:
        return None
    if "/" in wanted:
        wanted = wanted.split(";", 1)[0].strip()
        for fmt in offered:
            if wanted in media_types(fmt):
                return fmt
        return None
    for fmt in offered:
        if wanted == fmt.file_extension or wanted in _ALIASES.get(fmt, ((), ()))[1]:
            return fmt
    return None


def choose(accept: str | None, offered: Sequence[Format], overrides: Iterable[str] = ()) -> Format | None:
    """The format to answer in, or None when the client accepts none of `offered` (a 406).

    An override naming an offered format wins (unknown override values are ignored, never an error);
    then the Accept header decides, with ties going to the earlier entry of `offered`; no Accept
    header means the first offered format.
    """
    for override in overrides:
        chosen = by_name(override, offered)
        if chosen is not None:
            return chosen
    if not accept or not accept.strip():
        return offered[0] if offered else None
    if len(accept) <= ACCEPT_KEPT_LENGTH:
        return _chosen_by_accept(accept, tuple(offered))
    return _chosen_by_accept.__wrapped__(accept, tuple(offered))


ACCEPT_KEPT_LENGTH = 512  # clients send a handful of distinct Accept headers; longer ones are not kept


@functools.lru_cache(maxsize=512)
def _chosen_by_accept(accept: str, offered: tuple[Format, ...]) -> Format | None:
    """The Accept header's choice among `offered` (parsing and matching cost more than the query on a lookup)."""
    parsed = accepted(accept)
    if not parsed:
        # An Accept header we cannot read at all is treated like no header, as HTTP allows.
        return offered[0] if offered else None
    named = dict(parsed)
    best, best_quality = None, 0.0
    for fmt in offered:
        canonical, *aliases = media_types(fmt)
        # An alias counts only when named: text/* asks for a text format, not for XML results as text/xml.
        quality = max([parsed.quality(canonical)] + [named[alias] for alias in aliases if alias in named])
        if quality > best_quality:
            best, best_quality = fmt, quality
    return best


def accepted(accept: str) -> MIMEAccept:
    """The Accept header's media ranges and qualities, without their other parameters.

    Every textual answer here is UTF-8 and no format offered comes in variants a parameter would choose,
    so `text/turtle; charset=utf-8` or a JSON-LD `profile` asks for the format itself (kept, they made
    Werkzeug match nothing: a 406).
    """
    return MIMEAccept([(value.split(";", 1)[0].strip().lower(), quality)
                       for value, quality in parse_accept_header(accept, MIMEAccept)])


def for_page(accept: str | None, offered: Sequence[RdfFormat], override: str | None = None) -> RdfFormat | str | None:
    """What a page with an RDF form answers in: "html", an offered RdfFormat, or None (a 406 or 404).

    An explicit override (a `?format=` value or a file suffix such as `ttl`, `owl`, `jsonld`) decides
    alone; without one, browsers get HTML and other clients the Accept header's choice.
    """
    if override:
        return "html" if override.strip().lower() == "html" else by_name(override, offered)
    if prefers_html(accept, offered):
        return "html"
    return choose(accept, offered)


def prefers_html(accept: str | None, offered: Sequence[RdfFormat | QueryResultsFormat]) -> bool:
    """True when the client (a browser) ranks text/html above every machine format offered."""
    if not accept:
        return False
    parsed = accepted(accept)
    # Only an explicit text/html counts: `*/*` alone is what curl and most libraries send.
    html = max((quality for value, quality in parsed if value in ("text/html", "application/xhtml+xml")),
               default=0)
    if html <= 0:
        return False
    machine = max((parsed.quality(m) for fmt in offered for m in media_types(fmt) if m != "text/plain"), default=0)
    return html >= machine
