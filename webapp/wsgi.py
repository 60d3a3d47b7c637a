"""WSGI entry point for gunicorn: `gunicorn webapp.wsgi:app` (configured by MIGKG_* environment variables)."""

from . import create_app

app = create_app()
