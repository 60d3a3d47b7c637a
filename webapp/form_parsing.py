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


def _unquote_plus(raw: bytes) -> str:
    # After doubling the backslashes, the only escapes escape_decode sees are the `\xNN` made of `%NN`.
    escaped = raw.replace(b"+", b" ").replace(b"\\", b"\\\\").replace(b"%", b"\\x")
    # "werkzeug.url_quote" (registered by werkzeug.urls, which Flask imports) is the handler Werkzeug uses.
    return codecs.escape_decode(escaped)[0].decode("utf-8", "werkzeug.url_quote")


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
