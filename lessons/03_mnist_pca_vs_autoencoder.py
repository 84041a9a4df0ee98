# %% [markdown]
# # Lesson 3: PCA versus autoencoders on MNIST. When does the autoencoder win?
#
# The tutorial's part 2, rebuilt in minnn. Lesson 1 compressed 2-D points to one
# number; here each 28×28 digit (784 pixels in [0, 1]) is compressed to a code of
# k numbers and rebuilt from it, by PCA and by a deep autoencoder, for several k.
# Every error is measured on *held-out* test digits that neither method saw.
#
# Run it as a script from anywhere, or open it as a notebook and run it cell by cell
# (``MINNN_LESSON_QUICK=1`` for the quick mode in a kernel; see ``minnn.lesson``).
# It is offline: without ``--data`` it uses the 5000 digits bundled with minnn,
# 4000 to train and 1000 to test.
#
#     python lessons/03_mnist_pca_vs_autoencoder.py             # full lesson, about a minute
#     python lessons/03_mnist_pca_vs_autoencoder.py --quick     # k = 2 and 32, few epochs, for tests
#     python lessons/03_mnist_pca_vs_autoencoder.py --data DIR  # your own MNIST (IDX files or mnist.npz)
#     python lessons/03_mnist_pca_vs_autoencoder.py --data DIR --epochs 5   # full MNIST: 15x the images
#     python lessons/03_mnist_pca_vs_autoencoder.py --out DIR   # where the figures go
#
# On a two-core machine busy with other work, start it as
# ``OPENBLAS_NUM_THREADS=1 python lessons/03_...``: a second BLAS thread waiting for a
# busy core made the lesson about 7x slower here (465 s against 68 s).
#
# What to look for. PCA gives the best *linear* k-dimensional code: no linear
# method reconstructs the training images better. The autoencoder's code is
# *nonlinear*, so with a tiny code (k = 2) it can keep more of a digit than PCA.
# With a bigger code PCA is already good, and a deep network trained for a few
# dozen epochs on 4000 images may not catch up. Which one wins at each k here is
# measured, printed, and drawn; the numbers are not written in advance.
#
# The autoencoder ends in a sigmoid and is trained with binary crossentropy, the
# usual choice for pixels in [0, 1]; a variant with a linear output trained on MSE
# shows whether that choice matters at the largest k. Both methods are then
# judged by the same number: the mean squared error per pixel on the test images.
#
# Figures (in lessons/figures/03/ unless --out says otherwise):
#     reconstructions.png     test digits, then PCA's and the autoencoder's rebuilds
#     error_vs_code_size.png  test error against k, PCA and autoencoder in one plot
#     codes_2d.png            the 2-D codes of PCA-2 and AE-2, coloured by digit
#     loss_curves.png         training and validation loss; test error per epoch vs PCA

# %%
import json
import time

import matplotlib.pyplot as plt
import numpy as np

import minnn
from minnn import Dense, Input, Model, lesson
from minnn.callbacks import Callback
from minnn.datasets import mnist

run = lesson.setup("03", "Lesson 3: PCA versus autoencoders on MNIST", extra=[
    ("--data", {"default": None, "help": "MNIST folder or .npz (default: cache or bundled)"}),
    ("--epochs", {"type": int, "default": None, "help": "autoencoder epochs (default 50)"}),
])

# %% [markdown]
# ## Tools: the model, the test error while training, the sentences and the plots

# %%
def build_autoencoder(k, output="sigmoid"):
    """784 → 128 → 64 → k → 64 → 128 → 784. ReLU inside, a linear code, a sigmoid output.

    The sigmoid keeps every output pixel in (0, 1), like the inputs, which is what
    binary crossentropy expects: it treats each pixel as a probability of ink.
    """
    inputs = Input(shape=(784,), name="image")
    x = Dense(128, activation="relu")(inputs)
    x = Dense(64, activation="relu")(x)
    code = Dense(k, activation="linear")(x)
    encoder = Model(inputs, code, name="encoder")

    code_input = Input(shape=(k,), name="code")
    x = Dense(64, activation="relu")(code_input)
    x = Dense(128, activation="relu")(x)
    outputs = Dense(784, activation=output)(x)
    decoder = Model(code_input, outputs, name="decoder")

    autoencoder = Model(inputs, decoder(encoder(inputs)), name=f"ae_{k}")
    return encoder, decoder, autoencoder


