"""Benchmark /sparql: the example queries over HTTP (granian as `migkg serve` runs it, 1 and 8 clients) against rdflib in memory and
raw in-process pyoxigraph (the floor), on the real data and on a generated graph of about a million triples.

    .venv/bin/python benchmarks/sparql_endpoint.py [--seconds 1] [--requests 100] [--synthetic 1000000]

Loopback only; every measurement is bounded by a request count and a time budget, and each rdflib query
runs in a forked child that is killed when it exceeds its budget.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from pyoxigraph import Literal, NamedNode, Quad, QueryResultsFormat, QueryTriples, RdfFormat, Store

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from migkg.catalogue import execute, load_catalogue  # noqa: E402
from migkg.config import Settings  # noqa: E402
from migkg.namespaces import ID, MIG, ORG, PREFIXES, RDF, RDFS, SOURCE, STATE, INFERRED_GRAPH  # noqa: E402
from migkg.serving import server_command  # noqa: E402
from migkg.stats import summary  # noqa: E402
from migkg.store import open_read_only, publish  # noqa: E402

ACCEPT = "application/sparql-results+json, text/turtle;q=0.9"


@dataclass
class Example:
    slug: str
    text: str

    @property
    def is_graph(self) -> bool:
        return "CONSTRUCT" in self.text.upper() or "DESCRIBE" in self.text.upper()


@dataclass
class Figures:
    requests: int
    seconds: float
    latencies: list[float]
    failure: str = ""

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else math.nan

    @property
    def p95(self) -> float:
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def examples(settings: Settings) -> list[Example]:
    """The catalogue's queries with their default parameters bound (the same text for all three engines)."""
    return [Example(query.slug, query.bound_text()) for query in load_catalogue(settings.queries_dir).values()]


def measure(call, clients: int, max_requests: int, seconds: float) -> Figures:
    """Run `call` from `clients` threads until `max_requests` are done or `seconds` have passed."""
    latencies: list[float] = []
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + seconds
    issued = [0]
    failure = [""]

    def client():
        while True:
            with lock:
                if issued[0] >= max_requests or time.perf_counter() > deadline or failure[0]:
                    return
                issued[0] += 1
            begin = time.perf_counter()
            try:
                call()
            except Exception as error:  # a benchmark reports, it does not stop
                with lock:
                    failure[0] = str(error)[:120]
                return
            with lock:
                latencies.append(time.perf_counter() - begin)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Figures(len(latencies), time.perf_counter() - started, latencies, failure[0])


# --- the three ways of answering --------------------------------------------------------------

def start_server(store_path: Path, workers: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, MIGKG_STORE=str(store_path))
    server = subprocess.Popen(server_command("127.0.0.1", port, workers, access_log=False), env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/sparql"
    for _ in range(300):
        try:
            # One query per server worker would be ideal to warm the pools; a few cover both in practice.
            for _ in range(workers * 2):
                requests.get(url, params={"query": "ASK {}"}, timeout=60)
            return server, url
        except requests.ConnectionError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not start")


def http_call(url: str, example: Example):
    local = threading.local()

    def call():
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        response = session.get(url, params={"query": example.text}, headers={"Accept": ACCEPT}, timeout=120)
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text.strip()[:90]}")
        return response.content

    return call


def raw_call(store: Store, example: Example):
    def call():
        result = execute(store, example.text)
        if isinstance(result, QueryTriples):
            return result.serialize(format=RdfFormat.TURTLE)
        return result.serialize(format=QueryResultsFormat.JSON)

    return call


def rdflib_dataset(store: Store):
    from rdflib import Dataset

    dataset = Dataset(default_union=True)
    dataset.parse(data=store.dump(format=RdfFormat.N_QUADS), format="nquads")
    return dataset


def _rdflib_child(dataset, example: Example, repetitions: int, pipe) -> None:
    latencies: list[float] = []
    try:
        for _ in range(repetitions):
            begin = time.perf_counter()
            result = dataset.query(example.text, initNs=PREFIXES)
            result.serialize(format="turtle" if example.is_graph else "json")
            latencies.append(time.perf_counter() - begin)
            pipe.send(("ok", latencies))
    except Exception as error:  # rdflib rejects some queries pyoxigraph answers; report, do not crash
        pipe.send(("error", f"rdflib: {type(error).__name__}"))
    pipe.close()


