"""Liveness and build information, for load balancers and deploy checks."""

from flask import Blueprint, jsonify

from .backend_access import backend

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def health():
    build = backend().build
    return jsonify(status="ok", build_id=build.id, built_at=build.built_at)
