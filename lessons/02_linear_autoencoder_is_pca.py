# %% [markdown]
# # Lesson 2: a linear autoencoder learns PCA's subspace, but not PCA's axes.
#
# The tutorial's central idea is that PCA *is* an autoencoder: encode with
# Z = X·V, decode with X̂ = Z·Vᵀ. Make every activation linear, train with the
# mean squared error, and a theorem (Baldi & Hornik, 1989) says what the
# autoencoder ends up with: PCA's reconstruction error, and a decoder whose k
# vectors span PCA's top-k subspace. It does *not* promise the eigenvectors
# themselves: for any invertible k×k matrix M, the encoder E·M and the decoder
# M⁻¹·W reconstruct exactly as well, so gradient descent stops at whatever mix
# of the eigenvectors it happens to reach.
#
# This lesson watches that happen, measures it with principal angles
# (``minnn.linalg``), recovers the eigenvectors from the learned mix, and then
# shows where the linear autoencoder stops: on the tutorial's two clusters the
# nonlinear autoencoder of lesson 1 beats PCA, because the best 1-D summary of
# that data is a bent curve, not a line.
#
# Run it as a script from anywhere, or open it as a notebook and run it cell by cell
# (``MINNN_LESSON_QUICK=1`` for the quick mode in a kernel; see ``minnn.lesson``):
#
#     python lessons/02_linear_autoencoder_is_pca.py            # full lesson, a few seconds
#     python lessons/02_linear_autoencoder_is_pca.py --quick    # fewer tables, for tests
#     python lessons/02_linear_autoencoder_is_pca.py --out DIR  # where to save the figures
#
# What to look for (seed 0): both linear autoencoders end within a hundredth of
# a degree of PCA's subspace, with PCA's error to five digits. The 10-D
# decoder's three vectors have lengths 0.7 to 1.7 and lie 17° to 83° from PCA's
# axes, yet a QR and a 3×3 ``eigh`` turn them into those axes. The same 500
# steps that reach under 0.01° on centred data stay about 60° away when the data sit
# 20 units from the origin. Lesson 1's ReLU autoencoder reaches 0.40× PCA's
# error on the two clusters; no linear one can beat 1.00×.
#
# The tutorial's own "too simple" PCA class, and its two bugs, are the subject of
# the companion exercise ``lessons/02b_spot_the_pca_bugs.py``.

# %%
import matplotlib.pyplot as plt
import numpy as np

import minnn
from minnn import Dense, Input, Model, lesson
from minnn.callbacks import Callback
from minnn.datasets import two_gaussians
from minnn.linalg import largest_principal_angle_degrees

run = lesson.setup("02", "Lesson 2: a linear autoencoder learns PCA's subspace, but not PCA's axes")

# The 10-D data set: its covariance has these eigenvalues (a "known spectrum").
# The top three are far apart from each other and from the rest, so PCA's top-3
# subspace, and each of its axes, are well defined.
SPECTRUM_10D = (8.0, 4.0, 2.0, 0.5, 0.4, 0.3, 0.2, 0.15, 0.1, 0.05)

# %% [markdown]
# ## Tools: the data, the model, and how far its subspace is from PCA's

