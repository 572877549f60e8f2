"""Benchmarks, run by hand against a local MariaDB and Redis; see bench/README.md."""
