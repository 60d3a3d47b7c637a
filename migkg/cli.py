"""The `migkg` command line: build, validate, query, stats, export, serve."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import socket
import sys
from pathlib import Path

from pyoxigraph import Literal, NamedNode, QueryBoolean, QueryResultsFormat, QuerySolutions, RdfFormat, serialize

from .build import BuildFailed, build, prepare
from .backend import BackendConfigError, BackendUnavailable, QueryRejected
from .catalogue import QueryInputError, load_catalogue, read_query, term_text
from .config import SettingError, Settings, env_number, number_between, wanted_number
from .export import FORMATS as EXPORT_FORMATS
from .namespaces import prefixed
from .serving import server_command

EXIT_FAILED, EXIT_USAGE, EXIT_NO_STORE = 1, 2, 3
SPARQL_WORDS = {"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"}  # a lone keyword is SPARQL, and its error says so

RESULT_FORMATS = {"json": QueryResultsFormat.JSON, "csv": QueryResultsFormat.CSV,
                  "tsv": QueryResultsFormat.TSV, "xml": QueryResultsFormat.XML}
GRAPH_FORMATS = {"turtle": RdfFormat.TURTLE, "ntriples": RdfFormat.N_TRIPLES, "jsonld": RdfFormat.JSON_LD,
                 "rdfxml": RdfFormat.RDF_XML}


def _settings(args: argparse.Namespace) -> Settings:
    changes = {}
    if getattr(args, "store", None):
        changes["store_path"] = Path(os.path.abspath(args.store))
        changes["backend"] = ""
    if getattr(args, "backend", None):
        changes["backend"] = args.backend
    if getattr(args, "data", None):
        changes["data_dir"] = Path(args.data).resolve()
    if getattr(args, "ontology", None):
        changes["ontology_dir"] = Path(args.ontology).resolve()
    return Settings().with_changes(**changes)


def _say(message: str) -> None:
    print(message, flush=True)


def _fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"migkg: {message}", file=sys.stderr, flush=True)
    return code


def cmd_build(args) -> int:
    settings = _settings(args)
    try:
        result = build(settings, progress=_say, dl_check=not args.no_dl_check)
    except BuildFailed as error:
        return _fail(f"build failed, the previous store is unchanged.\n{error}")
    _print_summary(result.manifest["summary"])
    return 0


def cmd_validate(args) -> int:
    settings = _settings(args)
    try:
        prepare(settings, progress=_say, dl_check=not args.no_dl_check)
    except BuildFailed as error:
        return _fail(f"not valid.\n{error}")
    _say("valid: the data conforms to the shapes and is consistent with the ontology")
    return 0


def _print_summary(summary: dict) -> None:
    _say(f"\n{summary['triples']} statements in {len(summary['graphs'])} graphs")
    _say("\nstatements per graph:")
    for graph, count in sorted(summary["graphs"].items(), key=lambda item: (-item[1], item[0])):
        _say(f"  {count:>7}  {graph}")
    _say("\nresources per class:")
    for row in summary["classes"]:
        _say(f"  {row['resources']:>7}  {row['label']}")


def _snapshot(settings: Settings):
    """The current build through the configured backend (raises BackendConfigError / BackendUnavailable)."""
    backend = settings.open_backend()
    return backend, backend.snapshot()


def cmd_stats(args) -> int:
    try:
        backend, snapshot = _snapshot(_settings(args))
    except (BackendConfigError, BackendUnavailable) as error:
        return _fail(str(error), EXIT_NO_STORE)
    backend.close()
    manifest = snapshot.build.manifest
    if args.json:
        print(json.dumps(manifest, indent=2))
        return 0
    _say(f"build {manifest['build_id'][:12]} made {manifest['built_at']} (migkg {manifest['migkg_version']})")
    _say(f"OWL 2 DL check: {manifest['reasoning']['dl_check']}")
    _print_summary(manifest["summary"])
    return 0


def _resolve_query(text: str, catalogue: dict):
    if not text.strip():
        raise QueryInputError("the query is empty: give an example name (`migkg queries` lists them), a .rq file or "
                              "SPARQL text")
    path = Path(text)
    if text.endswith(".rq"):
        if not path.is_file():
            raise QueryInputError(f"no query file {text}")
        return read_query(path)
    if text not in catalogue and "\n" not in text and len(text) < 4096 and path.is_file():
        return read_query(path)  # a query file named otherwise (query.sparql): read as the file it is
    if text in catalogue:
        return catalogue[text]
    if re.fullmatch(r"[\w.-]+", text) and text.upper() not in SPARQL_WORDS:
        # One word is no query: most likely a misspelt example name.
        close = difflib.get_close_matches(text, list(catalogue), n=3)
        raise QueryInputError(f"no example query is named {text!r}" + (f" (did you mean {', '.join(close)}?)"
                              if close else "") + "; `migkg queries` lists them. Give a name, a .rq file or "
                              "SPARQL text.")
    return None


def cmd_query(args) -> int:
    settings = _settings(args)
    try:
        catalogue = load_catalogue(settings.queries_dir)
    except QueryInputError as error:
        return _fail(f"the example queries cannot be read: {error}")
    values = {}
    for item in args.param or []:
        name, sep, value = item.partition("=")
        if not sep:
            return _fail(f"--param wants NAME=VALUE, got {item!r}", EXIT_USAGE)
        values[name.lstrip("?$")] = value
    try:
        canned = _resolve_query(args.query, catalogue)
        if values and not canned:
            return _fail("--param works with a named query or a .rq file", EXIT_USAGE)
        text, bindings = (canned.text, canned.bindings(values)) if canned else (args.query, None)
        backend, snapshot = _snapshot(settings)
    except (BackendConfigError, BackendUnavailable) as error:
        return _fail(str(error), EXIT_NO_STORE)
    except QueryInputError as error:
        return _fail(str(error), EXIT_USAGE)
    try:
        results = snapshot.execute(text, bindings)
        if args.format == "table" and isinstance(results, QuerySolutions):
            results = _readable_table(results, snapshot)  # labels come from the same build, before it closes
    except BackendUnavailable as error:
        return _fail(str(error), EXIT_NO_STORE)
    except QueryRejected as error:
        if error.status == 400:
            return _fail(f"the query is not valid SPARQL: {error.message}", EXIT_USAGE)
        return _fail(error.message)
    finally:
        backend.close()
    out = sys.stdout.buffer
    if isinstance(results, list):  # a CONSTRUCT or DESCRIBE answer: its triples
        if args.format in RESULT_FORMATS:
            return _fail(f"--format {args.format} writes SELECT and ASK answers; a CONSTRUCT or DESCRIBE answers with "
                         f"a graph: give {', '.join(GRAPH_FORMATS)} (table shows turtle)", EXIT_USAGE)
        serialize(results, out, format=GRAPH_FORMATS.get(args.format, RdfFormat.TURTLE))
        return 0
    if args.format in GRAPH_FORMATS:
        kind = "an ASK" if isinstance(results, QueryBoolean) else "a SELECT"
        return _fail(f"--format {args.format} writes CONSTRUCT and DESCRIBE graphs; {kind} answers with table, "
                     f"{', '.join(RESULT_FORMATS)}", EXIT_USAGE)
    if isinstance(results, QueryBoolean):
        if args.format == "table":
            print("true" if results else "false")
        else:
            out.write(results.serialize(format=RESULT_FORMATS[args.format]))
            out.flush()
            print()
        return 0
    if args.format == "table":
        _print_table(*results)
    else:
        results.serialize(out, format=RESULT_FORMATS[args.format])
        out.flush()
        print()
    return 0


TABLE_WIDTH = 60  # the widest a column gets; longer cells end in "…"
TABLE_LABELS = """
SELECT ?resource ?label WHERE {
  VALUES ?resource { %s }
  ?resource rdfs:label ?label .
  FILTER(LANG(?label) IN ("en", ""))
}"""


def _table_labels(snapshot, iris: set[str]) -> dict[str, str]:
    """The English label of each IRI (the shortest when there are several), as the web table shows it."""
    labels: dict[str, str] = {}
    if not iris:
        return labels
    nodes = " ".join(str(NamedNode(iri)) for iri in sorted(iris))  # written by pyoxigraph, never pasted text
    for row in snapshot.select(TABLE_LABELS % nodes):
        iri, text = row["resource"].value, row["label"].value
        if iri not in labels or len(text) < len(labels[iri]):
            labels[iri] = text
    return labels


def _cell(term, labels: dict[str, str]) -> str:
    if term is None:
        return ""
    if isinstance(term, NamedNode):
        name, label = prefixed(term.value), labels.get(term.value)
        if label:  # the name says what it is; the prefixed name, where there is one, says which IRI
            return f"{label} ({name})" if name else label
        return name or f"<{term.value}>"
    if isinstance(term, Literal):
        return " ".join(term.value.split())  # one line per row
    return str(term)


def _readable_table(results: QuerySolutions, snapshot) -> tuple[list[str], list[list[str]]]:
    """The answer's variables and its rows as text: IRIs as "label (prefixed name)", one line per row."""
    variables = [v.value for v in results.variables]
    solutions = [[solution[name] for name in variables] for solution in results]
    iris = {term.value for row in solutions for term in row if isinstance(term, NamedNode)}
    labels = _table_labels(snapshot, iris)
    return variables, [[_cell(term, labels) for term in row] for row in solutions]


