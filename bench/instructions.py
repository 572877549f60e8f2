"""Instructions per request of the everyday mix and of a bare /livez, counted in one process:
for judging a change too small for the machine's drift (±30 % between runs; a few percent of
the mix's work never shows in paired runs of bench/journey.py).

Usage (from the repository root, with MariaDB on 127.0.0.1:3306, Redis on 127.0.0.1:6379 and
valgrind installed, e.g. Debian's ``valgrind``)::

    .venv/bin/python -m bench.instructions                    # 6000 requests of the mix
    .venv/bin/python -m bench.instructions --requests 1500    # quicker, about a minute

It drops and recreates ``booking_bench_instructions`` (flushes Redis db 6) and seeds the city
of bench/journey.py with the same seed. Then, for each of the two workloads, a child process
runs the app's WSGI callable (the layer before Flask included; no gunicorn, no sockets to the
client) under valgrind's callgrind, from a flushed Redis and warmed up as bench/journey.py warms
its server (bare /livez and an everyday mix of another seed), with instruction counting switched
on only around the measured requests (``callgrind_control -i``): the everyday mix in the order
bench/journey.py sends it, or as many bare ``GET /livez`` as ``--livez``. Under valgrind a
request takes about fifty times as long, so the cached answers' lifetimes are raised for the
child (the catalogue's and the token states') lest entries expire that never expire in the few
seconds of the real mix; the hash seed is fixed.

What it counts is the app's own user-space work: not the kernel's share of a round trip to
MariaDB or Redis, nor theirs, nor gunicorn's. Two counts of one version agree within about 0.1 %,
but what a read costs depends on the time of day (schedules' availability follows the clock):
count two versions side by side (each with its own --database-url and --redis-url) or one right
after the other, and compare per-request figures.
"""

import argparse
import io
import os
import pickle
import random
import re
import subprocess
import sys
import tempfile
import time

from app import create_app
from app.services import auth
from bench.flash_release import _bounded, _local_only, server_environment
from bench.journey import SEED, everyday_requests
from bench.seed import analyze, fresh_app, seed_city

DEFAULT_DATABASE_URL = (
    "mysql+pymysql://root@127.0.0.1:3306/booking_bench_instructions?charset=utf8mb4"
)
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/6"  # the tests use 8–15
# Long enough that nothing cached expires while valgrind runs the mix (minutes, not seconds).
LONG_LIVED_SECONDS = 24 * 3600
# Before counting, as bench/journey.py warms its server up: an everyday mix of its own (another
# seed) and bare /livez, so that statements are compiled and a few answers cached.
WARM_UP = 400
_TOTALS = re.compile(r"^totals:\s+(\d+)", re.M)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.instructions",
        description="Instructions per request of the everyday mix and of /livez, in one process.",
    )
    parser.add_argument("--requests", type=_bounded(1, 100_000), default=6000, help="of the mix")
    parser.add_argument("--livez", type=_bounded(1, 100_000), default=1000, help="bare /livez")
    parser.add_argument("--visitors", type=_bounded(1, 20_000), default=1000)
    parser.add_argument("--database-url", type=_local_only, default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", type=_local_only, default=DEFAULT_REDIS_URL)
    parser.add_argument("--child", nargs=2, metavar=("WORKLOAD", "FIXTURE"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def totals(text: str) -> int:
    """The instructions a callgrind output file counted (its ``totals:`` line)."""
    found = _TOTALS.search(text)
    if found is None:
        raise ValueError("no totals: line in the callgrind output")
    return int(found[1])


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        return _child(args, *args.child)
    os.environ.update(server_environment(args, 0))
    started = time.monotonic()
    print(f"preparing {args.database_url.split('@')[-1]} and {args.redis_url} …", flush=True)
    fixture, store = _seeded(args)
    print(f"seeded in {time.monotonic() - started:.1f} s; counting under callgrind …", flush=True)
    counted = {}
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as scratch:
        fixture_path = os.path.join(scratch, "fixture.pickle")
        with open(fixture_path, "wb") as out:
            pickle.dump(fixture, out)
        for workload, count in (("everyday", args.requests), ("livez", args.livez)):
            store.flushdb()
            counted[workload] = _count(workload, count, fixture_path, scratch) / count
            print(f"{workload:9s} {count:6d} requests: {counted[workload] / 1e6:.3f} M each")
    print(f"ratio     /livez ÷ everyday = {counted['livez'] / counted['everyday']:.3f}")
    return 0


def _seeded(args):
    app, store = fresh_app(args.database_url, args.redis_url)
    with app.app_context():
        city = seed_city(10, 1, 1, args.visitors, random.Random(SEED))
        analyze()
    return (city.catalogue, city.visitors), store


def _count(workload, count, fixture_path, scratch) -> int:
    out_file = os.path.join(scratch, f"callgrind-{workload}.out")
    command = [
        "valgrind",
        "--tool=callgrind",
        "--quiet",
        "--instr-atstart=no",
        f"--callgrind-out-file={out_file}",
        sys.executable,  # the interpreter (a venv's link to it), never a wrapper script
        "-m",
        "bench.instructions",
        "--requests",
        str(count),
        "--child",
        workload,
        fixture_path,
    ]
    environment = {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "CATALOGUE_CACHE_SECONDS": str(LONG_LIVED_SECONDS),
    }
    log_path = os.path.join(scratch, f"{workload}.log")  # the app's log lines, one per request
    with open(log_path, "w") as log:
        done = subprocess.run(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        with open(log_path) as log:
            sys.stderr.write("".join(log.readlines()[-20:]))
        raise SystemExit(f"the {workload} count failed (exit {done.returncode})")
    with open(out_file) as text:
        return totals(text.read())


def _child(args, workload, fixture_path) -> int:
    with open(fixture_path, "rb") as given:
        catalogue, visitors = pickle.load(given)
    auth.STATE_SECONDS = LONG_LIVED_SECONDS  # a token state cached stays for the whole count
    app = create_app()

    def call(method_path_headers):
        method, path, headers = method_path_headers
        path, _, query = path.partition("?")
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
        }
        for name, value in headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        statuses = []
        b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
        if not statuses[0].startswith("2"):
            raise SystemExit(f"{method} {path}: {statuses[0]}")

    def mix(count, seed):
        chosen = everyday_requests(count, catalogue, visitors, random.Random(seed))
        return [(r.method, r.path, r.headers or {}) for _, r in chosen]

    livez = ("GET", "/livez", {})
    measured = mix(args.requests, SEED) if workload == "everyday" else [livez] * args.requests
    for request in [livez] * WARM_UP + mix(WARM_UP, SEED + 1):
        call(request)
    _instrument("on")
    for request in measured:
        call(request)
    _instrument("off")
    return 0


def _instrument(state):
    subprocess.run(
        ["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True
    )


if __name__ == "__main__":
    sys.exit(main())
