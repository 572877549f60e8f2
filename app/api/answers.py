"""A JSON answer as a WSGI app, written without a werkzeug Response: what the layer before Flask
(app/api/hot.py) sends. Building a Response, its ETag and its Cache-Control through werkzeug's
header structures costs about 30 µs, most of a cached read's own work; here the status line and
headers are the ones werkzeug would write, given once. A view that answers the same thing
through Flask returns ``response()``, built from the same status and headers."""

from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Response

JSON = "application/json"


class Answer:
    """``status`` and ``headers`` as given (no header added), ``body`` the bytes sent."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, body: bytes, headers: list[tuple[str, str]]):
        self.status = f"{status} {HTTP_STATUS_CODES[status].upper()}"  # as werkzeug writes it
        self.body = body
        self.headers = headers

    @classmethod
    def json(cls, status: int, body: bytes, *headers: tuple[str, str]) -> "Answer":
        """A JSON document's answer: its type and length, then ``headers``."""
        return cls(
            status, body, [("Content-Type", JSON), ("Content-Length", str(len(body))), *headers]
        )

    def __call__(self, environ, start_response):
        start_response(self.status, list(self.headers))
        return [self.body]

    def response(self) -> Response:
        """The same answer as a Response, for a view."""
        return Response(self.body, self.status, self.headers)
