"""`migkg build` as processes: a killed build leaves no child running and the previous store serving; two builds of
one store run one after the other."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from migkg.build import build
from migkg.store import current_build, open_read_only
from tests.test_build import COLOMBO, make_project

MIGKG = str(Path(sys.executable).with_name("migkg"))


def _start_build(settings, data_dir: Path | None = None) -> subprocess.Popen:
    command = [MIGKG, "build", "--store", str(settings.store_path), "--data", str(data_dir or settings.data_dir),
               "--ontology", str(settings.ontology_dir)]
    # Its own session, as from a terminal: nothing the test does to its process group reaches pytest.
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=settings.data_dir.parent, start_new_session=True,
                            env={**os.environ, "MIGKG_CACHE": str(settings.cache_dir)})  # an empty DL-check cache


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _serving(settings) -> Path:
    """The build directory the store answers from (it must answer)."""
    opened = open_read_only(settings.store_path)
    assert opened.store.query("ASK { <https://w3id.org/migkg/id/colombo-process> ?p ?o }")
    return opened.directory


def test_a_killed_build_leaves_no_child_running_and_the_previous_store_serving(tmp_path):
    """SIGKILL while the store loader and HermiT's JVM run: they end with it (they ran on until they were done).

    Every child is stopped (SIGSTOP) before the kill, so none can end by finishing its work: only the build's
    death can end them. The store link keeps the previous build, which answers, and the next build succeeds."""
    settings = make_project(tmp_path, {"colombo.trig": COLOMBO})
    previous = Path(build(settings, dl_check=False).store_directory)
    killed = _start_build(settings)
    children: dict[int, str] = {}  # pid → what it is
    try:
        deadline = time.monotonic() + 60
        while not {"jvm", "loader"} <= set(children.values()) and time.monotonic() < deadline and killed.poll() is None:
            for child in psutil.Process(killed.pid).children(recursive=True):
                if children.get(child.pid, "forked") != "forked":
                    continue  # a forked child is looked at again: a loader execs in the same process
                try:
                    if child.name() == "java":
                        what = "jvm"
                    elif "from pyoxigraph import" in " ".join(child.cmdline()):
                        what = "loader"  # after its exec
                    else:
                        children[child.pid] = "forked"  # the DL check, a loader before its exec, the dump writer
                        continue
                    # Stopped at once: still there, whatever the build does meanwhile, when the other is found.
                    child.send_signal(signal.SIGSTOP)
                    children[child.pid] = what
                except (psutil.NoSuchProcess, ProcessLookupError):
                    continue
            time.sleep(0.005)
        assert {"jvm", "loader"} <= set(children.values()), (children, killed.poll())
        for pid in children:
            os.kill(pid, signal.SIGSTOP)
        killed.kill()
        killed.wait(10)
        deadline = time.monotonic() + 5
        while not all(_gone(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert {pid: what for pid, what in children.items() if not _gone(pid)} == {}
    finally:
        for pid in children:
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)
        if killed.poll() is None:
            killed.kill()
        killed.communicate()

    assert _serving(settings) == previous
    following = _start_build(settings)
    served = []
    while following.poll() is None:  # the previous build answers while the next one is written, then the next
        served.append(_serving(settings))
        time.sleep(0.05)
    out, err = following.communicate()
    assert following.returncode == 0, out + err
    latest = current_build(settings.store_path)
    assert latest != previous and served[0] == previous and set(served) <= {previous, latest}
    # The killed build's half-written directory was removed by the following build.
    assert len(list((settings.store_path.parent / "builds").iterdir())) == 2
