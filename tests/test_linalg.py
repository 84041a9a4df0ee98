"""minnn.linalg: principal angles between subspaces, checked against answers known by hand."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minnn import linalg
from minnn.linalg import largest_principal_angle_degrees, orthonormal_basis, principal_angles


def rotation_2d(theta):
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])


def random_orthogonal(d, rng):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


# --- known answers -------------------------------------------------------------------
def test_identical_subspaces_have_zero_angles(rng):
    A = rng.standard_normal((7, 3))
    np.testing.assert_allclose(principal_angles(A, A), 0.0, atol=1e-12)


def test_orthogonal_subspaces_are_at_90_degrees():
    e = np.eye(5)
    np.testing.assert_allclose(np.degrees(principal_angles(e[:, :2], e[:, 2:4])), [90, 90], atol=1e-12)
    assert largest_principal_angle_degrees(e[:, :1], e[:, 4:5]) == pytest.approx(90.0, abs=1e-12)


def test_45_degree_rotation_in_a_plane():
    x = np.array([[1.0], [0.0]])
    y = rotation_2d(np.pi / 4) @ x
    assert largest_principal_angle_degrees(x, y) == pytest.approx(45.0, abs=1e-12)


@pytest.mark.parametrize("degrees", [0.001, 1.0, 30.0, 60.0, 89.0, 135.0])
def test_angle_between_two_lines_is_the_rotation(degrees):
    x = np.array([[1.0], [0.0]])
    y = rotation_2d(np.radians(degrees)) @ x
    expected = min(degrees, 180.0 - degrees)   # a line has no direction: 135° is 45°
    assert largest_principal_angle_degrees(x, y) == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_mixed_dimensions_plane_and_line():
    e = np.eye(3)
    plane = e[:, :2]
    inside = np.array([[1.0], [1.0], [0.0]])          # a line in the plane
    tilted = np.array([[1.0], [0.0], [1.0]])          # 45° out of the plane
    assert principal_angles(plane, inside).shape == (1,)
    np.testing.assert_allclose(principal_angles(plane, inside), [0.0], atol=1e-12)
    np.testing.assert_allclose(np.degrees(principal_angles(plane, tilted)), [45.0], atol=1e-12)
    # symmetric in its arguments
    np.testing.assert_allclose(principal_angles(tilted, plane), principal_angles(plane, tilted))


def test_two_planes_sharing_a_line_in_3d():
    # span{e1, e2} and span{e1, (e2 + e3)/√2}: they share e1 (0°) and tilt by 45°.
    e = np.eye(3)
    B = np.stack([e[0], (e[1] + e[2]) / np.sqrt(2)], axis=1)
    np.testing.assert_allclose(np.degrees(principal_angles(e[:, :2], B)), [0.0, 45.0], atol=1e-12)


def test_tiny_angles_are_not_lost_to_arccos():
    # cos(1e-10) rounds to exactly 1.0, so arccos alone would answer 0.
    x = np.array([[1.0], [0.0]])
    y = rotation_2d(1e-10) @ x
    assert np.cos(1e-10) == 1.0
    assert principal_angles(x, y)[0] == pytest.approx(1e-10, rel=1e-6)


def test_angles_are_ascending_and_in_range(rng):
    A, B = rng.standard_normal((9, 4)), rng.standard_normal((9, 4))
    th = principal_angles(A, B)
    assert np.all(np.diff(th) >= 0)
    assert np.all((th >= 0) & (th <= np.pi / 2))


def test_accepts_float32_and_integer_bases():
    e = np.eye(3)
    assert largest_principal_angle_degrees(e[:, :2].astype(np.float32),
                                           np.array([[1, 0], [1, 1], [0, 0]])) == pytest.approx(0.0, abs=1e-6)


# --- the property that makes it a *subspace* comparison -------------------------------
@given(st.integers(0, 10_000), st.integers(2, 8), st.integers(1, 4))
def test_invariant_to_an_invertible_mix_of_either_basis(seed, d, k):
    k = min(k, d)
    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal((d, k)), rng.standard_normal((d, k))
    mix = rng.standard_normal((k, k)) + 3 * np.eye(k)   # invertible, and not orthogonal
    ref = principal_angles(A, B)
    np.testing.assert_allclose(principal_angles(A @ mix, B), ref, atol=1e-9)
    np.testing.assert_allclose(principal_angles(A, B @ np.linalg.inv(mix)), ref, atol=1e-9)


@given(st.integers(0, 10_000))
def test_invariant_to_a_rotation_of_the_whole_space(seed):
    rng = np.random.default_rng(seed)
    A, B, R = rng.standard_normal((6, 2)), rng.standard_normal((6, 3)), random_orthogonal(6, rng)
    np.testing.assert_allclose(principal_angles(R @ A, R @ B), principal_angles(A, B), atol=1e-9)


def test_negative_control_without_orthonormalising_the_check_fails(monkeypatch, rng):
    """Plant the classic bug (use the raw bases, skip QR/SVD): the answers go wrong."""
    def no_orthonormalisation(A, what="A"):
        return np.asarray(A, dtype=np.float64)

    monkeypatch.setattr(linalg, "orthonormal_basis", no_orthonormalisation)
    A = rng.standard_normal((5, 2))
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(principal_angles(A, 3.0 * A), 0.0, atol=1e-6)


# --- bad input -----------------------------------------------------------------------
def test_orthonormal_basis_is_orthonormal_and_spans_a(rng):
    A = rng.standard_normal((6, 3))
    Q = orthonormal_basis(A)
    np.testing.assert_allclose(Q.T @ Q, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(Q @ (Q.T @ A), A, atol=1e-12)   # A lies in span(Q)


@pytest.mark.parametrize("bad, match", [
    (np.ones(3), r"2-D.*shape \(3,\).*reshape\(-1, 1\)"),
    (np.ones((2, 3, 1)), r"2-D"),
    (np.ones((2, 3)), r"3 columns cannot be independent in R\^2"),
    (np.ones((3, 0)), r"empty"),
    (np.array([[1.0], [np.nan]]), r"NaN or inf"),
    (np.array([[1.0, 2.0], [2.0, 4.0], [0.0, 0.0]]), r"rank-deficient.*span only 1"),
    (np.zeros((3, 1)), r"rank-deficient"),
])
def test_bad_bases_raise_value_error(bad, match):
    with pytest.raises(ValueError, match=match):
        principal_angles(bad, np.eye(3)[:, :1] if bad.ndim == 2 and bad.shape[0] == 3 else np.eye(2)[:, :1])


def test_different_ambient_dimensions_raise():
    with pytest.raises(ValueError, match=r"same space.*D=3.*D=4"):
        principal_angles(np.eye(3)[:, :1], np.eye(4)[:, :1])


@pytest.mark.parametrize("bad", ["abc", None, np.array([["a"], ["b"]]), np.array([[1 + 1j], [0]])])
def test_non_numeric_bases_raise_type_error(bad):
    with pytest.raises(TypeError):
        principal_angles(bad, np.eye(2)[:, :1])
