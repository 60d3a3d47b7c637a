"""migkg: the migration governance knowledge graph (ontology, curated data, build, store, queries)."""

__version__ = "0.1.0"
