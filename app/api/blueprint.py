"""The API's blueprint: flask-smorest's, with

- a body parser that refuses JSON nested too deep to parse as any other invalid JSON (400)
  instead of letting the parser's RecursionError through as a 500, and a request without the
  JSON body its operation takes, as the OpenAPI document says (every request body is required):
  none at all is 422, one of another media type 415;
- error answers documented with the error envelope's schema, so that the document says what
  their bodies are."""

import json

import flask_smorest
import marshmallow as ma
from flask import abort
from webargs.flaskparser import FlaskParser, is_json_request

from app.errors import ErrorSchema

NO_BODY = "请求体须为 JSON 对象"


class _Parser(FlaskParser):
    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            error = json.JSONDecodeError("nested too deep", "", 0)
            return self._handle_invalid_json_error(error, req)

    def load_json(self, req, schema):
        data = super().load_json(req, schema)
        if data is ma.missing:
            # webargs reads a missing body, or one of another type, as {}: PATCH /me without a
            # body would be a change of nothing instead of a malformed request.
            if req.get_data(cache=True) and not is_json_request(req):
                abort(415)
            raise ma.ValidationError({"_schema": [NO_BODY]})
        return data


class Blueprint(flask_smorest.Blueprint):
    """An API blueprint (views, schemas, OpenAPI) with the parser above."""

    ARGUMENTS_PARSER = _Parser()

    def alt_response(self, status_code, response=None, *, schema=None, **kwargs):
        """An alternative answer; an error's body is the envelope unless said otherwise."""
        if response is None and schema is None and int(status_code) >= 400:
            schema = ErrorSchema
        return super().alt_response(status_code, response, schema=schema, **kwargs)
