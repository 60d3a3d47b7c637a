"""The read-only store as seen by one web worker: opened once, reopened when a new build is swapped in."""

from __future__ import annotations

import os
import threading

from flask import Flask, current_app

from migkg.store import BuiltStore, StoreMissing, open_read_only

__all__ = ["StoreMissing", "init_app", "current_store", "build_id"]

_lock = threading.Lock()


class _Opened:
    def __init__(self) -> None:
        self.target: str | None = None
        self.built: BuiltStore | None = None


def init_app(app: Flask) -> None:
    app.extensions["migkg_store"] = _Opened()


def current_store() -> BuiltStore:
    """The current build; a `migkg build` that swapped the store link is picked up on the next request."""
    opened: _Opened = current_app.extensions["migkg_store"]
    store_path = current_app.config["MIGKG"].store_path
    target = os.path.realpath(store_path)
    if opened.built is None or opened.target != target:
        with _lock:
            if opened.built is None or opened.target != target:
                opened.built = open_read_only(store_path)
                opened.target = target
    return opened.built


def build_id() -> str:
    return current_store().build_id
