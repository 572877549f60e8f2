"""The instruction-count benchmark (bench/instructions.py): what it reads of callgrind's output
and what it accepts."""

import pytest

from bench.instructions import DEFAULT_DATABASE_URL, parse_args, totals

# The head and tail of a callgrind output file, as valgrind 3.19 writes it.
CALLGRIND_OUTPUT = """# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 1024
cmd:  /work/main/.venv/bin/python -m bench.instructions
events: Ir
summary: 74040316

fl=(1) ???
fn=(1) 0x0000000000108090
0 3
totals: 74040316
"""


def test_the_count_is_the_totals_line():
    assert totals(CALLGRIND_OUTPUT) == 74_040_316


def test_an_output_without_totals_is_refused():
    with pytest.raises(ValueError, match="totals"):
        totals("# callgrind format\nevents: Ir\n")


def test_defaults_and_bounds():
    args = parse_args([])
    assert (args.requests, args.livez, args.visitors) == (6000, 1000, 1000)
    assert args.database_url == DEFAULT_DATABASE_URL and args.child is None
    assert parse_args(["--requests", "1500"]).requests == 1500
    for refused in (["--requests", "0"], ["--livez", "100001"], ["--requests", "many"]):
        with pytest.raises(SystemExit):
            parse_args(refused)


def test_only_local_servers():
    with pytest.raises(SystemExit):
        parse_args(["--database-url", "mysql+pymysql://root@db.example.com/booking"])
    with pytest.raises(SystemExit):
        parse_args(["--redis-url", "redis://cache.example.com:6379/6"])
