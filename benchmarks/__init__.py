"""minnn's benchmark suite: ``python -m benchmarks`` (see run.py). Not part of the package."""