def _print_table(variables: list[str], rows: list[list[str]]) -> None:
    """Columns as wide as they need, up to TABLE_WIDTH; longer cells end in "…"."""
    widths = [min(TABLE_WIDTH, max([len(name) + 1] + [len(row[i]) for row in rows]))
              for i, name in enumerate(variables)]
    print("  ".join(f"?{name}".ljust(width) for name, width in zip(variables, widths)).rstrip())
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print("  ".join((cell if len(cell) <= width else cell[: width - 1] + "…").ljust(width)
                        for cell, width in zip(row, widths)).rstrip())
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


def cmd_queries(args) -> int:
    try:
        catalogue = load_catalogue(_settings(args).queries_dir)
    except QueryInputError as error:
        return _fail(f"the example queries cannot be read: {error}")
    for slug, query in catalogue.items():
        params = ", ".join(f"{p.name}={term_text(p.default) if p.default else ''}" for p in query.parameters)
        print(f"{slug:40} {query.title}" + (f"  [{params}]" if params else ""))
    return 0


def cmd_export(args) -> int:
    try:
        backend, snapshot = _snapshot(_settings(args))
        path = snapshot.dump(EXPORT_FORMATS[args.format][0])
    except (BackendConfigError, BackendUnavailable) as error:
        return _fail(str(error), EXIT_NO_STORE)
    finally:
        if "backend" in locals():
            backend.close()
    if args.output and args.output != "-":
        try:
            shutil.copyfile(path, args.output)
        except OSError as error:
            return _fail(f"cannot write {args.output}: {error.strerror or error}")
        _say(f"wrote {args.output}")
    else:
        with open(path, "rb") as dump_file:
            shutil.copyfileobj(dump_file, sys.stdout.buffer)
    return 0