# %%
# --- data -------------------------------------------------------------------------------
def random_rotation(d, rng):
    """A random orthogonal (d, d) matrix: QR of a Gaussian matrix, signs fixed so it is uniform."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def spectrum_data(spectrum, n, rng, mean):
    """n points whose covariance has eigenvalues ``spectrum`` along randomly rotated axes.

    Returns (X (n, D) float32, axes (D, D) float64: column i is the true i-th principal axis).
    """
    spectrum = np.asarray(spectrum, dtype=np.float64)
    axes = random_rotation(len(spectrum), rng)
    z = rng.standard_normal((n, len(spectrum))) * np.sqrt(spectrum)   # independent, var = λᵢ
    return (z @ axes.T + mean).astype(np.float32), axes


# --- the model --------------------------------------------------------------------------
def linear_autoencoder(d, k, hidden=None, name="linear_ae"):
    """Input(d) → [Dense(hidden)] → Dense(k) → [Dense(hidden)] → Dense(d), all linear.

    Returns (model, encoder layers, decoder layers). ``activation=None`` is the
    identity, so the whole model is one affine map x ↦ x·A + c with rank(A) <= k.
    """
    inputs = Input(shape=(d,), name="x")
    h, encoder, decoder = inputs, [], []
    for units in ([hidden] if hidden else []) + [k]:
        encoder.append(Dense(units, activation=None))
        h = encoder[-1](h)
    for units in ([hidden] if hidden else []) + [d]:
        decoder.append(Dense(units, activation=None))
        h = decoder[-1](h)
    return Model(inputs, h, name=name), encoder, decoder


def decoder_vectors(decoder):
    """The k vectors the decoder builds its outputs from: rows of W = K₁·K₂·… (k, D).

    A code z (1, k) decodes to z·W + c: every reconstruction lies in the row
    space of W, shifted by a constant. So span(rows of W) is "the decoder's subspace".
    """
    W = decoder[0].kernel.value.astype(np.float64)
    for layer in decoder[1:]:
        W = W @ layer.kernel.value
    return W


def encoder_matrix(encoder):
    """E = K₁·K₂·… (D, k): a centred input x codes to x·E."""
    E = encoder[0].kernel.value.astype(np.float64)
    for layer in encoder[1:]:
        E = E @ layer.kernel.value
    return E


def mse(X, X_hat):
    """The autoencoder's loss: the mean over all N·D entries of (x̂ − x)²."""
    return float(np.mean((np.asarray(X, np.float64) - X_hat) ** 2))


class SubspaceTracker(Callback):
    """After every optimiser step, record how far the decoder is from PCA.

    ``angles[t]``: the largest principal angle (degrees) between the decoder's
    subspace and PCA's top-k subspace after t steps; ``errors[t]``: the model's
    reconstruction error on the whole data set then. t = 0 is the initial model.
    ``pca_error``: PCA-k's reconstruction error on the same data, the floor.
    """

    def __init__(self, X, pca, decoder):
        super().__init__()
        self.X, self.decoder = X, decoder
        self.pca_basis = pca.components_.T            # (D, k), columns = PCA's axes
        self.pca_error = mse(X, pca.inverse_transform(pca.transform(X)))   # the target
        self.steps, self.angles, self.errors = [], [], []

    def _measure(self):
        W = decoder_vectors(self.decoder)
        self.angles.append(largest_principal_angle_degrees(W.T, self.pca_basis))
        X_hat = self.model.predict(self.X, batch_size=len(self.X), verbose=0)
        self.errors.append(mse(self.X, X_hat))
        self.steps.append(len(self.steps))

    def on_train_begin(self, logs=None):
        self.steps, self.angles, self.errors = [], [], []
        self._measure()

    def on_train_batch_end(self, batch, logs=None):
        self._measure()


def train_and_track(X, k, epochs, learning_rate, hidden=None, seed=0, name="linear_ae"):
    """Full-batch Adam on a linear autoencoder; returns (model, encoder, decoder, pca, tracker)."""
    pca = minnn.PCA(n_components=k).fit(X)
    minnn.utils.set_random_seed(seed)
    model, encoder, decoder = linear_autoencoder(X.shape[1], k, hidden=hidden, name=name)
    # Full batch: every step sees the exact gradient, so the error can settle on PCA's
    # to many digits; with small batches, Adam's constant step keeps it jittering.
    model.compile(optimizer=minnn.optimizers.Adam(learning_rate=learning_rate), loss="mse")
    tracker = SubspaceTracker(X, pca, decoder)
    model.fit(X, X, epochs=epochs, batch_size=len(X), verbose=0, callbacks=[tracker])
    return model, encoder, decoder, pca, tracker


def report_fit(title, tracker, quick):
    err_pca = tracker.pca_error
    print(f"\n== {title} ==")
    if not quick:
        print("  step   largest angle to PCA   AE error   (PCA error {:.5f})".format(err_pca))
        for t in sorted({0, 10, 30, 100, 300, 600, tracker.steps[-1]}):
            if t <= tracker.steps[-1]:
                print(f"  {t:5d}   {tracker.angles[t]:18.4f}°   {tracker.errors[t]:.5f}")
    print(f"  after {tracker.steps[-1]} steps: largest principal angle to PCA's subspace "
          f"{tracker.angles[-1]:.4f}°")
    print(f"  reconstruction error: autoencoder {tracker.errors[-1]:.5f}, PCA {err_pca:.5f}, "
          f"ratio {tracker.errors[-1] / err_pca:.5f}")


