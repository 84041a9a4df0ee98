"""Every hand-written backward pass against central differences, in float64.

How a gradient is judged
------------------------
For an output y = f(θ) and a random upstream gradient G (random, so that every
output element matters; an all-ones G would hide a wrong transpose), the
scalar s = Σ y ⊙ G has the gradient backward computes. minnn's
``numerical_gradient`` estimates it by central differences, coordinate by
coordinate, with step h = 1e-5.

Every function checked here is linear or quadratic in any single coordinate
(a ReLU network is piecewise linear, MSE is quadratic), so central differences
are exact as long as no perturbation crosses a ReLU kink. We keep every
pre-activation at least ``MARGIN`` = 1e-3 away from 0, far more than h times
any slope in these small networks (a crossing would show as an error far
above the band). What is left is round-off.

We judge each gradient array as a whole, by

    err = max(max|a − n| − R, 0) / (max|a| + max|n|),    R = 100·ε·Σ|y ⊙ G| / h

- The denominator is the array's scale, as in ``minnn.gradient_check.rel_error``.
  cs231n's per-entry ratio divides by each entry's own size; an
  entry that is zero up to cancellation then shows round-off as a large ratio,
  and with a thousand parameters that always happens somewhere.
- R is the round-off floor of a central difference: s is computed with an
  error of a few ε·Σ|y ⊙ G| (ε = 2.2e-16; measured up to 7ε·Σ|y ⊙ G| here) and
  dividing by h magnifies it. No numerical check can resolve a difference
  below R. It matters only for a nearly dead ReLU network, whose gradient is
  itself tiny (hypothesis found one with max|dx| ≈ 1e-5, where the raw ratio
  was 7e-7); for a typical draw R is about 6e-9 of the gradient's scale.

Bands (stated, measured): a correct backward gives err = 0 on 1767 of 1772
arrays checked (the rest below 1e-11), and the raw ratio without R is below
1.3e-8 on all but the nearly dead draws.
We assert err < ``GOOD`` = 1e-7. A planted bug must give err > ``CAUGHT`` =
1e-4, a thousand times the band; most give 1/3 or more (a bias gradient taken
from the first row only can land near 1e-2 when the other rows nearly cancel).
"""
import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from minnn import Add, Dense, Input, Model, ReLU, activations, losses
from minnn.layers import Concatenate
from minnn.gradient_check import check_layer, gradient_pairs, numerical_gradient, verdict
from tutorial_ae import build_tutorial_ae

H = 1e-5
MARGIN = 1e-3
GOOD = 1e-7
CAUGHT = 1e-4

F64 = "float64"
seeds = st.integers(0, 2**32 - 1)
dims = st.integers(1, 6)


# ---------------------------------------------------------------------------
# The checker
# ---------------------------------------------------------------------------
def array_error(analytic, numeric, floor=0.0):
    """max(max|a − n| − floor, 0) / (max|a| + max|n|): the error of a whole gradient array."""
    a, n = np.asarray(analytic), np.asarray(numeric)
    assert a.shape == n.shape, (a.shape, n.shape)
    scale = np.max(np.abs(a)) + np.max(np.abs(n))
    gap = max(float(np.max(np.abs(a - n))) - floor, 0.0)
    return gap / scale if scale > 0 else 0.0


def roundoff_floor(terms_abs_sum, h=H):
    """R = 100·ε·Σ|terms of s| / h: below this, central differences only see round-off."""
    return 100 * np.finfo(np.float64).eps * terms_abs_sum / h


def gradient_errors(layer, x, rng, h=H):
    """{'dx' (or 'dx0', 'dx1', …) and every weight name: array_error} for a layer or model,
    from minnn.gradient_check.gradient_pairs, judged against its round-off floor."""
    pairs, terms = gradient_pairs(layer, x, rng, h)
    floor = roundoff_floor(terms, h)
    return {name: array_error(a, n, floor) for name, (a, n) in pairs.items()}


def assert_good(errors):
    bad = {k: v for k, v in errors.items() if not v < GOOD}
    assert not bad, f"gradients off (band {GOOD}): {bad}"


