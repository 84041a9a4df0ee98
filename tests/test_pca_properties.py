"""Property tests for minnn.PCA, with hypothesis.

Data are float64 and drawn from a seed, with a *prescribed sample covariance*:
X = sqrt(n − 1)·Q·diag(√λ)·Rᵀ + μ, where Q (n, d) has orthonormal, centred
columns and R is a random rotation. Then the sample covariance is exactly
R·diag(λ)·Rᵀ, so the eigenvalues are known, and they are kept at least 1.5×
apart, so that "equal up to sign" is a well-posed comparison of eigenvectors.
Each property has a planted-bug twin that must fail it.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from minnn import PCA


def prescribed_data(seed, n, d, scale=1.0, offset=0.0):
    """(X (n, d) float64, λ (d,) descending, R (d, d) whose columns are the true axes)."""
    rng = np.random.default_rng(seed)
    ratios = rng.uniform(1.5, 3.0, size=d - 1)                 # consecutive eigenvalues ≥ 1.5× apart
    lam = scale * np.concatenate([[1.0], np.cumprod(1.0 / ratios)])
    Z = rng.standard_normal((n, d))
    Z -= Z.mean(axis=0)
    Q, _ = np.linalg.qr(Z)                                      # orthonormal, still centred columns
    R, r = np.linalg.qr(rng.standard_normal((d, d)))
    R *= np.sign(np.diag(r))
    mean = offset * rng.standard_normal(d)
    X = np.sqrt(n - 1) * (Q * np.sqrt(lam)) @ R.T + mean
    return X, lam, R


data_params = st.tuples(st.integers(0, 2**32 - 1), st.integers(20, 200), st.integers(2, 8),
                        st.sampled_from([1e-2, 1.0, 1e3]), st.sampled_from([0.0, 1.0, 100.0]))


def abs_cos(U, V):
    """|cos| of the angle between row i of U and row i of V."""
    return np.abs(np.sum(U * V, axis=1)) / (np.linalg.norm(U, axis=1) * np.linalg.norm(V, axis=1))


# --- the properties, as checks that a planted bug can fail ------------------------------------
def check_round_trip(pca_cls, X):
    pca = pca_cls().fit(X)                                       # all components
    np.testing.assert_allclose(pca.inverse_transform(pca.transform(X)), X,
                               atol=1e-9 * (1 + np.abs(X).max()))


def check_variances(pca_cls, X):
    pca = pca_cls().fit(X)
    ev = pca.explained_variance_
    assert np.all(np.diff(ev) <= 0), f"not sorted descending: {ev}"
    total = np.trace(np.cov(X, rowvar=False, ddof=1))
    np.testing.assert_allclose(ev.sum(), total, rtol=1e-9)
    np.testing.assert_allclose(pca.explained_variance_ratio_.sum(), 1.0, rtol=1e-9)


def check_orthonormal(pca_cls, X):
    V = pca_cls().fit(X).components_
    np.testing.assert_allclose(V @ V.T, np.eye(len(V)), atol=1e-9)


def check_shift_invariance(pca_cls, X, shift):
    a, b = pca_cls().fit(X), pca_cls().fit(X + shift)
    np.testing.assert_allclose(abs_cos(a.components_, b.components_), 1.0, atol=1e-8)
    np.testing.assert_allclose(b.explained_variance_, a.explained_variance_, rtol=1e-7)
    np.testing.assert_allclose(b.mean_, a.mean_ + shift, rtol=1e-9,
                               atol=1e-9 * (1 + np.abs(X).max() + np.abs(shift).max()))


def check_matches_svd(pca_cls, X, k):
    pca = pca_cls(n_components=k).fit(X)
    Xc = X - X.mean(axis=0)
    _, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    np.testing.assert_allclose(abs_cos(pca.components_, Vt[:k]), 1.0, atol=1e-8)
    np.testing.assert_allclose(pca.explained_variance_, s[:k] ** 2 / (len(X) - 1), rtol=1e-8)


# --- minnn.PCA passes them --------------------------------------------------------------------
@given(data_params)
def test_round_trip_with_all_components_returns_x(params):
    check_round_trip(PCA, prescribed_data(*params)[0])


@given(data_params)
def test_variances_sorted_and_sum_to_the_total_variance(params):
    X, lam, _ = prescribed_data(*params)
    check_variances(PCA, X)
    np.testing.assert_allclose(PCA().fit(X).explained_variance_, lam, rtol=1e-7)  # the prescribed λ


@given(data_params)
def test_components_are_orthonormal(params):
    check_orthonormal(PCA, prescribed_data(*params)[0])


@given(data_params, st.floats(-1e3, 1e3, allow_nan=False))
def test_invariant_to_a_shift_of_the_data(params, c):
    X = prescribed_data(*params)[0]
    shift = c * np.linspace(1.0, -0.5, X.shape[1])
    check_shift_invariance(PCA, X, shift)


@given(data_params, st.integers(1, 8))
def test_agrees_with_svd_of_the_centred_data_up_to_sign(params, k):
    X, _, R = prescribed_data(*params)
    k = min(k, X.shape[1])
    check_matches_svd(PCA, X, k)
    np.testing.assert_allclose(abs_cos(PCA(k).fit(X).components_, R[:, :k].T), 1.0, atol=1e-8)


@given(arrays(np.float64, st.tuples(st.integers(3, 40), st.integers(1, 6)),
              elements=st.floats(-100, 100, allow_nan=False, allow_infinity=False)))
def test_any_data_round_trip_orthonormal_sorted(X):
    """Arbitrary arrays, ties and rank deficiency included: the properties that need no gap."""
    pca = PCA().fit(X)
    V = pca.components_
    np.testing.assert_allclose(V @ V.T, np.eye(len(V)), atol=1e-9)
    np.testing.assert_allclose(pca.inverse_transform(pca.transform(X)), X, atol=1e-9 * (1 + np.abs(X).max()))
    assert np.all(np.diff(pca.explained_variance_) <= 1e-12 * (1 + pca.explained_variance_[0]))
    np.testing.assert_allclose(pca.explained_variance_.sum(), np.trace(np.atleast_2d(np.cov(X, rowvar=False))),
                               rtol=1e-9, atol=1e-9)


# --- ... and planted bugs fail them -----------------------------------------------------------
class UncentredPCA(PCA):
    """The tutorial's bug 1: eigenvectors of XᵀX/(n−1), no mean."""

    def fit(self, X, y=None):
        super().fit(X)
        vals, vecs = np.linalg.eigh(X.T @ X / (len(X) - 1))
        order = np.argsort(vals)[::-1][:self.n_components_]
        self.components_ = vecs[:, order].T
        self.explained_variance_ = vals[order]
        self.mean_ = np.zeros(X.shape[1])
        return self


