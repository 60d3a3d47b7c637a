"""`migkg build` as processes: a killed build leaves no child running and the previous store serving; two builds of
one store run one after the other."""

from __future__ import annotations

import os
import shutil
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


def test_a_second_build_of_one_store_waits_for_the_first_and_publishes_its_own_data(tmp_path):
    """Side by side, the build that read older data could switch last and publish it: here the first build is held
    (SIGSTOP) once it has read its data, and the second, started on edited data, finished first and was then
    replaced. Now the second says it waits, does not end while the first is held, and its data is served last."""
    settings = make_project(tmp_path, {"colombo.trig": COLOMBO})
    edited = tmp_path / "edited-data"
    shutil.copytree(settings.data_dir, edited)
    (edited / "colombo.trig").write_text(COLOMBO.replace('"Colombo Process"@en', '"Colombo Process (edited)"@en'),
                                         encoding="utf-8")
    first = _start_build(settings)
    second = None
    try:
        deadline = time.monotonic() + 60
        while not psutil.Process(first.pid).children() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # its first child (the DL check) is started once the data is read
        first.send_signal(signal.SIGSTOP)
        second = _start_build(settings, edited)
        with pytest.raises(subprocess.TimeoutExpired):
            second.wait(8)  # a whole build of this project takes 2-3 s
        first.send_signal(signal.SIGCONT)
        outcomes = [process.communicate(timeout=120) for process in (first, second)]
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                process.kill()
                process.communicate()
    assert [first.returncode, second.returncode] == [0, 0], outcomes
    assert f"waiting: another `migkg build` (process {first.pid}) is writing {settings.store_path}" in outcomes[1][0]
    served = open_read_only(settings.store_path)
    assert "edited-data/colombo.trig" in served.manifest["inputs"]
    assert served.store.query('ASK { ?process rdfs:label "Colombo Process (edited)"@en }',
                              prefixes={"rdfs": "http://www.w3.org/2000/01/rdf-schema#"})
