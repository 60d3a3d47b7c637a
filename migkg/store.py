"""The on-disk Oxigraph store: versioned build directories behind an atomically swapped symlink."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from pyoxigraph import Quad, Store

MANIFEST = "build.json"
OXIGRAPH_DIR = "oxigraph"
KEEP_BUILDS = 2  # the current build and the one before it, so a running server can finish its requests


class StoreMissing(Exception):
    """No build has been made yet at the configured path."""


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
            describe: Callable[[Store], dict] | None = None) -> Path:
    """Write a new build beside the old ones and point `store_path` at it in one atomic rename.

    `describe(store)`, if given, adds its keys to the manifest from the freshly loaded store.

    If anything fails before the rename, the half-written directory is removed and the store
    path still points to the previous build.
    """
    if store_path.exists() and not store_path.is_symlink():
        raise FileExistsError(f"{store_path} exists and is not a migkg store link; move it away first")
    root = builds_dir(store_path)
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    directory = root / f"{stamp}-{manifest['build_id'][:12]}"
    suffix = 1
    while directory.exists():
        directory = root / f"{stamp}-{manifest['build_id'][:12]}-{suffix}"
        suffix += 1
    try:
        directory.mkdir()
        store = Store(str(directory / OXIGRAPH_DIR))
        store.bulk_extend(quads)
        if describe is not None:
            manifest.update(describe(store))
        store.flush()
        store.optimize()
        del store
        (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        link = store_path.parent / f".{store_path.name}.{os.getpid()}.tmp"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(directory, store_path.parent))
        os.replace(link, store_path)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    _prune(root, keep=directory)
    return directory


def _prune(root: Path, keep: Path) -> None:
    builds = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    old = [p for p in builds if p != keep][: max(0, len(builds) - KEEP_BUILDS)]
    for directory in old:
        shutil.rmtree(directory, ignore_errors=True)
