"""The engine starters: loopback only, private directories, a bounded start-up, a clean stop even when the body fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

from migkg import peers
from tests.engines import require_engine


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    """The (address, port) pairs a process listens on, from /proc (IPv4 and IPv6)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            address, port = local.split(":")
            if width == 8:
                host = ".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0))
            else:
                host = "::1" if address == "0" * 24 + "01000000" else address
            found.add((host, int(port, 16)))
    return found


def test_virtuoso_listens_on_loopback_only_in_its_own_directory(virtuoso_engine, tmp_path_factory):
    engine = virtuoso_engine
    addresses = listening_addresses(engine.pid)
    assert {host for host, _ in addresses} == {"127.0.0.1"}
    assert {port for _, port in addresses} == {engine.extra["http_port"], engine.extra["sql_port"]}
    assert (engine.directory / "virtuoso.db").is_file()
    assert engine.credentials[0] == "dba" and engine.credentials[1] != "dba"
    # The union of all graphs is the default: a query without GRAPH sees the published data.
    answer = requests.get(engine.query_url, timeout=10, headers={"Accept": "application/sparql-results+json"},
                          params={"query": "ASK { <https://w3id.org/migkg/id/iom> ?p ?o }"})
    assert answer.json()["boolean"] is True


def test_the_oxigraph_server_stops_when_the_body_fails(tmp_path):
    require_engine(peers.oxigraph_binary)
    with pytest.raises(RuntimeError, match="the test body failed"):
        with peers.oxigraph(tmp_path / "store") as engine:
            assert {host for host, _ in listening_addresses(engine.pid)} == {"127.0.0.1"}
            assert "--union-default-graph" in engine.extra["command"]
            raise RuntimeError("the test body failed")
    assert engine.process.poll() is not None
    with pytest.raises(requests.ConnectionError):
        requests.get(engine.query_url, params={"query": "ASK {}"}, timeout=2)


def test_an_engine_that_exits_at_start_up_is_reported_with_its_log(tmp_path):
    require_engine(peers.oxigraph_binary)
    # A read-only server over a directory that holds no store exits at once.
    with pytest.raises(peers.EngineFailed, match="oxigraph exited .*No such file"):
        with peers.oxigraph(tmp_path / "no-store-here", read_only=True, start_timeout=20):
            pass