# ---------------------------------------------------------------------------
# Data away from the kink
# ---------------------------------------------------------------------------
def dense_f64(units, d_in, rng, activation=None, use_bias=True):
    """A built float64 Dense with random (not Glorot/zero) kernel and bias."""
    layer = Dense(units, activation=activation, use_bias=use_bias, dtype=F64)
    layer.build((None, d_in))
    randomize(layer, rng)
    return layer


def randomize(layer, rng):
    """Random weights, biases included: a zero bias would hide a wrong bias gradient."""
    for w in layer.weights:
        w.value[...] = rng.uniform(-1.0, 1.0, w.shape)


def pre_activations(model, caches=None):
    """Every Dense pre-activation z (N, M) of the last forward pass, nested models included."""
    caches = model.cache if caches is None else caches
    out = []
    for (layer, *_), cache in zip(model._steps, caches):
        if isinstance(layer, Model):
            out += pre_activations(layer, cache)
        elif isinstance(layer, Dense):
            out.append(cache[1])
    return out


def rows_away_from_kinks(model, rng, n, d, tries=30):
    """n input rows (n, d) for which every Dense pre-activation has |z| >= MARGIN (or None).

    Rows do not interact in a forward pass, so we draw many and keep good ones.
    Checking every Dense (not only the ReLU ones) also covers standalone ReLU
    layers, whose input is a Dense output.
    """
    cand = rng.standard_normal((tries * n, d))
    model.forward(cand)
    ok = np.ones(len(cand), dtype=bool)
    for z in pre_activations(model):
        ok &= np.min(np.abs(z), axis=1) >= MARGIN
    return cand[ok][:n] if ok.sum() >= n else None


def dense_rows(layer, rng, n, d, tries=30):
    cand = rng.standard_normal((tries * n, d))
    z = cand @ layer.kernel.value + (layer.bias.value if layer.bias is not None else 0)
    ok = np.min(np.abs(z), axis=1) >= MARGIN
    return cand[ok][:n] if ok.sum() >= n else None


def away_from_zero(rng, shape):
    """Values in ±[MARGIN·10, 2]: never near ReLU's kink."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(10 * MARGIN, 2.0, size=shape)


# ---------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------
@given(seed=seeds, n=dims, d=dims, m=dims,
       activation=st.sampled_from([None, "linear", "relu"]), use_bias=st.booleans())
def test_dense_gradients(seed, n, d, m, activation, use_bias):
    rng = np.random.default_rng(seed)
    layer = dense_f64(m, d, rng, activation, use_bias)
    x = dense_rows(layer, rng, n, d)
    assume(x is not None)
    errors = gradient_errors(layer, x, rng)
    expected = {"dx", f"{layer.name}/kernel"} | ({f"{layer.name}/bias"} if use_bias else set())
    assert set(errors) == expected
    assert_good(errors)


@given(seed=seeds, n=dims, d=dims)
def test_relu_layer_gradient(seed, n, d):
    rng = np.random.default_rng(seed)
    layer = ReLU(dtype=F64)
    errors = gradient_errors(layer, away_from_zero(rng, (n, d)), rng)
    assert list(errors) == ["dx"]
    assert_good(errors)


@given(seed=seeds, n=dims, d=dims, k=st.integers(2, 4))
def test_add_layer_gradient(seed, n, d, k):
    rng = np.random.default_rng(seed)
    layer = Add(dtype=F64)
    errors = gradient_errors(layer, [rng.standard_normal((n, d)) for _ in range(k)], rng)
    assert list(errors) == [f"dx{i}" for i in range(k)]
    assert_good(errors)


@given(seed=seeds, n=dims, widths=st.lists(dims, min_size=2, max_size=4))
def test_concatenate_layer_gradient(seed, n, widths):
    rng = np.random.default_rng(seed)
    layer = Concatenate(dtype=F64)
    errors = gradient_errors(layer, [rng.standard_normal((n, w)) for w in widths], rng)
    assert list(errors) == [f"dx{i}" for i in range(len(widths))]
    assert_good(errors)


def test_concatenate_gradient_along_a_middle_axis():
    rng = np.random.default_rng(5)
    layer = Concatenate(axis=1, dtype=F64)
    assert_good(gradient_errors(layer, [rng.standard_normal((3, w, 2)) for w in (1, 3)], rng))


def test_concatenate_gradient_check_catches_swapped_blocks(monkeypatch):
    """Negative control: a backward that hands each input another input's block fails."""
    rng = np.random.default_rng(6)
    layer = Concatenate(dtype=F64)
    right = Concatenate.backward
    monkeypatch.setattr(Concatenate, "backward", lambda self, dy: right(self, dy)[::-1])
    errors = gradient_errors(layer, [rng.standard_normal((4, 3)) for _ in range(2)], rng)
    assert min(errors.values()) > CAUGHT


