# %% [markdown]
# # Lesson 1: PCA versus a small autoencoder on two Gaussian clusters
#
# The tutorial's part 1, rebuilt in minnn. The Keras code it mirrors is kept
# line for line; only the imports change, and the loss is a minnn ``Loss`` that
# states its own gradient, because minnn has no autodiff.
#
# Run it as a script from anywhere, or open it as a notebook (Jupyter with
# jupytext, VS Code, PyCharm, Spyder) and run it cell by cell:
#
#     python lessons/01_pca_vs_autoencoder.py            # the full lesson, ~1 s of training
#     python lessons/01_pca_vs_autoencoder.py --quick    # quieter, for tests
#     python lessons/01_pca_vs_autoencoder.py --out DIR  # where to save the figures
#
# In a notebook, set ``MINNN_LESSON_QUICK=1`` for the quick mode (see ``minnn.lesson``).
#
# What to look for: PCA keeps one straight line through the data, so it cannot
# tell the two clusters apart along the second axis; its error is about 0.30.
# The autoencoder's 1-D code is a *bent* line, which follows both clusters, so
# its error is roughly half of PCA's.

# %%
import matplotlib.pyplot as plt
import numpy as np

import minnn
from minnn import lesson
from minnn import Dense, Input, Model
from minnn.datasets import two_gaussians
from minnn.losses import Loss, mean_squared_error

run = lesson.setup("01", "Lesson 1: PCA versus a small autoencoder on two Gaussian clusters")
run

# %% [markdown]
# ## The data: two Gaussians, 1000 points each

# %%
data, labels = two_gaussians.load_data(seed=run.seed)
print(f"data: {data.shape} {data.dtype}, mean {np.round(data.mean(axis=0), 3)}")

# %% [markdown]
# ## PCA with one component: data_approx = data·V·Vᵀ

# %%
pca = minnn.PCA(n_components=1).fit(data)
data_pca = pca.decode(pca.encode(data, 1))
pca_err = float(np.mean((data - data_pca) ** 2))
print(f"PCA: principal axis {np.round(pca.components_[0], 3)}, "
      f"explained variance {pca.explained_variance_[0]:.4f}")

# %% [markdown]
# ## The autoencoder, as the tutorial writes it in Keras
#
# The tutorial's loss was `def recon_loss(x, x_hat): return K.mean(mse(x, x_hat))`.
# minnn cannot differentiate a function for us, so the loss also says its gradient:
# L = mean over N samples of mean over D features of (x_hat − x)², so
# dL/dx_hat = 2 (x_hat − x) / (N·D).

# %%
class ReconLoss(Loss):
    def forward(self, x, x_hat):
        return float(np.mean(mean_squared_error(x, x_hat)))

    def backward(self, x, x_hat):
        return 2.0 * (x_hat - x) / x.size


minnn.utils.set_random_seed(run.seed)
recon_loss = ReconLoss()

inputs = Input(shape=(2,), name='Input')
x = Dense(20, activation='relu')(inputs)
x = Dense(20, activation='relu')(x)
lat = Dense(1, activation='linear')(x)
encoder = Model(inputs, lat, name='encoder')

lat_input = Input(shape=(1,), name='Latent')
x = Dense(20, activation='relu')(lat_input)
x = Dense(20, activation='relu')(x)
out = Dense(2, activation='linear')(x)
decoder = Model(lat_input, out, name='decoder')

ae = Model(inputs, decoder(encoder(inputs)), name='ae')
ae.summary()
assert ae.count_params() == 1003

# %% [markdown]
# ## Training: 200 epochs of batches of 128, Adam

# %%
ae.compile(optimizer='adam', loss={'decoder': recon_loss})
ae.fit(data, {'decoder': data}, epochs=200, batch_size=128, shuffle=True,
       verbose=0 if run.quick else 'auto')

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(ae.history.history['loss'])
ax.set_xlabel("epoch")
ax.set_ylabel("training loss (MSE)")
ax.set_title("Autoencoder training loss")
ax.axhline(pca_err, color="tab:orange", linestyle="--", label=f"PCA-1 error {pca_err:.3f}")
ax.legend()
fig.tight_layout()
loss_png = run.save(fig, "loss_curve.png")

# %% [markdown]
# ## Reconstructions: PCA's straight line against the autoencoder's bent one

# %%
data_ae = ae.predict(data, verbose=0)
# ae shares its layers with encoder and decoder, so the two paths agree exactly.
assert np.array_equal(data_ae, decoder.predict(encoder.predict(data, verbose=0), verbose=0))
ae_err = float(np.mean((data - data_ae) ** 2))

fig, ax = plt.subplots(figsize=(6, 5))
ax.scatter(data[:, 0], data[:, 1], s=4, c=labels, cmap="coolwarm", alpha=0.35, label="data")
ax.scatter(data_pca[:, 0], data_pca[:, 1], s=4, color="tab:orange", label="PCA reconstruction")
ax.scatter(data_ae[:, 0], data_ae[:, 1], s=4, color="black", label="autoencoder reconstruction")
ax.set_aspect("equal")
ax.set_title(f"MSE: PCA {pca_err:.3f}, autoencoder {ae_err:.3f}")
ax.legend(loc="upper left", markerscale=3)
fig.tight_layout()
scatter_png = run.save(fig, "reconstructions.png")

# %%
print(f"final training loss (epoch 200): {ae.history.history['loss'][-1]:.4f}")
print(f"reconstruction error, PCA (1 component): {pca_err:.5f}")
print(f"reconstruction error, autoencoder (1-D code): {ae_err:.5f}")
print(f"the autoencoder's error is {ae_err / pca_err:.2f} x PCA's")
print(f"figures saved in {run.out}: {loss_png.name}, {scatter_png.name}")
# The claims above, checked: PCA's error is the tutorial's, and the bent code beats the line.
if run.seed == 0:
    assert abs(pca_err - 0.29853) < 1e-5, pca_err
assert ae_err < 0.7 * pca_err, (ae_err, pca_err)
