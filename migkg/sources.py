"""Reading the ontology and data files into quads, with the file and line of every syntax error."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pyoxigraph import DefaultGraph, NamedNode, Quad, RdfFormat, parse

from .namespaces import ONTOLOGY_GRAPH, SHAPES_GRAPH

FORMATS = {".ttl": RdfFormat.TURTLE, ".trig": RdfFormat.TRIG, ".nt": RdfFormat.N_TRIPLES, ".nq": RdfFormat.N_QUADS}
# Data may also come as RDF/XML or JSON-LD: a curator's file in either is read, not skipped (RDF/XML holds no
# named graph, so it is refused with the reason; JSON-LD can name them). Not in ontology/, which keeps a
# JSON-LD context (context.jsonld) that is no RDF.
DATA_FORMATS = {**FORMATS, ".rdf": RdfFormat.RDF_XML, ".owl": RdfFormat.RDF_XML, ".jsonld": RdfFormat.JSON_LD}


class InputError(Exception):
    """A problem in an input file that the user must fix; the message says where and what."""


@dataclass
class ParsedInputs:
    """Everything the build read, with where each subject was stated (for readable error messages)."""

    ontology: list[Quad] = field(default_factory=list)
    shapes: list[Quad] = field(default_factory=list)
    data: list[Quad] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    subject_files: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def file_of(self, subject: str) -> str:
        files = sorted(self.subject_files.get(subject, ()))
        return ", ".join(files) if files else "(generated)"


def rdf_files(directory: Path, formats: dict = FORMATS) -> list[Path]:
    """The RDF files under a directory, in a stable order."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in formats)  # .TTL too


UTF8_BOM = b"\xef\xbb\xbf"


def parse_file(path: Path) -> list[Quad]:
    try:
        text = path.read_bytes()
        # Editors on Windows start UTF-8 files with a byte order mark, which Oxigraph reads as a subject.
        text = text[len(UTF8_BOM):] if text.startswith(UTF8_BOM) else text
        return list(parse(text, format=DATA_FORMATS[path.suffix.lower()], base_iri=path.resolve().as_uri()))
    except SyntaxError as error:
        where = f", line {error.lineno}" if error.lineno else ""
        why = ("a remote @context cannot be fetched (the build reads no network): put the context in the file"
               if "LoadDocumentCallback" in error.msg else error.msg)
        raise InputError(f"{path}{where}: syntax error. {why}") from None
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: cannot be read: {error}") from None


def read_inputs(ontology_dir: Path, data_dir: Path, shapes_file: Path) -> ParsedInputs:
    """Parse every ontology and data file. Ontology files go to the ontology graph, data keeps its graphs.

    Data statements outside any named graph are refused: a fact without a source section has no provenance.
    """
    inputs = ParsedInputs()
    # A mistyped directory must not build (and publish) a graph without its facts.
    for directory, what in ((ontology_dir, "ontology"), (data_dir, "data")):
        if not directory.is_dir():
            raise InputError(f"the {what} directory {directory} does not exist (or is not a directory)")
    if not rdf_files(data_dir, DATA_FORMATS):
        raise InputError(f"no data files ({', '.join(sorted(DATA_FORMATS))}) in {data_dir}: a build without curated "
                         "data would replace the graph being served with an empty one")
    for path in rdf_files(ontology_dir):
        quads = parse_file(path)
        inputs.files.append(path)
        target = SHAPES_GRAPH if path.resolve() == shapes_file.resolve() else ONTOLOGY_GRAPH
        bucket = inputs.shapes if target == SHAPES_GRAPH else inputs.ontology
        bucket.extend(Quad(q.subject, q.predicate, q.object, target) for q in quads)
    for path in rdf_files(data_dir, DATA_FORMATS):
        quads = parse_file(path)
        inputs.files.append(path)
        loose = [q for q in quads if isinstance(q.graph_name, DefaultGraph)]
        if loose:
            first = loose[0]
            raise InputError(
                f"{path}: {len(loose)} statement(s) outside any named graph, e.g. "
                f"{first.subject} {first.predicate} {first.object}: put every fact in the graph of "
                "the source section that states it (see data/README.md)"
            )
        for quad in quads:
            if isinstance(quad.subject, NamedNode):
                inputs.subject_files[quad.subject.value].add(str(path.name))
        inputs.data.extend(quads)
    return inputs
