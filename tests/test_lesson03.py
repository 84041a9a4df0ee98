"""Lesson 3 in quick mode, run as a new user would (a subprocess, from a temp folder).

The lesson's text is written from its measurements, so the test checks that every
claim it prints agrees with the numbers, and recomputes PCA's numbers on its own.
"""
import json
import os
import pathlib
import re
import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest

from minnn.datasets import mnist

ROOT = pathlib.Path(__file__).resolve().parent.parent
LESSON = ROOT / "lessons" / "03_mnist_pca_vs_autoencoder.py"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("lesson03")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINNN_")}
    env.update(PYTHONPATH=str(ROOT), MINNN_DATA_DIR=str(work / "no-cache"), MPLBACKEND="Agg",
               OPENBLAS_NUM_THREADS="1")  # small matrices; a busy machine makes BLAS threads wait
    proc = subprocess.run([sys.executable, str(LESSON), "--quick", "--out", str(work / "fig")],
                          cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((work / "fig" / "results.json").read_text())
    return proc.stdout, record, work / "fig"


def parse_table(stdout):
    rows = re.findall(r"^\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(autoencoder|PCA)\s*$",
                      stdout, flags=re.M)
    return [(int(k), float(p), float(a), float(r), w) for k, p, a, r, w in rows]


def independent_pca_errors(sizes):
    """PCA test errors by SVD, without minnn.PCA: an independent check of the lesson's numbers."""
    (x_train, _), (x_test, _) = mnist.load_data(path=mnist.BUNDLED)   # what the lesson used
    xtr = x_train.reshape(len(x_train), -1) / 255.0
    xte = x_test.reshape(len(x_test), -1) / 255.0
    mean = xtr.mean(axis=0)
    _, _, vt = np.linalg.svd(xtr - mean, full_matrices=False)
    errors = {}
    for k in sizes:
        v = vt[:k]
        recon = (xte - mean) @ v.T @ v + mean
        errors[k] = float(np.mean((xte - recon) ** 2))
    return errors


def test_uses_the_bundled_subset_and_prints_one_source_line(run):
    stdout, record, _ = run
    assert len(re.findall(r"^MNIST: ", stdout, flags=re.M)) == 1
    assert "bundled" in stdout
    assert record["n_train"] == 4000 and record["n_test"] == 1000
    assert "pixels in [0.0, 1.0]" in stdout


def test_printed_table_matches_the_recorded_numbers(run):
    stdout, record, _ = run
    rows = parse_table(stdout)
    assert [r[0] for r in rows[:len(record["table"])]] == record["sizes"] == [2, 32]
    for (k, p, a, ratio, winner), rec in zip(rows, record["table"]):
        assert k == rec["k"] and winner == rec["winner"]
        assert p == pytest.approx(rec["pca"], abs=6e-6) and a == pytest.approx(rec["ae"], abs=6e-6)
        assert ratio == pytest.approx(rec["ae"] / rec["pca"], abs=6e-3)
        assert winner == ("autoencoder" if rec["ae"] < rec["pca"] else "PCA")


def test_pca_numbers_are_right_and_fall_with_k(run):
    _, record, _ = run
    expected = independent_pca_errors(record["sizes"])
    pca = [row["pca"] for row in record["table"]]
    for row in record["table"]:
        assert row["pca"] == pytest.approx(expected[row["k"]], rel=1e-4)
    # Nested subspaces: more components can never reconstruct worse.
    assert all(b <= a for a, b in zip(pca, pca[1:]))


def test_autoencoder_numbers_are_sane(run):
    _, record, _ = run
    for row in record["table"]:
        curve = record["test_curves"][str(row["k"])]
        hist = record["history"][str(row["k"])]
        assert len(curve) == record["epochs"] == len(hist["loss"]) == len(hist["val_loss"])
        assert curve[-1] == pytest.approx(row["ae"])       # the table reports the final model
        assert curve[-1] < curve[0]                          # training reduced the test error
        assert hist["loss"][-1] < hist["loss"][0] and hist["val_loss"][-1] < hist["val_loss"][0]
        assert 0 < row["ae"] < 0.2                           # better than predicting blank images
        # The "caught up at epoch" statement matches the curve.
        below = [e + 1 for e, v in enumerate(curve) if v < row["pca"]]
        assert row["ae_caught_up_at_epoch"] == (below[0] if below else None)


def test_every_claim_agrees_with_the_numbers(run):
    stdout, record, _ = run
    table = {row["k"]: row for row in record["table"]}
    claims = record["claims"]
    for line in claims:
        assert line in stdout                                   # the text a user reads
    wins = [k for k, r in table.items() if r["winner"] == "autoencoder"]
    losses = [k for k, r in table.items() if r["winner"] == "PCA"]
    text = "\n".join(claims)
    if wins:
        assert f"The autoencoder beats PCA at k = {', '.join(map(str, wins))}:" in text
    else:
        assert "The autoencoder beats PCA" not in text
    if losses:
        assert f"PCA beats the autoencoder at k = {', '.join(map(str, losses))}:" in text
    else:
        assert "PCA beats the autoencoder" not in text
    if 2 in wins and 32 in losses:
        assert "wins with a tiny code (k = 2) and loses with a larger one (k = 32)" in text
    for k, row in table.items():
        if row["ae_caught_up_at_epoch"] is None:
            assert f"At k = {k}, the autoencoder's test error never fell below PCA's" in text
        else:
            assert (f"At k = {k}, the autoencoder's test error first fell below PCA's "
                    f"{row['pca']:.5f} after epoch {row['ae_caught_up_at_epoch']}.") in text
    # Percentages quoted in the text are the table's ratios.
    for match in re.finditer(r"k = ([\d, ]+): (?:its|the autoencoder's) test error is "
                             r"(\d+)(?:–(\d+))? % (lower|higher)", text):
        ks = [int(k) for k in match.group(1).split(",")]
        pcts = sorted(round(100 * abs(table[k]["ratio"] - 1)) for k in ks)
        assert int(match.group(2)) == pcts[0] and int(match.group(3) or match.group(2)) == pcts[-1]
        assert all((table[k]["ratio"] < 1) == (match.group(4) == "lower") for k in ks)
    variant = record["variant"]
    assert variant["winner"] == ("autoencoder" if variant["ae"] < variant["pca"] else "PCA")
    verdict = "it still beats PCA's" if variant["ae"] < variant["pca"] else "it loses to PCA's"
    assert f"is {variant['ae']:.5f}" in text and f"{verdict} {variant['pca']:.5f}." in text
    if not losses:
        caught = table[max(table)]["ae_caught_up_at_epoch"]
        assert f"it needed {caught} of the {record['epochs']} epochs" in text


def test_the_claim_checker_catches_a_false_claim(run):
    """Negative control: flip one verdict in the record and the claim check fails."""
    stdout, record, _ = run
    bad = json.loads(json.dumps(record))
    row = bad["table"][0]
    row["winner"] = "PCA" if row["winner"] == "autoencoder" else "autoencoder"
    with pytest.raises(AssertionError):
        test_every_claim_agrees_with_the_numbers((stdout, bad, None))


def test_figures_are_real_pictures(run):
    _, _, fig_dir = run
    names = ["reconstructions.png", "error_vs_code_size.png", "codes_2d.png", "loss_curves.png"]
    for name in names:
        image = matplotlib.image.imread(fig_dir / name)
        assert image.shape[0] > 200 and image.shape[1] > 300, name
        assert image[..., :3].std() > 0.05, f"{name} looks blank"


def _summarize():
    """The lesson's ``summarize`` alone: the lesson is a script whose top-level code trains,
    so its one function is compiled from the file's syntax tree instead of importing it."""
    import ast
    tree = ast.parse(LESSON.read_text(encoding="utf-8"))
    fn = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "summarize")
    namespace = {}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), str(LESSON), "exec"), namespace)
    return namespace["summarize"]


