"""Lesson 8 without Keras: it says how to install Keras and exits cleanly.

With Keras installed, tests/test_lessons_run.py runs the whole lesson as a script and cell
by cell; the lesson asserts its own claims (predictions and continued-training histories
equal to float32 round-off, minnn's gradient against jax.grad). Here Keras is hidden by a
stand-in package that fails to import, as a missing one does, so the check runs everywhere.
"""
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
LESSON = ROOT / "lessons" / "08_graduate_to_keras.py"


def _without_keras(tmp_path):
    """(an empty working folder, an environment in which `import keras` fails as a missing
    package does): a stand-in package that raises ModuleNotFoundError comes first."""
    fake = tmp_path / "site"
    (fake / "keras").mkdir(parents=True)
    (fake / "keras" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'keras'\", name='keras')\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINNN_", "KERAS_"))}
    env.update(PYTHONPATH=os.pathsep.join([str(fake), str(ROOT)]), MPLBACKEND="Agg")
    return cwd, env


def test_without_keras_the_lesson_says_how_to_install_it_and_exits_cleanly(tmp_path):
    cwd, env = _without_keras(tmp_path)
    proc = subprocess.run([sys.executable, str(LESSON), "--quick", "--out", str(tmp_path / "figs")],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "not installed" in proc.stdout
    assert 'pip install -e ".[keras]"' in proc.stdout
    assert "minnn:" not in proc.stdout          # it stopped before training anything
    assert list(cwd.iterdir()) == []


# Cell by cell as a notebook kernel runs it (the kernel's argv, no __file__); prints the
# exception that stopped it as "<type>: <message>".
KERNEL_CELLS = r'''
import re, sys
source = open(sys.argv[1], encoding="utf-8").read()
sys.argv = ["/usr/lib/python3/dist-packages/ipykernel_launcher.py", "-f", "/tmp/kernel-1.json"]
namespace = {"__name__": "__main__"}
try:
    for cell in re.split(r"^# %%.*$", source, flags=re.M):
        exec(compile(cell, "<cell>", "exec"), namespace)
except BaseException as e:
    print(f"{type(e).__name__}: {e}")
'''


def test_in_a_notebook_without_keras_it_stops_with_the_missing_package_named(tmp_path):
    """In a kernel, SystemExit(0) shows as an error "SystemExit: 0" with a hint to type
    exit(); the lesson raises ModuleNotFoundError with the install command instead."""
    cwd, env = _without_keras(tmp_path)
    (tmp_path / "cells.py").write_text(KERNEL_CELLS)
    env.update(MINNN_LESSON_QUICK="1", MINNN_LESSON_OUT=str(tmp_path / "figs"))
    proc = subprocess.run([sys.executable, str(tmp_path / "cells.py"), str(LESSON)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()
    assert last and last[0].startswith("ModuleNotFoundError: This lesson moves models"), proc.stdout
    assert 'pip install -e ".[keras]"' in proc.stdout and "restart the kernel" in proc.stdout
    assert "minnn:" not in proc.stdout
    assert list(cwd.iterdir()) == []
