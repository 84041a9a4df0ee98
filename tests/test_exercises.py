"""The exercises and their grader (lessons/exercises/).

For every exercise: the stub has the reference's exact signature and fails,
minnn's reference passes every check (on the shown inputs and on unseen ones),
and typical learner mistakes fail with the hint that names them. The grader's
verbs and exit codes are tested as a learner runs them, and every planted bug
is caught by the real test suite.
"""
import inspect
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from minnn import reference

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXERCISES_DIR = ROOT / "lessons" / "exercises"
GRADE = EXERCISES_DIR / "grade.py"
sys.path.insert(0, str(EXERCISES_DIR))

import bugs  # noqa: E402
import checks  # noqa: E402
import grade  # noqa: E402

IDS = list(grade.EXERCISES)


def _run(args, mine, timeout=120):
    env = dict(os.environ, MINNN_EXERCISES_DIR=str(mine), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(GRADE), *args], cwd=mine.parent, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _failed(results):
    return [c for c in results if not c.passed]


# ---------------------------------------------------------------------------
# Stubs, references and the checks
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("ex_id", IDS)
def test_stub_has_the_reference_signature_and_fails(ex_id, tmp_path, monkeypatch):
    monkeypatch.setenv("MINNN_EXERCISES_DIR", str(tmp_path))
    path = grade.learner_file(ex_id)
    path.write_text(grade.stub_source(ex_id), encoding="utf-8")
    fn, problem = grade.load_learner_function(ex_id)
    assert problem is None
    name = grade.EXERCISES[ex_id][0]
    assert inspect.signature(fn) == inspect.signature(getattr(reference, name))
    assert inspect.getdoc(fn) == inspect.getdoc(getattr(reference, name))
    results = checks.CHECKS[name](fn)
    assert _failed(results) and "NotImplementedError" in results[0].value


@pytest.mark.parametrize("seed", [0, *grade.UNSEEN_SEEDS])
@pytest.mark.parametrize("ex_id", IDS)
def test_minnns_reference_passes_every_check(ex_id, seed):
    name = grade.EXERCISES[ex_id][0]
    results = checks.CHECKS[name](getattr(reference, name), seed=seed)
    assert not _failed(results), "\n".join(c.line() for c in _failed(results))
    assert len(results) >= 3


@pytest.mark.parametrize("ex_id", IDS)
def test_solution_is_minnns_own_source(ex_id, tmp_path, monkeypatch):
    monkeypatch.setenv("MINNN_EXERCISES_DIR", str(tmp_path))
    grade.learner_file(ex_id).write_text(grade.solution_source(ex_id), encoding="utf-8")
    fn, problem = grade.load_learner_function(ex_id)
    assert problem is None
    name = grade.EXERCISES[ex_id][0]
    assert inspect.getsource(getattr(reference, name)) in grade.solution_source(ex_id)
    assert not _failed(checks.CHECKS[name](fn))


# Typical mistakes: each must fail, and the hint must name the mistake.
def relu_no_mask(dy, x):
    return dy.copy()


def relu_in_place(dy, x):
    dy[x <= 0] = 0
    return dy


def relu_ge(dy, x):
    return dy * (x >= 0)


def dense_db_mean(dy, x, kernel):
    return dy @ kernel.T, x.T @ dy, dy.mean(axis=0)


def dense_no_transpose(dy, x, kernel):
    return dy @ kernel, x.T @ dy, dy.sum(axis=0)


def dense_db_axis1(dy, x, kernel):
    return dy @ kernel.T, x.T @ dy, dy.sum(axis=1)


def mse_no_two(y, p):
    return (p - y) / p.size


def mse_flipped(y, p):
    return 2 * (y - p) / p.size


def mse_over_n(y, p):
    return 2 * (p - y) / len(p)


def forward_difference(f, x, h=1e-5):
    g = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[i] = h
        g[i] = (f(x + e) - f(x)) / h
    return g


def divided_by_h(f, x, h=1e-5):
    g = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / h
    return g


