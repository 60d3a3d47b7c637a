"""The `migkg` command line: build, validate, query, stats, export, serve."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from pyoxigraph import QueryBoolean, QueryResultsFormat, QuerySolutions, QueryTriples, RdfFormat

from .build import BuildFailed, build, prepare
from .catalogue import QueryInputError, execute, load_catalogue, read_query
from .config import Settings
from .export import FORMATS as EXPORT_FORMATS
from .export import dump
from .store import StoreMissing, open_read_only, read_manifest

EXIT_FAILED, EXIT_USAGE, EXIT_NO_STORE = 1, 2, 3

RESULT_FORMATS = {"json": QueryResultsFormat.JSON, "csv": QueryResultsFormat.CSV,
                  "tsv": QueryResultsFormat.TSV, "xml": QueryResultsFormat.XML}
GRAPH_FORMATS = {"turtle": RdfFormat.TURTLE, "ntriples": RdfFormat.N_TRIPLES, "jsonld": RdfFormat.JSON_LD,
                 "rdfxml": RdfFormat.RDF_XML}


def _settings(args: argparse.Namespace) -> Settings:
    changes = {}
    if getattr(args, "store", None):
        changes["store_path"] = Path(args.store).resolve()
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


def cmd_stats(args) -> int:
    try:
        manifest = read_manifest(_settings(args).store_path)
    except StoreMissing as error:
        return _fail(str(error), EXIT_NO_STORE)
    if args.json:
        print(json.dumps(manifest, indent=2))
        return 0
    _say(f"build {manifest['build_id'][:12]} made {manifest['built_at']} (migkg {manifest['migkg_version']})")
    _say(f"OWL 2 DL check: {manifest['reasoning']['dl_check']}")
    _print_summary(manifest["summary"])
    return 0


def _resolve_query(text: str, catalogue: dict):
    path = Path(text)
    if text.endswith(".rq"):
        if not path.is_file():
            raise QueryInputError(f"no query file {text}")
        return read_query(path)
    if text in catalogue:
        return catalogue[text]
    return None


def cmd_query(args) -> int:
    settings = _settings(args)
    catalogue = load_catalogue(settings.queries_dir)
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
        text = canned.bound_text(values) if canned else args.query
        built = open_read_only(settings.store_path)
        results = execute(built.store, text)
    except StoreMissing as error:
        return _fail(str(error), EXIT_NO_STORE)
    except QueryInputError as error:
        return _fail(str(error), EXIT_USAGE)
    except SyntaxError as error:
        return _fail(f"the query is not valid SPARQL: {error}", EXIT_USAGE)
    out = sys.stdout.buffer
    if isinstance(results, QueryBoolean):
        if args.format == "json":
            results_text = json.dumps({"head": {}, "boolean": bool(results)})
            print(results_text)
        else:
            print("true" if results else "false")
        return 0
    if isinstance(results, QueryTriples):
        fmt = GRAPH_FORMATS.get(args.format, RdfFormat.TURTLE)
        results.serialize(out, format=fmt)
        return 0
    if args.format == "table":
        _print_table(results)
    else:
        results.serialize(out, format=RESULT_FORMATS[args.format])
        out.flush()
        print()
    return 0


def _cell(term) -> str:
    if term is None:
        return ""
    return term.value


def _print_table(results: QuerySolutions) -> None:
    variables = [v.value for v in results.variables]
    rows = [[_cell(solution[name]) for name in variables] for solution in results]
    widths = [min(60, max([len(name)] + [len(row[i]) for row in rows])) for i, name in enumerate(variables)]
    print("  ".join(name.ljust(width) for name, width in zip(variables, widths)))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print("  ".join((cell if len(cell) <= width else cell[: width - 1] + "…").ljust(width)
                        for cell, width in zip(row, widths)))
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


def cmd_queries(args) -> int:
    for slug, query in load_catalogue(_settings(args).queries_dir).items():
        params = ", ".join(f"{p.name}={p.default.value if p.default else ''}" for p in query.parameters)
        print(f"{slug:40} {query.title}" + (f"  [{params}]" if params else ""))
    return 0


def cmd_export(args) -> int:
    try:
        built = open_read_only(_settings(args).store_path)
    except StoreMissing as error:
        return _fail(str(error), EXIT_NO_STORE)
    if args.output and args.output != "-":
        with open(args.output, "wb") as output:
            dump(built.store, args.format, output)
        _say(f"wrote {args.output}")
    else:
        dump(built.store, args.format, sys.stdout.buffer)
    return 0


def cmd_serve(args) -> int:
    settings = _settings(args)
    try:
        open_read_only(settings.store_path)
    except StoreMissing as error:
        return _fail(str(error), EXIT_NO_STORE)
    env = dict(os.environ, MIGKG_STORE=str(settings.store_path))
    if args.dev:
        os.execvpe(sys.executable, [sys.executable, "-m", "flask", "--app", "webapp:create_app", "run",
                                     "--host", args.host, "--port", str(args.port)], env)
    gunicorn = shutil.which("gunicorn") or str(Path(sys.executable).with_name("gunicorn"))
    _say(f"migkg explorer: http://{args.host}:{args.port}/  (SPARQL endpoint: http://{args.host}:{args.port}/sparql)")
    os.execvpe(gunicorn, [gunicorn, "--workers", str(args.workers), "--bind", f"{args.host}:{args.port}",
                          "--timeout", "60", "--access-logfile", "-", "webapp.wsgi:app"], env)
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="migkg", description="The migration governance knowledge graph.")
    main.add_argument("--store", help="store path (default var/store, or $MIGKG_STORE)")
    commands = main.add_subparsers(dest="command", required=True)

    for name, helptext, func in (("build", "validate, reason and load ontology + data into a new store", cmd_build),
                                 ("validate", "check the data without writing a store", cmd_validate)):
        command = commands.add_parser(name, help=helptext)
        command.add_argument("--data", help="data directory (default data/)")
        command.add_argument("--ontology", help="ontology directory (default ontology/)")
        command.add_argument("--no-dl-check", action="store_true", help="skip the HermiT OWL 2 DL consistency check")
        command.set_defaults(func=func)

    query = commands.add_parser("query", help="run a SPARQL query: a .rq file, a catalogue name or a query string")
    query.add_argument("query")
    query.add_argument("--param", "-p", action="append", metavar="NAME=VALUE", help="bind a query parameter")
    query.add_argument("--format", "-f", default="table",
                       choices=["table", *RESULT_FORMATS, *GRAPH_FORMATS])
    query.set_defaults(func=cmd_query)

    commands.add_parser("queries", help="list the example queries").set_defaults(func=cmd_queries)

    stats = commands.add_parser("stats", help="statements per graph and resources per class of the current store")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=cmd_stats)

    export = commands.add_parser("export", help="dump the whole dataset")
    export.add_argument("--format", "-f", default="trig", choices=sorted(EXPORT_FORMATS))
    export.add_argument("--output", "-o", help="file to write (default: standard output)")
    export.set_defaults(func=cmd_export)

    serve = commands.add_parser("serve", help="serve the explorer and SPARQL endpoint (gunicorn)")
    serve.add_argument("--host", default=os.environ.get("MIGKG_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("MIGKG_PORT", "8000")))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("MIGKG_WORKERS", "2")))
    serve.add_argument("--dev", action="store_true", help="Flask's development server instead of gunicorn")
    serve.set_defaults(func=cmd_serve)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
