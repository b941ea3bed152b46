"""Benchmarks of the course kit; `python -m benchmarks` writes the combined report."""
