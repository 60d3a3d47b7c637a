"""The peer benchmark (issue 13): migkg serve against Virtuoso 7, the Oxigraph server, raw pyoxigraph, a
static-response floor of the same web stack, the thinnest HTTP endpoint over pyoxigraph and rdflib, on the
same build, at 1, 8 and 32 clients.

    .venv/bin/python benchmarks/peers.py [--seconds 3] [--generated 1000000]

Starts every engine on loopback with migkg.peers, publishes the build into Virtuoso and the Oxigraph
server with migkg.publish, drives the HTTP servers with wrk (keep-alive, a Lua request mix) and the
in-process engines with threads in a separate process, and prints one Markdown report.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import multiprocessing
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import requests
from pyoxigraph import QueryResultsFormat, QuerySolutions, parse_query_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from migkg import peers  # noqa: E402
from migkg.catalogue import bind_parameters, execute, load_catalogue  # noqa: E402
from migkg.config import Settings  # noqa: E402
from migkg.namespaces import sparql_prologue  # noqa: E402
from migkg.publish import publish  # noqa: E402
from migkg.serving import server_command  # noqa: E402
from migkg.engines.query_pool import quads_to_copy  # noqa: E402
from migkg.store import copy_into_memory, current_build, union_options  # noqa: E402

ACCEPT = "application/sparql-results+json, text/turtle;q=0.9"
CLIENTS = (1, 8, 32)
MIXES = ("lookups", "examples", "cold")
LOOKUPS = [
    "SELECT ?p ?o WHERE { <https://w3id.org/migkg/id/iom> ?p ?o }",
    "SELECT ?label WHERE { <https://w3id.org/migkg/id/state/THA> rdfs:label ?label }",
    "ASK { <https://w3id.org/migkg/id/bali-process> ?p ?o }",
]
RAW = "raw pyoxigraph (threads)"
RAW_MEMORY = "raw pyoxigraph in memory (threads)"  # a build small enough for migkg's in-memory copy
THIN = "thin endpoint (granian, bare WSGI, pyoxigraph in process)"
RDFLIB_BUDGET = 20.0  # seconds an in-process command may overrun before its process is killed


# --- the queries ------------------------------------------------------------------------------

def example_queries(settings: Settings) -> dict[str, str]:
    """Every example query, its default parameters bound, with migkg's prefixes in the text (peers know none)."""
    return {slug: sparql_prologue() + query.bound_text()
            for slug, query in load_catalogue(settings.queries_dir).items()}


CANDIDATES = "SELECT DISTINCT ?x WHERE { ?default a ?type . ?x a ?type FILTER(isIRI(?x)) }"


def cold_queries(store_dir: Path, settings: Settings, slugs: set[str], count: int, seed: int = 13) -> list[str]:
    """`count` texts, no two alike: parameterised examples with random values of the default's types.

    Each text also starts with a numbered comment, so a cache keyed on the text misses even when two
    draws pick the same values.
    """
    from pyoxigraph import NamedNode, Store

    store = Store.read_only(str(store_dir))
    pools = {}
    for slug, query in load_catalogue(settings.queries_dir).items():
        if slug not in slugs or not query.parameters:
            continue
        choices = {}
        for parameter in query.parameters:
            if isinstance(parameter.default, NamedNode):
                found = [row["x"] for row in execute(store, bind_parameters(CANDIDATES, {"default": parameter.default}))]
                choices[parameter.name] = found or [parameter.default]
        pools[slug] = (query, choices)
    del store
    rng = random.Random(seed)
    texts = []
    slugs_with_pools = sorted(pools)
    for number in range(count):
        query, choices = pools[rng.choice(slugs_with_pools)]
        values = {name: str(rng.choice(pool)) for name, pool in choices.items()}
        texts.append(f"# cold {number}\n" + sparql_prologue() + query.bound_text(values))
    return texts


# --- the engines ------------------------------------------------------------------------------

@dataclass
class Target:
    name: str
    url: str | None = None  # an HTTP endpoint driven by wrk
    pid: int | None = None  # the process tree whose peak RSS is reported
    worker: "InProcess | None" = None
    figures: dict = field(default_factory=dict)  # (mix, clients) -> req/s
    latency: dict = field(default_factory=dict)  # slug -> (p50, p95) seconds
    peak_rss: float = math.nan  # MiB


