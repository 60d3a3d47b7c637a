"""Load a finished migkg build into a remote SPARQL engine with the SPARQL 1.1 Graph Store HTTP Protocol.

Every named graph is replaced by PUT (N-Triples written by pyoxigraph), large graphs in chunks (the first
chunk PUT, the rest POSTed, blank nodes never split across chunks), then the triples per graph are
counted on the engine's query endpoint and compared with the local store, and only then is the
build-metadata graph written, last, so that a failed publish leaves it describing the last complete one.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

import requests
from pyoxigraph import (BlankNode, Literal, NamedNode, QueryResultsFormat, RdfFormat, Store, Triple,
                        parse_query_results, serialize)

from migkg.backend import BUILD_GRAPH, UNION_GRAPH
from migkg.store import MANIFEST, OXIGRAPH_DIR

MIGKG_ONTOLOGY = "https://w3id.org/migkg/ontology#"
BUILD_BASE = "https://w3id.org/migkg/build/"
RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
DCT_IDENTIFIER = NamedNode("http://purl.org/dc/terms/identifier")
DCT_CREATED = NamedNode("http://purl.org/dc/terms/created")
XSD_DATETIME = NamedNode("http://www.w3.org/2001/XMLSchema#dateTime")
MIG_BUILD = NamedNode(MIGKG_ONTOLOGY + "Build")
MIG_MANIFEST = NamedNode(MIGKG_ONTOLOGY + "manifest")

USER_VARIABLE = "MIGKG_PUBLISH_USER"
PASSWORD_VARIABLE = "MIGKG_PUBLISH_PASSWORD"

# Virtuoso refuses or stalls on very large Graph Store bodies; 20 000 N-Triples lines stay a few MB.
CHUNK_TRIPLES = 20_000
REQUEST_TIMEOUT = 300  # seconds per HTTP request
N_TRIPLES = "application/n-triples"

COUNT_PER_GRAPH = """
SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g
"""


class PublishError(RuntimeError):
    """Publishing failed; `graph` names the graph that failed (None for a failure before any graph)."""

    def __init__(self, message: str, graph: str | None = None):
        super().__init__(message)
        self.graph = graph


@dataclass
class PublishReport:
    build_id: str
    graphs: int
    triples: int
    requests: int
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)


def publish(build_dir: Path, query_url: str, graph_store_url: str | None = None,
            auth: tuple[str, str] | requests.auth.AuthBase | None = None, union_graph: bool = True) -> PublishReport:
    """Load the build in `build_dir` (build.json beside oxigraph/) into the engine at `query_url`.

    `graph_store_url` defaults to the engine's usual Graph Store address for its query URL (see
    `default_graph_store_url`). `auth` is (user, password) or a requests auth object; when None, the
    credentials come from MIGKG_PUBLISH_USER / MIGKG_PUBLISH_PASSWORD if set. With (user, password),
    digest or basic authentication is chosen from the endpoint's challenge.
    """
    started = time.monotonic()
    build_dir = Path(build_dir)
    manifest_path = build_dir / MANIFEST
    if not manifest_path.is_file() or not (build_dir / OXIGRAPH_DIR).is_dir():
        raise PublishError(f"{build_dir} is not a finished migkg build (no {MANIFEST} beside {OXIGRAPH_DIR}/)")
    manifest_text = manifest_path.read_text(encoding="utf-8")
    manifest = json.loads(manifest_text)
    store = Store.read_only(str(build_dir / OXIGRAPH_DIR))
    graph_store_url = graph_store_url or default_graph_store_url(query_url, auth is not None or _env_credentials() is not None)

    session = requests.Session()
    session.auth = _resolve_auth(session, graph_store_url, auth)
    graphs = sorted((graph for graph in store.named_graphs() if graph.value != BUILD_GRAPH), key=lambda g: g.value)
    expected: dict[str, int] = {}
    request_count = 0
    for graph in graphs:
        triples = [quad.triple for quad in store.quads_for_pattern(None, None, None, graph)]
        expected[graph.value] = len(triples)
        request_count += _replace_graph(session, graph_store_url, graph.value, triples)

    counts = remote_counts(session, query_url)
    wrong = {g: (n, counts.get(g, 0)) for g, n in expected.items() if counts.get(g, 0) != n}
    if wrong:
        graph, (local, remote) = next(iter(sorted(wrong.items())))
        others = f" and {len(wrong) - 1} more graphs" if len(wrong) > 1 else ""
        raise PublishError(f"graph {graph} has {remote} triples on the engine, {local} in the build{others}; "
                           "the build-metadata graph was not written", graph=graph)
    # The union graph: every distinct published triple, the default graph of the remote backend's queries.
    # Without it (`union_graph=False`: a peer benchmark querying the engine's own default graph) migkg's
    # remote backend refuses the engine.
    union: list[Triple] = []
    if union_graph:
        union = list(dict.fromkeys(quad.triple for graph in graphs
                                   for quad in store.quads_for_pattern(None, None, None, graph)))
        request_count += _replace_graph(session, graph_store_url, UNION_GRAPH, union)
        if remote_counts(session, query_url).get(UNION_GRAPH, 0) != len(union):
            raise PublishError(f"the union graph {UNION_GRAPH} did not arrive whole; the build-metadata graph was "
                               "not written", graph=UNION_GRAPH)
        expected[UNION_GRAPH] = len(union)

    metadata = build_metadata(manifest, manifest_text)
    request_count += _replace_graph(session, graph_store_url, BUILD_GRAPH, metadata)
    if remote_counts(session, query_url).get(BUILD_GRAPH, 0) != len(metadata):
        raise PublishError(f"the build-metadata graph {BUILD_GRAPH} did not arrive whole", graph=BUILD_GRAPH)
    expected[BUILD_GRAPH] = len(metadata)
    return PublishReport(manifest["build_id"], len(graphs), sum(expected.values()) - len(metadata) - len(union),
                         request_count, time.monotonic() - started, expected)


def build_metadata(manifest: dict, manifest_text: str) -> list[Triple]:
    """The triples of the build-metadata graph: identity, creation time and the whole manifest as JSON."""
    build_id = manifest["build_id"]
    build = NamedNode(BUILD_BASE + build_id)
    return [
        Triple(build, RDF_TYPE, MIG_BUILD),
        Triple(build, DCT_IDENTIFIER, Literal(build_id)),
        Triple(build, DCT_CREATED, Literal(manifest["built_at"], datatype=XSD_DATETIME)),
        Triple(build, MIG_MANIFEST, Literal(manifest_text)),
    ]


def default_graph_store_url(query_url: str, authenticated: bool) -> str:
    """Where an engine serves the Graph Store Protocol, guessed from its query URL.

    Oxigraph server: `/query` → `/store`. Virtuoso: `/sparql` → `/sparql-graph-crud-auth` (with
    credentials) or `/sparql-graph-crud`. Any other engine: pass the Graph Store URL explicitly.
    """
    parts = urlsplit(query_url)
    path = parts.path.rstrip("/")
    if path.endswith("/query"):
        path = path[: -len("/query")] + "/store"
    elif path.endswith("/sparql"):
        path += "-graph-crud-auth" if authenticated else "-graph-crud"
    else:
        raise PublishError(f"cannot tell the Graph Store address for {query_url}: give it with --graph-store")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def remote_counts(session: requests.Session, query_url: str) -> dict[str, int]:
    """Triples per named graph on the engine, read with pyoxigraph's results parser."""
    try:
        response = session.post(query_url, data={"query": COUNT_PER_GRAPH}, timeout=REQUEST_TIMEOUT,
                                headers={"Accept": "application/sparql-results+json"}, auth=None)
    except requests.RequestException as error:
        raise PublishError(f"could not count the triples at {query_url}: {unreachable(error)}") from error
    if response.status_code != 200:
        raise PublishError(f"counting the triples at {query_url} failed: HTTP {response.status_code} "
                           f"{response.text[:300]}")
    solutions = parse_query_results(response.content, format=QueryResultsFormat.JSON)
    return {solution["g"].value: int(solution["n"].value) for solution in solutions
            if isinstance(solution["g"], NamedNode)}


