# %% [markdown]
# # Lesson 2b, an exercise: spot the two bugs in the tutorial's "too simple" PCA
#
# The tutorial wrote PCA in a few lines, reproduced below as ``TooSimplePCA``.
# On the tutorial's own data it gives the right answer. Before reading on,
# look at the class and find what would make it wrong on other data.
#
# Run it as a script from anywhere, or open it as a notebook and run it cell by cell
# (``MINNN_LESSON_QUICK=1`` for the quick mode in a kernel; see ``minnn.lesson``):
#
#     python lessons/02b_spot_the_pca_bugs.py            # the exercise, then its answers
#     python lessons/02b_spot_the_pca_bugs.py --quick    # the same, for tests
#     python lessons/02b_spot_the_pca_bugs.py --out DIR  # where to save the figure

# %%
import matplotlib.pyplot as plt
import numpy as np

import minnn
from minnn import lesson
from minnn.datasets import two_gaussians

run = lesson.setup("02b", "Lesson 2b: spot the two bugs in the tutorial's PCA")

# %% [markdown]
# ## The class, as the tutorial wrote it, and the data

# %%
class TooSimplePCA:
    def __init__(self, data):
        self.data = data
        cov = data.T @ data / len(data)
        self.eigvals, self.eigvecs = np.linalg.eig(cov)

    def encode(self, data, dim):
        return data @ self.eigvecs[:, :dim]

    def decode(self, lowdim):
        return lowdim @ self.eigvecs[:, :lowdim.shape[1]].T


base, labels = two_gaussians.load_data(seed=run.seed, dtype="float64")
print(f"the tutorial's data: {base.shape}, mean {np.round(base.mean(axis=0), 3)}, "
      f"covariance\n{np.round(np.cov(base.T), 3)}")
tutorial_pca = TooSimplePCA(base)
tutorial_err = float(np.mean((tutorial_pca.decode(tutorial_pca.encode(base, 1)) - base) ** 2))
print(f"TooSimplePCA on it: first axis {np.round(tutorial_pca.eigvecs[:, 0], 3)}, "
      f"reconstruction error with 1 component {tutorial_err:.5f}")

# %% [markdown]
# ## Your turn
#
# The class has **two bugs**. Neither shows on the tutorial's data, which is why
# the tutorial did not notice them. Read ``__init__``, ``encode`` and ``decode``:
#
# 1. What does ``data.T @ data / len(data)`` compute, and when is that the covariance?
# 2. What does ``np.linalg.eig`` promise about the order of what it returns, and what
#    does ``eigvecs[:, :dim]`` assume?
#
# Write down your answers, then run the next cells: first the evidence, on data
# where each bug shows, then the answers.

# %% [markdown]
# ## The evidence: the class against fixed versions, on three data sets
#
# ``FixedPCA`` switches each fix on or off, to show what each bug costs on its own.

# %%
class FixedPCA(TooSimplePCA):
    """centre: subtract the mean before the covariance and in encode, add it back in decode.
    sort:   eigh (for symmetric matrices) and descending order, instead of eig's order."""

    def __init__(self, data, centre=True, sort=True):
        self.data = data
        self.mean = data.mean(axis=0) if centre else np.zeros(data.shape[1], data.dtype)
        X = data - self.mean
        cov = X.T @ X / (len(X) - 1) if centre else X.T @ X / len(X)
        if sort:
            eigvals, eigvecs = np.linalg.eigh(cov)
            order = np.argsort(eigvals)[::-1]
            self.eigvals, self.eigvecs = eigvals[order], eigvecs[:, order]
        else:
            self.eigvals, self.eigvecs = np.linalg.eig(cov)

    def encode(self, data, dim):
        return (data - self.mean) @ self.eigvecs[:, :dim]

    def decode(self, lowdim):
        return lowdim @ self.eigvecs[:, :lowdim.shape[1]].T + self.mean


def recon_error(pca, data, dim=1):
    """Mean over all entries of (x̂ − x)², reconstructing from ``dim`` components."""
    return float(np.mean((pca.decode(pca.encode(data, dim)) - data) ** 2))


def minnn_error(data, dim=1):
    p = minnn.PCA(n_components=dim).fit(data)
    return float(np.mean((p.inverse_transform(p.transform(data)) - data) ** 2))


datasets = {
    "tutorial data": base,
    "off-centre: moved to (-4, 4)": base + np.array([-4.0, 4.0]),
    "features swapped: (y, x)": np.ascontiguousarray(base[:, ::-1]),
}
variants = {
    "as written": lambda d: TooSimplePCA(d),
    "fix 1 only (centre)": lambda d: FixedPCA(d, centre=True, sort=False),
    "fix 2 only (eigh, sort)": lambda d: FixedPCA(d, centre=False, sort=True),
    "both fixes": lambda d: FixedPCA(d),
}

print("\nReconstruction error with 1 component (mean over all entries of (x̂ − x)²):\n")
print(f"{'data':30s}" + "".join(f"{v:>25s}" for v in variants) + f"{'minnn.PCA':>12s}")
errors = {}
for name, data in datasets.items():
    row = {v: recon_error(make(data), data) for v, make in variants.items()}
    row["minnn.PCA"] = minnn_error(data)
    errors[name] = row
    print(f"{name:30s}" + "".join(f"{row[v]:25.5f}" for v in variants) + f"{row['minnn.PCA']:12.5f}")

