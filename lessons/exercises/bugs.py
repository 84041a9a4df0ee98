"""Planted bugs: small edits to a scratch copy of minnn, and the tests that catch them.

Each bug is a list of exact text replacements in minnn's source. ``plant``
copies minnn and its test suite into a temporary folder, makes the edits
there (never in your checkout), and runs the named tests of the *real* suite
against the broken copy. A bug is caught when at least one of them fails.

An edit whose text no longer appears exactly once in minnn means minnn has
changed under the bug; that is reported as an error, never silently skipped
(tests/test_exercises.py checks every bug's text on each run of the suite).
"""
import concurrent.futures
import dataclasses
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]


@dataclasses.dataclass
class Bug:
    name: str
    what: str          # one line: what it breaks
    edits: list        # [(path relative to the repository, old text, new text)]
    tests: list        # pytest node ids of the tests that should catch it


BUGS = [
    Bug("bias-mean",
        "Dense's bias gradient is averaged over the batch instead of summed.",
        [("minnn/layers.py", "self.bias.grad += dz.sum(axis=0)", "self.bias.grad += dz.mean(axis=0)")],
        ["tests/test_gradients.py::test_dense_gradients",
         "tests/test_reference.py"]),
    Bug("no-transpose",
        "Dense's dx uses W instead of Wᵀ (only square kernels survive it).",
        [("minnn/layers.py", "return dz @ self.kernel.value.T", "return dz @ self.kernel.value")],
        ["tests/test_gradients.py::test_dense_gradients"]),
    Bug("grad-overwrite",
        "Dense overwrites its kernel gradient instead of adding to it (a layer used twice loses one use).",
        [("minnn/layers.py", "self.kernel.grad += x.T @ dz", "self.kernel.grad[...] = x.T @ dz")],
        ["tests/test_gradients.py::test_dense_backward_accumulates",
         "tests/test_gradients.py::test_model_gradients"]),
    Bug("mse-no-two",
        "The MSE gradient forgets the factor 2 of d(u²)/du.",
        [("minnn/losses.py", "diff *= 2.0 / diff.size", "diff *= 1.0 / diff.size")],
        ["tests/test_gradients.py::test_mse_gradient"]),
    Bug("relu-writes-dy",
        "ReLU's backward zeroes dy in place, corrupting the caller's array.",
        [("minnn/activations.py", "return da * (a > 0)", "da[a <= 0] = 0\n        return da")],
        ["tests/test_gradients.py::test_relu_and_add_backward_never_mutate_dy",
         "tests/test_gradients.py::test_model_backward_never_mutates_dy"]),
    Bug("adam-no-bias-correction",
        "Adam without the bias corrections 1 − β1ᵗ and 1 − β2ᵗ: the first steps are ~3× too big.",
        [("minnn/optimizers.py",
          "alpha = self.learning_rate * math.sqrt(1.0 - self.beta_2 ** t) / (1.0 - self.beta_1 ** t)",
          "alpha = self.learning_rate")],
        ["tests/test_optimizers.py::test_adam_first_two_steps_by_hand",
         "tests/test_optimizers.py::test_adam_first_step_is_lr_times_sign_of_g"]),
    Bug("adam-t-from-0",
        "Adam's t starts at 0 instead of 1: the first step divides by 1 − β1⁰ = 0.",
        [("minnn/optimizers.py", "t = self.iterations + 1", "t = self.iterations")],
        ["tests/test_optimizers.py::test_adam_first_two_steps_by_hand"]),
    Bug("adam-eps-inside-sqrt",
        "ε inside the square root, sqrt(v + ε), instead of sqrt(v) + ε.",
        [("minnn/optimizers.py", "np.sqrt(v, out=tmp)", "np.sqrt(v + self.epsilon, out=tmp)")],
        ["tests/test_optimizers.py::test_adam_first_two_steps_by_hand",
         "tests/test_optimizers.py::test_adam_epsilon_is_keras_epsilon_hat_not_pytorchs"]),
    Bug("shuffle-y-apart",
        "fit shuffles y with a different permutation from x, so rows lose their targets.",
        [("minnn/training.py",
          "ey.append(match[0] if match else _take_rows(b, perm, buffers, (\"y\", j)))",
          "ey.append(match[0] if match else _take_rows(b, perm[::-1].copy(), buffers, (\"y\", j)))")],
        ["tests/test_fit.py::test_shuffle_draws_one_permutation_per_epoch_from_minnns_generator"]),
    Bug("drop-last-batch",
        "fit drops the last, partial batch (it stops at the last full batch).",
        [("minnn/training.py",
          "for lo in range(0, n, batch_size):\n            hi = min(n, lo + batch_size)\n            yield",
          "for lo in range(0, n - batch_size + 1, batch_size):\n            hi = min(n, lo + batch_size)\n            yield")],
        ["tests/test_fit.py::test_steps_per_epoch_keep_the_partial_batch",
         "tests/test_fit.py::test_last_partial_batch_is_used"]),
    Bug("unweighted-epoch-loss",
        "The logged epoch loss is the plain mean of the batch losses, not weighted by batch size.",
        [("minnn/training.py", "self._loss_tracker.update_state(total, n)",
          "self._loss_tracker.update_state(total, 1)")],
        ["tests/test_fit.py::test_epoch_loss_is_the_weighted_mean_of_pre_update_batch_losses"]),
    Bug("pca-uncentred",
        "PCA forgets to centre the data before the covariance (the tutorial's own bug).",
        [("minnn/pca.py", "Xc = X - self.mean_", "Xc = X")],
        ["tests/test_pca.py::test_off_centre_data_minnn_is_right_and_the_naive_version_is_wrong",
         "tests/test_pca.py::test_components_agree_with_svd_up_to_sign"]),
]