def peak_rss_mib(pid: int) -> float:
    """Sum of the peak resident sizes (VmHWM) of a process and its descendants, in MiB."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry.name))
            except (OSError, IndexError):
                continue
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def tree_cpu_seconds(pids: list[int]) -> float:
    """CPU time used so far by these processes and their descendants."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            stats[int(entry.name)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    ticks, todo = 0, list(pids)
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        if current in stats:
            ticks += int(stats[current][11]) + int(stats[current][12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def settle(pids: list[int], limit: float = 60.0) -> float:
    """Wait until the engines are idle (< 5 % of a core over 0.5 s): a server may still be answering
    queries whose clients the previous run abandoned, which would slow the next target down."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = tree_cpu_seconds(pids)
        time.sleep(0.5)
        if tree_cpu_seconds(pids) - before < 0.025:
            break
    return time.monotonic() - started


def wait_http(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            if requests.post(url, data={"query": "ASK {}"}, timeout=30).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def start_migkg(store_path: Path, stack: ExitStack, backend: str = "", name: str = "migkg serve") -> Target:
    """`migkg serve` with its defaults: the embedded store, or the engine `backend` (a MIGKG_BACKEND value)."""
    port = peers.free_port()
    process = subprocess.Popen([str(ROOT / ".venv/bin/migkg"), "serve", "--port", str(port)], cwd=ROOT,
                               env=dict(os.environ, MIGKG_STORE=str(store_path), MIGKG_BACKEND=backend),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stack.callback(peers._stop, process)
    url = f"http://127.0.0.1:{port}/sparql"
    wait_http(url, process)
    return Target(name, url, process.pid)


def start_web_stack(stack: ExitStack, application: str, name: str, store_path: Path | None = None) -> Target:
    """granian with the arguments `migkg serve` uses, serving a WSGI `application` of benchmarks/."""
    port = peers.free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    if store_path is not None:
        env["MIGKG_STORE"] = str(store_path)
    process = subprocess.Popen(server_command("127.0.0.1", port, 2, application=application),
                               cwd=ROOT / "benchmarks", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stack.callback(peers._stop, process)
    url = f"http://127.0.0.1:{port}/sparql"
    wait_http(url, process)
    return Target(name, url, process.pid)


def _serve_in_process(kind: str, store_dir: str, pipe) -> None:
    """A worker process holding one in-process engine; answers commands from the benchmark over a pipe."""
    if kind.startswith("pyoxigraph"):
        from pyoxigraph import QueryResultsFormat, QueryTriples, RdfFormat, Store

        store = Store.read_only(store_dir)
        union = union_options(store)  # the union of the graphs read as migkg reads it
        if kind == "pyoxigraph-memory":
            store = copy_into_memory(store)  # as migkg's query workers hold a small build

        def run(text: str, deadline: float = math.inf) -> bool:
            result = store.query(text, **union)
            if isinstance(result, QueryTriples):
                result.serialize(format=RdfFormat.TURTLE)
            else:
                result.serialize(format=QueryResultsFormat.JSON)
            return True
    else:
        from pyoxigraph import RdfFormat, Store, serialize
        from rdflib import Dataset

        dataset = Dataset(default_union=True)
        source = Store.read_only(store_dir)
        named = (quad for graph in source.named_graphs() for quad in source.quads_for_pattern(None, None, None, graph))
        dataset.parse(data=serialize(named, format=RdfFormat.N_QUADS), format="nquads")  # not the union's copy
        # rdflib's SPARQL parser is not thread-safe: two concurrent queries leave it answering TypeError to
        # every later query. One query at a time, as a threaded web app over rdflib would have to.
        serial = threading.Lock()

        def run(text: str, deadline: float = math.inf) -> bool:
            with serial:
                if time.perf_counter() > deadline:
                    return False  # queued behind the lock past the end of the run: not part of it
                result = dataset.query(text)
                result.serialize(format="turtle" if result.type in ("CONSTRUCT", "DESCRIBE") else "json")
            return True
    pipe.send(("ready", None))
    while True:
        command, arguments = pipe.recv()
        if command == "throughput":
            texts, clients, seconds = arguments
            done, errors = [0], [0]
            lock = threading.Lock()
            deadline = time.perf_counter() + seconds

            def client(offset: int) -> None:
                index = offset * 7919
                while time.perf_counter() < deadline:
                    try:
                        if run(texts[index % len(texts)], deadline):
                            with lock:
                                done[0] += 1
                    except Exception:
                        with lock:
                            errors[0] += 1
                    index += 1

            started = time.perf_counter()
            threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            # Queries still running at the deadline finish and count: the rate is completions / elapsed.
            pipe.send(("ok", (done[0], errors[0], time.perf_counter() - started)))
        elif command == "latency":
            text, repetitions, seconds = arguments
            latencies, deadline = [], time.perf_counter() + seconds
            try:
                while len(latencies) < repetitions and time.perf_counter() < deadline:
                    begin = time.perf_counter()
                    run(text)
                    latencies.append(time.perf_counter() - begin)
                pipe.send(("ok", latencies))
            except Exception as error:
                pipe.send(("error", type(error).__name__))
        elif command == "stop":
            return


class InProcess:
    """An in-process engine (raw pyoxigraph or rdflib) in its own spawned process, restarted when it overruns."""

    def __init__(self, kind: str, store_dir: Path):
        self.kind, self.store_dir = kind, str(store_dir)
        self.context = multiprocessing.get_context("spawn")
        self.start()

    def start(self) -> None:
        self.pipe, theirs = self.context.Pipe()
        self.process = self.context.Process(target=_serve_in_process, args=(self.kind, self.store_dir, theirs))
        self.process.start()
        if not self.pipe.poll(600):
            raise RuntimeError(f"{self.kind} did not load")
        self.pipe.recv()

    def call(self, command: str, arguments, budget: float):
        self.pipe.send((command, arguments))
        if self.pipe.poll(budget):
            return self.pipe.recv()
        self.process.kill()  # an uninterruptible query: end it, report the overrun, start afresh
        self.process.join()
        self.start()
        return ("overrun", None)

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


# --- measuring --------------------------------------------------------------------------------

def write_bodies(texts: list[str], directory: Path, name: str) -> Path:
    path = directory / f"{name}.bodies"
    path.write_text("".join(urlencode({"query": text}) + "\n" for text in texts), encoding="utf-8")
    return path


def wrk(url: str, bodies: Path, clients: int, seconds: float) -> tuple[float, int, float]:
    """Requests/s, non-2xx responses, and the load generator's own CPU use (cores) during the run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    output = subprocess.run(["wrk", "-t", str(min(2, clients)), "-c", str(clients), "-d", f"{max(1, round(seconds))}s",
                             "--timeout", "30s", "-s", str(ROOT / "benchmarks/mix.lua"), url, "--", str(bodies)],
                            capture_output=True, text=True, timeout=seconds + 120).stdout
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / wall
    rate = next((float(line.split()[1]) for line in output.splitlines() if line.startswith("Requests/sec:")), math.nan)
    bad = sum(int(line.split(":")[1]) for line in output.splitlines() if line.strip().startswith("Non-2xx"))
    return rate, bad, cpu


