"""How many web workers and query workers `migkg serve` should start: each configuration measured on this machine.

    .venv/bin/python benchmarks/workers.py [--seconds 5] [--configurations 1x2,2x1,2x2,3x1,4x1]

A configuration WxQ is W web server workers (`--workers`) with Q query worker processes each
(MIGKG_QUERY_WORKERS). Each is driven with wrk by the peer benchmark's three mixes (repeated
lookups, repeated example queries, cold examples with random parameters) at 1 and 8 clients; the
report is one Markdown table of requests/s. The example mix is measured after a warm-up pass,
as in the peer benchmark (whose engines have each answered every example once before the runs). Run it on a quiet machine: other load shifts every figure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from peers import (LOOKUPS, MIXES, cold_queries, example_queries, settle, wait_http, write_bodies,  # noqa: E402
                   wrk)

from migkg import peers  # noqa: E402
from migkg.config import Settings  # noqa: E402
from migkg.namespaces import sparql_prologue  # noqa: E402
from migkg.store import current_build  # noqa: E402


def serve(store_path: Path, web: int, query: int, stack: ExitStack) -> tuple[str, int]:
    port = peers.free_port()
    process = subprocess.Popen([str(ROOT / ".venv/bin/migkg"), "serve", "--port", str(port), "--workers", str(web)],
                               cwd=ROOT, env=dict(os.environ, MIGKG_STORE=str(store_path),
                                                  MIGKG_QUERY_WORKERS=str(query)),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stack.callback(peers._stop, process)
    url = f"http://127.0.0.1:{port}/sparql"
    wait_http(url, process)
    return url, process.pid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=lambda text: [int(c) for c in text.split(",")], default=[1, 8])
    parser.add_argument("--configurations", default="1x2,2x1,2x2,3x1,4x1")
    args = parser.parse_args()
    settings = Settings()
    build_dir = current_build(settings.store_path)
    examples = example_queries(settings)
    mixes = {"lookups": [sparql_prologue() + text for text in LOOKUPS], "examples": list(examples.values()),
             "cold": cold_queries(build_dir / "oxigraph", settings, set(examples), 20_000)}
    configurations = [tuple(int(n) for n in item.split("x")) for item in args.configurations.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="migkg-workers-") as work:
        bodies = {mix: write_bodies(texts, Path(work), mix) for mix, texts in mixes.items()}
        # A slice of the cold pool per client count: within one server's run no cold text is sent twice.
        size = len(mixes["cold"]) // len(args.clients)
        cold_bodies = {clients: write_bodies(mixes["cold"][n * size:(n + 1) * size], Path(work), f"cold-{clients}")
                       for n, clients in enumerate(args.clients)}
        for web, query in configurations:
            with ExitStack() as stack:
                url, pid = serve(settings.store_path, web, query, stack)
                wrk(url, bodies["examples"], 8, 2 * args.seconds)  # warm-up: every worker meets each example
                cells = []
                for mix in MIXES:
                    for clients in args.clients:
                        settle([pid])
                        rate, bad, _ = wrk(url, cold_bodies[clients] if mix == "cold" else bodies[mix], clients,
                                           args.seconds)
                        cells.append(f"{rate:,.0f}" + (f" ({bad} failed)" if bad else ""))
                        print(f"{web}x{query} {mix:8} {clients:2} clients: {rate:8.1f} req/s", file=sys.stderr)
                rows.append(f"| {web} × {query} | " + " | ".join(cells) + " |")
    header = " | ".join(f"{mix} {clients}c" for mix in MIXES for clients in args.clients)
    print(f"| web × query workers | {header} |")
    print("|---|" + "---:|" * (len(MIXES) * len(args.clients)))
    print("\n".join(rows))
    print(f"\nload average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