BY_NAME = {b.name: b for b in BUGS}


class BugDoesNotApply(RuntimeError):
    """minnn's source changed: the text a bug replaces is not there exactly once."""


def check_applies(bug, root=ROOT):
    """Raise BugDoesNotApply unless every edit's old text occurs exactly once."""
    for path, old, _ in bug.edits:
        text = (pathlib.Path(root) / path).read_text(encoding="utf-8")
        count = text.count(old)
        if count != 1:
            raise BugDoesNotApply(
                f"planted bug '{bug.name}' no longer applies: {path} contains its text "
                f"{count} times, expected once: {old!r}")


def _scratch_copy(dest):
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")
    for part in ("minnn", "tests"):
        shutil.copytree(ROOT / part, dest / part, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")


@dataclasses.dataclass
class Outcome:
    bug: Bug
    caught: bool
    failed: list       # [("tests/...::test_x - summary", ["E   assert ...", ...]), ...]
    output: str        # pytest's output, for when something unexpected happened


def plant(bug):
    """Apply ``bug`` to a scratch copy, run its tests there, and return an Outcome."""
    check_applies(bug)
    with tempfile.TemporaryDirectory(prefix=f"minnn-bug-{bug.name}-") as tmp:
        tmp = pathlib.Path(tmp)
        _scratch_copy(tmp)
        for path, old, new in bug.edits:
            f = tmp / path
            f.write_text(f.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
        # A wide "terminal", so that pytest's one-line reasons are not cut at 80 columns.
        env = dict(os.environ, PYTHONPATH=str(tmp), PYTHONDONTWRITEBYTECODE="1", COLUMNS="250")
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
             "--tb=short", "-rf", "-x", *bug.tests],
            cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    failed = [line[len("FAILED "):] for line in proc.stdout.splitlines() if line.startswith("FAILED ")]
    failed = [(f, _reasons(proc.stdout, f.split(" - ")[0])) for f in failed]
    # pytest exits 1 when tests ran and some failed; 2-5 mean it could not run them at all.
    caught = proc.returncode == 1 and bool(failed)
    return Outcome(bug, caught, failed, proc.stdout + proc.stderr)


def plant_all(bugs=BUGS, workers=2):
    """Every bug, two at a time (each is its own pytest process), results in catalogue order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(plant, bugs))


def describe(outcome):
    """What a learner reads: the bug, whether it was caught, and by which tests and why."""
    b = outcome.bug
    lines = [f"{b.name}: {b.what}"]
    for path, old, new in b.edits:
        lines.append(f"  planted in {path}:  {old.strip()}  ->  {new.strip().splitlines()[0]}")
    if outcome.caught:
        lines.append("  caught by:")
        for summary, reasons in outcome.failed:
            lines.append("    " + _short(summary))
            lines.extend("        " + _short(r) for r in reasons)
    else:
        lines.append("  NOT caught: the tests below all passed (or could not run):")
        lines.append("    " + " ".join(b.tests))
        tail = [l for l in outcome.output.splitlines() if l.strip()][-5:]
        lines.extend("    | " + l for l in tail)
    return "\n".join(lines)


def _reasons(output, node, keep=3):
    """The first few "E ..." lines of the traceback that pytest printed for ``node``."""
    name = node.split("::")[-1]
    sections = re.split(r"^_{3,} (.+?) _{3,}$", output, flags=re.M)
    for title, body in zip(sections[1::2], sections[2::2]):
        if title.split(".")[-1].split("[")[0] == name.split("[")[0]:
            # "E ..." for a plain assert; "| SomeError: ..." inside hypothesis's group of failures.
            picked = [l.strip() for l in body.splitlines()
                      if l.startswith("E ") or re.match(r"\s*\| \w+(Error|Exception)\b", l)]
            return picked[:keep]
    return []


def _short(failure, width=200):
    failure = re.sub(r"\s+", " ", failure)
    return failure if len(failure) <= width else failure[:width - 1] + "…"