def rdflib_measure(dataset, example: Example, repetitions: int, budget: float) -> Figures:
    """rdflib cannot be interrupted, so each query runs in a forked child (the graph is shared copy-on-write)."""
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe(duplex=False)
    child = context.Process(target=_rdflib_child, args=(dataset, example, repetitions, theirs))
    started = time.perf_counter()
    child.start()
    theirs.close()
    latencies: list[float] = []
    failure = ""
    while True:
        remaining = budget - (time.perf_counter() - started)
        if remaining <= 0:
            failure = f"over {budget:g} s"
            break
        if not ours.poll(remaining):
            continue
        try:
            kind, payload = ours.recv()
        except EOFError:
            break
        if kind == "error":
            failure = payload
            break
        latencies = payload
        if len(latencies) >= repetitions:
            break
    if child.is_alive():
        os.kill(child.pid, signal.SIGKILL)
    child.join()
    if child.exitcode not in (0, -signal.SIGKILL) and not latencies:
        failure = failure or f"rdflib failed (exit {child.exitcode})"
    return Figures(len(latencies), sum(latencies), latencies, failure if not latencies else "")


# --- the generated graph ----------------------------------------------------------------------

def synthetic_store(real: Store, target: int, directory: Path) -> tuple[Path, int]:
    """The real data plus generated processes with memberships of the real states, about `target` quads."""
    quads = list(real)
    states = sorted({q.subject.value for q in real.quads_for_pattern(None, NamedNode(RDF + "type"),
                                                                    NamedNode(MIG + "State"), None)})
    states = [s for s in states if s.startswith(STATE)] or [f"{STATE}X{i:02d}" for i in range(200)]
    per_membership = 6
    members = 40
    processes = max(1, (target - len(quads)) // (members * per_membership + 4))
    rdf_type, label = NamedNode(RDF + "type"), NamedNode(RDFS + "label")
    kinds = [NamedNode(MIG + k) for k in ("RegionalConsultativeProcess", "InterregionalForum", "GlobalProcess")]
    consultation = NamedNode(MIG + "ConsultationProcess")
    membership_class = NamedNode(ORG + "Membership")
    member, organization, role = NamedNode(ORG + "member"), NamedNode(ORG + "organization"), NamedNode(ORG + "role")
    has_member, member_of = NamedNode(MIG + "hasMember"), NamedNode(MIG + "memberOf")
    roles = [NamedNode(ID + f"role/{r}") for r in ("member", "observer", "chair", "secretariat")]
    for p in range(processes):
        process = NamedNode(f"{ID}synthetic-process-{p}")
        section = NamedNode(f"{SOURCE}synthetic#s{p % 200}")
        quads += [Quad(process, rdf_type, kinds[p % 3], section), Quad(process, rdf_type, consultation, INFERRED_GRAPH),
                  Quad(process, label, Literal(f"Synthetic process {p}", language="en"), section),
                  Quad(process, NamedNode(MIG + "establishedIn"), Literal(str(1990 + p % 35)), section)]
        for m in range(members):
            state = NamedNode(states[(p * 7 + m * 13) % len(states)])
            node = NamedNode(f"{ID}synthetic-membership-{p}-{m}")
            quads += [Quad(node, rdf_type, membership_class, section), Quad(node, member, state, section),
                      Quad(node, organization, process, section), Quad(node, role, roles[m % 4 if m < 4 else 0], section),
                      Quad(process, has_member, state, INFERRED_GRAPH), Quad(state, member_of, process, INFERRED_GRAPH)]
    # with the summary a build writes: the remote engine names the published graphs from it
    publish(directory / "store", quads, {"build_id": f"synthetic-{len(quads)}"},
            describe=lambda store: {"summary": summary(store)})
    return directory / "store", len(quads)


# --- the run ----------------------------------------------------------------------------------

def ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else math.nan


def geometric_mean(values: list[float]) -> float:
    values = [v for v in values if v and not math.isnan(v) and v > 0]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else math.nan


def run_dataset(name: str, store_path: Path, queries: list[Example], args) -> None:
    store = open_read_only(store_path).store
    print(f"\n=== {name}: {len(store)} quads, {len(queries)} example queries ===", flush=True)
    started = time.perf_counter()
    dataset = rdflib_dataset(store)
    print(f"rdflib: loaded {len(dataset)} triples in memory in {time.perf_counter() - started:.1f} s", flush=True)
    server, url = start_server(store_path, args.workers)
    header = (f"{'query':34} {'http1 p50':>9} {'p95':>7} {'req/s':>7} | {'http8 p50':>9} {'p95':>7} {'req/s':>7} | "
              f"{'raw p50':>8} {'raw1/s':>7} {'raw8/s':>7} | {'rdflib p50':>10} | {'http/raw':>8} {'rdflib/http':>11} "
              f"{'http8/raw8':>10}")
    print(header)
    print("-" * len(header))
    over_raw, rdflib_over_http, throughput_share = [], [], []
    try:
        for example in queries:
            http1 = measure(http_call(url, example), 1, args.requests, args.seconds)
            if http1.failure:
                # Refused by the endpoint (time limit or caps): in-process engines cannot be stopped, so skip them.
                print(f"{example.slug[:34]:34} HTTP refused: {http1.failure}", flush=True)
                continue
            http8 = measure(http_call(url, example), 8, args.requests, args.seconds)
            raw1 = measure(raw_call(store, example), 1, args.requests, args.seconds)
            raw8 = measure(raw_call(store, example), 8, args.requests, args.seconds)
            lib = rdflib_measure(dataset, example, args.rdflib_repetitions, args.rdflib_budget)
            a, b, c = ratio(http1.p50, raw1.p50), ratio(lib.p50, http1.p50), ratio(http8.throughput, raw8.throughput)
            over_raw.append(a)
            rdflib_over_http.append(b)
            throughput_share.append(c)
            lib_text = f"{lib.p50 * 1000:9.1f}ms" if lib.latencies else f"{lib.failure or 'failed':>10}"
            print(f"{example.slug[:34]:34} {http1.p50 * 1000:7.1f}ms {http1.p95 * 1000:5.1f}ms {http1.throughput:7.1f} | "
                  f"{http8.p50 * 1000:7.1f}ms {http8.p95 * 1000:5.1f}ms {http8.throughput:7.1f} | "
                  f"{raw1.p50 * 1000:6.2f}ms {raw1.throughput:7.1f} {raw8.throughput:7.1f} | {lib_text} | "
                  f"{a:8.2f} {b:11.1f} {c:10.2f}", flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    print(f"geometric means — HTTP(1 client) p50 / raw pyoxigraph p50: {geometric_mean(over_raw):.2f}×; "
          f"rdflib p50 / HTTP p50: {geometric_mean(rdflib_over_http):.1f}× (rdflib slower when > 1); "
          f"HTTP(8 clients) req/s / raw pyoxigraph(8 threads) req/s: {geometric_mean(throughput_share):.2f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time budget of one measurement")
    parser.add_argument("--requests", type=int, default=100, help="most requests in one measurement")
    parser.add_argument("--synthetic", type=int, default=1_000_000, help="quads in the generated graph (0: skip)")
    parser.add_argument("--workers", type=int, default=2, help="server workers (as `migkg serve`)")
    parser.add_argument("--rdflib-repetitions", type=int, default=5)
    parser.add_argument("--rdflib-budget", type=float, default=20.0, help="seconds rdflib may spend on one query")
    parser.add_argument("--skip-real", action="store_true", help="only the generated graph")
    args = parser.parse_args()
    # A terminated benchmark still stops its server (the `finally` in run_dataset).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    settings = Settings()
    queries = examples(settings)
    print(f"{os.cpu_count()} CPUs; {args.workers} server workers with {settings.query_workers} query processes "
          f"each; measurements bounded by {args.requests} requests / {args.seconds:g} s")
    if not args.skip_real:
        run_dataset("real data", settings.store_path, queries, args)
    if args.synthetic:
        with tempfile.TemporaryDirectory(prefix="migkg-bench-") as tmp:
            started = time.perf_counter()
            path, count = synthetic_store(open_read_only(settings.store_path).store, args.synthetic, Path(tmp))
            print(f"\ngenerated {count} quads into {path} in {time.perf_counter() - started:.1f} s")
            run_dataset("generated graph", path, queries, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
