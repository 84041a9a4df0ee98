"""Lesson 7 in quick mode, run as a new user would (a subprocess, from a temp folder).

The lesson prints and records its numbers; this test checks that they agree with each
other and with what they claim (accuracy = trace of the confusion matrix / N, the
gradient checks pass, the figures exist), not against numbers taken from a run.
"""
import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
LESSON = ROOT / "lessons" / "07_classifying_digits.py"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("lesson07")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINNN_")}
    env.update(PYTHONPATH=str(ROOT), MINNN_DATA_DIR=str(work / "no-cache"), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(LESSON), "--quick", "--out", str(work / "fig")],
                          cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, json.loads((work / "fig" / "results.json").read_text()), work / "fig"


def test_runs_the_hello_world_program_on_the_bundled_digits(run):
    stdout, record, _ = run
    assert record["n_train"] == 1000 and record["n_test"] == 1000
    assert 'Model: "sequential' in stdout and "flatten (Flatten)" in stdout and "101,770" in stdout
    assert len(record["history"]["loss"]) == record["epochs"] == 3
    assert set(record["history"]) == {"accuracy", "loss", "val_accuracy", "val_loss"}


def test_numbers_agree_with_each_other(run):
    stdout, record, _ = run
    m = np.array(record["confusion"])
    assert m.shape == (10, 10) and m.sum() == 1000
    assert np.trace(m) / 1000 == pytest.approx(record["test_accuracy"])
    assert record["test_accuracy_curve"][-1] == pytest.approx(record["test_accuracy"])
    assert f"test accuracy {record['test_accuracy']:.4f}" in stdout
    assert all(err < 1e-7 for err in record["gradient_errors"].values())
    knn = record["knn_2d"]
    assert all(0.1 < v < record["test_accuracy"] for v in knn.values())
    winner = max(knn, key=knn.get)
    assert f"here the {winner}'s codes" in stdout


def test_figures_are_written(run):
    _, _, fig = run
    for name in ("accuracy", "confusion", "mistakes", "codes_2d"):
        assert (fig / f"{name}.png").stat().st_size > 5000
