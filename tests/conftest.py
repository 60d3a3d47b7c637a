"""Shared fixtures: a store built from the real ontology and data, the Flask app over it, the production server."""

from __future__ import annotations

from pathlib import Path

import pytest

from migkg.build import build
from migkg.config import PROJECT_ROOT, Settings
from tests.serving import serving
from migkg.store import open_read_only

ARTIFACTS = PROJECT_ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    """Settings pointing at a fresh store under a temp dir, built once per test session from ontology/ + data/."""
    root = tmp_path_factory.mktemp("migkg-store")
    settings = Settings().with_changes(store_path=root / "store")
    # The DL check is exercised by tests/test_build.py; the shared store skips it to save time.
    build(settings, dl_check=False)
    return settings


@pytest.fixture(scope="session")
def built(settings):
    return open_read_only(settings.store_path)


@pytest.fixture(scope="session")
def store(built):
    return built.store


@pytest.fixture(scope="session")
def app(settings):
    from webapp import create_app

    app = create_app(settings)
    app.config.update(TESTING=True)
    return app


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def live_server(settings):
    """The app under the production server (granian, as `migkg serve` runs it) on a loopback port; yields its base URL."""
    with serving({"MIGKG_STORE": str(settings.store_path)}) as server:
        yield server.base


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


_durations: dict[str, float] = {}


def pytest_runtest_logreport(report):
    _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter):
    """Where the time went, last in the output (CI shows the tail): per test file, then the slowest tests."""
    per_file: dict[str, float] = {}
    for nodeid, seconds in _durations.items():
        per_file[nodeid.split("::")[0]] = per_file.get(nodeid.split("::")[0], 0.0) + seconds
    files = sorted(per_file.items(), key=lambda item: -item[1])[:8]
    slowest = sorted(_durations.items(), key=lambda item: -item[1])[:5]
    terminalreporter.write_line("time per file: " + ", ".join(f"{Path(f).stem} {s:.0f}s" for f, s in files))
    terminalreporter.write_line("slowest: " + ", ".join(f"{n.split('::', 1)[-1][:60]} {s:.0f}s" for n, s in slowest))


from tests.engines import *  # noqa
