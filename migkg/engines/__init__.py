"""Engines behind the backend seam: the embedded Oxigraph store and any SPARQL 1.1 endpoint."""
