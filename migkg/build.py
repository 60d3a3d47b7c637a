"""`migkg build`: parse → validate → reason → write a fresh store and swap it in only if all passed."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pyoxigraph import Quad, Store

from . import __version__
from .chronology import impossible_dates
from .config import Settings
from .identity import check_identity
from .lifetime import end_with_parent
from .reasoning import InconsistentData, check_with_hermit, hermit_heap_mb, materialise
from .reference import country_quads
from .sources import InputError, ParsedInputs, read_inputs
from .stats import summary
from .store import NewBuild, one_build_at_a_time
from .validation import UnsupportedShape, Violation, provenance_bundles, validate

Progress = Callable[[str], None]


class BuildFailed(Exception):
    """The build stopped; the message is for the user and the previous store is untouched."""


@dataclass
class BuildResult:
    inputs: ParsedInputs
    quads: list[Quad] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)
    store_directory: str = ""
    # In memory, exactly `quads`: what publish describes and dumps from (set until the build is published).
    content: Store | None = None


def _quiet(_: str) -> None:
    """Progress sink that drops every message (library use without a console)."""


def build_id(inputs: ParsedInputs) -> str:
    digest = hashlib.sha256(__version__.encode())
    for path in inputs.files:
        digest.update(path.name.encode())
        digest.update(inputs.digests[path].encode())
    return digest.hexdigest()


def prepare(settings: Settings, progress: Progress = _quiet, dl_check: bool = True) -> BuildResult:
    """Everything but writing: parse, add reference data, reason, validate, the DL check. Raises BuildFailed."""
    result, dl_check_pending = _prepare(settings, progress, dl_check)
    dl_check_pending.wait()
    return result


class _Writing:
    """What build() starts writing as soon as it is known (prepare() writes nothing)."""

    def parsed(self, build_id: str, quads: list[Quad]) -> None:
        """The inputs are parsed: `quads` (asserted statements and shapes) will all be published."""

    def reasoned(self, inferred: list[Quad], content: Store, shapes: list[Quad]) -> None:
        """The rules passed: `content` (in memory) holds what will be published but the shapes."""


def _prepare(settings: Settings, progress: Progress, dl_check: bool,
             writing: _Writing = _Writing()) -> tuple[BuildResult, "_PendingDLCheck"]:
    """Everything but writing and waiting for the DL check, which runs on (see _PendingDLCheck).
    `writing` is told each part of what will be published once it is known."""
    timings: dict[str, float] = {}
    step_started = time.perf_counter()
    try:
        inputs = read_inputs(settings.ontology_dir, settings.data_dir, settings.shapes_file)
    except InputError as error:
        raise BuildFailed(str(error)) from None
    if not inputs.ontology:
        raise BuildFailed(f"no ontology found in {settings.ontology_dir}")
    if (shared := check_identity(inputs.data)) is not None:
        raise BuildFailed(shared)
    if impossible := impossible_dates(inputs):
        shown = "\n  ".join(impossible[:40])
        more = f"\n  … and {len(impossible) - 40} more" if len(impossible) > 40 else ""
        raise BuildFailed(f"dates: {len(impossible)} combination(s) that cannot be true:\n  {shown}{more}")
    reference = list(country_quads())
    bundles = provenance_bundles(inputs.data)
    timings["parse"] = time.perf_counter() - step_started
    progress(
        f"parse: {len(inputs.files)} files, {len(inputs.ontology)} ontology and {len(inputs.data)} data statements, "
        f"{len(reference)} reference statements ({time.perf_counter() - step_started:.1f}s)"
    )

    asserted = inputs.ontology + inputs.data + reference + bundles
    identity = build_id(inputs)
    # HermiT runs in its own JVM: started now, it works while the rules and SHACL run here.
    dl_check_job = _DLCheckJob(inputs.ontology + inputs.data + reference, settings.cache_dir,
                               f"{identity} pycountry {importlib.metadata.version('pycountry')}") \
        if dl_check else None
    try:
        writing.parsed(identity, asserted + inputs.shapes)
        return _check(settings, progress, inputs, asserted, identity, timings, dl_check_job, writing)
    except BaseException:
        if dl_check_job is not None:
            dl_check_job.cancel()
        raise


def _check(settings: Settings, progress: Progress, inputs: ParsedInputs, asserted: list, identity: str,
           timings: dict, dl_check_job: "_DLCheckJob | None", writing: _Writing) -> tuple[BuildResult, "_PendingDLCheck"]:
    # One in-memory store holds the asserted and then the inferred statements for the RL checks and SHACL.
    working = Store()
    working.bulk_extend(asserted)
    try:
        inferred, report = materialise(asserted, working)
    except InconsistentData as error:
        raise BuildFailed(f"reasoning: {error}") from None
    timings["reason"] = report.seconds
    rules = ", ".join(f"{name}: {count}" for name, count in sorted(report.per_rule.items()))
    progress(f"reason (OWL 2 RL rules): {report.inferred} statements inferred in {report.rounds} rounds "
             f"({report.seconds:.1f}s) [{rules}]")
    writing.reasoned(inferred, working, inputs.shapes)

    step_started = time.perf_counter()
    try:
        violations = validate(working, inputs.shapes, inputs)
    except UnsupportedShape as error:
        raise BuildFailed(f"validation: {settings.shapes_file}: {error}") from None
    if violations:
        shown = "\n  ".join(str(v) for v in violations[:40])
        more = f"\n  … and {len(violations) - 40} more" if len(violations) > 40 else ""
        raise BuildFailed(f"validation: {len(violations)} SHACL violation(s):\n  {shown}{more}")
    timings["validate"] = time.perf_counter() - step_started
    progress(f"validate (SHACL, {len(inputs.shapes)} shape statements): conforms ({time.perf_counter() - step_started:.1f}s)")

    quads = asserted + inputs.shapes + inferred
    manifest = {
        "build_id": identity,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "migkg_version": __version__,
        "inputs": [str(p.relative_to(settings.data_dir.parent)) if p.is_relative_to(settings.data_dir.parent)
                   else str(p) for p in inputs.files],
        "reasoning": {"inferred": report.inferred, "rounds": report.rounds, "rules": report.per_rule,
                      "dl_check": report.dl_check},
        "timings": {step: round(seconds, 3) for step, seconds in timings.items()},
    }
    working.bulk_extend(inputs.shapes)  # now exactly what is published
    result = BuildResult(inputs=inputs, quads=quads, manifest=manifest, content=working)
    return result, _PendingDLCheck(dl_check_job, result, report, timings, progress)


class _PendingDLCheck:
    """The DL check still running beside the build: `wait()` records its outcome in the result's manifest
    (or raises BuildFailed), `cancel()` ends it."""

    def __init__(self, job: "_DLCheckJob | None", result: BuildResult, report, timings: dict, progress: Progress):
        self._job, self._result, self._report, self._timings, self._progress = job, result, report, timings, progress

    def wait(self) -> None:
        report, manifest = self._report, self._result.manifest
        if self._job is not None:
            try:
                status, seconds = self._job.result()
            except InconsistentData as error:
                raise BuildFailed(f"reasoning: {error}") from None
            report.dl_check, report.dl_seconds = status, seconds
            self._timings["check"] = seconds
            self._progress(f"check (OWL 2 DL): {status} ({seconds:.1f}s)")
        else:
            report.dl_check = "skipped: disabled with --no-dl-check"
            self._progress(f"check (OWL 2 DL): {report.dl_check}")
        manifest["reasoning"]["dl_check"] = report.dl_check
        manifest["timings"] = {step: round(seconds, 3) for step, seconds in self._timings.items()}

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()


class _DLCheckJob:
    """The OWL 2 DL check in a child process of its own (forked: it inherits the parsed statements).

    A process, not a thread: preparing HermiT's input is Python work, and in a thread it would take the
    interpreter lock from the rules and SHACL running meanwhile (it doubled their time at 1 M statements).
    A pass is remembered under cache_dir by `inputs_key` (see check_with_hermit). `cancel()` ends the child
    and its JVM (a build that fails meanwhile does not wait for it).
    """

    def __init__(self, quads: list, cache_dir: Path, inputs_key: str):
        hermit_heap_mb()  # an unusable setting stops the build here; in the child it was a check that "failed to run"
        context = multiprocessing.get_context("fork")
        self._answer, sender = context.Pipe(duplex=False)
        self._process = context.Process(target=_dl_check_child, name="migkg-hermit", daemon=True,
                                        args=(sender, quads, cache_dir / "dl-check", inputs_key, os.getpid()))
        self._process.start()
        sender.close()

    def result(self) -> tuple[str, float]:
        try:
            kind, value = self._answer.recv()
        except EOFError:
            self._process.join()
            return f"failed to run: the DL check process ended with status {self._process.exitcode}", 0.0
        finally:
            self._process.join()
        if kind == "inconsistent":
            raise InconsistentData(value)
        if kind == "error":
            return f"failed to run: {value}", 0.0
        return value

    def cancel(self) -> None:
        if self._process.is_alive():
            try:
                os.killpg(self._process.pid, signal.SIGKILL)  # the child and the JVM it started
            except OSError:
                pass  # the group ended on its own between the check and the kill: nothing left to stop
        self._process.join()


def _dl_check_child(answer, quads: list, passed_dir: Path, inputs_key: str, build_pid: int) -> None:
    end_with_parent(build_pid)  # a killed build leaves no check running (the JVM ends with this process in turn)
    os.setsid()  # its own process group, so that cancel() also ends the JVM
    try:
        answer.send(("passed", check_with_hermit(quads, passed_dir, inputs_key)))
    except InconsistentData as error:
        answer.send(("inconsistent", str(error)))
    except Exception as error:  # reported by the waiting build as a check that could not run
        answer.send(("error", f"{type(error).__name__}: {error}"))


class _WritingNewBuild(_Writing):
    """Writes the new build as its parts become known: the asserted statements are loaded into the on-disk
    store while the rules run, the inferred ones (and the dumps) while SHACL and the DL check run."""

    def __init__(self, store_path: Path):
        self.store_path = store_path
        self.new_build: NewBuild | None = None

    def parsed(self, build_id: str, quads: list[Quad]) -> None:
        try:
            self.new_build = NewBuild(self.store_path, build_id)
            self.new_build.load_in_background(quads)
        except OSError as error:
            raise BuildFailed(f"store: could not write the new store beside {self.store_path}: {error}") from None

    def reasoned(self, inferred: list[Quad], content: Store, shapes: list[Quad]) -> None:
        try:
            self.new_build.dump_in_background(content, shapes)
            self.new_build.load_in_background(inferred, last=True)
        except OSError as error:
            raise BuildFailed(f"store: could not write the new store beside {self.store_path}: {error}") from None

    def abandon(self) -> None:
        if self.new_build is not None:
            self.new_build.abandon()


def build(settings: Settings, progress: Progress = _quiet, dl_check: bool = True) -> BuildResult:
    """Prepare, then publish a new store and swap it in. On any failure the old store keeps serving.

    The new store and its dumps are written while the build goes on (see _WritingNewBuild); it is switched
    to only once every check passed, the DL check last. Builds of one store run one at a time: a second one
    waits, and reads the data once the first has ended."""
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(one_build_at_a_time(settings.store_path, progress))
        except OSError as error:
            raise BuildFailed(f"store: could not lock {settings.store_path} for this build: {error}") from None
        return _build(settings, progress, dl_check)


def _build(settings: Settings, progress: Progress, dl_check: bool) -> BuildResult:
    writing = _WritingNewBuild(settings.store_path)
    try:
        result, dl_check_pending = _prepare(settings, progress, dl_check, writing)
    except BaseException:
        writing.abandon()
        raise
    started = time.perf_counter()
    waited = 0.0

    def wait_for_dl_check() -> None:
        nonlocal waited
        waiting = time.perf_counter()
        dl_check_pending.wait()
        waited = time.perf_counter() - waiting

    try:
        directory = writing.new_build.finish(result.manifest, describe=lambda store: {"summary": summary(store)},
                                             content=result.content, before_switch=wait_for_dl_check)
    except OSError as error:
        dl_check_pending.cancel()
        raise BuildFailed(f"store: could not write the new store beside {settings.store_path}: {error}") from None
    except BaseException:
        dl_check_pending.cancel()
        raise
    finally:
        result.content = None
    result.store_directory = str(directory)
    written = time.perf_counter() - started - waited
    result.manifest["timings"]["store"] = round(written, 3)
    progress(f"store: wrote {len(result.quads)} statements to {directory} ({written:.1f}s after the checks, the rest "
             f"beside them) and switched {settings.store_path} to it")
    return result
