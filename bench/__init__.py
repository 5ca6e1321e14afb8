"""Benchmarks: `python -m bench [--quick]`, or `make bench` / `make bench-quick`. See README.md."""
