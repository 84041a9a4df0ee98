"""``python -m benchmarks``: run minnn's benchmark suite (see benchmarks/run.py)."""
from benchmarks.run import main

main()