@pytest.mark.parametrize("name", sorted(activations._ACTIVATIONS))
@given(seed=seeds, n=dims, m=dims)
def test_every_activation_gradient(name, seed, n, m):
    """dz from backward(da, z, a) equals the numerical derivative of Σ f(z) ⊙ da."""
    rng = np.random.default_rng(seed)
    act = activations.get(name)
    z = away_from_zero(rng, (n, m))
    da = rng.standard_normal((n, m))
    dz = act.backward(da, z, act.forward(z))
    numeric = numerical_gradient(lambda: float(np.sum(act.forward(z) * da)), z, H)
    floor = roundoff_floor(float(np.sum(np.abs(act.forward(z) * da))))
    assert array_error(dz, numeric, floor) < GOOD


def test_relu_gradient_is_zero_at_the_kink():
    """Keras and PyTorch use f'(0) = 0; numerical differences cannot tell, so we state it."""
    z = np.array([[-1.0, 0.0, 2.0]])
    dz = activations.relu.backward(np.ones_like(z), z, activations.relu.forward(z))
    assert dz.tolist() == [[0.0, 0.0, 1.0]]


@given(seed=seeds, n=dims, m=dims)
def test_mse_gradient(seed, n, m):
    rng = np.random.default_rng(seed)
    y_true, y_pred = rng.standard_normal((n, m)), rng.standard_normal((n, m))
    loss = losses.MeanSquaredError()
    numeric = numerical_gradient(lambda: loss.forward(y_true, y_pred), y_pred, H)
    floor = roundoff_floor(loss.forward(y_true, y_pred))  # a mean of squares: every term is >= 0
    assert array_error(loss.backward(y_true, y_pred), numeric, floor) < GOOD


def test_mse_value_matches_its_formula():
    y_true = np.array([[0.0, 1.0], [2.0, 3.0]])
    y_pred = np.array([[1.0, 1.0], [0.0, 0.0]])
    # squared errors 1, 0, 4, 9 -> per sample (1+0)/2, (4+9)/2; batch mean 14/4
    assert losses.mean_squared_error(y_true, y_pred).tolist() == [0.5, 6.5]
    assert losses.MeanSquaredError().forward(y_true, y_pred) == 3.5


# ---------------------------------------------------------------------------
# Whole models
# ---------------------------------------------------------------------------
def tutorial_f64(rng):
    encoder, decoder, ae = build_tutorial_ae(dtype=F64)
    randomize(ae, rng)
    return ae


def layer_used_twice_f64(rng, d=3, m=2, dense_cls=Dense):
    """x → shared → shared → out: the same Dense (D → D, relu) applied twice in sequence."""
    inp = Input(shape=(d,), dtype=F64)
    shared = dense_cls(d, activation="relu", dtype=F64)
    out = Dense(m, dtype=F64)(shared(shared(inp)))
    model = Model(inp, out)
    randomize(model, rng)
    return model, shared


def shared_across_branches_f64(rng, d=3, h=4, m=2):
    """Two branches a(x), b(x), then one Dense applied to both, then Add: sharing plus fan-out."""
    inp = Input(shape=(d,), dtype=F64)
    a = Dense(h, activation="relu", dtype=F64)(inp)
    b = Dense(h, activation="relu", dtype=F64)(inp)
    shared = Dense(h, activation="relu", dtype=F64)
    out = Dense(m, dtype=F64)(Add(dtype=F64)([shared(a), shared(b)]))
    model = Model(inp, out)
    randomize(model, rng)
    return model