class TestError(Callback):
    """After each epoch, the mean squared error on the test images: the same measure as PCA's."""

    def __init__(self, x_test):
        super().__init__()
        self.x_test = x_test
        self.errors = []

    def on_epoch_end(self, epoch, logs=None):
        self.errors.append(mse(self.x_test, self.model.predict(self.x_test, verbose=0)))


def mse(x, x_hat):
    """Mean squared error over all pixels of all images, in float64."""
    return float(np.mean((np.asarray(x, np.float64) - x_hat) ** 2))


def first_epoch_below(curve, level):
    """1-based epoch at which the curve first drops below level, or None."""
    below = np.flatnonzero(np.asarray(curve) < level)
    return int(below[0]) + 1 if below.size else None


def summarize(table, variant, epochs):
    """Sentences that say what this run measured; every number in them comes from the table."""
    wins = [row for row in table if row["winner"] == "autoencoder"]
    losses = [row for row in table if row["winner"] == "PCA"]

    def ks(rows):
        return ", ".join(str(r["k"]) for r in rows)

    def pct(rows, sign):
        values = sorted(round(100 * sign * (r["ratio"] - 1)) for r in rows)
        return f"{values[0]} %" if values[0] == values[-1] else f"{values[0]}–{values[-1]} %"

    lines = []
    if wins:
        lines.append(f"The autoencoder beats PCA at k = {ks(wins)}: its test error is "
                     f"{pct(wins, -1)} lower.")
    if losses:
        lines.append(f"PCA beats the autoencoder at k = {ks(losses)}: the autoencoder's test error "
                     f"is {pct(losses, 1)} higher after {epochs} epochs.")
    small, large = table[0], table[-1]
    if small["winner"] == "autoencoder" and large["winner"] == "PCA":
        lines.append(f"So here the deep autoencoder wins with a tiny code (k = {small['k']}) and "
                     f"loses with a larger one (k = {large['k']}), as short training on a few "
                     "thousand images leads one to expect.")
    elif not losses:
        caught = large["ae_caught_up_at_epoch"]
        lines.append(f"So here the autoencoder wins at every code size tried, up to k = {large['k']}; "
                     f"but at k = {large['k']} it needed {caught} of the {epochs} epochs to get there, "
                     f"so a training stopped before epoch {caught} would have left PCA ahead.")
    elif not wins:
        lines.append("So here PCA wins at every code size tried: the autoencoder needs more training.")
    main_row = next(r for r in table if r["k"] == variant["k"])
    change = "higher" if variant["ae"] > main_row["ae"] else "lower"
    verdict = ("it still beats PCA's" if variant["winner"] == "autoencoder" else "it loses to PCA's")
    lines.append(f"With a linear output and MSE loss instead of sigmoid and binary crossentropy, "
                 f"the autoencoder's test error at k = {variant['k']} is {variant['ae']:.5f}, "
                 f"{change} than {main_row['ae']:.5f}; {verdict} {variant['pca']:.5f}.")
    for row in table:
        if row["winner"] == "PCA":
            lines.append(f"At k = {row['k']}, the autoencoder's test error never fell below PCA's "
                         f"{row['pca']:.5f} within {epochs} epochs.")
        else:
            lines.append(f"At k = {row['k']}, the autoencoder's test error first fell below PCA's "
                         f"{row['pca']:.5f} after epoch {row['ae_caught_up_at_epoch']}.")
    return lines


def plot_reconstructions(run, x_test, y_test, pca, results, sizes):
    """One test digit of each class: the original, then PCA's and the AE's rebuild for some k."""
    shown = [k for k in sizes if k in (2, 8, 32)] or sizes[:1]
    idx = [int(np.flatnonzero(y_test == d)[0]) for d in range(10)]
    x = x_test[idx]
    rows = [("original", x)]
    for k in shown:
        rows.append((f"PCA, k={k}", np.clip(pca.decode(pca.encode(x, k)), 0, 1)))
        rows.append((f"AE, k={k}", results[k]["ae"].predict(x, verbose=0)))
    fig, axes = plt.subplots(len(rows), 10, figsize=(10, 1.1 * len(rows) + 0.4))
    for r, (label, images) in enumerate(rows):
        for c in range(10):
            ax = axes[r, c]
            ax.imshow(images[c].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle("Test digits and their reconstructions (PCA clipped to [0, 1] for display)")
    fig.tight_layout()
    return run.save(fig, "reconstructions.png", dpi=90)


def plot_error_vs_k(run, table, variant, epochs):
    ks = [r["k"] for r in table]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ks, [r["pca"] for r in table], "o-", color="tab:orange", label="PCA")
    ax.plot(ks, [r["ae"] for r in table], "s-", color="black",
            label=f"autoencoder, sigmoid + BCE ({epochs} epochs)")
    ax.plot([variant["k"]], [variant["ae"]], "x", color="tab:red", markersize=9, mew=2,
            label="autoencoder, linear output + MSE")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks)
    ax.set_xticklabels([str(k) for k in ks])
    ax.set_xlabel("code size k")
    ax.set_ylabel("test MSE per pixel")
    ax.set_title("Reconstruction error on held-out test digits")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return run.save(fig, "error_vs_code_size.png", dpi=100)