def cmd_publish(args) -> int:
    """Load the current local build into a remote engine (credentials from the environment only)."""
    from .publish import PublishError, publish
    from .store import StoreMissing, current_build

    settings = _settings(args)
    try:
        directory = current_build(settings.store_path)
    except StoreMissing as error:
        return _fail(f"nothing to publish: {error.reason}", EXIT_NO_STORE)
    user = os.environ.get("MIGKG_PUBLISH_USER")
    auth = (user, os.environ.get("MIGKG_PUBLISH_PASSWORD", "")) if user else None
    try:
        publish(directory, args.to, graph_store_url=args.graph_store, auth=auth)
    except PublishError as error:
        return _fail(f"publish failed: {error}")
    _say(f"published build {directory.name} to {args.to}")
    return 0


def cmd_serve(args) -> int:
    settings = _settings(args)
    try:
        backend, snapshot = _snapshot(settings)
        backend.close()
    except (BackendConfigError, BackendUnavailable) as error:
        return _fail(str(error), EXIT_NO_STORE)
    try:
        host = listening_address(args.host, args.port)
    except OSError as error:
        return _fail(f"cannot serve on {args.host}:{args.port}: {error.strerror or error}", EXIT_USAGE)
    env = dict(os.environ, MIGKG_BACKEND=settings.backend_spec)
    if not settings.public_url:
        env["MIGKG_PUBLIC_URL"] = f"http://{args.host}:{args.port}/"
    if args.dev:
        os.execvpe(sys.executable, [sys.executable, "-m", "flask", "--app", "webapp:create_app", "run",
                                     "--host", args.host, "--port", str(args.port)], env)
    _say(f"migkg explorer: http://{args.host}:{args.port}/  (SPARQL endpoint: http://{args.host}:{args.port}/sparql)"
         f"  backend: {settings.backend_spec}")
    command = server_command(host, args.port, args.workers)
    os.execvpe(command[0], command, env)
    return 0


