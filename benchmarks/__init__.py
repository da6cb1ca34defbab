"""Benchmarks of ganomaly-keras, outside the installed package: run them from a
checkout (`python -m benchmarks.<name>` or `ganomaly-keras benchmark ...`)."""
