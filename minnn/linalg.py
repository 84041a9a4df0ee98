"""Linear algebra for comparing subspaces: orthonormal bases and principal angles.

Two k-dimensional subspaces of R^D (a trained decoder's and PCA's, say) can be
equal even when their bases look nothing alike: any invertible mix of a basis
spans the same space. The *principal angles* θ₁ ≤ θ₂ ≤ … compare the spaces,
not the bases (Björck & Golub, 1973):

1. orthonormalise each basis: A (D, k1) -> Q1 (D, k1), B (D, k2) -> Q2 (D, k2);
2. the singular values of Q1ᵀ·Q2 (k1, k2) are cos θ₁ ≥ cos θ₂ ≥ … ;
3. θᵢ = arccos(σᵢ), after clipping σᵢ to [−1, 1] against round-off.

All θ = 0 means the spaces are equal; the largest angle is the distance that
matters ("the subspaces agree to within 0.5°"). With k1 ≠ k2 there are
min(k1, k2) angles, and all zero means the smaller space lies inside the larger.

The computation runs in float64 whatever the input dtype: it is analysis, not
training, and small angles need the precision.
"""
import numpy as np

from . import utils

__all__ = ["orthonormal_basis", "principal_angles", "largest_principal_angle_degrees"]


def _as_basis(A, what):
    """Check that A is a real, finite, 2-D (D, k) array with 1 <= k <= D; return it as float64."""
    if isinstance(A, (str, bytes)) or A is None:
        raise TypeError(f"{what} must be a 2-D array of shape (D, k), received {A!r}.")
    arr = utils.as_real_array(A, what)
    if arr.ndim != 2:
        hint = " For a single vector v, pass v.reshape(-1, 1)." if arr.ndim == 1 else ""
        raise ValueError(
            f"{what} must be a 2-D array of shape (D, k) whose columns span the subspace; "
            f"received an array of shape {arr.shape}.{hint}"
        )
    d, k = arr.shape
    if d == 0 or k == 0:
        raise ValueError(f"{what} is empty: received shape {arr.shape}, expected (D, k) with D, k >= 1.")
    if k > d:
        raise ValueError(
            f"{what} has shape {arr.shape}: {k} columns cannot be independent in R^{d}. "
            "Pass the basis vectors as columns, shape (D, k) with k <= D (for a Dense "
            "decoder kernel of shape (k, D), pass kernel.T)."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains NaN or inf; expected finite numbers.")
    return arr


def orthonormal_basis(A, what="A"):
    """An orthonormal basis Q (D, k) of the column space of A (D, k), via the SVD.

    A = U·S·Vᵀ and the columns of U span what the columns of A span. The SVD
    (rather than QR) also tells us the rank: a singular value that is tiny next
    to the largest means the columns are (numerically) dependent, and then A
    does not span a k-dimensional space at all, so we refuse it.
    """
    arr = _as_basis(A, what)
    # Round-off in the *input's* precision decides what counts as dependent.
    eps = np.finfo(arr.dtype).eps if arr.dtype.kind == "f" else np.finfo(np.float64).eps
    a64 = arr.astype(np.float64)
    u, s, _ = np.linalg.svd(a64, full_matrices=False)
    tol = max(arr.shape) * eps * (s[0] if s.size else 0.0)
    if s[0] == 0 or s[-1] <= tol:
        rank = int(np.sum(s > tol))
        raise ValueError(
            f"{what} of shape {arr.shape} is rank-deficient: its columns span only {rank} "
            f"dimension(s), not {arr.shape[1]} (singular values {np.array2string(s, precision=3)}). "
            "Principal angles need linearly independent columns."
        )
    return u


def principal_angles(A, B):
    """The principal angles, in radians and ascending, between span(A) and span(B).

    A: (D, k1), B: (D, k2), columns = basis vectors -> angles: (min(k1, k2),) in [0, π/2].

    cos θ are the singular values of Q1ᵀ·Q2. arccos is ill-conditioned near 0
    (cos θ ≈ 1 − θ²/2, so angles below ~1e-8 rad vanish into round-off), so the
    small angles, those below π/4, are taken from their sines instead: the
    singular values of Q2 − Q1·(Q1ᵀ·Q2), the part of the smaller basis outside
    the other space, are sin θ (Knyazev & Argentati, 2002).
    """
    Q1 = orthonormal_basis(A, "A")
    Q2 = orthonormal_basis(B, "B")
    if Q1.shape[0] != Q2.shape[0]:
        raise ValueError(
            f"A and B must live in the same space: A has D={Q1.shape[0]} rows (shape "
            f"{np.shape(A)}), B has D={Q2.shape[0]} rows (shape {np.shape(B)})."
        )
    if Q2.shape[1] > Q1.shape[1]:
        Q1, Q2 = Q2, Q1          # the angles are symmetric; let Q2 be the smaller basis
    M = Q1.T @ Q2                                           # (k1, k2), k2 <= k1
    cos = np.clip(np.linalg.svd(M, compute_uv=False), -1.0, 1.0)     # descending
    sin = np.clip(np.linalg.svd(Q2 - Q1 @ M, compute_uv=False), -1.0, 1.0)  # descending
    from_cos = np.arccos(cos)              # ascending
    from_sin = np.arcsin(sin)[::-1]        # ascending
    return np.where(from_cos < np.pi / 4, from_sin, from_cos)


def largest_principal_angle_degrees(A, B):
    """The largest principal angle between span(A) and span(B), in degrees (a float).

    0 means one space contains the other (equal if k1 = k2); 90 means some
    direction of the smaller space is orthogonal to the whole of the other.
    """
    return float(np.degrees(principal_angles(A, B)[-1]))