def http_latency(url: str, text: str, repetitions: int, seconds: float) -> list[float] | str:
    """Seconds per POST of `text` over one keep-alive connection.

    The client is http.client (one syscall each way): `requests` alone takes about 1.7 ms per call, more
    than a cached answer of any server here, which would hide what the servers differ in.
    """
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    body = urlencode({"query": text})
    headers = {"Accept": ACCEPT, "Content-Type": "application/x-www-form-urlencoded"}
    latencies = []
    deadline = time.perf_counter() + seconds
    try:
        while len(latencies) < repetitions and time.perf_counter() < deadline:
            begin = time.perf_counter()
            try:
                connection.request("POST", parts.path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
            except TimeoutError:
                return "no answer in 60 s"  # a peer stuck on one query is a finding, not the end of the run
            except (OSError, http.client.HTTPException):
                connection.close()  # the server closed the connection: open another one
                continue
            if response.status != 200:
                return f"HTTP {response.status}"
            latencies.append(time.perf_counter() - begin)
    finally:
        connection.close()
    return latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))] if ordered else math.nan


def geometric_mean(values) -> float:
    values = [v for v in values if v and not math.isnan(v) and v > 0]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else math.nan


def answered_everywhere(targets: list[Target], examples: dict[str, str]) -> tuple[dict[str, str], dict[str, list[str]],
                                                                                 list[str]]:
    """The examples every HTTP peer answers with 200 (the fair common set), who refused the others, and where a
    peer's SELECT answer has another number of rows than the first target's (a wrong answer is no speed)."""
    refused: dict[str, list[str]] = {}
    differ: list[str] = []
    for slug, text in examples.items():
        rows: dict[str, int] = {}
        for target in targets:
            if target.url and not target.name.startswith("static"):
                response = requests.post(target.url, data={"query": text}, headers={"Accept": ACCEPT}, timeout=120)
                if response.status_code != 200:
                    refused.setdefault(slug, []).append(f"{target.name}: {response.status_code}")
                elif response.headers.get("Content-Type", "").startswith("application/sparql-results+json"):
                    result = parse_query_results(response.content, format=QueryResultsFormat.JSON)
                    if isinstance(result, QuerySolutions):
                        rows[target.name] = sum(1 for _ in result)
        if len(set(rows.values())) > 1:
            differ.append(f"`{slug}`: " + ", ".join(f"{name} {count}" for name, count in rows.items()))
    return {slug: text for slug, text in examples.items() if slug not in refused}, refused, differ