# --- recovering PCA's axes from the learned mix -----------------------------------------
def recover_axes(W, X):
    """Turn any basis W (k, D) of PCA's subspace into PCA's axes, in order.

    1. Orthonormalise: Q (D, k) with QR; span(Q) = span(rows of W).
    2. Project the centred data onto Q: Z = (X − mean)·Q, shape (N, k).
    3. PCA inside the subspace: eigh of the k×k covariance ZᵀZ / (N − 1),
       sorted by descending eigenvalue; its eigenvectors R (k, k) say how to
       rotate Q's axes onto the directions of largest variance.
    4. The axes are the columns of Q·R; returned as rows (k, D), with their variances.
    Only if span(Q) is PCA's subspace are these PCA's top-k axes.
    """
    Q, _ = np.linalg.qr(W.T)
    Xc = np.asarray(X, np.float64) - X.mean(axis=0, dtype=np.float64)
    Z = Xc @ Q
    variances, R = np.linalg.eigh(Z.T @ Z / (len(X) - 1))
    order = np.argsort(variances)[::-1]
    return (Q @ R[:, order]).T, variances[order]


def angles_up_to_sign(U, V):
    """Angle in degrees between row i of U and row i of V, ignoring sign (a line has none)."""
    U = U / np.linalg.norm(U, axis=1, keepdims=True)
    V = V / np.linalg.norm(V, axis=1, keepdims=True)
    return np.degrees(np.arccos(np.clip(np.abs(np.sum(U * V, axis=1)), 0, 1)))


def show_learned_basis(W, E, pca, X):
    """Print why the decoder's vectors are a basis of the subspace, but not PCA's axes."""
    k = W.shape[0]
    V = pca.components_
    cos = (W / np.linalg.norm(W, axis=1, keepdims=True)) @ V.T
    table = np.degrees(np.arccos(np.clip(np.abs(cos), 0, 1)))   # (k, k): learned i vs axis j
    gram = W @ W.T
    print("\n== The decoder's vectors span PCA's subspace, but they are not its axes ==")
    print(f"  norms of the {k} decoder vectors (rows of W): {np.round(np.linalg.norm(W, axis=1), 3)}")
    print("  Gram matrix W·Wᵀ (an orthonormal basis would give the identity):")
    for row in gram:
        print("    " + "  ".join(f"{v:7.3f}" for v in row))
    print("  angle (degrees) between decoder vector i (rows) and PCA axis j (columns):")
    for row in table:
        print("    " + "  ".join(f"{v:6.1f}" for v in row))
    # The encoder and decoder together are PCA's projector: x ↦ mean + (x − mean)·Vᵀ·V.
    P = V.T @ V
    product_gap = float(np.max(np.abs(E @ W - P)))
    print(f"  yet encoder·decoder E·W equals PCA's projector VᵀV to within {product_gap:.2e} "
          "(largest entry difference)")
    return {"gram": gram, "angle_table": table, "product_gap": product_gap,
            "orthonormality_gap": float(np.max(np.abs(gram - np.eye(k))))}


# %% [markdown]
# ## 1. The tutorial's 2-D data, one latent unit

# %%
data, labels = two_gaussians.load_data(seed=run.seed)
linear_ae_2d, _, dec2, pca2, track2 = train_and_track(data, k=1, epochs=200, learning_rate=0.05,
                                           seed=run.seed, name="linear_ae_2d")
report_fit("2-D two-Gaussians data, k = 1: Input(2) → Dense(1) → Dense(2), all linear",
           track2, run.quick)
w = decoder_vectors(dec2)[0]
print(f"  decoder vector {np.round(w, 4)} (norm {np.linalg.norm(w):.3f}), "
      f"PCA axis {np.round(pca2.components_[0], 4)}")
# The claims, checked: PCA's subspace (within 2°) and PCA's error (within 1 %).
assert track2.angles[-1] < 2.0 and track2.errors[-1] <= 1.01 * track2.pca_error

# %% [markdown]
# ## 2. 10-D data with a known spectrum, three latent units

# %%
rng = np.random.default_rng([2, run.seed])
mean10 = rng.uniform(-2, 2, size=len(SPECTRUM_10D))       # real data are not centred
X10, true_axes = spectrum_data(SPECTRUM_10D, 2000, rng, mean10)
linear_ae_10d, enc10, dec10, pca10, track10 = train_and_track(X10, k=3, epochs=1000, learning_rate=0.05,
                                                        seed=run.seed, name="linear_ae_10d")
