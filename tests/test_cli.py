"""The `migkg` command line as a user runs it: exit codes, output formats, messages."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import rdflib

from tests.test_build import COLOMBO, make_project

MIGKG = str(Path(sys.executable).with_name("migkg"))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    settings = make_project(tmp_path_factory.mktemp("cli"), {"colombo.trig": COLOMBO})
    return settings


def run(project, *args: str, check_code: int | None = 0) -> subprocess.CompletedProcess:
    env_args = ["--store", str(project.store_path)]
    result = subprocess.run([MIGKG, *env_args, *args], capture_output=True, text=True, timeout=300,
                            cwd=project.data_dir.parent)
    if check_code is not None:
        assert result.returncode == check_code, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def built(project):
    result = run(project, "build", "--data", str(project.data_dir), "--ontology", str(project.ontology_dir))
    return result


def test_build_prints_progress_and_summary(built):
    out = built.stdout
    for step in ("parse:", "reason (OWL 2 RL rules):", "validate (SHACL", "check (OWL 2 DL): passed", "store: wrote"):
        assert step in out
    assert "statements per graph:" in out and "resources per class:" in out
    assert "regional consultative process" in out


def test_query_on_missing_store_exits_3(tmp_path):
    result = subprocess.run([MIGKG, "--store", str(tmp_path / "none"), "stats"], capture_output=True, text=True)
    assert result.returncode == 3
    assert "run `migkg build` first" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("variable, value", [("MIGKG_IN_MEMORY_QUADS", "many"), ("MIGKG_QUERY_TIMEOUT", "-1"),
                                             ("MIGKG_QUERY_TIMEOUT", "nan"), ("MIGKG_MAX_ROWS", "0"),
                                             ("MIGKG_QUERY_WORKERS", "1.5"), ("MIGKG_PORT", "http"),
                                             ("MIGKG_PORT", "70000"), ("MIGKG_WORKERS", "0")])
def test_an_unusable_setting_is_named_plainly(tmp_path, variable, value):
    import os

    for command in (["stats"], ["serve", "--port", "1"]):
        result = subprocess.run([MIGKG, "--store", str(tmp_path / "none"), *command], capture_output=True, text=True,
                                env=dict(os.environ, **{variable: value}), timeout=60)
        assert result.returncode == 2, result.stderr
        assert f"{variable}={value!r} is not usable" in result.stderr
        assert "Traceback" not in result.stderr


def test_an_unusable_hermit_heap_stops_the_build_instead_of_skipping_the_dl_check(project, built):
    """The DL check reads MIGKG_HERMIT_MEMORY_MB in its own process: a bad value there was a check that "failed
    to run", and the data was declared valid (exit 0) without it; even when a pass was remembered."""
    import os

    result = subprocess.run([MIGKG, "validate", "--data", str(project.data_dir), "--ontology", str(project.ontology_dir)],
                            capture_output=True, text=True, timeout=300, cwd=project.data_dir.parent,
                            env=dict(os.environ, MIGKG_HERMIT_MEMORY_MB="abc"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "MIGKG_HERMIT_MEMORY_MB='abc' is not usable: give a whole number of at least 64" in result.stderr
    assert "valid:" not in result.stdout and "Traceback" not in result.stderr


def test_stats(project, built):
    out = run(project, "stats").stdout
    assert "OWL 2 DL check: passed" in out
    data = json.loads(run(project, "stats", "--json").stdout)
    assert data["summary"]["triples"] > 2000


QUERY = ("SELECT ?member WHERE { id:colombo-process mig:hasMember ?member } ORDER BY ?member")


def test_query_formats(project, built):
    table = run(project, "query", QUERY).stdout
    assert "Thailand (state:THA)" in table and "(1 row)" in table
    as_json = json.loads(run(project, "query", QUERY, "--format", "json").stdout)
    assert [b["member"]["value"] for b in as_json["results"]["bindings"]] == ["https://w3id.org/migkg/id/state/THA"]
    rows = list(csv.reader(io.StringIO(run(project, "query", QUERY, "--format", "csv").stdout.strip())))
    assert rows == [["member"], ["https://w3id.org/migkg/id/state/THA"]]
    assert run(project, "query", "ASK { id:colombo-process a mig:ConsultationProcess }").stdout.strip() == "true"
    turtle = run(project, "query", "CONSTRUCT WHERE { id:colombo-process mig:hasSecretariat ?s }").stdout
    graph = rdflib.Graph().parse(data=turtle, format="turtle")
    assert len(graph) == 1


def test_query_file_with_parameter(project, built, tmp_path):
    query = tmp_path / "members.rq"
    query.write_text("# title: Members\n# description: members of a process\n# param: process <https://w3id.org/migkg/id/nowhere>\n"
                     "SELECT ?member WHERE { ?process mig:hasMember ?member }\n", encoding="utf-8")
    assert "(0 rows)" in run(project, "query", str(query)).stdout
    out = run(project, "query", str(query), "--param", "process=id:colombo-process").stdout
    assert "Thailand (state:THA)" in out and "(1 row)" in out
    bad = run(project, "query", str(query), "--param", "region=x", check_code=2)
    assert "has no parameter region" in bad.stderr


def test_bad_query_is_a_usage_error_with_the_parser_message(project, built):
    result = run(project, "query", "SELECT ?x WHERE { ?x ", check_code=2)
    assert "not valid SPARQL" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("where", ["missing", "a file", "empty"])
def test_a_build_from_no_data_fails_and_keeps_the_served_graph(project, built, tmp_path, where):
    before = json.loads(run(project, "stats", "--json").stdout)["build_id"]
    data = {"missing": tmp_path / "nowhere", "a file": tmp_path / "data.trig", "empty": tmp_path / "empty"}[where]
    if where == "a file":
        data.write_text(COLOMBO, encoding="utf-8")
    elif where == "empty":
        data.mkdir()
    result = run(project, "build", "--data", str(data), "--ontology", str(project.ontology_dir), "--no-dl-check",
                 check_code=1)
    assert "the previous store is unchanged" in result.stderr and str(data) in result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads(run(project, "stats", "--json").stdout)["build_id"] == before


def test_export_to_a_place_it_cannot_write_says_so(project, built, tmp_path):
    result = run(project, "export", "-o", str(tmp_path / "no" / "such" / "dir.trig"), check_code=1)
    assert "cannot write" in result.stderr and "No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_store_may_be_named_after_the_command_too(project, built, tmp_path):
    after = subprocess.run([MIGKG, "stats", "--json", "--store", str(project.store_path)], capture_output=True,
                           text=True, timeout=120)
    assert after.returncode == 0, after.stderr
    assert after.stdout == run(project, "stats", "--json").stdout
    missing = subprocess.run([MIGKG, "stats", "--store", str(tmp_path / "none")], capture_output=True, text=True,
                             timeout=120)
    assert missing.returncode == 3 and "run `migkg build` first" in missing.stderr


def test_a_query_file_not_named_rq_is_read_as_a_file(project, built, tmp_path):
    path = tmp_path / "members.sparql"
    path.write_text(QUERY, encoding="utf-8")
    assert run(project, "query", str(path), "--format", "csv").stdout == run(project, "query", QUERY, "--format",
                                                                             "csv").stdout


def test_a_misspelt_query_name_is_named_not_parsed_as_sparql(project, built):
    result = run(project, "query", "process-member-and-roles", check_code=2)
    assert "no example query is named 'process-member-and-roles'" in result.stderr
    assert "did you mean process-members-and-roles" in result.stderr and "not valid SPARQL" not in result.stderr


def test_queries_lists_each_default_as_param_reads_it_back():
    """`migkg queries` is where a user copies a default from: `asOf=2004-01-01` would bind a plain string."""
    import re

    from migkg.catalogue import load_catalogue, parse_term
    from migkg.config import Settings

    result = subprocess.run([MIGKG, "queries"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    catalogue = load_catalogue(Settings().queries_dir)
    shown = {}
    for line in result.stdout.splitlines():
        slug, _, rest = line.partition(" ")
        if rest.rstrip().endswith("]"):
            for item in re.split(r", (?=\w+=)", rest.rstrip()[:-1].rsplit("  [", 1)[1]):
                name, _, value = item.partition("=")
                shown[(slug, name)] = value
    defaults = {(q.slug, p.name): p.default for q in catalogue.values() for p in q.parameters if p.default}
    assert set(shown) == set(defaults) and ("parties-to-treaty-as-of", "asOf") in shown
    assert {key: parse_term(value) for key, value in shown.items()} == defaults


@pytest.mark.parametrize("given, expected", [
    ("2010-01-01", '"2010-01-01"^^<http://www.w3.org/2001/XMLSchema#date>'),  # bare: the default's type
    ('"2010-01-01"^^xsd:date', '"2010-01-01"^^<http://www.w3.org/2001/XMLSchema#date>'),
    ('"2010-01-01"', '"2010-01-01"'),  # quoted: the string the user wrote
])
def test_a_bare_param_value_takes_the_type_of_the_parameters_default(given, expected):
    """`--param asOf=2010-01-01` bound a string, which no date equals: one empty row, no error."""
    from migkg.catalogue import load_catalogue
    from migkg.config import Settings

    canned = load_catalogue(Settings().queries_dir)["parties-to-treaty-as-of"]
    assert str(canned.bindings({"asOf": given})["asOf"]) == expected


@pytest.mark.parametrize("arguments, message", [
    (["--port", "99999"], "argument --port: '99999' is not usable: give a whole number from 1 to 65535"),
    (["--port", "-1"], "argument --port: '-1' is not usable"),
    (["--workers", "0"], "argument --workers: '0' is not usable"),
    (["--host", "nonexistent.invalid"], "cannot serve on nonexistent.invalid:"),
    (["--host", "192.0.2.1"], "cannot serve on 192.0.2.1:"),  # TEST-NET-1: an address of no machine here
    (["--host", "a..b"], "cannot serve on a..b:"),  # no name IDNA can encode
])
def test_serve_refuses_an_unusable_address_before_starting(project, built, arguments, message):
    result = run(project, "serve", *arguments, check_code=2)
    assert message in result.stderr and "Traceback" not in result.stderr and "panicked" not in result.stderr


def test_serve_names_a_port_in_use_and_takes_host_names(project, built):
    import socket
    import time
    import urllib.request

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(project, "serve", "--port", str(port), check_code=2)
        assert f"cannot serve on 127.0.0.1:{port}: Address already in use" in result.stderr
        assert "Traceback" not in result.stderr and "panicked" not in result.stderr
    # granian takes addresses only: a host name is resolved before it starts
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    server = subprocess.Popen([MIGKG, "--store", str(project.store_path), "serve", "--host", "localhost", "--port",
                               str(port), "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "migkg serve --host localhost did not answer"
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(20)


@pytest.mark.parametrize("name, rdflib_format", [("trig", "trig"), ("nquads", "nquads"), ("turtle", "turtle"),
                                                 ("jsonld", "json-ld"), ("ntriples", "nt")])
def test_export_formats_parse_back(project, built, tmp_path, name, rdflib_format):
    target = tmp_path / f"dump.{name}"
    run(project, "export", "--format", name, "-o", str(target))
    if rdflib_format in ("trig", "nquads"):
        dataset = rdflib.Dataset()
        dataset.parse(target, format=rdflib_format)
        graphs = {str(g.identifier) for g in dataset.graphs()}
        assert "https://w3id.org/migkg/source/test-doc#s1" in graphs
        assert "https://w3id.org/migkg/graph/inferred" in graphs
    else:
        graph = rdflib.Graph().parse(target, format=rdflib_format)
        assert (rdflib.URIRef("https://w3id.org/migkg/id/colombo-process"),
                rdflib.URIRef("https://w3id.org/migkg/ontology#hasMember"),
                rdflib.URIRef("https://w3id.org/migkg/id/state/THA")) in graph


def test_failed_build_exits_non_zero_without_traceback(project, built, tmp_path):
    bad_data = tmp_path / "data"
    bad_data.mkdir()
    (bad_data / "bad.ttl").write_text("@prefix x: <http://x/> .\nx:a x:b .\n", encoding="utf-8")
    result = run(project, "build", "--data", str(bad_data), "--ontology", str(project.ontology_dir), check_code=1)
    assert "build failed, the previous store is unchanged" in result.stderr
    assert "bad.ttl, line 2" in result.stderr
    assert "Traceback" not in result.stderr
    assert "OWL 2 DL check: passed" in run(project, "stats").stdout


def test_concurrent_builds_each_finish_and_leave_one_complete_store(tmp_path):
    """Three `migkg build` started at once on one project (same data, so the same build id): they run one after
    another (the store's build lock), each writes a directory of its own, each exits 0, and the store link names a
    complete build."""
    settings = make_project(tmp_path, {"colombo.trig": COLOMBO})
    command = [MIGKG, "--store", str(settings.store_path), "build", "--data", str(settings.data_dir),
               "--ontology", str(settings.ontology_dir)]
    builds = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=settings.data_dir.parent) for _ in range(3)]
    outcomes = [build.communicate(timeout=300) for build in builds]
    assert [build.returncode for build in builds] == [0, 0, 0], outcomes
    directories = sorted(path for path in settings.store_path.parent.joinpath("builds").iterdir())
    assert len(directories) == 3  # none overwrote another
    for directory in directories:
        assert (directory / "build.json").is_file() and (directory / "dumps" / "migkg.nquads").is_file()
    stats = run(settings, "stats", "--json")
    assert json.loads(stats.stdout)["summary"]["triples"] > 2000


@pytest.mark.parametrize("query_file, expected", [
    (b"SELECT \xff * {}", "cannot be read as a UTF-8 query file"),
    (b"# param: place <not an iri\nSELECT * { ?place ?p ?o }", "the default of parameter place: cannot read"),
])
@pytest.mark.parametrize("command", [["queries"], ["query", "ASK {}"]])
def test_an_unreadable_example_query_is_named_not_a_traceback(project, built, tmp_path, query_file, expected, command):
    (tmp_path / "broken.rq").write_bytes(query_file)
    result = subprocess.run([MIGKG, "--store", str(project.store_path), *command], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "MIGKG_QUERIES": str(tmp_path)})
    assert result.returncode == 1, result.stderr
    assert f"migkg: the example queries cannot be read: {tmp_path / 'broken.rq'}: {expected}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("query, output_format, message", [
    ("SELECT * WHERE { ?s ?p ?o } LIMIT 1", "turtle", "--format turtle writes CONSTRUCT and DESCRIBE graphs; a SELECT"),
    ("ASK {}", "rdfxml", "--format rdfxml writes CONSTRUCT and DESCRIBE graphs; an ASK"),
    ("CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1", "csv", "--format csv writes SELECT and ASK answers"),
])
def test_a_format_the_answer_cannot_take_is_a_usage_error(project, built, query, output_format, message):
    """A SELECT asked for as Turtle ended in a KeyError traceback; a graph asked for as CSV came as Turtle."""
    result = run(project, "query", query, "--format", output_format, check_code=2)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_an_ask_answer_comes_in_the_results_format_asked_for(project, built):
    """--format xml printed a bare `true`, which no SPARQL XML results reader takes."""
    answer = run(project, "query", "ASK { id:colombo-process a mig:ConsultationProcess }", "--format", "xml").stdout
    assert "<boolean>true</boolean>" in answer


@pytest.mark.parametrize("query", ["", "  \n"])
def test_an_empty_query_is_named_as_such(project, built, query):
    """It was parsed and refused with the parser's "error at 1:1: expected [_]"."""
    assert "migkg: the query is empty: give an example name" in run(project, "query", query, check_code=2).stderr