def fan_out_f64(rng, d=3, h=4, m=2):
    """One tensor t feeds two layers (a relu Dense and a ReLU layer after a linear Dense), merged by Add."""
    inp = Input(shape=(d,), dtype=F64)
    t = Dense(h, activation="relu", dtype=F64)(inp)
    a = Dense(h, activation="relu", dtype=F64)(t)
    b = ReLU(dtype=F64)(Dense(h, dtype=F64)(t))
    out = Dense(m, dtype=F64)(Add(dtype=F64)([a, b, t]))
    model = Model(inp, out)
    randomize(model, rng)
    return model


def two_outputs_f64(rng, d=3, h=4):
    """One hidden tensor feeds two output heads: the model has two outputs."""
    inp = Input(shape=(d,), dtype=F64)
    t = Dense(h, activation="relu", dtype=F64)(inp)
    model = Model(inp, [Dense(1, dtype=F64)(t), Dense(2, activation="relu", dtype=F64)(t)])
    randomize(model, rng)
    return model


def model_used_twice_f64(rng, d=3, m=2):
    """A nested Model applied twice in sequence, and one tensor added to itself."""
    inner_in = Input(shape=(d,), dtype=F64)
    inner = Model(inner_in, Dense(d, activation="relu", dtype=F64)(
        Dense(4, activation="relu", dtype=F64)(inner_in)))
    inp = Input(shape=(d,), dtype=F64)
    t = inner(inner(inp))
    model = Model(inp, Dense(m, dtype=F64)(Add(dtype=F64)([t, t])))
    randomize(model, rng)
    return model


MODELS = {
    "model_used_twice": lambda rng: (model_used_twice_f64(rng), 3),
    "tutorial_ae": lambda rng: (tutorial_f64(rng), 2),
    "layer_used_twice": lambda rng: (layer_used_twice_f64(rng)[0], 3),
    "shared_across_branches": lambda rng: (shared_across_branches_f64(rng), 3),
    "fan_out": lambda rng: (fan_out_f64(rng), 3),
    "two_outputs": lambda rng: (two_outputs_f64(rng), 3),
}


@pytest.mark.parametrize("which", sorted(MODELS))
@settings(max_examples=8)
@given(seed=seeds, n=st.integers(1, 4))
@example(seed=1006, n=1)  # model_used_twice: a nearly dead network, max|dx| ≈ 1e-5 (see R above)
def test_model_gradients(which, seed, n):
    rng = np.random.default_rng(seed)
    model, d = MODELS[which](rng)
    x = rows_away_from_kinks(model, rng, n, d)
    assume(x is not None)
    errors = gradient_errors(model, x, rng)
    assert len(errors) == 1 + len(model.weights)
    assert_good(errors)


def test_nested_model_grads_reach_the_inner_layers():
    """The tutorial ae's weights are the encoder's and decoder's, and all get a gradient."""
    rng = np.random.default_rng(0)
    encoder, decoder, ae = build_tutorial_ae(dtype=F64)
    randomize(ae, rng)
    assert [id(w) for w in ae.weights] == [id(w) for w in encoder.weights + decoder.weights]
    x = rng.standard_normal((16, 2))
    ae.forward(x)
    ae.zero_grad()
    ae.backward(rng.standard_normal((16, 2)))
    assert all(np.any(w.grad != 0) for w in ae.weights)


def test_library_check_layer_agrees():
    """minnn.gradient_check.check_layer (one relative error per array) on a well-conditioned Dense."""
    rng = np.random.default_rng(3)
    layer = dense_f64(3, 4, rng, activation="relu")
    x = dense_rows(layer, rng, 5, 4)
    errors = check_layer(layer, x, rng)
    assert set(errors) == {"dx", f"{layer.name}/kernel", f"{layer.name}/bias"}
    assert max(errors.values()) < 1e-7
    assert verdict(max(errors.values())) == "good"


# ---------------------------------------------------------------------------
# The backward contract: never mutate dy, accumulate into .grad
# ---------------------------------------------------------------------------
def _assert_dy_untouched(layer, x, dy):
    layer.forward(x)
    layer.zero_grad()
    kept = [d.copy() for d in dy] if isinstance(dy, list) else dy.copy()
    layer.backward(dy)
    if isinstance(dy, list):
        for d, k in zip(dy, kept):
            np.testing.assert_array_equal(d, k)
    else:
        np.testing.assert_array_equal(dy, kept)


