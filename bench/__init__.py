"""Benchmarks (issue 7): `python -m bench [--quick]`, or `make bench` / `make bench-quick`. See README.md."""
