"""A linear autoencoder trained with minnn reaches PCA (Baldi & Hornik, 1989).

PCA here is computed independently of minnn.PCA: ``eigh`` of the centred
covariance in float64. The claim checked is the theorem's: the autoencoder's
reconstruction error is within 1 % of PCA-k's, and the decoder's k vectors
span PCA's top-k subspace to within 2°.
"""
import numpy as np
import pytest

import minnn
from minnn import Dense, Input, Model
from minnn.datasets import two_gaussians
from minnn.layers import Dense as DenseClass
from minnn.linalg import largest_principal_angle_degrees

MAX_ANGLE = 2.0      # degrees
MAX_EXCESS = 0.01    # AE error may exceed PCA's by at most 1 %


# --- helpers --------------------------------------------------------------------------
def pca_by_eigh(X):
    """(axes (D, D) as columns sorted by descending variance, variances (D,), centred X)."""
    X = np.asarray(X, np.float64)
    Xc = X - X.mean(axis=0)
    vals, vecs = np.linalg.eigh(Xc.T @ Xc / (len(X) - 1))
    order = np.argsort(vals)[::-1]
    return vecs[:, order], vals[order], Xc


def pca_error(X, basis):
    """PCA's reconstruction error with the axes ``basis`` (D, k): mean of (x̂ − x)²."""
    _, _, Xc = pca_by_eigh(X)
    return float(np.mean((Xc - Xc @ basis @ basis.T) ** 2))


def spectrum_data(spectrum, n, seed, mean_scale=2.0):
    """n points, covariance eigenvalues ``spectrum`` along random axes, mean off the origin."""
    rng = np.random.default_rng(seed)
    d = len(spectrum)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    axes = q * np.sign(np.diag(r))
    z = rng.standard_normal((n, d)) * np.sqrt(np.asarray(spectrum, np.float64))
    return (z @ axes.T + rng.uniform(-mean_scale, mean_scale, d)).astype(np.float32)


def train_linear_ae(X, k, optimizer, epochs, batch_size=None, hidden=None, seed=0):
    """Input(D) → [Dense(hidden)] → Dense(k) → [Dense(hidden)] → Dense(D), every activation
    linear, trained with minnn's plain API. Returns (decoder vectors W (k, D), AE error)."""
    minnn.utils.set_random_seed(seed)
    d = X.shape[1]
    inputs = Input(shape=(d,))
    h = inputs
    if hidden:
        h = Dense(hidden)(h)
    h = Dense(k, activation="linear")(h)
    decoder = [Dense(hidden)] if hidden else []
    decoder.append(Dense(d, activation=None))
    for layer in decoder:
        h = layer(h)
    model = Model(inputs, h)
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(X, X, epochs=epochs, batch_size=batch_size or len(X), verbose=0)
    W = decoder[0].kernel.numpy().astype(np.float64)
    for layer in decoder[1:]:
        W = W @ layer.kernel.value
    error = model.evaluate(X, X, batch_size=len(X), verbose=0)
    return W, error


def check_matches_pca(W, ae_error, basis, reference_error):
    """The test's claim: span(rows of W) within 2° of span(basis), error within 1 %."""
    angle = largest_principal_angle_degrees(W.T, basis)
    assert angle < MAX_ANGLE, f"decoder subspace is {angle:.3f}° from the reference (> {MAX_ANGLE}°)"
    assert ae_error <= (1 + MAX_EXCESS) * reference_error, (
        f"AE error {ae_error:.6f} exceeds the reference {reference_error:.6f} by more than 1 %")
    return angle


@pytest.fixture(scope="module")
def two_gaussians_data():
    return two_gaussians.load_data(seed=0)[0]


# --- k = 1 on the tutorial's 2-D data ---------------------------------------------------------
@pytest.mark.parametrize("make_optimizer, epochs, batch_size", [
    (lambda: "adam", 300, 128),                                    # Keras's defaults, mini-batches
    (lambda: minnn.optimizers.Adam(learning_rate=0.05), 200, None),  # full batch
    (lambda: minnn.optimizers.SGD(learning_rate=0.1), 400, None),
], ids=["adam-default-batch128", "adam-0.05-full-batch", "sgd-0.1-full-batch"])
def test_k1_on_the_two_gaussians_matches_pca(two_gaussians_data, make_optimizer, epochs, batch_size):
    X = two_gaussians_data
    axes, _, _ = pca_by_eigh(X)
    W, err = train_linear_ae(X, 1, make_optimizer(), epochs, batch_size)
    check_matches_pca(W, err, axes[:, :1], pca_error(X, axes[:, :1]))


def test_k1_negative_control_second_direction_fails(two_gaussians_data):
    """The same trained decoder is ~90° from the *second* principal direction."""
    X = two_gaussians_data
    axes, _, _ = pca_by_eigh(X)
    W, err = train_linear_ae(X, 1, minnn.optimizers.Adam(learning_rate=0.05), 200)
    check_matches_pca(W, err, axes[:, :1], pca_error(X, axes[:, :1]))       # passes ...
    with pytest.raises(AssertionError, match="from the reference"):
        check_matches_pca(W, err, axes[:, 1:2], pca_error(X, axes[:, 1:2]))  # ... this cannot
    assert largest_principal_angle_degrees(W.T, axes[:, 1:2]) > 85


