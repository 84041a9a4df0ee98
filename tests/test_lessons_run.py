"""Every lesson runs both ways a learner runs it, in quick mode, from a folder of its own.

(a) As a script: ``python lessons/NN_….py --quick --out DIR``, from another working folder.
(b) Cell by cell, the way a notebook kernel runs it (Jupyter with jupytext, VS Code, …):
    the file is split at its ``# %%`` lines and each cell is executed in one shared
    namespace that has no ``__file__``, with the kernel's ``sys.argv``
    (``ipykernel_launcher.py -f …/kernel-….json``), the working folder elsewhere, and the
    quick mode chosen the only way a kernel can choose it, ``MINNN_LESSON_QUICK=1``.
    ``IPython.display.display`` is replaced by a recorder, so the test sees that every
    saved figure is also shown inline.

A lesson asserts the claims it prints, so a run that exits cleanly has checked them.
Each run is a subprocess: lessons seed minnn's generator and pick matplotlib's backend,
and neither may leak into the test process.
"""
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LESSONS = sorted(p.name for p in (ROOT / "lessons").glob("[0-9]*.py"))
# Lesson 3 trains three MNIST autoencoders; tests/test_lesson03.py runs it as a script.
SCRIPT_TESTED_ELSEWHERE = {"03_mnist_pca_vs_autoencoder.py"}
# Lesson 8 moves models to and from real Keras. Without Keras it only says how to install it
# and stops (tests/test_lesson08.py checks that), so these runs need Keras and JAX.
NEEDS_KERAS = {"08_graduate_to_keras.py"}
KERAS_HERE = all(importlib.util.find_spec(m) is not None for m in ("keras", "jax"))


def skip_without_keras(name):
    if name in NEEDS_KERAS and not KERAS_HERE:
        pytest.skip(f'{name} needs Keras 3 with JAX (pip install -e ".[keras]")')
KERNEL_ARGV = ["/usr/lib/python3/dist-packages/ipykernel_launcher.py", "-f",
               "/root/.local/share/jupyter/runtime/kernel-1234.json"]

# Run one lesson as a kernel would: argv[1] the lesson, argv[2] a JSON report to write.
KERNEL_DRIVER = r'''
import json, re, sys, types
lesson_path, report_path, kernel_argv = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])

shown = []
ipython = types.ModuleType("IPython")
ipython.get_ipython = lambda: None  # no interactive shell: matplotlib installs no hook
ipython.version_info = (8, 30, 0)     # matplotlib asks
ipython.display = types.ModuleType("IPython.display")
ipython.display.display = lambda obj: shown.append(type(obj).__name__)
sys.modules["IPython"], sys.modules["IPython.display"] = ipython, ipython.display

source = open(lesson_path, encoding="utf-8").read()
cells = re.split(r"^# %%.*$", source, flags=re.M)
sys.argv = kernel_argv
namespace = {"__name__": "__main__", "__builtins__": __builtins__}
for i, cell in enumerate(cells):
    exec(compile(cell, f"<cell {i}>", "exec"), namespace)

import numpy as np
import minnn
report = {
    "cells": len(cells),
    "shown": shown,
    "has_file": "__file__" in namespace,
    "models": sorted(k for k, v in namespace.items() if isinstance(v, minnn.Model)),
    "arrays": sorted(k for k, v in namespace.items() if isinstance(v, np.ndarray)),
    "notebook": namespace["run"].notebook,
    "quick": namespace["run"].quick,
    "out": str(namespace["run"].out),
}
open(report_path, "w").write(json.dumps(report))
'''


def lesson_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINNN_")}
    # PYTHONPATH first, so that the lesson imports this checkout's minnn, wherever it runs.
    # One BLAS thread: the lessons' matrices are small, and on a busy machine OpenBLAS's
    # threads wait for each other (measured 20x slower on 2 shared cores).
    env.update(PYTHONPATH=str(ROOT), MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1", **extra)
    return env


def pngs(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))


