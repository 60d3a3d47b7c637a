"""Draw the reproducible audit sample of data statements (issue 12's re-audit).

Every quad of `data/*.trig` is a candidate except those in the sources graph (source and section
descriptions) and the curators' reference graph (general knowledge, not filed under a source). A
uniform sample over all candidate quads is weighted by graph size. Quads are sorted by their
N-Quads form first so that the draw does not depend on parser or file order.

Usage: python data/audit/sample.py [N] [SEED]  (defaults 100, 2026) -> data/audit/2026-11-29-sample.tsv
"""
import csv
import random
import sys
from pathlib import Path

from pyoxigraph import RdfFormat, parse

DATA = Path(__file__).resolve().parent.parent
EXCLUDED_GRAPHS = {
    "https://w3id.org/migkg/graph/sources",
    "https://w3id.org/migkg/graph/curators-reference",
}


def candidate_quads():
    quads = set()
    for path in sorted(DATA.glob("*.trig")):
        if path.name == "sources.trig":
            continue
        with path.open("rb") as handle:
            for quad in parse(handle, format=RdfFormat.TRIG, base_iri="https://w3id.org/migkg/"):
                if quad.graph_name.value in EXCLUDED_GRAPHS:
                    continue
                quads.add((str(quad.subject), str(quad.predicate), str(quad.object), str(quad.graph_name)))
    return sorted(quads)


def main():
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 2026
    population = candidate_quads()
    sample = random.Random(seed).sample(population, size)
    out = DATA / "audit" / "2026-11-29-sample.tsv"
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["n", "subject", "predicate", "object", "graph"])
        for number, row in enumerate(sample, 1):
            writer.writerow([number, *row])
    print(f"{len(population)} candidate statements; wrote {size} (seed {seed}) to {out}")


if __name__ == "__main__":
    main()