# --- the run ----------------------------------------------------------------------------------

def run(build_dir: Path, store_path: Path, settings: Settings, args, label: str) -> str:
    work = Path(tempfile.mkdtemp(prefix="migkg-peers-"))
    lines = []
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, work, True)
        targets: list[Target] = []
        started = time.monotonic()
        virtuoso = stack.enter_context(peers.virtuoso(work / "virtuoso"))
        # No union graph: the peers answer over their own default graph (all graphs), each statement once.
        report = publish(build_dir, virtuoso.query_url, virtuoso.graph_store_url, auth=virtuoso.credentials,
                         union_graph=False)
        lines.append(f"- published {report.triples:,} triples in {report.graphs} graphs: Virtuoso {report.seconds:.1f} s")
        oxigraph = stack.enter_context(peers.oxigraph(work / "oxigraph-server"))
        report = publish(build_dir, oxigraph.query_url, oxigraph.graph_store_url, union_graph=False)
        lines[-1] += f", Oxigraph server {report.seconds:.1f} s"
        # migkg on the seam's other side: the same build published to a second Oxigraph server (with the
        # union graph, without --union-default-graph, as the remote backend expects), queried through it.
        behind = stack.enter_context(peers.oxigraph(work / "oxigraph-behind-migkg", union_default_graph=False))
        publish(build_dir, behind.query_url, behind.graph_store_url)
        targets.append(start_migkg(store_path, stack))
        targets.append(start_migkg(store_path, stack, backend=f"sparql:{behind.query_url}",
                                   name="migkg serve → Oxigraph server"))
        targets.append(Target("Virtuoso 7", virtuoso.query_url, virtuoso.pid))
        targets.append(Target("Oxigraph server", oxigraph.query_url, oxigraph.pid))
        targets.append(start_web_stack(stack, "static_floor:app", "static floor (granian+Flask)"))
        # The ceiling of an HTTP endpoint in Python: the query in the web process, nothing else.
        targets.append(start_web_stack(stack, "thin_endpoint:app", THIN, store_path))
        raw = [("pyoxigraph", RAW), ("pyoxigraph-memory", RAW_MEMORY), ("rdflib", "rdflib in memory (threads)")]
        for kind, name in raw:
            if kind.split("-")[0] in args.skip:
                continue
            if kind == "pyoxigraph-memory" and quads_to_copy(str(build_dir), settings.in_memory_quads, 0) is None:
                continue  # migkg reads this build from disk too
            worker = InProcess(kind, build_dir / "oxigraph")
            stack.callback(worker.stop)
            targets.append(Target(name, worker=worker, pid=worker.process.pid))
        lines.append(f"- engines started and loaded in {time.monotonic() - started:.0f} s")

        examples, refused, differ = answered_everywhere(targets, example_queries(settings))
        for slug, who in sorted(refused.items()):
            lines.append(f"- left out of the mixes (refused by a peer): `{slug}` ({'; '.join(who)})")
        for difference in differ:
            lines.append(f"- **rows differ** (default parameters): {difference}")
        mixes = {
            "lookups": [sparql_prologue() + text for text in LOOKUPS],
            "examples": list(examples.values()),
            "cold": cold_queries(build_dir / "oxigraph", settings, set(examples), args.cold_pool),
        }
        bodies = {mix: write_bodies(texts, work, mix) for mix, texts in mixes.items()}
        # The cold mix is only cold if no text is sent twice: each cell (repetition × clients) gets a slice of
        # the pool of its own, the same slice for every target. One file for all cells would let the cells
        # after the first resend texts migkg's caches already hold (wrk's threads start at the same offsets).
        cold_cells = [(repetition, clients) for repetition in range(args.repetitions) for clients in args.clients]
        cold_size = len(mixes["cold"]) // len(cold_cells)
        cold_slices = {cell: mixes["cold"][number * cold_size:(number + 1) * cold_size]
                       for number, cell in enumerate(cold_cells)}
        cold_bodies = {cell: write_bodies(texts, work, f"cold-{cell[0]}-{cell[1]}") for cell, texts in cold_slices.items()}
        wrk_cpu = []

        # Interleaved: each cell runs every target once per repetition, so drift hits all alike.
        for repetition in range(args.repetitions):
            for mix in MIXES:
                for clients in args.clients:
                    for target in targets:
                        settle([t.worker.process.pid if t.worker else t.pid for t in targets])
                        cold = mix == "cold"
                        if target.url:
                            texts = cold_bodies[(repetition, clients)] if cold else bodies[mix]
                            rate, bad, cpu = wrk(target.url, texts, clients, args.seconds)
                            wrk_cpu.append(cpu)
                            if bad and not target.name.startswith("static"):
                                rate = math.nan if bad > rate * args.seconds / 2 else rate
                            if cold and target.name.startswith("migkg") and rate * args.seconds > cold_size:
                                lines.append(f"- {target.name}, cold mix at {clients} clients: about "
                                             f"{rate * args.seconds:,.0f} requests for {cold_size:,} distinct texts, so "
                                             "some were repeats; raise --cold-pool")
                        else:
                            limit = args.seconds + (RDFLIB_BUDGET if "rdflib" in target.name else 30)
                            texts = cold_slices[(repetition, clients)] if cold else mixes[mix]
                            kind, payload = target.worker.call("throughput", (texts, clients, args.seconds), limit)
                            rate = payload[0] / payload[2] if kind == "ok" and payload[1] <= payload[0] else math.nan
                            bad = payload[1] if kind == "ok" else 0
                        target.figures.setdefault((mix, clients), []).append(rate)
                        print(f"[{label}] {target.name:32} {mix:8} {clients:2} clients: {rate:9.1f} req/s"
                              + (f" ({bad} failed)" if bad else ""), file=sys.stderr)

        # Single-client latency per query.
        queries = {f"lookup-{n + 1}": text for n, text in enumerate(mixes["lookups"])} | examples
        for target in targets:
            if target.name.startswith("static"):
                continue
            for slug, text in queries.items():
                if target.url:
                    result = http_latency(target.url, text, args.latency_requests, args.latency_seconds)
                else:
                    kind, result = target.worker.call("latency", (text, args.latency_requests, args.latency_seconds),
                                                      args.latency_seconds + 5)
                    result = result if kind == "ok" else (kind if kind != "error" else "error")
                target.latency[slug] = ((percentile(result, 0.5), percentile(result, 0.95))
                                        if isinstance(result, list) and result else (math.nan, math.nan))
        for target in targets:
            target.peak_rss = peak_rss_mib(target.worker.process.pid if target.worker else target.pid)
        lines.append("- load average (1 min) at the end: %.1f on %d CPUs: other work on the machine inflates every "
                     "figure alike; compare within a table, not across runs" % (os.getloadavg()[0], os.cpu_count()))
        lines.append(f"- wrk's own CPU: median {statistics.median(wrk_cpu):.2f} cores, max {max(wrk_cpu):.2f} "
                     f"(of 2; the servers share the same 2 cores)")
        return render(label, targets, queries, lines, args)