print(f"\n10-D data: covariance eigenvalues by construction {SPECTRUM_10D[:4]}..., "
      f"PCA estimates {np.round(pca10.explained_variance_, 3)} for the top 3")
report_fit("10-D data, k = 3: Input(10) → Dense(3) → Dense(10), all linear", track10, run.quick)
enc_angle = largest_principal_angle_degrees(encoder_matrix(enc10), pca10.components_.T)
print(f"  the encoder's columns are {enc_angle:.3f}° from PCA's subspace: the encoder is "
      "only ever seen through the data, and\n  the data barely vary along the small-variance "
      "directions, so its error there costs little and is corrected slowly.")
assert track10.angles[-1] < 2.0 and track10.errors[-1] <= 1.01 * track10.pca_error

# %%
fig, axes = plt.subplots(3, 2, figsize=(10, 9), sharex="col")
for col, (title, tr) in enumerate([("2-D data, k = 1", track2), ("10-D data, k = 3", track10)]):
    k = 1 if col == 0 else 3
    axes[0, col].semilogy(tr.steps, np.maximum(tr.angles, 1e-4))
    axes[0, col].axhline(2.0, color="gray", linestyle=":", label="2°")
    axes[0, col].set_ylabel("largest principal angle\nto PCA's subspace (°)")
    axes[0, col].set_title(title)
    axes[0, col].legend()
    axes[1, col].semilogy(tr.steps, tr.errors, label="linear autoencoder")
    axes[1, col].axhline(tr.pca_error, color="tab:orange", linestyle="--",
                         label=f"PCA-{k} error {tr.pca_error:.4f}")
    axes[1, col].set_ylabel("reconstruction error (MSE)")
    axes[1, col].legend()
    excess = np.asarray(tr.errors) / tr.pca_error - 1
    axes[2, col].semilogy(tr.steps, np.maximum(excess, 1e-7))  # float32 round-off floor
    axes[2, col].axhline(0.01, color="gray", linestyle=":", label="1 %")
    axes[2, col].set_ylabel("AE error / PCA error − 1")
    axes[2, col].set_xlabel("training step (full batch, Adam lr 0.05)")
    axes[2, col].legend()
fig.tight_layout()
curves_png = run.save(fig, "angle_and_error_vs_step.png")

# %% [markdown]
# ## 3. Same subspace, different basis

# %%
W10 = decoder_vectors(dec10)
basis = show_learned_basis(W10, encoder_matrix(enc10), pca10, X10)
# Not orthonormal, vector i is not axis i, yet encoder·decoder is PCA's projector.
assert basis["orthonormality_gap"] > 0.1 and np.max(np.diag(basis["angle_table"])) > 10.0
assert basis["product_gap"] < 1e-2

# %% [markdown]
# ## 4. Recover PCA's axes: orthonormalise, then rotate

# %%
axes_rec, var_rec = recover_axes(W10, X10)
ang_rec = angles_up_to_sign(axes_rec, pca10.components_)
ang_true = angles_up_to_sign(axes_rec, true_axes[:, :3].T)
print("\n== Recovering the axes: QR of the decoder vectors, then PCA inside their span ==")
print(f"  recovered variances {np.round(var_rec, 4)}, minnn.PCA's {np.round(pca10.explained_variance_, 4)}")
print(f"  angle to minnn.PCA's components, up to sign (degrees): {np.round(ang_rec, 4)}")
print(f"  angle to the axes the data were built from (degrees): {np.round(ang_true, 2)} "
      "(sampling noise: 2000 points only estimate them)")
assert np.max(ang_rec) < 0.5 and np.allclose(var_rec, pca10.explained_variance_, rtol=1e-3)

# %% [markdown]
# ## 5. Deeper, still linear

# %%
deep_linear_ae, _, dec_deep, pca_deep, track_deep = train_and_track(
    X10, k=3, hidden=8, epochs=500, learning_rate=0.05, seed=run.seed, name="deep_linear_ae")
print("\n== A deeper linear stack, 10 → 8 → 3 → 8 → 10: still one linear map of rank 3 ==")
print(f"  decoder vectors = rows of K₃·K₄ (3, 10): largest angle to PCA "
      f"{track_deep.angles[-1]:.4f}°, error ratio {track_deep.errors[-1] / track_deep.pca_error:.5f}")
