"""The static-response floor of migkg's web stack: the same granian command line and Flask, one fixed SPARQL JSON answer."""

from flask import Flask, Response

ANSWER = b'{"head":{"vars":["label"]},"results":{"bindings":[{"label":{"type":"literal","value":"IOM","xml:lang":"en"}}]}}'

app = Flask(__name__)


@app.route("/sparql", methods=["GET", "POST"])
def sparql() -> Response:
    return Response(ANSWER, mimetype="application/sparql-results+json")
