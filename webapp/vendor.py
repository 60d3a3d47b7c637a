"""Front-end packages of the explorer (map geometry and projection, axe-core) installed from npm (`make assets`) and
served from this host under /assets/: never a CDN.

Only the files named here are served, so node_modules is not browsable. (/vendor/ belongs to the SPARQL editor's
packages in webapp/workbench.py; a second rule under the same prefix would be shadowed by it.)"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_from_directory

from migkg.config import PROJECT_ROOT

blueprint = Blueprint("vendor", __name__)

NODE_MODULES = PROJECT_ROOT / "node_modules"

# package -> the files of it that pages load
SERVED = {
    "d3-array": {"dist/d3-array.min.js"},
    "d3-geo": {"dist/d3-geo.min.js"},
    "topojson-client": {"dist/topojson-client.min.js"},
    "world-atlas": {"countries-110m.json"},
    "axe-core": {"axe.min.js"},
}


def package_file(package: str, filename: str) -> Path:
    """The installed file, or a plain error saying how to install the packages."""
    path = NODE_MODULES / package / filename
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make assets` (npm ci) to install the front-end packages")
    return path


@blueprint.get("/assets/<package>/<path:filename>")
def vendor_file(package: str, filename: str):
    if filename not in SERVED.get(package, ()):
        abort(404, description=f"/assets/{package}/{filename} is not one of the files this site serves.")
    try:
        path = package_file(package, filename)
    except FileNotFoundError as missing:
        abort(503, description=str(missing))
    return send_from_directory(path.parent, path.name, max_age=7 * 86400)