assert track_deep.angles[-1] < 2.0 and track_deep.errors[-1] <= 1.01 * track_deep.pca_error

# %% [markdown]
# ## 6. Like with like: the mean
#
# PCA subtracts the mean before it looks for directions. The autoencoder has biases, so
# it *can* learn the mean itself: x̂ = x·E·W + c, and at the optimum c = mean − mean·E·W.

# %%
c = enc10[0].bias.value.astype(np.float64) @ W10 + dec10[0].bias.value
target_c = X10.mean(axis=0, dtype=np.float64) @ (np.eye(10) - pca10.components_.T @ pca10.components_)
print("\n== The mean: PCA subtracts it; the autoencoder's biases learn it ==")
print(f"  offset c = b_enc·W + b_dec vs mean·(I − VᵀV): largest difference "
      f"{np.max(np.abs(c - target_c)):.2e}")
# Learning the mean is the easy part only while the offset is small next to the spread.
# Far from the origin, x·xᵀ is dominated by mean·meanᵀ, the loss surface becomes a long
# narrow valley, and the same training crawls. Centring the inputs removes the valley.
far = X10 + np.float32(20.0)
_, _, _, _, track_far = train_and_track(far, k=3, epochs=500, learning_rate=0.05,
                                        seed=run.seed, name="linear_ae_far")
_, _, _, _, track_centred = train_and_track(far - far.mean(axis=0), k=3, epochs=500,
                                            learning_rate=0.05, seed=run.seed,
                                            name="linear_ae_centred")
print(f"  the same data shifted by +20 in every feature: after 500 steps the angle is "
      f"{track_far.angles[-1]:.2f}°;\n  centred first (X − mean, as PCA does): "
      f"{track_centred.angles[-1]:.4f}°. Centre your inputs.")
assert np.max(np.abs(c - target_c)) < 0.05
assert track_far.angles[-1] > 10.0 and track_centred.angles[-1] < 2.0

# %% [markdown]
# ## 7. Where linear stops: the nonlinear autoencoder of lesson 1

# %%
print("\n== The nonlinear autoencoder of lesson 1 on the same 2-D data (running lesson 1) ==")
lesson01 = lesson.run_lesson("01_pca_vs_autoencoder.py", quick=True, out=run.out / "lesson01",
                             seed=run.seed)
nonlinear_err = lesson01["ae_err"]
print(f"\n  reconstruction error with a 1-D code: PCA {track2.pca_error:.5f}, linear autoencoder "
      f"{track2.errors[-1]:.5f}, nonlinear autoencoder {nonlinear_err:.5f} "
      f"({nonlinear_err / track2.pca_error:.2f} x PCA's)")
print("  A linear decoder can only put its reconstructions on a straight line, and the best\n"
      "  straight line is PCA's; that is the theorem. The two clusters sit side by side, each\n"
      "  stretched along (1, 1), so the best 1-D summary of the data runs up one cluster and\n"
      "  then up the other: a bent curve, not a line. ReLU layers can bend the decoder's\n"
      "  output; linear ones cannot.")
assert track2.errors[-1] <= 1.01 * track2.pca_error and nonlinear_err < 0.8 * track2.pca_error

# %%
fig, ax = plt.subplots(figsize=(6, 5))
ax.scatter(data[:, 0], data[:, 1], s=4, c=labels, cmap="coolwarm", alpha=0.3)
X_lin = track2.model.predict(data, batch_size=len(data), verbose=0)
X_pca = pca2.inverse_transform(pca2.transform(data))
ax.scatter(X_pca[:, 0], X_pca[:, 1], s=12, color="tab:orange", label="PCA reconstruction")
ax.scatter(X_lin[:, 0], X_lin[:, 1], s=2, color="black", label="linear AE reconstruction")
ax.set_aspect("equal")
ax.set_title(f"Linear AE = PCA: MSE {track2.errors[-1]:.4f} vs {track2.pca_error:.4f}")
ax.legend(loc="upper left", markerscale=3)
fig.tight_layout()
line_png = run.save(fig, "linear_ae_is_pca_2d.png")

print(f"\nfigures saved in {run.out}: {curves_png.name}, {line_png.name} "
      f"(and lesson 1's in {run.out / 'lesson01'})")