def test_k1_negative_control_one_epoch_is_not_enough(two_gaussians_data):
    X = two_gaussians_data
    axes, _, _ = pca_by_eigh(X)
    W, err = train_linear_ae(X, 1, minnn.optimizers.Adam(learning_rate=0.05), 1)
    with pytest.raises(AssertionError):
        check_matches_pca(W, err, axes[:, :1], pca_error(X, axes[:, :1]))


# --- k = 2, 3 on data with well-separated eigenvalues ------------------------------------------
SPECTRA = {
    "10d-k3": ((8.0, 4.0, 2.0, 0.5, 0.4, 0.3, 0.2, 0.15, 0.1, 0.05), 3),
    "6d-k2": ((5.0, 2.5, 0.6, 0.4, 0.2, 0.1), 2),
}


@pytest.mark.parametrize("name", sorted(SPECTRA))
@pytest.mark.parametrize("seed", [0, 1])
def test_higher_dimensional_data_matches_pca(name, seed):
    spectrum, k = SPECTRA[name]
    X = spectrum_data(spectrum, 2000, seed)
    axes, _, _ = pca_by_eigh(X)
    W, err = train_linear_ae(X, k, minnn.optimizers.Adam(learning_rate=0.05), 600, seed=seed)
    check_matches_pca(W, err, axes[:, :k], pca_error(X, axes[:, :k]))


def test_deeper_linear_stack_matches_pca():
    spectrum, k = SPECTRA["10d-k3"]
    X = spectrum_data(spectrum, 2000, 3)
    axes, _, _ = pca_by_eigh(X)
    W, err = train_linear_ae(X, k, minnn.optimizers.Adam(learning_rate=0.05), 500, hidden=8)
    assert W.shape == (k, 10)
    check_matches_pca(W, err, axes[:, :k], pca_error(X, axes[:, :k]))


def test_float64_models_match_pca():
    minnn.config.set_floatx("float64")   # restored by the conftest fixture
    spectrum, k = SPECTRA["6d-k2"]
    X = spectrum_data(spectrum, 1000, 5).astype(np.float64)
    axes, _, _ = pca_by_eigh(X)
    W, err = train_linear_ae(X, k, minnn.optimizers.Adam(learning_rate=0.05), 600)
    assert W.dtype == np.float64
    angle = check_matches_pca(W, err, axes[:, :k], pca_error(X, axes[:, :k]))
    assert angle < 0.1


def test_k3_negative_controls_wrong_subspace_and_short_training():
    spectrum, k = SPECTRA["10d-k3"]
    X = spectrum_data(spectrum, 2000, 0)
    axes, _, _ = pca_by_eigh(X)
    W, err = train_linear_ae(X, k, minnn.optimizers.Adam(learning_rate=0.05), 600)
    check_matches_pca(W, err, axes[:, :k], pca_error(X, axes[:, :k]))
    # Axes 2..4 share two directions with the right subspace, but not the third.
    with pytest.raises(AssertionError, match="from the reference"):
        check_matches_pca(W, err, axes[:, 1:k + 1], pca_error(X, axes[:, 1:k + 1]))
    W1, err1 = train_linear_ae(X, k, minnn.optimizers.Adam(learning_rate=0.05), 1)
    with pytest.raises(AssertionError):
        check_matches_pca(W1, err1, axes[:, :k], pca_error(X, axes[:, :k]))


def test_negative_control_a_planted_backward_bug_is_caught(monkeypatch):
    """Drop Dense's bias gradient (a plausible core bug): biases stay 0, the model cannot
    learn the mean of off-centre data, and the check fails."""
    def backward_without_bias_grad(self, dy):
        x, z, y = self.cache
        dz = self.activation.backward(dy, z, y)
        self.kernel.grad += x.T @ dz
        return dz @ self.kernel.value.T

    spectrum, k = SPECTRA["6d-k2"]
    X = spectrum_data(spectrum, 2000, 0, mean_scale=3.0)
    axes, _, _ = pca_by_eigh(X)
    reference = pca_error(X, axes[:, :k])
    W, err = train_linear_ae(X, k, minnn.optimizers.Adam(learning_rate=0.05), 600)
    check_matches_pca(W, err, axes[:, :k], reference)          # the real Dense passes
    with monkeypatch.context() as m:
        m.setattr(DenseClass, "backward", backward_without_bias_grad)
        W_bad, err_bad = train_linear_ae(X, k, minnn.optimizers.Adam(learning_rate=0.05), 600)
    with pytest.raises(AssertionError):
        check_matches_pca(W_bad, err_bad, axes[:, :k], reference)
    assert err_bad > 1.5 * reference