# %%
def eig_order_is_descending(data):
    """Does eig return the un-centred second-moment matrix's eigenvalues largest first?"""
    eigvals = np.linalg.eig(data.T @ data / len(data))[0]
    return bool(np.all(np.diff(eigvals) <= 0)), eigvals


def count_unsorted_eig(trials, d, rng):
    """How often eig returns a random d×d covariance's eigenvalues out of descending order."""
    bad = 0
    for _ in range(trials):
        X = rng.standard_normal((200, d)) @ rng.standard_normal((d, d))
        X -= X.mean(axis=0)
        eigvals = np.linalg.eig(X.T @ X / (len(X) - 1))[0]
        bad += not np.all(np.diff(eigvals) <= 0)
    return bad


print("\nWhat np.linalg.eig returned for each data set's data.T @ data / n:")
eig_orders = {name: eig_order_is_descending(data) for name, data in datasets.items()}
for name, (descending, eigvals) in eig_orders.items():
    print(f"  {name:30s} eigenvalues {np.round(eigvals, 4)} -> "
          f"{'largest first, by luck' if descending else 'NOT largest first'}")
unsorted4 = count_unsorted_eig(50, 4, np.random.default_rng([7, run.seed]))
print(f"  and for 50 random 4×4 covariance matrices, eig returned {unsorted4} of them out of order")

off, swap = "off-centre: moved to (-4, 4)", "features swapped: (y, x)"
print(f"\nBug 1 (no centring) costs {errors[off]['as written'] / errors[off]['minnn.PCA']:.2f}x "
      f"PCA's error on the off-centre data; centring alone fixes it.")
print(f"Bug 2 (eig's order) costs {errors[swap]['as written'] / errors[swap]['minnn.PCA']:.2f}x "
      f"PCA's error on the swapped data: it keeps the direction of least variance.")

# The claims, checked. Both fixes together are minnn.PCA on every data set; the tutorial's
# data hide both bugs; each bug shows on its own data, and its own fix cures it.
for row in errors.values():
    assert abs(row["both fixes"] - row["minnn.PCA"]) < 2e-5
tut = errors["tutorial data"]
assert abs(tut["as written"] / tut["minnn.PCA"] - 1) < 1e-3 and eig_orders["tutorial data"][0]
assert errors[off]["as written"] > 2 * errors[off]["minnn.PCA"]
assert abs(errors[off]["fix 1 only (centre)"] - errors[off]["minnn.PCA"]) < 2e-5
assert errors[swap]["as written"] > 2 * errors[swap]["minnn.PCA"] and not eig_orders[swap][0]
assert abs(errors[swap]["fix 2 only (eigh, sort)"] / errors[swap]["minnn.PCA"] - 1) < 1e-3

# %% [markdown]
# ## A picture of bug 1: the second-moment matrix's top eigenvector points at the mean

# %%
data = datasets[off]
buggy, fixed = TooSimplePCA(data), FixedPCA(data)
fig, ax = plt.subplots(figsize=(6, 5))
ax.scatter(data[:, 0], data[:, 1], s=4, c=labels, cmap="coolwarm", alpha=0.3)
for pca, color, label in [(buggy, "tab:red", "as written"), (fixed, "tab:green", "fixed")]:
    rec = pca.decode(pca.encode(data, 1))
    ax.scatter(rec[:, 0], rec[:, 1], s=3, color=color,
               label=f"{label}: MSE {recon_error(pca, data):.3f}")
# The buggy line, drawn all the way back to the origin it passes through.
v = buggy.eigvecs[:, 0] * np.sign(buggy.eigvecs[:, 0] @ data.mean(axis=0))
ax.plot([0, 8 * v[0]], [0, 8 * v[1]], color="tab:red", linestyle=":", linewidth=1)
ax.scatter([0], [0], marker="+", s=150, color="black", label="origin", zorder=3)
ax.set_aspect("equal")
ax.set_title("Off-centre data: the un-centred PCA's line goes through the origin")
ax.legend(loc="lower left", markerscale=3)
fig.tight_layout()
png = run.save(fig, "uncentred_pca.png")
print(f"figure saved in {run.out}: {png.name}")

# %% [markdown]
# ## The answers

# %%
ANSWERS = f"""\
Bug 1, no centring. data.T @ data / n is the covariance only when the mean of the data
is zero. Otherwise it is the matrix of second moments, and its top eigenvector points
towards the mean, not along the spread; encode and decode then project onto a line
through the *origin*, not through the middle of the data. The tutorial's data have a
mean of about {np.round(base.mean(axis=0), 2)}, so the error moves only in the fourth digit
({tut['as written']:.5f} instead of {tut['minnn.PCA']:.5f}). Fix: keep self.mean = data.mean(axis=0),
build the covariance from data - self.mean, encode (data - self.mean) @ V and decode
lowdim @ V.T + self.mean.

Bug 2, unsorted eigenvalues. np.linalg.eig is the solver for *general* square matrices
and promises no order. eigvecs[:, :dim] assumes the largest come first. On the tutorial
data they happen to; list the same two features in the other order and eig returns the
smallest first, so the "first principal component" is the direction of *least* variance.
Fix: a covariance matrix is symmetric, so use np.linalg.eigh (real eigenvalues,
orthonormal eigenvectors, ascending order guaranteed) and reverse it, or sort with
np.argsort(eigvals)[::-1].

minnn.PCA does both (see minnn/pca.py)."""
print("\nThe answers\n\n" + ANSWERS)