def median_rate(target: Target, mix: str, clients: int) -> float:
    values = [v for v in target.figures.get((mix, clients), []) if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def fmt(value: float, digits: int = 0) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def render(label: str, targets: list[Target], queries: dict[str, str], notes: list[str], args) -> str:
    out = [f"### {label}", ""] + notes + [""]
    header = "| server | " + " | ".join(f"{mix} {c}" for mix in MIXES for c in args.clients) + " | peak RSS MiB |"
    out += ["Throughput, requests/s (median of the repetitions):", "", header,
            "|---|" + "---:|" * (len(MIXES) * len(args.clients) + 1)]
    for target in targets:
        out.append(f"| {target.name} | " + " | ".join(fmt(median_rate(target, mix, c)) for mix in MIXES
                                                      for c in args.clients) + f" | {fmt(target.peak_rss)} |")
    for reference in ("Virtuoso 7", RAW, RAW_MEMORY, THIN):
        base = next((t for t in targets if t.name == reference), None)
        if base is None:
            continue
        out += ["", f"Throughput as a multiple of {reference}:", "", header.replace(" | peak RSS MiB |", " |"),
                "|---|" + "---:|" * (len(MIXES) * len(args.clients))]
        for target in targets:
            if target is base:
                continue
            out.append(f"| {target.name} | " + " | ".join(
                fmt(median_rate(target, mix, c) / median_rate(base, mix, c), 2) for mix in MIXES
                for c in args.clients) + " |")
    measured = [t for t in targets if t.latency]
    out += ["", "Single client, p50 / p95 in ms per query:", "",
            "| query | " + " | ".join(t.name for t in measured) + " |", "|---|" + "---:|" * len(measured)]
    for slug in queries:
        out.append(f"| {slug} | " + " | ".join(
            f"{fmt(t.latency[slug][0] * 1000, 1)} / {fmt(t.latency[slug][1] * 1000, 1)}" for t in measured) + " |")
    out.append("| **geometric mean p50** | " + " | ".join(
        fmt(geometric_mean([t.latency[s][0] * 1000 for s in queries]), 2) for t in measured) + " |")
    return "\n".join(out) + "\n"


def generated_build(settings: Settings, target: int, directory: Path) -> tuple[Path, Path]:
    """A ~`target`-statement build (the real data plus generated processes and memberships) for --generated."""
    from pyoxigraph import Store

    from sparql_endpoint import synthetic_store

    real = Store.read_only(str(current_build(settings.store_path) / "oxigraph"))
    store_path, _ = synthetic_store(real, target, directory)
    build_dir = current_build(store_path)
    manifest = json.loads((build_dir / "build.json").read_text(encoding="utf-8"))
    manifest.setdefault("built_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    (build_dir / "build.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return build_dir, store_path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each wrk / thread run")
    parser.add_argument("--repetitions", type=int, default=1, help="interleaved repetitions (median reported)")
    parser.add_argument("--clients", type=lambda text: [int(c) for c in text.split(",")], default=list(CLIENTS))
    parser.add_argument("--latency-requests", type=int, default=30)
    parser.add_argument("--latency-seconds", type=float, default=2.0)
    parser.add_argument("--cold-pool", type=int, default=30_000,
                        help="distinct texts in the cold mix, split between its cells (no text is sent twice)")
    parser.add_argument("--generated", type=int, default=0, help="also run on a generated graph of about N statements")
    parser.add_argument("--generated-only", action="store_true", help="with --generated: skip the real data")
    parser.add_argument("--skip", nargs="*", default=[], choices=["rdflib", "pyoxigraph"])
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    for program in ("wrk",):
        if not shutil.which(program):
            print(f"{program} is missing: `make system-deps` installs it", file=sys.stderr)
            return 2
    settings = Settings()
    build_dir = current_build(settings.store_path)
    report = [f"## Peer benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs", ""]
    if not (args.generated and args.generated_only):
        report.append(run(build_dir, settings.store_path, settings, args, "Real data"))
    if args.generated:
        with tempfile.TemporaryDirectory(prefix="migkg-generated-") as directory:
            generated_dir, store_path = generated_build(settings, args.generated, Path(directory))
            report.append(run(generated_dir, store_path, settings, args, f"Generated graph (~{args.generated:,} statements)"))
    text = "\n".join(report)
    print(text)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
