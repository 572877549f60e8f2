"""A WSGI app without the product, for tests/e2e/test_serving.py to serve with gunicorn."""

import gc
import os
import time
from urllib.parse import parse_qs

from app.infra.groupcommit import arrivals


def app(environ, start_response):
    path = environ["PATH_INFO"]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if path == "/slow":
        time.sleep(float(query["seconds"][0]))
        body = "slept"
    elif path == "/frozen":
        body = str(gc.get_freeze_count())
    elif path == "/pid":
        body = str(os.getpid())
    elif path == "/arrivals":  # the threads counted for a hold group's leader to wait for
        body = str(arrivals.count)
    else:
        body = path
    data = body.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
