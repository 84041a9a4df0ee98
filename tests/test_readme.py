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