@pytest.mark.parametrize("name", [n for n in LESSONS if n not in SCRIPT_TESTED_ELSEWHERE])
def test_lesson_runs_as_a_script_from_another_folder(name, tmp_path):
    skip_without_keras(name)
    cwd, out = tmp_path / "cwd", tmp_path / "figs"
    cwd.mkdir()
    proc = subprocess.run([sys.executable, str(ROOT / "lessons" / name), "--quick", "--out", str(out)],
                          cwd=cwd, env=lesson_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert pngs(out), "the lesson saved no figure"
    assert list(cwd.iterdir()) == [], "the lesson wrote into the working folder"


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_runs_cell_by_cell_as_in_a_notebook_kernel(name, tmp_path):
    skip_without_keras(name)
    cwd, out, report = tmp_path / "cwd", tmp_path / "figs", tmp_path / "report.json"
    cwd.mkdir()
    driver = tmp_path / "driver.py"
    driver.write_text(KERNEL_DRIVER)
    proc = subprocess.run(
        [sys.executable, str(driver), str(ROOT / "lessons" / name), str(report), json.dumps(KERNEL_ARGV)],
        cwd=cwd, env=lesson_env(MINNN_LESSON_QUICK="1", MINNN_LESSON_OUT=str(out)),
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    r = json.loads(report.read_text())
    assert r["cells"] > 4                        # a notebook, not one big cell
    assert not r["has_file"]
    assert r["notebook"] and r["quick"]
    number = name.split("_")[0]
    assert pathlib.Path(r["out"]) == out / number
    saved = pngs(out / number)
    assert saved, "the lesson saved no figure"
    # Every figure the lesson saved itself was shown inline too (a lesson that runs another
    # lesson saves that one's figures in a subfolder, without showing them).
    own = [p for p in saved if "/" not in p]
    assert r["shown"] == ["Figure"] * len(own)
    assert r["models"] or name.startswith("02b"), "no model left in the namespace to explore"
    assert r["arrays"], "no array left in the namespace to explore"
    assert list(cwd.iterdir()) == [], "the lesson wrote into the working folder"


def test_quick_mode_and_out_follow_the_documented_rules(tmp_path, monkeypatch):
    """minnn.lesson's rules, directly: a kernel's argv is never parsed, the environment
    chooses quick mode and the folder there, and a script's own arguments win."""
    from minnn import lesson

    monkeypatch.delenv("MINNN_LESSON_QUICK", raising=False)
    monkeypatch.delenv("MINNN_LESSON_OUT", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", KERNEL_ARGV)
    run = lesson.setup("99", "a kernel")
    assert run.notebook and not run.quick and run.seed == 0
    assert run.out.parts[-2:] == ("figures", "99")

    monkeypatch.setenv("MINNN_LESSON_QUICK", "1")
    monkeypatch.setenv("MINNN_LESSON_OUT", str(tmp_path / "o"))
    run = lesson.setup("99", "a kernel")
    assert run.quick and run.out == tmp_path / "o" / "99"

    monkeypatch.setenv("MINNN_LESSON_QUICK", "0")
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "99_x.py"), "--out", str(tmp_path / "d"), "--seed", "3"])
    run = lesson.setup("99", "a script")
    assert not run.notebook and not run.quick and run.out == tmp_path / "d" and run.seed == 3

    # A script rejects an argument it does not know (a typo is not silently ignored) ...
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "99_x.py"), "--quik"])
    with pytest.raises(SystemExit):
        lesson.setup("99", "a script")
    # ... while the same argv in a kernel, or another lesson's, is not the lesson's to parse.
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "98_other.py"), "--quik"])
    assert lesson.setup("99", "run from lesson 98").notebook

    # A script run inside an IPython shell (Spyder's "run file") parses its arguments but
    # shows its figures inline, and keeps the shell's matplotlib backend.
    import types
    shell = types.ModuleType("IPython")
    shell.get_ipython = lambda: object()
    monkeypatch.setitem(sys.modules, "IPython", shell)
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "99_x.py"), "--quick"])
    run = lesson.setup("99", "a script in Spyder")
    assert run.notebook and run.quick


def test_a_lesson_finds_the_lesson_it_runs_next_to_itself_when_minnn_is_installed_elsewhere(
        tmp_path, monkeypatch):
    """Lesson 02 runs lesson 01. With minnn installed by ``pip install .`` (no lessons/ beside
    the package), a lesson run as a script from a clone finds its neighbour in its own folder;
    before, it failed at the end with "Lesson '01_…' not found in None"."""
    from minnn import lesson

    monkeypatch.setattr(lesson, "lessons_dir", lambda: None)   # what an installed wheel gives
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(ROOT / "lessons" / "02_linear_autoencoder_is_pca.py")])
    ns = lesson.run_lesson("02b_spot_the_pca_bugs.py", quick=True, out=tmp_path / "figs")
    assert ns["run"].quick and pngs(tmp_path / "figs")
    monkeypatch.setattr(sys, "argv", KERNEL_ARGV)              # a kernel elsewhere: not found,
    with pytest.raises(FileNotFoundError, match="looked in .*" + tmp_path.name):   # saying where
        lesson.run_lesson("02b_spot_the_pca_bugs.py", quick=True, out=tmp_path / "figs")
