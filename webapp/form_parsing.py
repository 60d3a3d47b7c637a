"""Form bodies (`application/x-www-form-urlencoded`) decoded in C: a SPARQL query arrives as one.

A form-encoded query escapes every space, brace, `?`, `:`, `/`, `<` and `>`: a 3 KB query carries
about 370 `%XX` escapes. Werkzeug decodes them with `urllib.parse.parse_qsl`, one Python step per
escape (0.2 ms per query, a fifth of the app's own time on an uncached query). Here `codecs.escape_decode`
does the same in C. Only for bodies it can read exactly as `parse_qsl` would: ASCII and every `%`
followed by two hex digits; any other body goes to Werkzeug's parser unchanged.
"""

from __future__ import annotations

import codecs
import io
import re

from flask import Request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.formparser import FormDataParser

_MALFORMED_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_NON_ASCII_ESCAPE = re.compile(r"%[89A-Fa-f][0-9A-Fa-f]")
NOT_UTF8 = ("The {where} is not valid UTF-8 once percent-decoded ({error}); send the query percent-encoded as "
            "UTF-8 (other encodings would change its text without a word).")


def _unquote_plus(raw: bytes, where: str = "form body") -> str:
    # After doubling the backslashes, the only escapes escape_decode sees are the `\xNN` made of `%NN`.
    escaped = raw.replace(b"+", b" ").replace(b"\\", b"\\\\").replace(b"%", b"\\x")
    try:
        return codecs.escape_decode(escaped)[0].decode("utf-8")
    except UnicodeDecodeError as error:
        # Werkzeug keeps such bytes as the text "%FF" (forms) or U+FFFD (URLs): a literal in the query would
        # silently match nothing, or a broken escape read as a syntax error.
        raise BadRequest(NOT_UTF8.format(where=where, error=error.reason)) from None


def require_utf8_url(query_string: str) -> None:
    """A 400 for a URL query string whose percent-escapes or raw bytes are not UTF-8 (WSGI gives it as latin-1)."""
    if query_string.isascii() and not _NON_ASCII_ESCAPE.search(query_string):
        return
    raw = query_string.encode("latin-1", "replace")
    if _MALFORMED_ESCAPE.search(raw):
        raw = _MALFORMED_ESCAPE.sub(b"%25", raw)  # a lone `%` is kept as text, as Werkzeug does
    _unquote_plus(raw, "URL's query string")


def parse_form(body: bytes) -> list[tuple[str, str]] | None:
    """The (name, value) pairs `parse_qsl(body.decode(), keep_blank_values=True)` gives, or None if the
    body needs the general parser (not ASCII, or a `%` that starts no escape)."""
    if not body.isascii() or _MALFORMED_ESCAPE.search(body):
        return None
    pairs = []
    for field in body.split(b"&"):
        if not field:
            continue
        name, _, value = field.partition(b"=")
        pairs.append((_unquote_plus(name), _unquote_plus(value)))
    return pairs


class FastFormDataParser(FormDataParser):
    def _parse_urlencoded(self, stream, mimetype, content_length, options):
        # Werkzeug's own method reads the whole (already length-limited) stream too.
        body = stream.read()
        pairs = parse_form(body)
        if pairs is None:
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                # Werkzeug's parser would give an empty form, and the query would look missing.
                raise BadRequest("The form body is not valid UTF-8; send the query percent-encoded as UTF-8.") from None
            return super()._parse_urlencoded(io.BytesIO(body), mimetype, content_length, options)
        return stream, self.cls(pairs), self.cls()


def read_form(request: Request) -> MultiDict:
    """A form body's fields: decoded from the body directly (Werkzeug's parser takes twice as long to reach
    FastFormDataParser), or by Werkzeug when the body needs the general parser. The body stays readable."""
    pairs = parse_form(request.get_data(cache=True))
    return request.form if pairs is None else MultiDict(pairs)


class AppRequest(Request):
    """The app's request: Flask's, with form bodies read by FastFormDataParser."""

    form_data_parser_class = FastFormDataParser