def adam_no_correction(w, g, m, v, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g * g
    return w - learning_rate * m / (np.sqrt(v) + epsilon), m, v


def adam_pytorch_eps(w, g, m, v, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g * g
    m_hat, v_hat = m / (1 - beta_1 ** t), v / (1 - beta_2 ** t)
    return w - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon), m, v


def adam_t_off_by_one(w, g, m, v, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    return reference.adam_step(w, g, m, v, t + 1, learning_rate, beta_1, beta_2, epsilon)


def adam_hardcoded_lr(w, g, m, v, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    return reference.adam_step(w, g, m, v, t)


def fit_drop_last(step, x, y, batch_size, rng):
    perm = rng.permutation(len(x))
    total = seen = 0
    for lo in range(0, len(x) - batch_size + 1, batch_size):
        xb, yb = x[perm][lo:lo + batch_size], y[perm][lo:lo + batch_size]
        total += len(xb) * step(xb, yb)
        seen += len(xb)
    return total / seen


def fit_unweighted(step, x, y, batch_size, rng):
    losses = [step(xb, yb) for xb, yb in reference.epoch_batches(x, y, batch_size,
                                                                 rng.permutation(len(x)))]
    return float(np.mean(losses))


def fit_two_permutations(step, x, y, batch_size, rng):
    px, py = rng.permutation(len(x)), rng.permutation(len(x))
    total = 0.0
    for lo in range(0, len(x), batch_size):
        xb, yb = x[px][lo:lo + batch_size], y[py][lo:lo + batch_size]
        total += len(xb) * step(xb, yb)
    return total / len(x)


def fit_no_shuffle(step, x, y, batch_size, rng):
    batches = reference.epoch_batches(x, y, batch_size, np.arange(len(x)))
    return sum(len(xb) * step(xb, yb) for xb, yb in batches) / len(x)


MISTAKES = [
    ("relu_backward", relu_no_mask, "mask"),
    ("relu_backward", relu_in_place, "never write into dy"),
    ("relu_backward", relu_ge, "x > 0, not x >= 0"),
    ("dense_backward", dense_db_mean, "must be the sum"),
    ("dense_backward", dense_no_transpose, "transpose"),
    ("dense_backward", dense_db_axis1, "axis 0"),
    ("mse_backward", mse_no_two, "factor 2"),
    ("mse_backward", mse_flipped, "sign is flipped"),
    ("mse_backward", mse_over_n, "divided by N only"),
    ("numerical_gradient", forward_difference, "forward difference"),
    ("numerical_gradient", divided_by_h, "divide by 2h"),
    ("adam_step", adam_no_correction, "bias corrections"),
    ("adam_step", adam_pytorch_eps, "PyTorch's form"),
    ("adam_step", adam_t_off_by_one, "t counts from 1"),
    ("adam_step", adam_hardcoded_lr, "use the arguments"),
    ("fit_epoch", fit_drop_last, "partial batch is kept"),
    ("fit_epoch", fit_unweighted, "weight each by its batch size"),
    ("fit_epoch", fit_two_permutations, "same* permutation"),
    ("fit_epoch", fit_no_shuffle, "rng.permutation(N) once per epoch"),
]


@pytest.mark.parametrize("name, wrong, hint", MISTAKES, ids=[m[1].__name__ for m in MISTAKES])
def test_a_typical_mistake_fails_with_a_hint_that_names_it(name, wrong, hint):
    failed = _failed(checks.CHECKS[name](wrong))
    assert failed, f"{wrong.__name__} passed every check of {name}"
    assert any(hint in c.hint for c in failed), [c.hint for c in failed]


def test_adam_first_step_by_hand_is_lr_for_large_gradients():
    # The hand-worked value the 5.1 check uses: with t = 1 the step is lr·g/(|g| + ε/sqrt(1−β2)),
    # about lr per weight; the check must hold minnn's reference to it exactly.
    w, g = np.zeros(3), np.array([0.5, -2.0, 3.0])
    w1, _, _ = reference.adam_step(w, g, np.zeros(3), np.zeros(3), 1)
    expected = -0.001 * g / (np.abs(g) + 1e-7 / math.sqrt(1 - 0.999))
    np.testing.assert_allclose(w1, expected, rtol=1e-12)


# ---------------------------------------------------------------------------
# The grader, run as a learner runs it
# ---------------------------------------------------------------------------
def test_check_before_start_says_which_start_to_run(tmp_path):
    mine = tmp_path / "mine"
    proc = _run(["check", "4.2"], mine)
    assert proc.returncode == 2
    assert "grade.py start 4.2" in proc.stderr


def test_unknown_id_lists_the_valid_ones(tmp_path):
    proc = _run(["start", "9.9"], tmp_path / "mine")
    assert proc.returncode == 2
    assert "'9.9'" in proc.stderr and all(i in proc.stderr for i in IDS)
    proc = _run(["break", "no-such-bug"], tmp_path / "mine")
    assert proc.returncode == 2 and "bias-mean" in proc.stderr


def test_start_check_solve_check(tmp_path):
    mine = tmp_path / "mine"
    proc = _run(["start", "4.3"], mine)
    assert proc.returncode == 0
    path = mine / "ex4_3_mse_backward.py"
    assert path.exists() and "lessons/04_backprop_by_hand.py" in proc.stdout
    proc = _run(["check", "4.3"], mine)
    assert proc.returncode == 1 and "NotImplementedError" in proc.stdout
    # The learner's attempt, with the classic slip.
    path.write_text(path.read_text().replace(
        'raise NotImplementedError("Exercise 4.3: write mse_backward here")',
        "return (y_pred - y_true) / y_pred.size"))
    proc = _run(["check", "4.3"], mine)
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout and "factor 2" in proc.stdout and "expected < 1e-07" in proc.stdout
    proc = _run(["solve", "4.3"], mine)
    assert proc.returncode == 0 and (mine / "ex4_3_mse_backward.py.mine").exists()
    proc = _run(["check", "4.3"], mine)
    assert proc.returncode == 0, proc.stdout
    assert "unseen inputs" in proc.stdout
    listing = _run(["list"], mine).stdout
    assert any(line.startswith("4.3") and line.rstrip().endswith("passed")
               for line in listing.splitlines())
    assert any(line.startswith("4.1") and "not started" in line for line in listing.splitlines())


def test_a_file_that_does_not_import_shows_the_syntax_error_and_its_line(tmp_path):
    mine = tmp_path / "mine"
    _run(["start", "4.1"], mine)
    path = mine / "ex4_1_relu_backward.py"
    lines = path.read_text().splitlines()
    lines.append("def oops(:")
    path.write_text("\n".join(lines) + "\n")
    proc = _run(["check", "4.1"], mine)
    assert proc.returncode == 1
    assert f"line {len(lines)}: SyntaxError" in proc.stdout and "def oops(:" in proc.stdout


def test_the_learners_folder_is_ignored_by_git():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "lessons/exercises/mine/" in ignored


# ---------------------------------------------------------------------------
# Planted bugs
# ---------------------------------------------------------------------------
def test_there_are_at_least_ten_planted_bugs_each_with_a_name_a_line_and_tests():
    assert len(bugs.BUGS) >= 10
    assert len(bugs.BY_NAME) == len(bugs.BUGS)
    for b in bugs.BUGS:
        assert b.what and "\n" not in b.what and b.tests and b.edits


@pytest.mark.parametrize("bug", bugs.BUGS, ids=[b.name for b in bugs.BUGS])
def test_every_planted_bug_still_applies_to_minnn(bug):
    bugs.check_applies(bug)  # raises if minnn's source changed under the bug
    for node in bug.tests:
        assert (ROOT / node.split("::")[0]).exists(), node


def test_break_all_catches_every_planted_bug_and_leaves_the_checkout_alone(tmp_path):
    before = {p: p.read_bytes() for p in (ROOT / "minnn").glob("*.py")}
    proc = _run(["break", "--all"], tmp_path / "mine", timeout=600)
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == f"caught {len(bugs.BUGS)} of {len(bugs.BUGS)} planted bugs", proc.stdout
    assert proc.returncode == 0
    assert "caught by:" in proc.stdout
    assert {p: p.read_bytes() for p in (ROOT / "minnn").glob("*.py")} == before


def test_break_reports_a_bug_that_is_not_caught(monkeypatch):
    # Negative control for the grader itself: a "bug" that changes nothing must not count.
    harmless = bugs.Bug("harmless", "changes a comment only.",
                        [("minnn/pca.py", "Xc = X - self.mean_", "Xc = X - self.mean_  # same")],
                        ["tests/test_pca.py::test_components_agree_with_svd_up_to_sign"])
    outcome = bugs.plant(harmless)
    assert not outcome.caught
    assert "NOT caught" in bugs.describe(outcome)