@pytest.mark.parametrize("activation", [None, "linear", "relu"])
def test_dense_backward_never_mutates_dy(activation):
    rng = np.random.default_rng(1)
    layer = dense_f64(3, 2, rng, activation)
    _assert_dy_untouched(layer, rng.standard_normal((5, 2)), rng.standard_normal((5, 3)))


def test_relu_and_add_backward_never_mutate_dy():
    rng = np.random.default_rng(2)
    _assert_dy_untouched(ReLU(dtype=F64), rng.standard_normal((5, 3)), rng.standard_normal((5, 3)))
    _assert_dy_untouched(Add(dtype=F64), [rng.standard_normal((5, 3))] * 2, rng.standard_normal((5, 3)))
    _assert_dy_untouched(Concatenate(dtype=F64), [rng.standard_normal((5, 3)), rng.standard_normal((5, 2))],
                         rng.standard_normal((5, 5)))


@pytest.mark.parametrize("which", sorted(MODELS))
def test_model_backward_never_mutates_dy(which):
    rng = np.random.default_rng(3)
    model, d = MODELS[which](rng)
    x = rng.standard_normal((6, d))
    y = model.forward(x)
    dy = [rng.standard_normal(o.shape) for o in y] if isinstance(y, list) else rng.standard_normal(y.shape)
    _assert_dy_untouched(model, x, dy)


def test_mse_backward_never_mutates_its_inputs():
    rng = np.random.default_rng(4)
    y_true, y_pred = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    kept_true, kept_pred = y_true.copy(), y_pred.copy()
    losses.MeanSquaredError().backward(y_true, y_pred)
    np.testing.assert_array_equal(y_true, kept_true)
    np.testing.assert_array_equal(y_pred, kept_pred)


def test_mutation_check_catches_an_in_place_relu():
    """Negative control: the classic `dout[mask] = 0` ReLU is caught by the check above."""
    class InPlaceReLU(ReLU):
        def backward(self, dy):
            dy[self.cache <= 0] = 0
            return dy

    rng = np.random.default_rng(5)
    with pytest.raises(AssertionError):
        _assert_dy_untouched(InPlaceReLU(dtype=F64), rng.standard_normal((5, 3)),
                             rng.standard_normal((5, 3)))


def test_dense_backward_accumulates():
    """Two backward calls add up: the gradients double, and dx is the same each time."""
    rng = np.random.default_rng(6)
    layer = dense_f64(3, 2, rng, "relu")
    x, dy = rng.standard_normal((5, 2)), rng.standard_normal((5, 3))
    layer.forward(x)
    layer.zero_grad()
    dx1 = layer.backward(dy)
    once = [w.grad.copy() for w in layer.weights]
    dx2 = layer.backward(dy)
    np.testing.assert_array_equal(dx1, dx2)
    for w, g in zip(layer.weights, once):
        assert np.any(g != 0)
        np.testing.assert_allclose(w.grad, 2 * g, rtol=1e-15)
    layer.zero_grad()
    assert all(not np.any(w.grad) for w in layer.weights)


def test_model_backward_accumulates():
    rng = np.random.default_rng(7)
    model, _ = layer_used_twice_f64(rng)
    x = rng.standard_normal((5, 3))
    dy = rng.standard_normal(model.forward(x).shape)
    model.zero_grad()
    model.backward(dy)
    once = [w.grad.copy() for w in model.weights]
    model.backward(dy)
    for w, g in zip(model.weights, once):
        np.testing.assert_allclose(w.grad, 2 * g, rtol=1e-14)


def test_backward_never_changes_weights():
    rng = np.random.default_rng(8)
    model = tutorial_f64(rng)
    before = model.get_weights()
    x = rng.standard_normal((5, 2))
    model.forward(x)
    model.backward(rng.standard_normal((5, 2)))
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# Negative controls: planted bugs the checks above must catch
# ---------------------------------------------------------------------------
class DenseMeanBias(Dense):
    """Bug: db is the batch *mean* of dz, not its sum."""

    def backward(self, dy):
        x, z, y = self.cache
        dz = self.activation.backward(dy, z, y)
        self.kernel.grad += x.T @ dz
        self.bias.grad += dz.mean(axis=0)
        return dz @ self.kernel.value.T