@pytest.mark.parametrize("ae32, expected, percent", [
    # 1 − 0.045/0.055 = 18 %, 1 − 0.015/0.017 = 12 %, 0.020/0.017 − 1 = 18 %.
    (0.0150, "wins at every code size tried, up to k = 32; but at k = 32 it needed 7 of the 9 epochs",
     "k = 2, 32: its test error is 12–18 % lower."),
    (0.0200, "wins with a tiny code (k = 2) and loses with a larger one (k = 32)",
     "k = 2: its test error is 18 % lower."),
], ids=["ae-wins-everywhere", "ae-wins-small-k-only"])
def test_summary_sentences_follow_the_numbers(ae32, expected, percent):
    """The text's branches, on made-up tables: the sentence chosen depends on the numbers."""
    summarize = _summarize()

    def row(k, pca, ae, caught):
        return {"k": k, "pca": pca, "ae": ae, "ratio": ae / pca,
                "winner": "autoencoder" if ae < pca else "PCA", "ae_caught_up_at_epoch": caught}

    table = [row(2, 0.055, 0.045, 3), row(32, 0.017, ae32, 7 if ae32 < 0.017 else None)]
    variant = {"k": 32, "pca": 0.017, "ae": 0.018, "ratio": 0.018 / 0.017, "winner": "PCA"}
    text = "\n".join(summarize(table, variant, 9))
    assert expected in text
    assert percent in text
    assert "it loses to PCA's 0.01700." in text
    all_pca = [row(2, 0.055, 0.06, None), row(32, 0.017, 0.02, None)]
    assert "PCA wins at every code size tried" in "\n".join(summarize(all_pca, variant, 9))
