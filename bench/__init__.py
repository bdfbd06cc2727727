"""Benchmarks of the suite: scripts that print figures, each beside a baseline.

Run from the repository root with `.venv/bin/python -m bench [--quick]
[--backend sqlite|postgresql|both]` (or `make bench`). Nothing here asserts
anything about time; the targets in the table are for people to read.
"""