class DenseFirstRowBias(Dense):
    """Bug: db takes the first row of dz only."""

    def backward(self, dy):
        x, z, y = self.cache
        dz = self.activation.backward(dy, z, y)
        self.kernel.grad += x.T @ dz
        self.bias.grad += dz[0]
        return dz @ self.kernel.value.T


class DenseOverwrites(Dense):
    """Bug: gradients are assigned (`=`), not accumulated (`+=`)."""

    def backward(self, dy):
        x, z, y = self.cache
        dz = self.activation.backward(dy, z, y)
        self.kernel.grad[...] = x.T @ dz
        self.bias.grad[...] = dz.sum(axis=0)
        return dz @ self.kernel.value.T


class MSEWithoutTwo(losses.MeanSquaredError):
    """Bug: dL/dŷ = (ŷ − y)/(N·M), the factor 2 forgotten."""

    def backward(self, y_true, y_pred):
        return (y_pred - y_true) / y_pred.size


@pytest.mark.parametrize("cls", [DenseMeanBias, DenseFirstRowBias])
@given(seed=seeds, n=st.integers(2, 6), d=dims, m=dims)
def test_planted_bias_bug_is_caught(cls, seed, n, d, m):
    rng = np.random.default_rng(seed)
    layer = cls(m, activation="linear", dtype=F64)
    layer.build((None, d))
    randomize(layer, rng)
    errors = gradient_errors(layer, rng.standard_normal((n, d)), rng)
    assert errors[f"{layer.name}/bias"] > CAUGHT
    # The rest of the layer is right, so the check points at the bias alone.
    assert errors["dx"] < GOOD and errors[f"{layer.name}/kernel"] < GOOD


def test_planted_bias_bug_is_caught_by_the_library_check_too():
    rng = np.random.default_rng(9)
    layer = DenseMeanBias(3, dtype=F64)
    layer.build((None, 2))
    randomize(layer, rng)
    errors = check_layer(layer, rng.standard_normal((8, 2)), rng)
    assert verdict(errors[f"{layer.name}/bias"]) == "wrong"


def test_planted_overwrite_bug_is_caught_by_the_layer_used_twice():
    rng = np.random.default_rng(10)
    model, shared = layer_used_twice_f64(rng, dense_cls=DenseOverwrites)
    x = rows_away_from_kinks(model, rng, 4, 3)
    errors = gradient_errors(model, x, rng)
    assert errors[f"{shared.name}/kernel"] > CAUGHT
    assert errors[f"{shared.name}/bias"] > CAUGHT


def test_overwrite_bug_is_invisible_when_each_layer_is_used_once():
    """Why the layer-used-twice model matters: on a plain chain the `=` bug passes every check."""
    rng = np.random.default_rng(11)
    inp = Input(shape=(3,), dtype=F64)
    out = DenseOverwrites(2, dtype=F64)(DenseOverwrites(3, activation="relu", dtype=F64)(inp))
    model = Model(inp, out)
    randomize(model, rng)
    assert_good(gradient_errors(model, rows_away_from_kinks(model, rng, 4, 3), rng))


@given(seed=seeds, n=dims, m=dims)
def test_planted_mse_without_factor_two_is_caught(seed, n, m):
    rng = np.random.default_rng(seed)
    y_true, y_pred = rng.standard_normal((n, m)), rng.standard_normal((n, m))
    loss = MSEWithoutTwo()
    numeric = numerical_gradient(lambda: loss.forward(y_true, y_pred), y_pred, H)
    floor = roundoff_floor(loss.forward(y_true, y_pred))
    # analytic = numeric / 2, so the error is exactly 1/3 up to round-off
    assert array_error(loss.backward(y_true, y_pred), numeric, floor) == pytest.approx(1 / 3, abs=1e-6)


