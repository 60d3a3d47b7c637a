"""The cheap paths of an uncached query: form bodies decoded in C, and texts sent on untokenized.

Each must give exactly what the general path gives: Werkzeug's `parse_qsl` for form bodies, the
tokenizer's verdict (SERVICE refused, FROM honoured) for query texts.
"""

from __future__ import annotations

import random
from urllib.parse import parse_qsl, quote_plus, unquote_to_bytes, urlencode

import pytest
from pyoxigraph import NamedNode
from werkzeug.exceptions import BadRequest

from migkg.backend import Dataset, QueryRejected, prepare
from migkg.sparql_lexer import may_name, shape
from webapp.form_parsing import parse_form

QUERY = "PREFIX mig: <https://w3id.org/migkg/ontology#>\nSELECT ?s WHERE { ?s a mig:State } # ü ☃ \\ %"
ALPHABET = ["a", "Z", "0", "%", "%2", "%41", "%4G", "%C3", "%A9", "%FF", "%e2%98%83", "+", "&", "=", "\\", "\\x41",
            "\\u00e9", " ", "é", "\x00", "%00", ";", "&&", "=="]


def werkzeug_pairs(body: bytes) -> list[tuple[str, str]]:
    return parse_qsl(body.decode(), keep_blank_values=True, errors="werkzeug.url_quote")


@pytest.mark.parametrize("body", [
    urlencode({"query": QUERY}).encode(),
    urlencode([("query", QUERY), ("default-graph-uri", "http://example.org/g?a=1&b=2")]).encode(),
    b"query=%3Fs&&flag&empty=&=value&a=b=c",
    b"query=caf%C3%A9+%E2%98%83",
    b"query=back\\slash\\x41\\n",
    b"",
])
def test_form_bodies_read_as_werkzeug_reads_them(body):
    assert parse_form(body) == werkzeug_pairs(body)


@pytest.mark.parametrize("body", [b"query=100%", b"query=%zz", b"query=%4", "query=café".encode()])
def test_bodies_the_fast_decoder_cannot_read_exactly_go_to_werkzeug(body):
    assert parse_form(body) is None


def test_random_bodies_match_werkzeug():
    """Werkzeug's pairs, or a 400 where its decoding kept escapes that are not UTF-8 as the text "%FF"."""
    rng = random.Random(20261130)
    checked = refused = 0
    for _ in range(20000):
        body = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 30))).encode()
        try:
            pairs = parse_form(body)
        except BadRequest:
            strict = [(unquote_to_bytes(name.replace(b"+", b" ")), unquote_to_bytes(value.replace(b"+", b" ")))
                      for name, _, value in (field.partition(b"=") for field in body.split(b"&") if field)]
            with pytest.raises(UnicodeDecodeError):
                [(name.decode(), value.decode()) for name, value in strict]
            refused += 1
            continue
        if pairs is not None:
            assert pairs == werkzeug_pairs(body), body
            checked += 1
    assert checked > 1000 and refused > 100  # both paths are exercised, so the comparison means something


@pytest.mark.parametrize("body", [b"query=%FF%FE+bad+utf8", b"query=caf%E9", b"qu%FFery=ASK{}"])
def test_percent_escapes_that_are_not_utf8_are_refused_not_kept_as_text(body):
    with pytest.raises(BadRequest, match="not valid UTF-8"):
        parse_form(body)


@pytest.mark.parametrize("url, status", [("/sparql?query=ASK%7B%7D%20%23%FF", 400), ("/sparql?query=ASK%7B%7D%20%23%E9", 400),
                                         ("/sparql?query=ASK%7B%7D%20%23%C3%A9", 200), ("/sparql?query=ASK{}%20%23%", 200),
                                         ("/sparql?query=ASK{}%20%23%zz", 200)])
def test_a_url_whose_escapes_are_not_utf8_is_refused(client, url, status):
    """Werkzeug reads such bytes in a URL as U+FFFD: a literal in the query would silently match nothing."""
    response = client.get(url, headers={"Accept": "application/json"})
    assert response.status_code == status, response.data
    if status == 400:
        assert "not valid UTF-8" in response.get_json()["message"]


