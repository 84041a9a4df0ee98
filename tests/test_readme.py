"""Every Python block in the README runs as pasted, and prints what the README shows.

Each ```python block is run on its own, in a fresh interpreter, from an empty folder, the
way a newcomer pastes it. When a plain ``` block follows it directly (only blank lines
between), that block is the output the README promises, and the run must print exactly
it. A block that cannot run on its own (the Keras column of the side-by-side table, say)
starts with a visible comment, ``# excerpt, not runnable alone: <why>``; the marker must
give its reason, and there may be only a few.
"""
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKER = "# excerpt, not runnable alone:"   # the first line of a block that is not run
MAX_SKIPPED = 3
# Blocks that move models to and from real Keras run only where Keras 3 and JAX are installed
# (pip install -e ".[keras]", as .ci/run does); elsewhere they are skipped, saying so.
NEEDS_KERAS = re.compile(r"^\s*(import keras|from keras\b)|\binterop\b", re.M)
KERAS_HERE = all(importlib.util.find_spec(m) is not None for m in ("keras", "jax"))


def blocks(text):
    """[(line number, language, code, skip reason or None, expected output or None)] for every
    fenced block; a plain block right after a python block (blank lines between) is its output."""
    lines, found, i = text.splitlines(), [], 0
    while i < len(lines):
        if not lines[i].startswith("```"):
            i += 1
            continue
        lang, j = lines[i][3:].strip(), i + 1
        while not lines[j].startswith("```"):
            j += 1
        code = "\n".join(lines[i + 1:j]) + "\n"
        first = code.lstrip().splitlines()[0] if code.strip() else ""
        skip = first[len(MARKER):].strip() if first.startswith(MARKER) else None
        follows = bool(found) and found[-1][1] == "python" and all(not l.strip() for l in lines[found[-1][5]:i])
        if lang == "" and follows:
            found[-1][4] = code
        found.append([i + 2, lang, code, skip, None, j + 1])
        i = j + 1
    return [tuple(b[:5]) for b in found]


def run_block(code, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINNN_")}
    env.update(PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


PYTHON_BLOCKS = [b for b in blocks(README.read_text(encoding="utf-8")) if b[1] == "python"]


@pytest.mark.parametrize("line, lang, code, skip, expected", PYTHON_BLOCKS,
                         ids=[f"line{b[0]}" for b in PYTHON_BLOCKS])
def test_readme_python_block_runs_as_pasted(line, lang, code, skip, expected, tmp_path):
    if skip:
        pytest.skip(f"README line {line}: marked not run, because {skip}")
    if NEEDS_KERAS.search(code) and not KERAS_HERE:
        pytest.skip(f'README line {line} needs Keras 3 with JAX (pip install -e ".[keras]")')
    proc = run_block(code, tmp_path)
    assert proc.returncode == 0, f"README line {line} fails as pasted:\n{proc.stderr[-3000:]}"
    if expected is not None:
        assert proc.stdout == expected, (f"README line {line} prints something else than the "
                                         f"README shows:\n{proc.stdout}")
    assert list(tmp_path.iterdir()) == [], "the example left files behind"


def test_few_blocks_are_marked_not_run_and_each_says_why():
    skipped = [b for b in PYTHON_BLOCKS if b[3]]
    assert len(PYTHON_BLOCKS) >= 4
    assert len(skipped) <= MAX_SKIPPED, [b[0] for b in skipped]
    assert all(len(b[3]) > 15 for b in skipped)


def test_the_checker_catches_a_block_that_fails_and_wrong_output(tmp_path):
    """Negative control: the README's old training-step snippet (model undefined) fails,
    and an output block that differs from what the code prints is caught."""
    text = ("```python\ny_pred = model.forward(x)\n```\n\n"
            "```python\n# excerpt, not runnable alone: the Keras column\nimport keras\n```\n\n"
            "```python\nprint(1 + 1)\n```\n\n```\n3\n```\n")
    found = [b for b in blocks(text) if b[1] == "python"]
    assert [b[3] is not None for b in found] == [False, True, False]
    assert run_block(found[0][2], tmp_path).returncode != 0
    out = run_block(found[2][2], tmp_path)
    assert out.returncode == 0 and found[2][4] == "3\n" and out.stdout != found[2][4]


# A newcomer pastes the blocks one after another into ONE interactive `python`, started in the
# repository's root: the interactive console's rules hold (a compound statement ends at a
# blank line; the value of a bare expression is echoed), and each block sees what the
# blocks before it left behind (layer-name counters, minnn's global float type).
CONSOLE_DRIVER = r'''
import code, contextlib, io, json, sys

class Console(code.InteractiveConsole):
    def showtraceback(self):
        self.failed = True
        super().showtraceback()
    def showsyntaxerror(self, filename=None, **kwargs):
        self.failed = True
        super().showsyntaxerror(filename, **kwargs)

console, results = Console({"__name__": "__main__"}), []
for line, source in json.loads(open(sys.argv[1], encoding="utf-8").read()):
    console.failed = False
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        more = False
        for text in source.splitlines():
            more = console.push(text)
        if more:
            console.push("")   # the reader presses Enter once more
    config = sys.modules.get("minnn.config")
    results.append({"line": line, "failed": console.failed, "stdout": out.getvalue(),
                    "stderr": err.getvalue(), "floatx": config.floatx() if config else None})
open(sys.argv[2], "w", encoding="utf-8").write(json.dumps(results))
'''


def run_in_one_console(runnable, tmp_path, cwd=ROOT):
    """Paste [(line, code)] into one interactive console; one result dict per block."""
    import json
    (tmp_path / "blocks.json").write_text(json.dumps(runnable), encoding="utf-8")
    (tmp_path / "driver.py").write_text(CONSOLE_DRIVER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINNN_")}
    env.update(PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "blocks.json"),
                           str(tmp_path / "results.json")], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))


def test_the_blocks_pasted_in_order_into_one_interactive_python_from_the_root(tmp_path):
    runnable = [b for b in PYTHON_BLOCKS if not b[3]
                and (KERAS_HERE or not NEEDS_KERAS.search(b[2]))]
    results = run_in_one_console([(b[0], b[2]) for b in runnable], tmp_path)
    for (line, _, _, _, expected), r in zip(runnable, results):
        assert not r["failed"], f"README line {line} fails when pasted:\n{r['stderr'][-3000:]}"
        if expected is not None:
            assert r["stdout"] == expected, (f"README line {line}, pasted after the blocks above "
                                             f"it, shows something else:\n{r['stdout']}")
        # A block that switches minnn to float64 switches it back, or every later block
        # (and the reader's own code) would silently run in float64.
        assert r["floatx"] in (None, "float32"), f"README line {line} leaves floatx={r['floatx']}"


def test_the_console_check_catches_echoes_unclosed_blocks_and_leaked_settings(tmp_path):
    """Negative control: an echoed return value, two defs without a blank line between them,
    and a float type left at float64 are each caught."""
    results = run_in_one_console([
        (1, "import numpy as np\nnp.zeros(2)\nprint('done')\n"),
        (2, "def f():\n    pass\ndef g():\n    pass\n"),
        (3, "import minnn\nminnn.config.set_floatx('float64')\n"),
    ], tmp_path, cwd=tmp_path)
    assert results[0]["stdout"] != "done\n" and "array" in results[0]["stdout"]
    assert results[1]["failed"] and "SyntaxError" in results[1]["stderr"]
    assert not results[2]["failed"] and results[2]["floatx"] == "float64"