def listening_address(host: str, port: int) -> str:
    """The IP address to listen on for `host` (granian takes addresses, not names), checked free on `port`.

    Raises OSError (unknown name, address in use or not on this machine) before the server starts, which
    would report it as a traceback."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise OSError(error.errno, f"no address for {host!r} ({error.strerror})") from None
    except UnicodeError:  # a name IDNA cannot encode ("a..b")
        raise OSError(0, f"{host!r} is no host name") from None
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is no conflict
        probe.bind(address)
    finally:
        probe.close()
    return address[0]


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="migkg", description="The migration governance knowledge graph.")
    main.add_argument("--store", help="store path (default var/store, or $MIGKG_STORE)")
    main.add_argument("--backend", help="oxigraph:PATH or sparql:URL (default $MIGKG_BACKEND, else the store)")
    # The same two options after the command too (`migkg build --store x`); SUPPRESS keeps one given before it.
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--store", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    where.add_argument("--backend", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    commands = main.add_subparsers(dest="command", required=True)

    def command_parser(name: str, **kwargs) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[where], **kwargs)

    for name, helptext, func in (("build", "validate, reason and load ontology + data into a new store", cmd_build),
                                 ("validate", "check the data without writing a store", cmd_validate)):
        command = command_parser(name, help=helptext)
        command.add_argument("--data", help="data directory (default data/, or $MIGKG_DATA)")
        command.add_argument("--ontology", help="ontology directory (default ontology/, or $MIGKG_ONTOLOGY)")
        command.add_argument("--no-dl-check", action="store_true", help="skip the HermiT OWL 2 DL consistency check")
        command.set_defaults(func=func)

    query = command_parser("query", help="run a SPARQL query: a .rq file, a catalogue name or a query string")
    query.add_argument("query", help="an example's name (`migkg queries` lists them), a .rq file or SPARQL text "
                       "(the project's prefixes, e.g. mig: and id:, need no PREFIX)")
    query.add_argument("--param", "-p", action="append", metavar="NAME=VALUE",
                       help="bind a parameter of a named query or .rq file: an IRI (id:bali-process, <https://…>) "
                       "or a literal (\"2010-01-01\"^^xsd:date); repeat for several")
    query.add_argument("--format", "-f", default="table", choices=["table", *RESULT_FORMATS, *GRAPH_FORMATS],
                       help="table (default: labels, one line per row), a results format for SELECT/ASK or a "
                       "graph format for CONSTRUCT/DESCRIBE")
    query.set_defaults(func=cmd_query)

    command_parser("queries", help="list the example queries").set_defaults(func=cmd_queries)

    stats = command_parser("stats", help="statements per graph and resources per class of the current store")
    stats.add_argument("--json", action="store_true", help="the build's whole manifest (identity, date, checks, counts) as JSON")
    stats.set_defaults(func=cmd_stats)

    export = command_parser("export", help="dump the whole dataset")
    export.add_argument("--format", "-f", default="trig", choices=sorted(EXPORT_FORMATS),
                        help="trig and nquads keep the named graphs; the others merge them (default trig)")
    export.add_argument("--output", "-o", help="file to write (default: standard output)")
    export.set_defaults(func=cmd_export)

    publish = command_parser("publish", help="load the current build into a SPARQL 1.1 engine (Graph Store "
                                  "Protocol); credentials from MIGKG_PUBLISH_USER / MIGKG_PUBLISH_PASSWORD")
    publish.add_argument("--to", required=True, metavar="URL", help="the engine's SPARQL query endpoint")
    publish.add_argument("--graph-store", metavar="URL", help="its Graph Store Protocol endpoint, if not the same")
    publish.set_defaults(func=cmd_publish)

    serve = command_parser("serve", help="serve the explorer and SPARQL endpoint (granian)")
    serve.add_argument("--host", default=os.environ.get("MIGKG_HOST", "127.0.0.1"),
                       help="address or name to listen on (default 127.0.0.1, or $MIGKG_HOST; 0.0.0.0 for every one)")
    serve.add_argument("--port", type=_whole_number(1, MAX_PORT), default=env_number("MIGKG_PORT", 8000, 1, int, MAX_PORT),
                       help="port (default 8000, or $MIGKG_PORT)")
    serve.add_argument("--workers", type=_whole_number(1, MAX_WORKERS),
                       default=env_number("MIGKG_WORKERS", 2, 1, int, MAX_WORKERS),
                       help="web processes, each with $MIGKG_QUERY_WORKERS query processes (default 2, or $MIGKG_WORKERS)")
    serve.add_argument("--dev", action="store_true", help="Flask's development server instead of granian")
    serve.set_defaults(func=cmd_serve)
    return main


MAX_PORT = 65535
MAX_WORKERS = 256  # web processes; each starts its own query processes


def _whole_number(minimum: int, maximum: int):
    """An argparse type: a whole number in range, or a plain usage error."""
    def convert(text: str) -> int:
        value = number_between(text, minimum, maximum)
        if value is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not usable: give {wanted_number(minimum, maximum)}")
        return value
    return convert


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
        return args.func(args)
    except SettingError as error:
        return _fail(str(error), EXIT_USAGE)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
