"""The API's blueprint: flask-smorest's, with a body parser that refuses JSON nested too deep
to parse as any other invalid JSON (400) instead of letting the parser's RecursionError through
as a 500."""

import json

import flask_smorest
from webargs.flaskparser import FlaskParser


class _Parser(FlaskParser):
    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            error = json.JSONDecodeError("nested too deep", "", 0)
            return self._handle_invalid_json_error(error, req)


class Blueprint(flask_smorest.Blueprint):
    """An API blueprint (views, schemas, OpenAPI) with the parser above."""

    ARGUMENTS_PARSER = _Parser()