def chunks(triples: list[Triple], size: int | None = None) -> Iterator[list[Triple]]:
    """Split a graph into chunks of about `size` triples; triples sharing a blank node stay together.

    Each request's blank nodes are fresh on the engine, so a blank node split over two requests would
    become two nodes. Triples are grouped into blank-node-connected components (union-find), and
    components are packed into chunks (one component larger than `size` makes one larger chunk).
    """
    size = size or CHUNK_TRIPLES  # read at call time, so a caller (or a test) can lower it
    if len(triples) <= size:
        yield triples
        return
    parent: dict[BlankNode, BlankNode] = {}

    def find(node: BlankNode) -> BlankNode:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for triple in triples:
        nodes = [term for term in (triple.subject, triple.object) if isinstance(term, BlankNode)]
        for node in nodes[1:]:
            parent[find(node)] = find(nodes[0])
        for node in nodes[:1]:
            find(node)
    components: dict[BlankNode, list[Triple]] = {}
    chunk: list[Triple] = []
    for triple in triples:
        node = next((t for t in (triple.subject, triple.object) if isinstance(t, BlankNode)), None)
        if node is None:
            chunk.append(triple)
            if len(chunk) >= size:
                yield chunk
                chunk = []
        else:
            components.setdefault(find(node), []).append(triple)
    for component in components.values():
        chunk.extend(component)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def unreachable(error: requests.RequestException) -> str:
    """Why a request got no answer, in a few words (requests' own message nests three exceptions' texts)."""
    if isinstance(error, requests.Timeout):
        return f"did not answer within {REQUEST_TIMEOUT} s"
    if isinstance(error, requests.ConnectionError):
        reason = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(error))
        return f"could not be reached ({reason.group(1).strip() if reason else 'the connection failed'})"
    return f"could not be asked: {error}"


