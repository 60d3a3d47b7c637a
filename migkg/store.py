"""The on-disk Oxigraph store: versioned build directories behind an atomically swapped symlink."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from pyoxigraph import DefaultGraph, Quad, RdfFormat, Store, serialize

from .lifetime import end_with_parent

MANIFEST = "build.json"
OXIGRAPH_DIR = "oxigraph"
DUMPS_DIR = "dumps"  # whole-dataset dumps written by the build, one file per format in migkg.export
READERS_LOCK = "readers.lock"  # every process with the build open holds a shared lock on it
KEEP_BUILDS = 3  # at least these many stay; older ones go only when no process has them open


class StoreMissing(Exception):
    """No build has been made yet at the configured path. `reason` says so without naming server paths."""

    def __init__(self, message: str, reason: str = "run `migkg build` first"):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class BuiltStore:
    """An opened build: the Oxigraph store and the manifest the build wrote beside it."""

    store: Store
    manifest: dict
    directory: Path

    @property
    def build_id(self) -> str:
        return self.manifest["build_id"]


def builds_dir(store_path: Path) -> Path:
    return store_path.parent / "builds"


def current_build(store_path: Path) -> Path:
    """The build directory the store path points to, or StoreMissing."""
    if not store_path.exists():
        raise StoreMissing(f"no store at {store_path}: run `migkg build` first")
    directory = store_path.resolve()
    if not (directory / MANIFEST).is_file() or not (directory / OXIGRAPH_DIR).is_dir():
        raise StoreMissing(f"{store_path} is not a migkg build (no {MANIFEST}): run `migkg build`")
    return directory


def read_manifest(store_path: Path) -> dict:
    return json.loads((current_build(store_path) / MANIFEST).read_text(encoding="utf-8"))


def open_read_only(store_path: Path) -> BuiltStore:
    """Open the current build for reading; the build never writes into a published directory."""
    directory = current_build(store_path)
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    return BuiltStore(Store.read_only(str(directory / OXIGRAPH_DIR)), manifest, directory)


def publish(store_path: Path, quads: Iterable[Quad], manifest: dict,
            describe: Callable[[Store], dict] | None = None, content: Store | None = None,
            before_switch: Callable[[], None] | None = None) -> Path:
    """Write a new build beside the old ones and point `store_path` at it in one atomic rename.

    `describe(store)`, if given, adds its keys to the manifest from the freshly loaded store.
    `content`, if given, is an in-memory store holding exactly `quads`: the description and the dumps
    are read from it (ten times faster than reading back the new on-disk store).
    `before_switch()`, if given, runs when everything is written, just before the rename (the build
    waits there for its last check); if it raises, nothing is switched.

    If anything fails before the rename, the half-written directory is removed and the store
    path still points to the previous build.
    """
    new_build = NewBuild(store_path, manifest["build_id"])
    try:
        if content is not None:
            new_build.dump_in_background(content)
        new_build.load_in_background(quads, last=True)
    except BaseException:
        new_build.abandon()
        raise
    return new_build.finish(manifest, describe, content, before_switch)


@contextmanager
def one_build_at_a_time(store_path: Path, waiting: Callable[[str], None]) -> Iterator[None]:
    """Held for a whole build of `store_path`: a second build of the same store waits until the first has ended,
    saying so through `waiting`. Side by side, each would switch the store when done, so a build that read the
    data before a curator's edit could switch last and publish the older data. The kernel releases the lock
    of a killed build (its children end with it: see migkg.lifetime)."""
    store_path.parent.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(store_path.parent / f".{store_path.name}.build.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(lock_fd, 32, 0).decode(errors="replace").strip() or "?"
            waiting(f"waiting: another `migkg build` (process {holder}) is writing {store_path}; this one starts "
                    "when it has ended")
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
        os.ftruncate(lock_fd, 0)
        os.pwrite(lock_fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(lock_fd)


class NewBuild:
    """A build directory written beside the published ones, in steps, and switched to by `finish`.

    The build starts loading the statements it already knows (`load_in_background`) and writing the dumps
    (`dump_in_background`) while it still validates and checks, each in a child process on the other core;
    `finish` waits for them, writes the manifest and switches. Until the switch nothing a server reads
    changes; `abandon()` (and any failure in `finish`) ends the children and removes the directory.
    """

    def __init__(self, store_path: Path, build_id: str):
        if store_path.exists() and not store_path.is_symlink():
            raise FileExistsError(f"{store_path} exists and is not a migkg store link; move it away first")
        self.store_path = store_path
        self.root = builds_dir(store_path)
        self.root.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        directory = self.root / f"{stamp}-{build_id[:12]}"
        suffix = 1
        with _builds_locked(self.root):
            while True:
                try:
                    directory.mkdir()  # exclusive: two builds of the same data in the same second get two names
                    break
                except FileExistsError:
                    directory = self.root / f"{stamp}-{build_id[:12]}-{suffix}"
                    suffix += 1
            self.directory = directory
            # Held until the switch: another build's _prune skips a directory someone holds, so a build
            # running beside this one never removes it half-written.
            self._claim: int | None = os.open(directory / READERS_LOCK, os.O_RDONLY | os.O_CREAT, 0o644)
            fcntl.flock(self._claim, fcntl.LOCK_SH)
        self._loading: int | None = None
        self._loaded_all = False
        self._dumping: int | None = None

    def load_in_background(self, quads: Iterable[Quad], last: bool = False) -> None:
        """Bulk-load `quads` into the new on-disk store in a child process; `last`: the store is complete
        then, and the child also optimises it. A load still running is waited for first (RocksDB allows
        one process per store).

        The child is forked (it inherits the statements) and writes them to an N-Quads file, then replaces
        itself by a fresh Python that bulk-loads that file: RocksDB must not run in a forked copy of a
        process that has used it (its background threads are not copied; a flush would wait for them
        forever), and this process may have opened a store before (an earlier build, the tests)."""
        self._wait_for_loading()
        self._loading = _fork(_load_in_fresh_process, self.directory / OXIGRAPH_DIR, quads,
                              self.directory / "loading.nq", last)
        self._loaded_all = last

    def dump_in_background(self, content: Store, *more: Iterable[Quad]) -> None:
        """Write the dumps of `content` plus `more` statements in a forked child (the in-memory store is
        copied with the process, so the build can go on using its own; the serializers hold the interpreter
        lock: in a thread they would stop the build)."""
        self._dumping = _fork(_write_dumps_of, content, more, self.directory / DUMPS_DIR)

    def finish(self, manifest: dict, describe: Callable[[Store], dict] | None = None,
               content: Store | None = None, before_switch: Callable[[], None] | None = None) -> Path:
        """Wait for the loads and the dumps, describe, then switch (see `publish`): the published build holds
        everything loaded in the background, the last load marked `last`."""
        directory = self.directory
        try:
            if not self._loaded_all:
                raise RuntimeError("the new build's last statements were never loaded")
            self._wait_for_loading()
            if describe is not None and content is not None:
                manifest.update(describe(content))
            if content is None:
                store = Store(str(directory / OXIGRAPH_DIR))
                if describe is not None:
                    manifest.update(describe(store))
                if self._dumping is None:
                    write_dumps(store, directory / DUMPS_DIR)
                del store
            if self._dumping is not None:
                dumping, self._dumping = self._dumping, None
                _join(dumping, "writing the dumps")
            (directory / READERS_LOCK).touch()
            if before_switch is not None:
                before_switch()
            manifest[UNION_IN_DEFAULT_GRAPH] = True  # every load wrote its share (_with_union_copies)
            (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
            link = self.store_path.parent / f".{self.store_path.name}.{os.getpid()}.tmp"
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(os.path.relpath(directory, self.store_path.parent))
            os.replace(link, self.store_path)
        except BaseException:
            self.abandon()
            raise
        self._release()
        _prune(self.root, keep=directory)
        return directory

    def _release(self) -> None:
        if self._claim is not None:
            os.close(self._claim)
            self._claim = None

    def abandon(self) -> None:
        """End the children still writing, if any, and remove the half-written directory."""
        for child in (self._loading, self._dumping):
            if child is not None:
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass  # it ended on its own (it is still waited for below)
                _reap(child)
        self._loading = self._dumping = None
        self._release()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _wait_for_loading(self) -> None:
        if self._loading is not None:
            loading, self._loading = self._loading, None
            _join(loading, "loading the statements")


# Run by a fresh interpreter (argv: store directory, N-Quads file, "optimize" or not): load, then remove the file.
_LOAD_FILE = """
import os, sys
from pyoxigraph import RdfFormat, Store, parse
store = Store(sys.argv[1])
store.bulk_extend(parse(path=sys.argv[2], format=RdfFormat.N_QUADS))  # Store.bulk_load would rename blank nodes
store.flush()
if sys.argv[3] == "optimize":
    store.optimize()
