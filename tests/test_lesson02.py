"""Lessons 2 and 2b run from any directory, and their printed numbers back their text."""
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from minnn.datasets import two_gaussians

ROOT = pathlib.Path(__file__).resolve().parents[1]
FLOAT = r"(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)"


def run_lesson(name, tmp_path):
    out = tmp_path / "figs"
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(ROOT / "lessons" / name), "--quick", "--out", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, out


def floats(text):
    return [float(v) for v in re.findall(FLOAT, text)]


def rows_after(stdout, heading, n):
    lines = stdout.splitlines()
    i = next(i for i, line in enumerate(lines) if heading in line)
    return np.array([floats(line) for line in lines[i + 1:i + 1 + n]])


@pytest.fixture(scope="module")
def lesson02(tmp_path_factory):
    return run_lesson("02_linear_autoencoder_is_pca.py", tmp_path_factory.mktemp("lesson02"))


@pytest.fixture(scope="module")
def lesson02b(tmp_path_factory):
    return run_lesson("02b_spot_the_pca_bugs.py", tmp_path_factory.mktemp("lesson02b"))


# --- lesson 2 ---------------------------------------------------------------------------------
def test_lesson02_linear_ae_reaches_pca(lesson02):
    stdout, _ = lesson02
    angles = [float(a) for a in re.findall(r"largest principal angle to PCA's subspace " + FLOAT + "°", stdout)]
    ratios = re.findall(r"reconstruction error: autoencoder " + FLOAT + ", PCA " + FLOAT
                        + ", ratio " + FLOAT, stdout)
    assert len(angles) == 2 and len(ratios) == 2          # the 2-D and the 10-D runs
    assert all(a < 2.0 for a in angles), angles
    for ae, pca, ratio in ratios:
        assert float(ratio) <= 1.01
        assert float(ae) == pytest.approx(float(pca) * float(ratio), rel=1e-4)
    # PCA-1 on the tutorial's seed-0 data: 0.29853, the number the peers measured.
    assert float(ratios[0][1]) == pytest.approx(0.29853, abs=1e-5)


def test_lesson02_learned_vectors_are_a_mixed_basis(lesson02):
    stdout, _ = lesson02
    norms = floats(re.search(r"norms of the 3 decoder vectors \(rows of W\): \[([^\]]*)\]", stdout).group(1))
    gram = rows_after(stdout, "Gram matrix W·Wᵀ", 3)
    table = rows_after(stdout, "angle (degrees) between decoder vector i", 3)
    assert gram.shape == (3, 3) and table.shape == (3, 3)
    np.testing.assert_allclose(np.diag(gram), np.square(norms), rtol=0.02, atol=2e-3)
    assert np.max(np.abs(gram - np.eye(3))) > 0.1               # not orthonormal
    assert np.max(np.diag(table)) > 10.0                        # vector i is not axis i
    gap = float(re.search(r"projector VᵀV to within " + FLOAT, stdout).group(1))
    assert gap < 1e-2                                           # but E·W is PCA's projector


def test_lesson02_recovers_the_axes(lesson02):
    stdout, _ = lesson02
    rec = re.search(r"recovered variances \[([^\]]*)\], minnn.PCA's \[([^\]]*)\]", stdout)
    np.testing.assert_allclose(floats(rec.group(1)), floats(rec.group(2)), rtol=1e-3)
    angles = floats(re.search(r"minnn.PCA's components, up to sign \(degrees\): \[([^\]]*)\]", stdout).group(1))
    assert len(angles) == 3 and max(angles) < 0.5


def test_lesson02_deep_stack_offset_and_nonlinear_contrast(lesson02):
    stdout, out = lesson02
    deep = re.search(r"largest angle to PCA " + FLOAT + "°, error ratio " + FLOAT, stdout)
    assert float(deep.group(1)) < 2.0 and float(deep.group(2)) <= 1.01
    far = float(re.search(r"after 500 steps the angle is " + FLOAT + "°", stdout).group(1))
    centred = float(re.search(r"centred first \(X − mean, as PCA does\): " + FLOAT + "°", stdout).group(1))
    assert far > 10.0 and centred < 2.0                         # "centre your inputs"
    pca, lin, nonlin = map(float, re.search(
        r"PCA " + FLOAT + ", linear autoencoder " + FLOAT + ", nonlinear autoencoder " + FLOAT, stdout).groups())
    assert lin <= 1.01 * pca
    assert nonlin < 0.8 * pca                                  # the bent curve beats the line
    for png in ["angle_and_error_vs_step.png", "linear_ae_is_pca_2d.png",
                "lesson01/loss_curve.png", "lesson01/reconstructions.png"]:
        assert (out / png).stat().st_size > 1000, png


# --- lesson 2b ----------------------------------------------------------------------------------
def test_eig_returns_the_swapped_data_smallest_first():
    """The premise of bug 2, checked directly: same data, features swapped, eig's order flips."""
    data = two_gaussians.load_data(seed=0, dtype="float64")[0]
    as_is = np.linalg.eig(data.T @ data / len(data))[0]
    swapped = data[:, ::-1]
    flipped = np.linalg.eig(swapped.T @ swapped / len(data))[0]
    assert as_is[0] > as_is[1]
    assert flipped[0] < flipped[1]


def test_lesson02b_each_bug_shows_where_the_lesson_says(lesson02b):
    stdout, out = lesson02b
    table = {}
    for name in ["tutorial data", "off-centre: moved to (-4, 4)", "features swapped: (y, x)"]:
        line = next(line for line in stdout.splitlines() if line.startswith(name))
        table[name] = floats(line[len(name):])      # as written, fix 1, fix 2, both, minnn.PCA
    tut, off, swap = table["tutorial data"], table["off-centre: moved to (-4, 4)"], table["features swapped: (y, x)"]
    for row in (tut, off, swap):
        assert len(row) == 5
        assert row[3] == pytest.approx(row[4], abs=2e-5)           # both fixes = minnn.PCA
    assert tut[0] == pytest.approx(tut[4], rel=1e-3)               # the tutorial data hide both bugs
    assert off[0] > 2 * off[4] and off[1] == pytest.approx(off[4], abs=2e-5)   # bug 1; fix 1 cures it
    assert swap[0] > 2 * swap[4] and swap[2] == pytest.approx(swap[4], rel=1e-3)  # bug 2; fix 2 cures it
    assert re.search(r"features swapped: \(y, x\)\s+eigenvalues .* NOT largest first", stdout)
    assert re.search(r"tutorial data\s+eigenvalues .* largest first, by luck", stdout)
    assert (out / "uncentred_pca.png").stat().st_size > 1000