def plot_codes(run, x_test, y_test, pca, results):
    codes = {"PCA, k=2": pca.encode(x_test, 2),
             "autoencoder, k=2": results[2]["encoder"].predict(x_test, verbose=0)}
    fig, axes = plt.subplots(1, 2, figsize=(11, 5), layout="constrained")
    for ax, (title, z) in zip(axes, codes.items()):
        scatter = ax.scatter(z[:, 0], z[:, 1], c=y_test, cmap="tab10", vmin=-0.5, vmax=9.5, s=6)
        ax.set_title(title)
        ax.set_xlabel("code 1")
        ax.set_ylabel("code 2")
    fig.colorbar(scatter, ax=axes, ticks=range(10), label="digit")
    fig.suptitle("The 2-D codes of the 1000 test digits, coloured by their label")
    return run.save(fig, "codes_2d.png", dpi=100)


def plot_losses(run, results, pca_err, sizes):
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(sizes)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for k, color in zip(sizes, colors):
        h = results[k]["history"]
        epochs = np.arange(1, len(h["loss"]) + 1)
        left.plot(epochs, h["loss"], color=color, label=f"k={k}")
        left.plot(epochs, h["val_loss"], color=color, linestyle="--")
        right.plot(epochs, results[k]["test_curve"], color=color, label=f"k={k}")
        right.axhline(pca_err[k], color=color, linestyle=":")
    # Line styles explained once, by two grey stand-ins.
    left.plot([], [], color="grey", label="training")
    left.plot([], [], color="grey", linestyle="--", label="validation (test images)")
    right.plot([], [], color="grey", label="autoencoder")
    right.plot([], [], color="grey", linestyle=":", label="PCA")
    left.set_xlabel("epoch")
    left.set_ylabel("binary crossentropy")
    # Keras's training loss is the mean over the epoch's batches, while the weights were still
    # improving; validation is measured at the end of the epoch. So validation can lie below.
    left.set_title("Autoencoder loss: training (solid) and validation (dashed)")
    left.legend(fontsize=8)
    right.set_xlabel("epoch")
    right.set_ylabel("test MSE per pixel")
    right.set_yscale("log")
    right.set_title("Test error while training, against PCA (dotted)")
    right.legend(fontsize=8)
    fig.tight_layout()
    return run.save(fig, "loss_curves.png", dpi=100)


# %%
# The code sizes and epochs: the quick mode (for the tests) tries two sizes for 12 epochs.
sizes = [2, 32] if run.quick else [2, 4, 8, 16, 32]
epochs = run.epochs or (12 if run.quick else 50)
start = time.perf_counter()

# %% [markdown]
# ## The data: pixels 0..255 -> [0, 1], each image flattened to 784 numbers

# %%
(x_train, _), (x_test, y_test) = mnist.load_data(path=run.data)
x_train = x_train.reshape(len(x_train), 784).astype("float32") / 255
x_test = x_test.reshape(len(x_test), 784).astype("float32") / 255
print(f"train {x_train.shape}, test {x_test.shape}, pixels in [{x_train.min()}, {x_train.max()}]")

# %% [markdown]
# ## PCA: one fit; the first k components are the best k-dimensional linear code

# %%
pca = minnn.PCA(n_components=max(sizes)).fit(x_train)
pca_err = {k: mse(x_test, pca.decode(pca.encode(x_test, k))) for k in sizes}

# %% [markdown]
# ## One autoencoder per code size

