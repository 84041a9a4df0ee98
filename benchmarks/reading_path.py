"""How many lines a reader crosses from ``fit`` to the moment a weight changes.

    python -m benchmarks.reading_path        # the table, one row per function
    python -m benchmarks.reading_path -v     # and every counted line (M: math)

Issue 13 asked for this path to read in under half its lines of machinery. The
count is made the same way every time, so that two versions of minnn compare:

1. Train the tutorial autoencoder for one epoch of two batches under
   ``sys.settrace``. Whenever a line of a *math leaf* runs (a layer's,
   activation's or loss's ``forward``/``backward``, the optimiser's ``_update``
   or Adam's ``_adam``), record every minnn function on the call stack, up to
   ``fit``. The union of those functions is the reading path: the bodies a
   reader goes through to get from ``fit`` to the arithmetic.
   Comprehensions count as part of the function they are written in.
2. Count their code lines: no blank lines, comments or docstrings; a statement
   spread over three lines counts three.
3. Math lines are those that compute the forward pass, the loss, a gradient or
   the update, recognised by the pattern ``MATH``. The rest is machinery:
   calls, checks, caches, bookkeeping, speed and safety.

Measured with this script (Python 3.11):

- before issue 13 (commit 7fbd5a8): 17 functions in 7 files, 249 lines, 25 of
  them math: 224 lines of machinery. (``_adam`` did not exist then: Adam's
  arithmetic was in ``_update``.)
- after: see ``python -m benchmarks.reading_path``; tests/test_reading_path.py
  keeps it under half of 224.

What the count does not see: helpers that return before the arithmetic runs
(the argument checks of ``fit``, ``_check_dy``) are not on the path, because a
reader can skip a clearly named check; generators (the epoch's batches) and
context managers (the step guard) are not on the stack while the math runs.
"""
import ast
import os
import re
import sys

import numpy as np

import minnn
from minnn.datasets import two_gaussians

PACKAGE = os.path.dirname(os.path.abspath(minnn.__file__)) + os.sep
LEAVES = {"forward", "backward", "_update", "_adam"}
LEAF_FILES = ("layers.py", "activations.py", "losses.py", "optimizers.py")
BEFORE = 224  # lines of machinery at commit 7fbd5a8, measured with this script

MATH = re.compile(
    r"(@|np\.maximum|np\.mean|\.sum\(axis|grad \+=|\+= self\.bias|\*= diff|diff \*=|"
    r"y_pred - y_true|da \* |m \+= tmp|v \+= tmp|p -= tmp2|np\.square|np\.sqrt|tmp \*=|"
    r"tmp -= v|np\.subtract|np\.multiply\(m|tmp2 /=|tmp \+= self\.epsilon|alpha =)")


def path_functions():
    """{(file, first line): name} of every minnn function on the stack under a math leaf."""
    minnn.utils.set_random_seed(0)
    ae = two_gaussians.tutorial_autoencoder()
    ae.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).standard_normal((256, 2)).astype("float32")
    found = {}

    def tracer(frame, event, arg):
        if event == "line":
            code = frame.f_code
            if code.co_name in LEAVES and code.co_filename.endswith(LEAF_FILES):
                f = frame
                while f is not None:
                    c = f.f_code
                    if c.co_filename.startswith(PACKAGE) and not c.co_name.startswith("<"):
                        found[(c.co_filename, c.co_firstlineno)] = c.co_name
                    if c.co_name == "fit" and c.co_filename.endswith("training.py"):
                        break
                    f = f.f_back
        return tracer

    sys.settrace(tracer)
    try:
        ae.fit(x, x, batch_size=128, epochs=1, verbose=0)
    finally:
        sys.settrace(None)
    return found


def code_lines(filename, first_line, name):
    """[(line number, text)] of the function's code lines, and the set of its math lines."""
    source = open(filename, encoding="utf-8").read()
    lines = source.splitlines()
    node = next(n for n in ast.walk(ast.parse(source))
                if isinstance(n, ast.FunctionDef) and n.name == name
                and (n.decorator_list[0].lineno if n.decorator_list else n.lineno) <= first_line <= n.lineno)
    skip = set()
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
            and isinstance(first.value.value, str):
        skip = set(range(first.lineno, first.end_lineno + 1))
    out = []
    for ln in range(node.lineno, node.end_lineno + 1):
        text = lines[ln - 1].strip()
        if text and not text.startswith("#") and ln not in skip:
            out.append((ln, text))
    math = {ln for ln, text in out if ln != node.lineno and MATH.search(text.split("#")[0])}
    return node.lineno, out, math


def measure(verbose=False, print_fn=None):
    """{'files', 'functions', 'lines', 'math', 'machinery'} of the path; prints a table if print_fn."""
    total = math_total = 0
    files = set()
    rows = []
    for (filename, first), name in sorted(path_functions().items()):
        lineno, lines, math = code_lines(filename, first, name)
        files.add(filename)
        total += len(lines)
        math_total += len(math)
        rows.append((f"{os.path.basename(filename)}:{lineno} {name}", len(lines), len(math), lines, math))
    if print_fn is not None:
        for label, n, m, lines, math in rows:
            print_fn(f"{label:40s} {n:4d} lines {m:3d} math")
            if verbose:
                for ln, text in lines:
                    print_fn(("   M  " if ln in math else "      ") + text[:100])
    return {"files": len(files), "functions": len(rows), "lines": total, "math": math_total,
            "machinery": total - math_total}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    r = measure(verbose="-v" in argv, print_fn=print)
    print(f"files {r['files']}, functions {r['functions']}, lines {r['lines']}, math {r['math']}, "
          f"machinery {r['machinery']} ({r['machinery'] / BEFORE:.0%} of the {BEFORE} before issue 13)")


if __name__ == "__main__":
    main()
