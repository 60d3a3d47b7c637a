"""Liveness and build information, for load balancers and deploy checks."""

from flask import Blueprint, jsonify

from .store_access import current_store

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def health():
    built = current_store()
    return jsonify(status="ok", build_id=built.build_id, built_at=built.manifest.get("built_at"))
