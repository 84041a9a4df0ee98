"""Sigmoid, tanh and binary crossentropy: values, stability and gradients (float64 checks)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minnn
from minnn import activations, losses
from minnn.gradient_check import check_layer, check_loss, numerical_gradient, rel_error

GOOD = 1e-7  # the "good" band of minnn.gradient_check


def _activation_grad_error(act, z, rng, h=1e-5):
    """Relative error of act.backward(G) against G ⊙ (f(z + h) − f(z − h)) / 2h.

    f is elementwise, so the central difference can be taken for all entries at once;
    this keeps the rounding of a large sum out of small entries. h = 1e-5 balances
    the h² truncation error against rounding.
    """
    upstream = rng.standard_normal(z.shape)
    analytic = act.backward(upstream, z, act.forward(z))
    numeric = upstream * (act.forward(z + h) - act.forward(z - h)) / (2 * h)
    return rel_error(analytic, numeric)


def _dense(activation, rng, d=5, m=4):
    layer = minnn.Dense(m, activation=activation, dtype="float64")
    layer.build((None, d))
    # Moderate weights keep most pre-activations out of the flat tails.
    layer.kernel.value[...] = 0.5 * rng.standard_normal((d, m))
    layer.bias.value[...] = 0.5 * rng.standard_normal(m)
    return layer


# --- values --------------------------------------------------------------------------------

def test_registered_by_name():
    assert activations.get("sigmoid") is activations.sigmoid
    assert activations.get("tanh") is activations.tanh
    assert minnn.Dense(3, activation="sigmoid").activation is activations.sigmoid
    assert minnn.Dense(3, activation="tanh").get_config()["activation"] == "tanh"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_and_tanh_values_and_dtype(dtype):
    z = np.array([-3.0, -0.5, 0.0, 0.5, 3.0], dtype=dtype)
    # Reference values from the textbook formulas, in float64.
    z64 = z.astype(np.float64)
    np.testing.assert_allclose(activations.sigmoid.forward(z), 1 / (1 + np.exp(-z64)), rtol=1e-6)
    np.testing.assert_allclose(activations.tanh.forward(z),
                               (np.exp(z64) - np.exp(-z64)) / (np.exp(z64) + np.exp(-z64)), rtol=1e-6)
    assert activations.sigmoid.forward(z).dtype == dtype
    assert activations.tanh.forward(z).dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_logits_do_not_overflow(dtype):
    z = np.array([-1e4, -1000.0, -100.0, 100.0, 1000.0, 1e4], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = activations.sigmoid.forward(z)
        t = activations.tanh.forward(z)
        ds = activations.sigmoid.backward(np.ones_like(z), z, s)
        dt = activations.tanh.backward(np.ones_like(z), z, t)
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(t))
    assert s[0] == 0 and s[-1] == 1 and t[0] == -1 and t[-1] == 1
    assert np.all(np.isfinite(ds)) and np.all(ds >= 0) and np.all(np.isfinite(dt))


def test_naive_sigmoid_would_overflow():
    """Negative control: the textbook form trips the same check the stable one passes."""
    z = np.array([-1000.0], dtype=np.float32)
    with pytest.raises(FloatingPointError), np.errstate(over="raise"):
        1 / (1 + np.exp(-z))


@given(st.floats(-60, 60, allow_nan=False))
def test_sigmoid_symmetry(z):
    z = np.array([z])
    s = activations.sigmoid.forward(z)
    np.testing.assert_allclose(activations.sigmoid.forward(-z), 1 - s, atol=1e-15)


# --- gradients of the activations ----------------------------------------------------------

@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_activation_gradient(name, rng):
    act = activations.get(name)
    z = rng.uniform(-4, 4, size=(6, 5))
    err = _activation_grad_error(act, z, rng)
    assert err < GOOD, err


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_activation_gradient_large_negative_and_moderate_logits(name, rng):
    # Where f saturates at the low end the values stay well resolved in float64, so
    # differences remain meaningful; at the high end f = 1 − tiny loses the tiny part,
    # which is why large positive logits are checked against the closed form below.
    act = activations.get(name)
    z = -rng.uniform(8, 30, size=(4, 5)) if name == "sigmoid" else rng.uniform(-4, 4, size=(4, 5))
    assert _activation_grad_error(act, z, rng) < GOOD


def test_activation_derivative_at_large_logits_matches_closed_form():
    # σ'(z) = e / (1 + e)² with e = e^(−|z|). From the output, a(1 − a) is exact while
    # 1 − a is resolved (z ≤ 20 in float64); beyond, a rounds to 1 and the slope to 0,
    # never to NaN: the same as Keras, which also differentiates through the output.
    z = np.array([-40.0, -20.0, 0.0, 20.0])
    s = activations.sigmoid.forward(z)
    e = np.exp(-np.abs(z))
    np.testing.assert_allclose(activations.sigmoid.backward(np.ones(4), z, s), e / (1 + e) ** 2,
                               rtol=1e-6)
    far = np.array([40.0, 1000.0])
    assert np.all(activations.sigmoid.backward(np.ones(2), far, activations.sigmoid.forward(far)) == 0)
    # tanh'(z) = 1 − tanh²(z) = 4 e / (1 + e)² with e = e^(−2|z|).
    z = np.array([-15.0, -3.0, 0.0, 3.0, 15.0])
    e = np.exp(-2 * np.abs(z))
    np.testing.assert_allclose(activations.tanh.backward(np.ones(5), z, activations.tanh.forward(z)),
                               4 * e / (1 + e) ** 2, rtol=1e-6, atol=1e-15)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_dense_with_activation_gradient(name, rng):
    layer = _dense(name, rng)
    x = rng.standard_normal((7, 5))
    errors = check_layer(layer, x, rng, h=1e-5)
    assert set(errors) == {"dx", layer.kernel.name, layer.bias.name}
    assert max(errors.values()) < GOOD, errors


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_gradient_check_catches_a_planted_bug(name, rng):
    """Negative control: a backward that uses (1 + a) instead of (1 − a) is caught."""
    base = type(activations.get(name))

    class Broken(base):
        def backward(self, da, z, a):
            return da * (a * (1 + a)) if name == "sigmoid" else da * (1 + a * a)

    err = _activation_grad_error(Broken(), rng.uniform(-3, 3, size=(5, 4)), rng)
    assert err > 1e-2


# --- binary crossentropy -------------------------------------------------------------------

def test_bce_matches_keras_documented_example():
    # keras.losses.binary_crossentropy's docstring example: [0.916, 0.714], mean 0.815.
    y_true = np.array([[0.0, 1.0], [0.0, 0.0]])
    y_pred = np.array([[0.6, 0.4], [0.4, 0.6]])
    np.testing.assert_allclose(losses.binary_crossentropy(y_true, y_pred), [0.916, 0.714], atol=5e-4)
    np.testing.assert_allclose(losses.BinaryCrossentropy()(y_true, y_pred), 0.815, atol=5e-4)


def test_bce_clips_at_epsilon():
    y_true = np.array([[1.0, 0.0]])
    y_pred = np.array([[0.0, 1.0]])   # both entries confidently wrong
    expected = -np.log(1e-7)           # ≈ 16.118, the cost of p clipped to ε
    np.testing.assert_allclose(losses.binary_crossentropy(y_true, y_pred), [expected], rtol=1e-6)
    assert losses.BinaryCrossentropy()(np.ones((1, 1)), np.ones((1, 1))) == pytest.approx(
        -np.log(1 - 1e-7), rel=1e-6)


def test_bce_names_and_function_map_to_the_class():
    for ident in ("binary_crossentropy", "bce", "BinaryCrossentropy", losses.binary_crossentropy,
                  losses.BinaryCrossentropy):
        assert isinstance(losses.get(ident), losses.BinaryCrossentropy)
    assert losses.deserialize(losses.serialize(losses.BinaryCrossentropy())).name == "binary_crossentropy"


def test_bce_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"y_true.shape=\(2, 3\), y_pred.shape=\(2, 4\)"):
        losses.binary_crossentropy(np.zeros((2, 3)), np.zeros((2, 4)))


def test_bce_gradient_interior(rng):
    y = rng.uniform(size=(6, 7))                  # soft targets, like pixel intensities
    p = rng.uniform(0.05, 0.95, size=(6, 7))
    assert check_loss(losses.BinaryCrossentropy(), y, p) < GOOD


@pytest.mark.parametrize("low", [True, False])
def test_bce_gradient_near_0_and_1(low, rng):
    # Inside the clip but close to its edges: 1e-4 … 1e-3 from 0 or 1. A small step
    # keeps the h² error of central differences small where log bends sharply.
    y = rng.uniform(size=(4, 5))
    d = rng.uniform(1e-4, 1e-3, size=(4, 5))
    p = d if low else 1 - d
    assert check_loss(losses.BinaryCrossentropy(), y, p, h=1e-9) < GOOD


def test_bce_gradient_is_zero_inside_the_clipped_region(rng):
    y = rng.uniform(size=(3, 4))
    p = np.where(rng.uniform(size=(3, 4)) < 0.5, 1e-9, 1 - 1e-9)   # beyond ε = 1e-7 on both sides
    loss = losses.BinaryCrossentropy()
    analytic = loss.backward(y, p)
    np.testing.assert_array_equal(analytic, np.zeros_like(p))
    # The loss really is flat there: central differences with a step inside the region agree.
    numeric = numerical_gradient(lambda: loss.forward(y, p), p, h=1e-10)
    np.testing.assert_array_equal(numeric, np.zeros_like(p))


def test_bce_without_clip_mask_is_caught(rng):
    """Negative control: forgetting the clip's derivative gives a large, nonzero gradient there."""

    class Unmasked(losses.BinaryCrossentropy):
        def backward(self, y_true, y_pred):
            p = np.clip(y_pred, 1e-7, 1 - 1e-7)
            return (p - y_true) / (p * (1 - p)) / p.size

    y = rng.uniform(size=(3, 4))
    p = np.full((3, 4), 1e-9)
    assert np.max(np.abs(Unmasked().backward(y, p))) > 1e3
    with pytest.raises(AssertionError):
        np.testing.assert_array_equal(Unmasked().backward(y, p), np.zeros_like(p))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_dense_with_bce_stays_finite_for_large_logits(dtype, rng):
    layer = minnn.Dense(3, activation="sigmoid", dtype=dtype)
    layer.build((None, 2))
    layer.kernel.value[...] = 0
    layer.bias.value[...] = np.array([-200.0, 0.0, 200.0])   # logits far in both tails
    x = rng.standard_normal((4, 2)).astype(dtype)
    y = rng.uniform(size=(4, 3)).astype(dtype)
    loss = losses.BinaryCrossentropy()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = layer.forward(x)
        value = loss.forward(y, p)
        dp = loss.backward(y, p)
        layer.zero_grad()
        dx = layer.backward(dp)
    assert np.isfinite(value) and value < 2 * -np.log(1e-7)
    assert dp.dtype == np.dtype(dtype) and dx.dtype == np.dtype(dtype)
    for g in (dp, dx, layer.kernel.grad, layer.bias.grad):
        assert np.all(np.isfinite(g))


def test_sigmoid_dense_with_bce_gradient(rng):
    """The whole chain a pixel autoencoder uses: Dense(sigmoid) → BCE, checked end to end."""
    layer = _dense("sigmoid", rng, d=4, m=6)
    x = rng.standard_normal((5, 4))
    y = rng.uniform(size=(5, 6))
    loss = losses.BinaryCrossentropy()

    def scalar():
        return loss.forward(y, layer.forward(x))

    layer.zero_grad()
    dx = layer.backward(loss.backward(y, layer.forward(x)))
    assert rel_error(dx, numerical_gradient(scalar, x)) < GOOD
    assert rel_error(layer.kernel.grad, numerical_gradient(scalar, layer.kernel.value)) < GOOD
    assert rel_error(layer.bias.grad, numerical_gradient(scalar, layer.bias.value)) < GOOD
