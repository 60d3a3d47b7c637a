"""WSGI entry point: `granian --interface wsgi webapp.wsgi:app` (or any WSGI server; configured by MIGKG_* variables)."""

from . import create_app

app = create_app()
