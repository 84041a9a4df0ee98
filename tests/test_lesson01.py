"""Lesson 1 runs, in quick mode, as a user would run it: from another folder, as a script.

It must print the Keras-style summary and both errors, save non-empty PNGs where
it is told to, and its headline claim must hold: the autoencoder's 1-D code
reconstructs the two clusters much better than PCA's straight line.
"""
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LESSON = ROOT / "lessons" / "01_pca_vs_autoencoder.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def lesson_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lesson01")
    out_dir = tmp / "figs"
    # PYTHONPATH first, so that the lesson imports this checkout's minnn, wherever pytest runs.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])),
        MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(LESSON), "--quick", "--out", str(out_dir)],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=120)
    return proc, out_dir, tmp


def test_lesson_exits_cleanly(lesson_run):
    proc, _, _ = lesson_run
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def test_lesson_prints_the_summary(lesson_run):
    out = lesson_run[0].stdout
    assert 'Model: "ae"' in out
    assert "Total params: 1,003 (3.92 KB)" in out
    for row in ("Input (InputLayer)", "encoder (Functional)", "decoder (Functional)"):
        assert row in out


def test_lesson_quick_mode_prints_no_progress_bars(lesson_run):
    assert "Epoch 1/200" not in lesson_run[0].stdout


def parse_errors(out):
    pca = re.search(r"reconstruction error, PCA \(1 component\): ([0-9.]+)", out)
    ae = re.search(r"reconstruction error, autoencoder \(1-D code\): ([0-9.]+)", out)
    assert pca and ae, out
    return float(pca.group(1)), float(ae.group(1))


def test_lesson_headline_claim_holds(lesson_run):
    pca_err, ae_err = parse_errors(lesson_run[0].stdout)
    assert pca_err == pytest.approx(0.29853, abs=1e-5)  # the tutorial's number, seed 0
    assert ae_err < 0.7 * pca_err
    assert 0.05 < ae_err  # a sane error, not a broken parse or a zero


def test_lesson_saves_its_figures_where_told(lesson_run):
    _, out_dir, tmp = lesson_run
    pngs = sorted(out_dir.glob("*.png"))
    assert [p.name for p in pngs] == ["loss_curve.png", "reconstructions.png"]
    for p in pngs:
        data = p.read_bytes()
        assert len(data) > 1000 and data.startswith(PNG_MAGIC), p
    # nothing written into the working directory other than the folder it was given
    assert sorted(p.name for p in tmp.iterdir()) == ["figs"]