# %%
results = {}
for k in sizes:
    minnn.utils.set_random_seed(run.seed + k)   # same weights and batches on every run
    encoder, decoder, ae = build_autoencoder(k)
    ae.compile(optimizer="adam", loss="binary_crossentropy")
    if k == sizes[0]:
        ae.summary()
    tracker = TestError(x_test)
    t0 = time.perf_counter()
    # The test images double as validation data, as in the tutorial: they are only
    # measured, never trained on, so they remain held out.
    ae.fit(x_train, x_train, epochs=epochs, batch_size=128, shuffle=True,
           validation_data=(x_test, x_test), callbacks=[tracker], verbose=0)
    results[k] = {"encoder": encoder, "decoder": decoder, "ae": ae,
                  "history": ae.history.history, "test_curve": tracker.errors,
                  "ae_err": tracker.errors[-1], "seconds": time.perf_counter() - t0}
    print(f"k={k:>2}: autoencoder trained for {epochs} epochs in {results[k]['seconds']:.1f} s, "
          f"final loss {results[k]['history']['loss'][-1]:.4f}, "
          f"val_loss {results[k]['history']['val_loss'][-1]:.4f}")

# %% [markdown]
# ## A variant: the same network with a linear output, trained on MSE

# %%
# Does the output layer matter? The loss is now the very measure we compare with.
k = sizes[-1]
minnn.utils.set_random_seed(run.seed + k)
_, _, plain = build_autoencoder(k, output="linear")
plain.compile(optimizer="adam", loss="mse")
plain.fit(x_train, x_train, epochs=epochs, batch_size=128, shuffle=True, verbose=0)
variant = {"k": k, "pca": pca_err[k], "ae": mse(x_test, plain.predict(x_test, verbose=0))}
variant["ratio"] = variant["ae"] / variant["pca"]
variant["winner"] = "autoencoder" if variant["ae"] < variant["pca"] else "PCA"
print(f"k={k:>2}: the variant with a linear output and MSE loss trained for {epochs} epochs")

# %% [markdown]
# ## The numbers, and what they say

# %%
print("\nReconstruction error on the held-out test images (mean squared error per pixel):")
print(f"{'k':>4} {'PCA':>9} {'autoencoder':>12} {'AE / PCA':>9}  winner")
table = []
for k in sizes:
    p, a = pca_err[k], results[k]["ae_err"]
    winner = "autoencoder" if a < p else "PCA"
    table.append({"k": k, "pca": p, "ae": a, "ratio": a / p, "winner": winner,
                  "ae_caught_up_at_epoch": first_epoch_below(results[k]["test_curve"], p)})
    print(f"{k:>4} {p:>9.5f} {a:>12.5f} {a / p:>9.2f}  {winner}")

print(f"{k:>4} {variant['pca']:>9.5f} {variant['ae']:>12.5f} {variant['ratio']:>9.2f}  "
      f"{variant['winner']}   (variant: linear output, MSE loss)")

claims = summarize(table, variant, epochs)
print()
for line in claims:
    print(line)

# The sentences are written from the table; what they rest on is checked here. Nested
# subspaces: PCA's error never rises with k. Training lowered every autoencoder's test error,
# and each "first fell below PCA's after epoch e" is what its curve shows.
pca_column = [row["pca"] for row in table]
assert all(b <= a for a, b in zip(pca_column, pca_column[1:])), pca_column
for row in table:
    curve = results[row["k"]]["test_curve"]
    assert curve[-1] < curve[0] and row["ae"] == curve[-1]
    below = [e + 1 for e, value in enumerate(curve) if value < row["pca"]]
    assert row["ae_caught_up_at_epoch"] == (below[0] if below else None)
    assert row["winner"] == ("autoencoder" if row["ae"] < row["pca"] else "PCA")

# %% [markdown]
# ## Figures

# %%
figures = [
    plot_reconstructions(run, x_test, y_test, pca, results, sizes),
    plot_error_vs_k(run, table, variant, epochs),
    plot_codes(run, x_test, y_test, pca, results) if 2 in results else None,
    plot_losses(run, results, pca_err, sizes),
]
figures = [f for f in figures if f is not None]
record = {"sizes": sizes, "epochs": epochs, "n_train": len(x_train), "n_test": len(x_test),
          "table": table, "variant": variant, "claims": claims,
          "test_curves": {str(k): results[k]["test_curve"] for k in sizes},
          "history": {str(k): results[k]["history"] for k in sizes}}
(run.out / "results.json").write_text(json.dumps(record, indent=1))
print(f"\nfigures saved in {run.out}: {', '.join(f.name for f in figures)} (numbers in results.json)")
print(f"total time {time.perf_counter() - start:.1f} s")