class UnsortedPCA(PCA):
    """The tutorial's bug 2: components in the solver's (here ascending) order."""

    def fit(self, X, y=None):
        super().fit(X)
        self.components_ = self.components_[::-1].copy()
        self.explained_variance_ = self.explained_variance_[::-1].copy()
        return self


class BiasedVariancePCA(PCA):
    """Divides by n instead of n − 1."""

    def fit(self, X, y=None):
        super().fit(X)
        self.explained_variance_ = self.explained_variance_ * (len(X) - 1) / len(X)
        return self


class ScaledComponentsPCA(PCA):
    """Components of length 2: still the right directions, but not orthonormal."""

    def fit(self, X, y=None):
        super().fit(X)
        self.components_ = 2.0 * self.components_
        return self


@pytest.mark.parametrize("check, buggy", [
    (lambda cls, X: check_shift_invariance(cls, X, np.full(X.shape[1], 5.0)), UncentredPCA),
    (lambda cls, X: check_matches_svd(cls, X + 5.0, 2), UncentredPCA),
    (lambda cls, X: check_round_trip(cls, X + 5.0), ScaledComponentsPCA),
    (check_variances, UnsortedPCA),
    (check_variances, BiasedVariancePCA),
    (check_orthonormal, ScaledComponentsPCA),
    (lambda cls, X: check_matches_svd(cls, X, 2), UnsortedPCA),
], ids=["shift-uncentred", "svd-uncentred", "roundtrip-scaled", "sorted-unsorted",
        "total-biased", "orthonormal-scaled", "svd-unsorted"])
def test_negative_controls_planted_bugs_fail_the_checks(check, buggy):
    X = prescribed_data(3, 100, 4, offset=1.0)[0]
    check(PCA, X)                       # the real PCA passes ...
    with pytest.raises(AssertionError):
        check(buggy, X)                 # ... the planted bug does not


def test_default_n_components_is_min_of_samples_and_features():
    """PCA() on fewer samples than features keeps min(N, D) components (as scikit-learn)."""
    X = np.random.default_rng(0).standard_normal((3, 5))
    pca = PCA().fit(X)
    assert pca.components_.shape == (3, 5)
    np.testing.assert_allclose(pca.inverse_transform(pca.transform(X)), X, atol=1e-12)
    with pytest.raises(ValueError, match="n_components=4 must be between 1 and"):
        PCA(n_components=4).fit(X)
