"""Principal component analysis, done right, with scikit-learn's API.

PCA finds the orthonormal directions of largest variance. minnn's recipe:

1. centre the data: Xc = X − mean (the tutorial's class forgot this);
2. covariance C = Xcᵀ·Xc / (N − 1), a symmetric (D, D) matrix;
3. ``eigh(C)`` (for symmetric matrices: real, orthonormal eigenvectors; ``eig``
   is for general matrices and returns them in no particular order);
4. sort the eigenvalues in descending order and keep the top k eigenvectors;
5. fix each component's sign so that its largest-magnitude entry is positive,
   so the result does not depend on the solver's whims.

``transform`` projects: Z = (X − mean)·Vᵀ; ``inverse_transform`` maps back:
X̂ = Z·V + mean. With all components, X̂ = X.
"""
import numbers

import numpy as np

from . import config, utils


class PCA:
    """``PCA(n_components)``: fit, transform, inverse_transform, fit_transform.

    After ``fit``: ``components_`` (k, D), rows orthonormal and sorted by
    ``explained_variance_`` (k,) descending; ``explained_variance_ratio_`` (k,);
    ``mean_`` (D,).
    """

    def __init__(self, n_components=None):
        if n_components is not None and (isinstance(n_components, bool)
                                         or not isinstance(n_components, numbers.Integral)
                                         or n_components < 1):
            raise ValueError(
                f"Invalid n_components: received n_components={n_components!r}, expected a "
                "positive integer (or None for all)."
            )
        self.n_components = n_components
        self.components_ = None

    @staticmethod
    def _as_data(X, what="X"):
        X = utils.as_real_array(X, f"PCA {what}")
        if X.ndim != 2:
            raise ValueError(
                f"PCA expects a 2-D array of shape (N, D) for {what}; received shape {X.shape}."
                + (" For one sample, use X.reshape(1, -1)." if X.ndim == 1 else "")
            )
        if X.dtype.kind != "f":
            X = X.astype(config.floatx())
        if not np.all(np.isfinite(X)):
            raise ValueError(f"PCA {what} contains NaN or inf; expected finite numbers.")
        return X

    def fit(self, X, y=None):
        X = self._as_data(X)
        n, d = X.shape
        # None keeps every component there can be: min(N, D), as scikit-learn does.
        k = min(n, d) if self.n_components is None else self.n_components
        if k > min(n, d):
            raise ValueError(
                f"n_components={k} must be between 1 and min(n_samples, n_features)="
                f"{min(n, d)} for data of shape {X.shape}."
            )
        if n < 2:
            raise ValueError(f"PCA needs at least 2 samples to estimate a covariance; received {n}.")
        self.mean_ = X.mean(axis=0)
        Xc = X - self.mean_
        cov = (Xc.T @ Xc) / (n - 1)
        eigvals, eigvecs = np.linalg.eigh(cov)          # ascending order
        order = np.argsort(eigvals)[::-1]                  # descending
        eigvals, eigvecs = eigvals[order], eigvecs[:, order]
        components = eigvecs[:, :k].T.copy()
        # Deterministic signs: the largest-|.| entry of each component is positive.
        idx = np.argmax(np.abs(components), axis=1)
        signs = np.sign(components[np.arange(k), idx])
        signs[signs == 0] = 1
        components *= signs[:, None]
        total = float(np.clip(eigvals, 0, None).sum())
        self.components_ = components
        self.explained_variance_ = np.clip(eigvals[:k], 0, None)  # round-off can give -1e-17
        self.explained_variance_ratio_ = (self.explained_variance_ / total if total > 0
                                          else np.zeros_like(self.explained_variance_))
        self.n_components_ = k
        self.n_features_in_ = d
        return self

    def _check_fitted(self):
        if self.components_ is None:
            raise RuntimeError("This PCA is not fitted yet: call fit(X) first.")

    def transform(self, X):
        """Z = (X − mean)·Vᵀ.   X: (N, D) -> Z: (N, k)."""
        self._check_fitted()
        X = self._as_data(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"PCA was fitted on {self.n_features_in_} features, received X of shape {X.shape}."
            )
        return (X - self.mean_) @ self.components_.T

    def inverse_transform(self, Z):
        """X̂ = Z·V + mean.   Z: (N, k) -> X̂: (N, D)."""
        self._check_fitted()
        Z = self._as_data(Z, "Z")
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"PCA has {self.n_components_} components, received Z of shape {Z.shape}."
            )
        return Z @ self.components_ + self.mean_

    def fit_transform(self, X, y=None):
        return self.fit(X).transform(X)

    # The tutorial's vocabulary ----------------------------------------------------
    def encode(self, data, dim=None):
        """Project onto the first ``dim`` components (all fitted ones by default)."""
        self._check_fitted()
        dim = self.n_components_ if dim is None else dim
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or not 1 <= dim <= self.n_components_:
            raise ValueError(
                f"Invalid dim: received dim={dim!r}, expected an integer in [1, {self.n_components_}]."
            )
        X = self._as_data(data, "data")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"PCA was fitted on {self.n_features_in_} features, received data of shape {X.shape}."
            )
        return (X - self.mean_) @ self.components_[:dim].T

    def decode(self, lowdim):
        """Map codes of any width k' <= k back to the data space: X̂ = Z·V[:k'] + mean."""
        self._check_fitted()
        Z = self._as_data(lowdim, "lowdim")
        if not 1 <= Z.shape[1] <= self.n_components_:
            raise ValueError(
                f"lowdim must have between 1 and {self.n_components_} columns, received shape {Z.shape}."
            )
        return Z @ self.components_[:Z.shape[1]] + self.mean_
