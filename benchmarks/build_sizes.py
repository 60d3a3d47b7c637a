"""Benchmark `migkg build` step by step (seconds and peak memory) on the seed data and on generated data.

    .venv/bin/python benchmarks/build_sizes.py                          # the seed data, cold DL check
    .venv/bin/python benchmarks/build_sizes.py --statements 1000000     # about 1 M statements after inference
    .venv/bin/python benchmarks/build_sizes.py --statements 1000000 --profile /tmp/build.prof

The generated input is the real data plus one synthetic source document whose sections hold generated
consultation processes with memberships of the real states and treaty actions on the real instruments: TriG
files that satisfy the shapes and the provenance model (every statement in a described source section's
graph). The build is the real `migkg.build.build` with `Settings` pointing at a temporary project, with an
empty DL-check cache (cold) unless `--warm`.

Memory: a sampler thread reads the resident set (VmRSS) of this process and, separately, of its child
processes together (HermiT's child and JVM, the store loaders, the dump writer; the forked ones share most
pages with this process, so that sum over-counts) every 20 ms and keeps each step's maximum; `ru_maxrss`
(whole-run peak of this process) is printed as a cross-check.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from pyoxigraph import Literal, NamedNode, Quad, RdfFormat, serialize

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from migkg.build import build  # noqa: E402
from migkg.config import Settings  # noqa: E402
from migkg.namespaces import DCTERMS, ID, MIG, ORG, RDF, RDFS, SOURCE, SOURCES_GRAPH, STATE, XSD  # noqa: E402
from migkg.reference import country_quads  # noqa: E402
from migkg.sources import rdf_files, read_inputs  # noqa: E402

# How many statements the build holds per generated data statement (ontology, shapes, reference and the
# inferred graph come on top); measured on a generated build, used only to size the input.
BUILD_PER_DATA_STATEMENT = 2.0
PER_SECTION = 40  # generated processes per source section


def generate(project: Path, statements: int) -> int:
    """Copy the ontology and the real data into `project`; add generated data up to about `statements`
    statements in the finished build. Returns the number of generated data statements."""
    shutil.copytree(ROOT / "ontology", project / "ontology")
    shutil.copytree(ROOT / "data", project / "data", ignore=shutil.ignore_patterns("audit"))
    real = read_inputs(ROOT / "ontology", ROOT / "data", ROOT / "ontology" / "shapes.ttl")
    seed_total = len(real.ontology) + len(real.shapes) + len(real.data) + len(list(country_quads()))
    wanted = int(max(0, statements - seed_total * 1.3) / BUILD_PER_DATA_STATEMENT)
    if wanted <= 0:
        return 0
    states = sorted({q.subject.value for q in country_quads()
                     if q.predicate.value == RDF + "type" and q.object.value == MIG + "State"})
    instruments = sorted({q.subject.value for q in real.data if q.predicate.value == MIG + "actionOn"} |
                         {q.object.value for q in real.data if q.predicate.value == MIG + "actionOn"
                          and isinstance(q.object, NamedNode)})
    instruments = [i for i in instruments if "/treaty-action/" not in i] or [ID + "refugee-protocol-1967"]
    # Generated actions come after their instrument's adoption (the build refuses any dated before it).
    adopted = {}
    for q in real.data:
        if q.predicate.value == MIG + "adoptedOn" and q.subject.value in instruments:
            adopted[q.subject.value] = max(adopted.get(q.subject.value, 0), int(q.object.value[:4]))
    rdf_type, label = NamedNode(RDF + "type"), NamedNode(RDFS + "label")
    kinds = [NamedNode(MIG + k) for k in ("RegionalConsultativeProcess", "InterregionalForum", "GlobalProcess")]
    roles = [NamedNode(ID + f"role/{r}") for r in ("member", "member", "member", "observer", "participant")]
    membership = NamedNode(ORG + "Membership")
    action_types = [NamedNode(ID + f"treaty-action-type/{t}") for t in ("signature", "ratification", "accession")]
    document = NamedNode(SOURCE + "synthetic")
    quads = [Quad(document, rdf_type, NamedNode(MIG + "SourceDocument"), SOURCES_GRAPH),
             Quad(document, label, Literal("Generated benchmark data", language="en"), SOURCES_GRAPH),
             Quad(document, NamedNode(DCTERMS + "title"), Literal("Generated benchmark data", language="en"),
                  SOURCES_GRAPH),
             Quad(document, NamedNode(MIG + "localFile"), Literal("synthetic.txt"), SOURCES_GRAPH)]
    count, process = 0, 0
    while count < wanted:
        if process % PER_SECTION == 0:
            section = NamedNode(f"{SOURCE}synthetic#s{process // PER_SECTION}")
            quads += [Quad(section, rdf_type, NamedNode(MIG + "SourceSection"), SOURCES_GRAPH),
                      Quad(section, NamedNode(DCTERMS + "isPartOf"), document, SOURCES_GRAPH),
                      Quad(section, NamedNode(MIG + "sectionLabel"), Literal(str(process // PER_SECTION)), SOURCES_GRAPH)]
        node = NamedNode(f"{ID}synthetic/process-{process}")
        batch = [Quad(node, rdf_type, kinds[process % 3], section),
                 Quad(node, label, Literal(f"Generated process {process}", language="en"), section),
                 Quad(node, NamedNode(MIG + "establishedIn"),
                      Literal(str(1950 + process % 70), datatype=NamedNode(XSD + "gYear")), section)]
        for m in range(30):
            state = states[(process * 7 + m * 13) % len(states)]
            role = roles[m % len(roles)]
            member = NamedNode(f"{ID}synthetic/process-{process}/membership-{m}")
            batch += [Quad(member, rdf_type, membership, section),
                      Quad(member, label, Literal(f"{state[-3:]}, {role.value.rsplit('/', 1)[-1]} of generated "
                                                  f"process {process} ({m})", language="en"), section),
                      Quad(member, NamedNode(ORG + "member"), NamedNode(state), section),
                      Quad(member, NamedNode(ORG + "organization"), node, section),
                      Quad(member, NamedNode(ORG + "role"), role, section)]
        for a in range(5):
            state = states[(process * 11 + a * 17) % len(states)]
            instrument = instruments[(process + a) % len(instruments)]
            year = adopted.get(instrument, 2000) + 1 + process % 20
            action = NamedNode(f"{ID}synthetic/treaty-action-{process}-{a}")
            batch += [Quad(action, rdf_type, NamedNode(MIG + "TreatyAction"), section),
                      Quad(action, label, Literal(f"{state[-3:]}, generated action {process}-{a}", language="en"),
                           section),
                      Quad(action, NamedNode(MIG + "actingState"), NamedNode(state), section),
                      Quad(action, NamedNode(MIG + "actionOn"), NamedNode(instrument), section),
                      Quad(action, NamedNode(MIG + "actionType"), action_types[a % 3], section),
                      Quad(action, NamedNode(MIG + "actionDate"),
                           Literal(f"{year}-0{1 + a}-1{a}", datatype=NamedNode(XSD + "date")), section)]
        quads += batch
        count += len(batch)
        process += 1
    (project / "data" / "synthetic.trig").write_bytes(serialize(quads, format=RdfFormat.TRIG))
    return count


class MemorySampler(threading.Thread):
    """The largest resident set of this process and of its children while each step ran."""

    def __init__(self):
        super().__init__(daemon=True)
        self.process = psutil.Process()
        self.step_peak = 0
        self.child_peak = 0
        self.running = True

    def run(self):
        while self.running:
            try:
                self.step_peak = max(self.step_peak, self.process.memory_info().rss)
                children = sum(c.memory_info().rss for c in self.process.children(recursive=True))
                self.child_peak = max(self.child_peak, children)
            except psutil.Error:
                pass  # a child ended between being listed and being read: the next sample goes on without it
            time.sleep(0.02)

    def take(self) -> int:
        peak, self.step_peak = self.step_peak, 0
        return peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--statements", type=int, default=0, help="about this many statements in the build "
                        "(0: the seed data only)")
    parser.add_argument("--warm", action="store_true", help="keep the DL-check cache between two builds and "
                        "report the second")
    parser.add_argument("--no-dl-check", action="store_true")
    parser.add_argument("--profile", help="write a cProfile of the build to this file and print its top costs")
    parser.add_argument("--keep", help="generate into this directory and keep it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="migkg-build-bench-") as tmp:
        project = Path(args.keep or tmp)
        if args.keep and project.exists():
            shutil.rmtree(project)
        project.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        generated = generate(project, args.statements)
        print(f"generated {generated} data statements in {time.perf_counter() - started:.1f} s "
              f"({len(rdf_files(project / 'data'))} data files)", flush=True)
        settings = Settings().with_changes(ontology_dir=project / "ontology", data_dir=project / "data",
                                           store_path=project / "var" / "store", cache_dir=project / "var" / "cache")
        if args.warm:
            build(settings, dl_check=not args.no_dl_check)
        sampler = MemorySampler()
        sampler.start()
        rows: list[tuple[str, float, int]] = []
        last = [time.perf_counter()]

        def progress(message: str) -> None:
            now = time.perf_counter()
            rows.append((message.split(" (")[0].split(":")[0], now - last[0], sampler.take()))
            last[0] = now
            print(f"  {message[:160]}", flush=True)

        profiler = cProfile.Profile() if args.profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        result = build(settings, progress=progress, dl_check=not args.no_dl_check)
        if profiler:
            profiler.disable()
        total = time.perf_counter() - started
        sampler.running = False
        timings = result.manifest.get("timings", {})
        print(f"\n{len(result.quads)} statements in the build "
              f"({len(result.inputs.data)} data, {result.manifest['reasoning']['inferred']} inferred)")
        print(f"{'step':28} {'seconds':>8} {'own s':>7} {'peak RSS MiB':>13}")
        for name, wall, peak in rows:
            own = timings.get(name)
            print(f"{name:28} {wall:8.1f} {own if own is not None else float('nan'):7.1f} {peak / 2**20:13.0f}")
        print(f"{'total':28} {total:8.1f}")
        print(f"child processes' peak RSS together: {sampler.child_peak / 2**20:.0f} MiB; this process's ru_maxrss: "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        print("(seconds: wall time since the previous step ended; own s: the step's own time as the build "
              "measured it — the DL check runs beside the rules and SHACL)")
        if profiler:
            profiler.dump_stats(args.profile)
            pstats.Stats(args.profile).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