# ---------------------------------------------------------------------------
# The checker itself
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["C", "F", "transposed", "strided"])
def test_numerical_gradient_works_for_any_memory_layout(layout):
    """Regression: a transposed (Fortran-ordered) x used to be perturbed through a copy,
    so its numerical gradient came out as zeros and check_layer called a right dx 'wrong'."""
    rng = np.random.default_rng(12)
    base = rng.standard_normal((4, 6))
    x = {"C": base[:, :3].copy(), "F": np.asfortranarray(base[:, :3]),
         "transposed": base.T.copy().T[:, :3], "strided": base[:, ::2]}[layout]
    grad = numerical_gradient(lambda: float(np.sum(x ** 3)), x, H)
    assert array_error(grad, 3 * x ** 2) < GOOD  # x³: central differences are off by h² only
    layer = dense_f64(2, 3, rng)
    assert max(check_layer(layer, x, rng).values()) < 1e-6


def test_near_kink_finds_relu_inputs_close_to_zero_and_report_warns():
    from minnn.gradient_check import near_kink, report
    rng = np.random.default_rng(0)
    ae = tutorial_f64(rng)
    x = rng.standard_normal((8, 2))
    first = ae.layers[1].layers[1]               # the encoder's first Dense (relu)
    z = x @ first.kernel.value + first.bias.value
    x_at_kink = x.copy()
    # Move the first sample so that its first pre-activation is exactly 0.
    w = first.kernel.value[:, 0]
    x_at_kink[0] -= z[0, 0] * w / (w @ w)
    assert near_kink(ae, x_at_kink).get(first.name, 0) >= 1
    # The same check passes quietly on inputs kept away from the kinks.
    clean = rows_away_from_kinks(ae, rng, 8, 2)
    assert near_kink(ae, clean, margin=MARGIN) == {}
    text = report({"dx": 1e-9}, near_kink(ae, x_at_kink))
    assert "good" in text and f"'{first.name}' lie near 0" in text


def test_near_kink_also_sees_leaky_relu_and_activation_layers():
    # Before: only a Dense whose activation was minnn's own relu object was looked at.
    from minnn import layers
    from minnn.gradient_check import near_kink
    x = Input((2,), dtype="float64")
    d1 = Dense(2, activation="leaky_relu", dtype="float64", name="leaky_dense")
    d2 = Dense(2, dtype="float64", name="linear_dense")
    act = layers.Activation("relu", dtype="float64", name="relu_act")
    leaky = layers.LeakyReLU(dtype="float64", name="leaky_layer")
    model = Model(x, leaky(act(d2(d1(x)))))
    for d in (d1, d2):
        d.kernel.value[...] = np.eye(2)
        d.bias.value[...] = 0.0
    rows = np.array([[0.0, 1.0], [2.0, -3.0]])   # a zero input reaches every kink
    assert near_kink(model, rows) == {"leaky_dense": 1, "relu_act": 1, "leaky_layer": 2}
    assert near_kink(model, np.array([[1.0, 2.0], [2.0, 0.5]])) == {}


def test_a_float32_model_or_input_and_a_missing_generator_are_refused_with_what_to_do():
    """The README's check, with the float64 line forgotten, or without its generator: each
    mistake is named before any forward pass, with the way to fix it."""
    import minnn
    rng = np.random.default_rng(0)
    minnn.utils.set_random_seed(0)
    inp = Input(shape=(2,))
    model32 = Model(inp, Dense(2, name="out32")(inp))                 # float32, the default
    x = rng.standard_normal((4, 2))
    with pytest.raises(TypeError, match=r"weight 'out32/kernel' is float32.*set_floatx\('float64'\)"):
        check_layer(model32, x, rng)
    layer = dense_f64(3, 2, rng)
    with pytest.raises(TypeError, match=r"x must be a float64 array, received dtype=float32"):
        check_layer(layer, x.astype(np.float32), rng)
    with pytest.raises(TypeError, match=r"x0 must be a float64 array, received list"):  # a list: inputs
        check_layer(layer, x.tolist(), rng)
    with pytest.raises(TypeError, match=r"rng must be a numpy Generator.*received rng=None"):
        check_layer(layer, x, None)
    assert set(check_layer(layer, x, rng)) == {"dx", f"{layer.name}/kernel", f"{layer.name}/bias"}