def _replace_graph(session: requests.Session, graph_store_url: str, graph: str, triples: list[Triple]) -> int:
    """Replace `graph` on the engine with `triples`: PUT the first chunk, POST the others. Returns requests made."""
    sent = 0
    for index, chunk in enumerate(chunks(triples) if triples else [[]]):
        body = serialize(chunk, format=RdfFormat.N_TRIPLES)
        method = session.put if index == 0 else session.post
        try:
            response = method(graph_store_url, params={"graph": graph}, data=body, timeout=REQUEST_TIMEOUT,
                              headers={"Content-Type": N_TRIPLES + "; charset=utf-8"})
        except requests.RequestException as error:
            raise PublishError(f"graph {graph} failed: {graph_store_url} {unreachable(error)}", graph=graph) from error
        sent += 1
        if response.status_code not in (200, 201, 204):
            raise PublishError(f"graph {graph} failed: {'PUT' if index == 0 else 'POST'} answered HTTP "
                               f"{response.status_code} {_short(response.text)}", graph=graph)
    return sent


def _env_credentials() -> tuple[str, str] | None:
    user = os.environ.get(USER_VARIABLE)
    if not user:
        return None
    return user, os.environ.get(PASSWORD_VARIABLE, "")


def _resolve_auth(session: requests.Session, graph_store_url: str,
                  auth: tuple[str, str] | requests.auth.AuthBase | None) -> requests.auth.AuthBase | None:
    """A requests auth object for the Graph Store endpoint: digest if it challenges with Digest, else basic."""
    if isinstance(auth, requests.auth.AuthBase):
        return auth
    credentials = auth if auth is not None else _env_credentials()
    if credentials is None:
        return None
    user, password = credentials
    try:
        probe = session.get(graph_store_url, params={"graph": BUILD_GRAPH}, timeout=30,
                            headers={"Accept": N_TRIPLES})
    except requests.RequestException as error:
        raise PublishError(f"the Graph Store endpoint {graph_store_url} {unreachable(error)}") from error
    challenge = probe.headers.get("WWW-Authenticate", "")
    if probe.status_code != 401:
        return requests.auth.HTTPBasicAuth(user, password)
    chosen = (requests.auth.HTTPDigestAuth(user, password) if challenge.lower().startswith("digest")
              else requests.auth.HTTPBasicAuth(user, password))
    # A second small request with the credentials: it fails early and plainly on wrong credentials, and it
    # primes the digest nonce, so that large PUT bodies carry the Authorization header on their first send
    # (Virtuoso answers a big unauthenticated body with a 401 that requests cannot replay).
    checked = session.get(graph_store_url, params={"graph": BUILD_GRAPH}, timeout=30, auth=chosen,
                          headers={"Accept": N_TRIPLES})
    if checked.status_code in (401, 403):
        raise PublishError(f"the Graph Store endpoint {graph_store_url} refused the credentials of user "
                           f"{user!r} (HTTP {checked.status_code})")
    return chosen


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


PUBLISHED_MANIFEST = f"""
SELECT ?manifest WHERE {{ GRAPH <{BUILD_GRAPH}> {{ ?build a <{MIG_BUILD.value}> ; <{MIG_MANIFEST.value}> ?manifest }} }}
"""


def published_build(query_url: str, session: requests.Session | None = None) -> dict | None:
    """The manifest of the build last published to the engine (from the build-metadata graph), or None."""
    session = session or requests.Session()
    response = session.post(query_url, data={"query": PUBLISHED_MANIFEST}, timeout=REQUEST_TIMEOUT,
                            headers={"Accept": "application/sparql-results+json"})
    response.raise_for_status()
    solutions = list(parse_query_results(response.content, format=QueryResultsFormat.JSON))
    if not solutions:
        return None
    return json.loads(solutions[0]["manifest"].value)