del store
os.remove(sys.argv[2])
"""
# The manifest key saying that the store's default graph holds the union of its named graphs (each statement
# once). Queries over the union then read that one graph: in Oxigraph that is about twice as fast as
# `use_default_graph_as_union`, which merges the graphs and removes duplicates while it evaluates. The
# dumps, the summary and what is published to other engines hold the named graphs only.
UNION_IN_DEFAULT_GRAPH = "default_graph_is_union"


def union_options(store: Store) -> dict:
    """The `Store.query` options that read the union of all of `store`'s graphs as its default graph.

    None for a published build: its default graph holds that union already (UNION_IN_DEFAULT_GRAPH), and
    `use_default_graph_as_union` would merge the copy in too, ten times slower. A store whose default graph
    is empty (the build's in-memory store, builds from before the copy) is asked to merge its graphs."""
    if next(store.quads_for_pattern(None, None, None, DefaultGraph()), None) is None:
        return {"use_default_graph_as_union": True}
    return {}


def copy_into_memory(store: Store) -> Store:
    """Every graph and quad of `store` in a new in-memory store (blank node labels kept: Store.load and
    Store.bulk_load would rename them). About 15 µs and 0.4–0.5 KB per quad."""
    copy = Store()
    for graph in store.named_graphs():
        copy.add_graph(graph)
    copy.bulk_extend(store.quads_for_pattern(None, None, None, None))
    return copy


def _with_union_copies(quads: Iterable[Quad]) -> Iterator[Quad]:
    """Each statement, then its copy in the default graph (UNION_IN_DEFAULT_GRAPH; the store keeps one copy
    of a statement that several graphs hold). Written with the statements, so no load reads the store back:
    reading a million statements back out of RocksDB and writing them again took 30 s."""
    for quad in quads:
        yield quad
        yield Quad(quad.subject, quad.predicate, quad.object, DefaultGraph())


def _load_in_fresh_process(path: Path, quads: Iterable[Quad], staging: Path, optimize: bool) -> None:
    with open(staging, "wb") as output:
        serialize(_with_union_copies(quads), output, format=RdfFormat.N_QUADS)
    os.execv(sys.executable, [sys.executable, "-c", _LOAD_FILE, str(path), str(staging),
                              "optimize" if optimize else "as-is"])


def _write_dumps_of(content: Store, more: tuple, directory: Path) -> None:
    """In the forked child: its copy of `content` takes the `more` statements, then is dumped."""
    for quads in more:
        content.bulk_extend(quads)
    write_dumps(content, directory)


# The read end of each forked child's pipe, by pid: a child that fails writes why (a full disk, …) for _join.
_FAILURE_PIPES: dict[int, int] = {}


def _fork(function: Callable, *args) -> int:
    """Run function(*args) in a forked child; its pid, for _join (or _reap)."""
    reading, writing = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        status = 1
        try:
            end_with_parent(parent)
            function(*args)
            status = 0
        except BaseException as error:
            os.write(writing, f"{type(error).__name__}: {error}".encode()[:4096])
        finally:
            os._exit(status)
    os.close(writing)
    _FAILURE_PIPES[pid] = reading
    return pid


def _reap(pid: int) -> tuple[int, str]:
    """Wait for the child: its exit status, and why it failed if it said so."""
    _, status = os.waitpid(pid, 0)
    reading = _FAILURE_PIPES.pop(pid)
    try:
        reason = os.read(reading, 4096).decode(errors="replace") if status else ""
    finally:
        os.close(reading)
    return status, reason


def _join(pid: int, what: str) -> None:
    status, reason = _reap(pid)
    if status != 0:
        raise OSError(f"{what} failed ({reason or f'child process status {status}'})")


def write_dumps(store: Store, directory: Path) -> None:
    """Every dump format of migkg.export, written once per build, so servers only send files.

    The triple formats hold the union of the graphs: an in-memory store holding that union once in its
    default graph dumps it four times faster than migkg.export's CONSTRUCT over the union, run per format."""
    from .export import FORMATS, dump

    directory.mkdir()
    union: Store | None = None
    for name, (rdf_format, holds_graphs) in FORMATS.items():
        with open(directory / f"migkg.{name}", "wb") as output:
            if holds_graphs:
                dump(store, name, output)
                continue
            if union is None:
                union = Store()
                union.bulk_extend(Quad(quad.subject, quad.predicate, quad.object) for quad in store)
            union.dump(output, format=rdf_format, from_graph=DefaultGraph())


def _prune(root: Path, keep: Path) -> None:
    """Remove what killed builds left (directories without a manifest) and old builds, each only if no process has
    it open, keeping the newest KEEP_BUILDS complete builds whatever happens."""
    with _builds_locked(root):
        builds = sorted((p for p in root.iterdir() if p.is_dir() and p != keep), key=lambda p: p.stat().st_mtime)
        complete = [p for p in builds if (p / MANIFEST).is_file()]
        # A build in progress has no manifest either, but holds its claim until the switch: _remove_unless_open skips it.
        left_by_killed_builds = [p for p in builds if p not in complete]
        for directory in left_by_killed_builds + complete[: max(0, len(complete) + 1 - KEEP_BUILDS)]:
            _remove_unless_open(directory)


@contextmanager
def _builds_locked(root: Path) -> Iterator[None]:
    """Held while a build directory is made and claimed, and while pruning: a directory is never seen unclaimed
    between the two."""
    lock_fd = os.open(root.parent / f".{root.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)  # beside: builds/ holds builds only
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock_fd)


def _remove_unless_open(directory: Path) -> None:
    try:
        lock_fd = os.open(directory / READERS_LOCK, os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError:
        return
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock_fd)
        return  # a worker still reads it, or a build still writes it; a later build reclaims it
    try:
        shutil.rmtree(directory, ignore_errors=True)
    finally:
        os.close(lock_fd)
