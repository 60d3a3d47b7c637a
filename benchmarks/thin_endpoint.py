"""The thinnest HTTP endpoint over pyoxigraph: migkg's server command line, a bare WSGI function, the query in process.

No Flask, no protocol checks, no caches, no isolation, no limits: a form-encoded `query` is run on the build
(copied into memory when migkg would copy it) and its answer written as SPARQL JSON or Turtle. It is the
ceiling an HTTP endpoint in Python reaches on this machine, to read migkg's own cost against (benchmarks/peers.py).
"""

import os
from pathlib import Path
from urllib.parse import parse_qs

from pyoxigraph import QueryBoolean, QueryResultsFormat, QuerySolutions, RdfFormat, Store, serialize

from migkg.config import Settings
from migkg.engines.query_pool import quads_to_copy
from migkg.store import copy_into_memory, current_build, union_options

_build = current_build(Path(os.environ["MIGKG_STORE"]))
store = Store.read_only(str(_build / "oxigraph"))
union = union_options(store)
if quads_to_copy(str(_build), Settings().in_memory_quads, 0) is not None:
    store = copy_into_memory(store)


def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    query = parse_qs(environ["wsgi.input"].read(length).decode())["query"][0]
    result = store.query(query, **union)
    if isinstance(result, (QuerySolutions, QueryBoolean)):
        body, media_type = result.serialize(format=QueryResultsFormat.JSON), "application/sparql-results+json"
    else:
        body, media_type = serialize(result, format=RdfFormat.TURTLE), "text/turtle"
    start_response("200 OK", [("Content-Type", media_type), ("Content-Length", str(len(body)))])
    return [body]