def test_the_app_reads_form_posts_through_the_fast_parser(client):
    text = "SELECT (STR(?x) AS ?v) WHERE { BIND(\"a+b %41 ☃\" AS ?x) }"
    response = client.post("/sparql", data="query=" + quote_plus(text),
                           headers={"Content-Type": "application/x-www-form-urlencoded",
                                    "Accept": "application/sparql-results+json"})
    assert response.status_code == 200
    assert response.get_json()["results"]["bindings"][0]["v"]["value"] == "a+b %41 ☃"
    malformed = client.post("/sparql", data="query=SELECT+*+WHERE+%7B%7D+%23+100%",
                            headers={"Content-Type": "application/x-www-form-urlencoded",
                                     "Accept": "application/sparql-results+json"})
    assert malformed.status_code == 200  # Werkzeug's parser keeps a stray "%" as it is
    unescaped = client.post("/sparql", data='query=SELECT ("☃ b" AS ?v) WHERE {}'.encode(),
                            headers={"Content-Type": "application/x-www-form-urlencoded",
                                     "Accept": "application/sparql-results+json"})
    assert unescaped.get_json()["results"]["bindings"][0]["v"]["value"] == "☃ b"  # raw UTF-8: Werkzeug reads it
    not_utf8 = client.post("/sparql", data=b"query=SELECT * WHERE { ?s ?p '\xff' }",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert not_utf8.status_code == 400 and b"not valid UTF-8" in not_utf8.data


@pytest.mark.parametrize("text", [
    "SELECT * WHERE { ?s ?p ?o }",
    "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }",
    "select * where { service <http://example.org/sparql> { ?s ?p ?o } }",
    "SELECT * FROM <http://example.org/g> WHERE { ?s ?p ?o }",
    "SELECT * WHERE { ?s ?p 'SERVICE' } # FROM",
    "SELECT * WHERE { ?s <http://example.org/from> ?o }",
    "SELECT * WHERE { ?s ?p ?o . ſervice <http://example.org/> { } }",  # "ſ".upper() == "S"
    "SELECT * WHERE { ?s ?p ?o . FİLTER(true) }",
    "SELECT * WHERE { ?s ?p \"unterminated }",
    "ASK { ?s ?p ?o . FROM }",
    "# a query from the catalogue\nSELECT * WHERE { ?s ?p ?o }",
    "\t # from here\r\nSELECT * WHERE { ?s ?p ?o }",
    "SELECT * WHERE { ?s ?p ?o } # from a comment after code",
    "SELECT * WHERE { ?s ?p \"\"\"long\n# FROM <http://example.org/g> \"\"\" }",
    "SELECT * WHERE { ?s ?p \"a\u2028# x\" } \n# FROM",
    "SELECT (\"a\u2028# x\" AS ?x) FROM <http://example.org/g> WHERE { ?s ?p ?o }",
    "SELECT * WHERE { ?s ?p ?o }\n\u00a0# FROM <http://example.org/g>",
    "SELECT * WHERE { ?s ?p ?o }\n# comment\nFROM <http://example.org/g>",
])
def test_untokenized_texts_are_exactly_those_the_tokenizer_clears(text):
    """A text skips the tokenizer only if the tokenizer would find no SERVICE and no FROM in it."""
    if may_name(text, ("SERVICE", "FROM")):
        return
    try:
        found = shape(text)
    except ValueError:
        return  # unreadable: sent on as it is, the engine answers the syntax error (a 400 too, below)
    assert not found.uses_service and not found.has_dataset_clause


def test_untokenized_syntax_errors_are_still_400(client):
    response = client.get("/sparql", query_string={"query": 'SELECT * WHERE { ?s ?p "unterminated }'},
                          headers={"Accept": "application/sparql-results+json"})
    assert response.status_code == 400
    assert b"Syntax error in the query" in response.data


def test_prepare_still_refuses_service_and_honours_from():
    with pytest.raises(QueryRejected) as refused:
        prepare("SELECT * WHERE { SeRvIcE <http://example.org/sparql> { ?s ?p ?o } }", None, None)
    assert refused.value.status == 400
    assert prepare("SELECT * FROM <http://example.org/g> WHERE { ?s ?p ?o }", None, None)[1] is False
    assert prepare("SELECT * WHERE { ?s ?p ?o }", None, None) == ("SELECT * WHERE { ?s ?p ?o }", True)
    assert prepare("SELECT * WHERE { ?s ?p ?o }", None, Dataset(("http://example.org/g",), ()))[1] is False
    bound, _ = prepare("SELECT * WHERE { ?s ?p ?o }", {"s": NamedNode("http://example.org/x")}, None)
    assert "VALUES (?s) { (<http://example.org/x>) }" in bound


def test_random_texts_never_skip_what_the_tokenizer_finds():
    rng = random.Random(13)
    words = ["SELECT", "*", "WHERE", "{", "}", "?s", "?p", "?o", "SERVICE", "service", "FROM", "from", "NAMED",
             "<http://example.org/service>", "'from'", "# service\n", "GRAPH", "ſervice", "Service", ".", "fr", "om",
             "\n", "\r", "#", "\n#", "\t#", '"""', "\'\'\'", "'", '"', "\u2028", "\u00a0", "<", ">"]
    for _ in range(20000):
        text = rng.choice([" ", ""]).join(rng.choice(words) for _ in range(rng.randint(1, 16)))
        if may_name(text, ("SERVICE", "FROM")):
            continue
        try:
            found = shape(text)
        except ValueError:
            continue  # unreadable text: the engine reports the syntax error
        assert not found.uses_service and not found.has_dataset_clause, text


def test_a_declared_body_over_the_cap_is_refused_in_the_same_words_as_a_chunked_one(client, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post("/sparql", data=b"query=" + b"x" * limit,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert f"larger than {limit} bytes" in response.get_data(as_text=True)
