"""The plain references in minnn/reference.py against the fast engine, bit for bit.

Each reference is checked twice:

- against hand-worked values or central differences, so that the reference
  itself is right (central differences in float64, judged by
  gradient_check.rel_error against the "good" band, 1e-7);
- against the engine with ``np.array_equal``: the engine does the same float
  operations in the same order, only with caches, flat buffers, in-place
  scratch arrays and checks around them, so the results are identical, not
  merely close. Where the order of float32 operations differs (the textbook
  form of Adam's moments, a single mean for MSE), a test says so and bounds
  the difference instead.

Negative controls plant the classic bug in a copy of a reference and show the
equality (or the hand value) then fails, so the checks can catch it.
"""
import math
import os

import numpy as np
import pytest

import minnn
from minnn import Add, Dense, Input, Model, ReLU, losses, optimizers
from minnn import reference as ref
from minnn.gradient_check import rel_error
from tutorial_ae import build_tutorial_ae

GOOD = 1e-7


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _away_from_kink(rng, shape, margin=0.1):
    """float64 values with |x| >= margin, so that x ± h never crosses ReLU's kink."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < margin, np.sign(x + 1e-12) * margin, x)


# ---------------------------------------------------------------------------
# ReLU
# ---------------------------------------------------------------------------
def test_relu_by_hand():
    x = np.array([[-2.0, 0.0, 3.0]])
    assert np.array_equal(ref.relu_forward(x), [[0.0, 0.0, 3.0]])
    assert np.array_equal(ref.relu_backward(np.array([[5.0, 6.0, 7.0]]), x), [[0.0, 0.0, 7.0]])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_equals_the_relu_layer(rng, dtype):
    x = rng.standard_normal((7, 5)).astype(dtype)
    x[0, 0] = 0.0  # the kink: both say 0
    layer = ReLU(dtype=dtype)
    y = layer.forward(x)
    dy = rng.standard_normal((7, 5)).astype(dtype)
    assert np.array_equal(y, ref.relu_forward(x))
    assert np.array_equal(layer.backward(dy), ref.relu_backward(dy, x))


def test_relu_backward_matches_central_differences(rng):
    x = _away_from_kink(rng, (4, 3))
    G = rng.standard_normal((4, 3))
    numeric = ref.numerical_gradient(lambda v: np.sum(ref.relu_forward(v) * G), x)
    assert rel_error(ref.relu_backward(G, x), numeric) < GOOD


# ---------------------------------------------------------------------------
# Dense
# ---------------------------------------------------------------------------
def test_dense_by_hand():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    W = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]])
    b = np.array([0.5, 0.0, 1.0])
    assert np.array_equal(ref.dense_forward(x, W, b), [[5.5, 2.0, 0.0], [11.5, 4.0, -2.0]])
    dy = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    dx, dW, db = ref.dense_backward(dy, x, W)
    assert np.array_equal(dx, [[1.0, 2.0], [-1.0, 1.0]])   # row n: Σⱼ dy[n, j]·W[:, j]
    assert np.array_equal(dW, [[1.0, 3.0, 3.0], [2.0, 4.0, 4.0]])  # xᵀ·dy
    assert np.array_equal(db, [1.0, 1.0, 1.0])             # the sum over the batch


def test_dense_backward_matches_central_differences(rng):
    x, W, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    G = rng.standard_normal((5, 4))
    dx, dW, db = ref.dense_backward(G, x, W)
    s = lambda x_, W_, b_: np.sum(ref.dense_forward(x_, W_, b_) * G)  # noqa: E731
    assert rel_error(dx, ref.numerical_gradient(lambda v: s(v, W, b), x)) < GOOD
    assert rel_error(dW, ref.numerical_gradient(lambda v: s(x, v, b), W)) < GOOD
    assert rel_error(db, ref.numerical_gradient(lambda v: s(x, W, v), b)) < GOOD


def _dense_layer(rng, d, m, activation, dtype):
    layer = Dense(m, activation=activation, dtype=dtype)
    layer.build((None, d))
    layer.bias.value[...] = rng.standard_normal(m)  # zeros would hide a missing bias
    return layer


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", [None, "relu"])
def test_dense_equals_the_dense_layer(rng, dtype, activation):
    layer = _dense_layer(rng, 6, 4, activation, dtype)
    W, b = layer.kernel.value, layer.bias.value
    x = rng.standard_normal((9, 6)).astype(dtype)
    dy = rng.standard_normal((9, 4)).astype(dtype)

    y = layer.forward(x)
    z = ref.dense_forward(x, W, b)
    assert np.array_equal(y, z if activation is None else ref.relu_forward(z))

    layer.zero_grad()
    dx = layer.backward(dy)
    dz = dy if activation is None else ref.relu_backward(dy, z)
    rdx, rdW, rdb = ref.dense_backward(dz, x, W)
    assert np.array_equal(dx, rdx)
    assert np.array_equal(layer.kernel.grad, rdW)
    assert np.array_equal(layer.bias.grad, rdb)


def test_negative_control_a_mean_bias_gradient_fails_the_equality(rng):
    layer = _dense_layer(rng, 3, 2, None, "float64")
    x, dy = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    layer.forward(x)
    layer.zero_grad()
    layer.backward(dy)
    averaged = dy.mean(axis=0)  # the classic bug: averaged instead of summed
    assert not np.array_equal(layer.bias.grad, averaged)
    assert np.array_equal(layer.bias.grad, ref.dense_backward(dy, x, layer.kernel.value)[2])


def test_negative_control_a_missing_transpose_fails_central_differences(rng):
    x, W = rng.standard_normal((4, 3)), rng.standard_normal((3, 3))  # square: W·dy runs, wrongly
    G = rng.standard_normal((4, 3))
    numeric = ref.numerical_gradient(lambda v: np.sum(ref.dense_forward(v, W, 0.0) * G), x)
    assert rel_error(G @ W, numeric) > 1e-2
    assert rel_error(ref.dense_backward(G, x, W)[0], numeric) < GOOD


# ---------------------------------------------------------------------------
# MSE
# ---------------------------------------------------------------------------
def test_mse_by_hand():
    y = np.array([[0.0, 0.0], [1.0, 1.0]])
    p = np.array([[1.0, 3.0], [1.0, 0.0]])
    assert ref.mse(y, p) == pytest.approx((1 + 9 + 0 + 1) / 4)
    assert np.array_equal(ref.mse_backward(y, p), [[0.5, 1.5], [0.0, -0.5]])  # 2(ŷ − y)/4


def test_mse_backward_matches_central_differences(rng):
    y, p = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    numeric = ref.numerical_gradient(lambda v: ref.mse(y, v), p)
    assert rel_error(ref.mse_backward(y, p), numeric) < GOOD


def test_negative_control_mse_backward_without_the_2_fails_central_differences(rng):
    y, p = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    numeric = ref.numerical_gradient(lambda v: ref.mse(y, v), p)
    assert rel_error((p - y) / p.size, numeric) > 1e-2


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mse_equals_minnns_loss(rng, dtype):
    loss = losses.MeanSquaredError()
    for shape in [(1, 1), (7, 3), (128, 2), (33, 784)]:
        y, p = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
        assert loss.forward(y, p) == ref.mse(y, p)
        assert np.array_equal(loss.backward(y, p), ref.mse_backward(y, p))


def test_mse_in_another_order_of_float32_sums_differs_slightly(rng):
    """Why the reference takes two means (Keras's order): one mean over all N·M
    numbers is the same number in exact arithmetic, but float32 rounds the
    partial sums differently. The difference is round-off: within a few ulp."""
    differ = 0
    for _ in range(50):
        y, p = _f32(rng, 128, 2), _f32(rng, 128, 2)  # the tutorial's batch shape
        one_mean, two_means = float(np.mean((p - y) ** 2)), ref.mse(y, p)
        differ += one_mean != two_means
        assert abs(one_mean - two_means) <= 4 * np.spacing(np.float32(two_means))
    assert differ > 5  # measured: 22 of these 50 batches round differently


# ---------------------------------------------------------------------------
# Central differences
# ---------------------------------------------------------------------------
def test_numerical_gradient_by_hand_and_leaves_x_alone():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    before = x.copy()
    g = ref.numerical_gradient(lambda v: np.sum(v ** 3), x)
    assert np.allclose(g, 3 * x ** 2, rtol=1e-8)  # error of order h² = 1e-10
    assert np.array_equal(x, before)


def test_numerical_gradient_agrees_with_gradient_checks_own(rng):
    x = rng.standard_normal((3, 4))
    G = rng.standard_normal((3, 4))
    f = lambda v: float(np.sum(np.tanh(v) * G))  # noqa: E731
    xc = x.copy()  # gradient_check's version perturbs the array it is given, in place
    theirs = minnn.gradient_check.numerical_gradient(lambda: f(xc), xc, h=1e-5)
    assert rel_error(ref.numerical_gradient(f, x), theirs) < 1e-9


# ---------------------------------------------------------------------------
# Adam and SGD
# ---------------------------------------------------------------------------
def _engine_steps(opt, w0, grads):
    w = [w0.copy()]
    for g in grads:
        opt.apply([g], w)
    return w[0]


def _adam_reference_steps(w, grads, step=ref.adam_step, **kw):
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        w, m, v = step(w, g, m, v, t, **kw)
    return w


ADAM_SETTINGS = [{}, {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3}]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kw", ADAM_SETTINGS)
def test_adam_step_equals_minnns_adam_over_many_steps(rng, dtype, kw):
    w0 = rng.standard_normal(50).astype(dtype)
    # Gradients of every size, tiny ones included: where ε matters most.
    grads = [(rng.standard_normal(50) * 10.0 ** rng.integers(-8, 2, 50)).astype(dtype)
             for _ in range(200)]
    engine = _engine_steps(optimizers.Adam(**kw), w0, grads)
    assert engine.dtype == dtype
    assert np.array_equal(engine, _adam_reference_steps(w0, grads, **kw))


def test_adam_step_equals_minnns_blocked_adam_on_a_big_buffer(rng):
    # Above optimizers.BLOCK elements Adam runs in cache-sized blocks: the same numbers.
    n = optimizers.BLOCK + 1000
    w0 = _f32(rng, n)
    grads = [_f32(rng, n) for _ in range(3)]
    assert np.array_equal(_engine_steps(optimizers.Adam(), w0, grads),
                          _adam_reference_steps(w0, grads))


def test_adam_step_by_hand():
    """The first step is lr·g/(|g| + ε/sqrt(1 − β2)) ≈ lr·sign(g); the second worked out in scalars."""
    w, g1, g2 = np.array([1.0]), np.array([0.5]), np.array([-0.25])
    w1, m, v = ref.adam_step(w, g1, np.zeros(1), np.zeros(1), 1)
    assert m[0] == pytest.approx(0.05) and v[0] == pytest.approx(0.00025)
    assert w1[0] == pytest.approx(1.0 - 0.001 * 0.5 / (0.5 + 1e-7 / math.sqrt(0.001)), rel=1e-12)
    w2, m, v = ref.adam_step(w1, g2, m, v, 2)
    m2, v2 = 0.9 * 0.05 + 0.1 * -0.25, 0.999 * 0.00025 + 0.001 * 0.0625
    alpha = 0.001 * math.sqrt(1 - 0.999 ** 2) / (1 - 0.9 ** 2)
    assert w2[0] == pytest.approx(w1[0] - alpha * m2 / (math.sqrt(v2) + 1e-7), rel=1e-12)


def _adam_without_bias_correction(w, g, m, v, t, learning_rate=0.001, beta_1=0.9,
                                  beta_2=0.999, epsilon=1e-7):
    m = m + (g - m) * (1 - beta_1)
    v = v + (g * g - v) * (1 - beta_2)
    return w - learning_rate * m / (np.sqrt(v) + epsilon), m, v


def _adam_pytorch_epsilon(w, g, m, v, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
                          epsilon=1e-7):
    m = m + (g - m) * (1 - beta_1)
    v = v + (g * g - v) * (1 - beta_2)
    m_hat, v_hat = m / (1 - beta_1 ** t), v / (1 - beta_2 ** t)
    return w - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon), m, v


@pytest.mark.parametrize("bug", [
    _adam_without_bias_correction,
    _adam_pytorch_epsilon,
    lambda w, g, m, v, t, **kw: ref.adam_step(w, g, m, v, t + 1, **kw),  # t off by one
])
def test_negative_control_buggy_adam_fails_the_equality(rng, bug):
    w0 = _f32(rng, 50)
    grads = [(_f32(rng, 50) * np.float32(1e-5)) for _ in range(20)]  # tiny: ε's place shows
    engine = _engine_steps(optimizers.Adam(), w0, grads)
    assert not np.array_equal(engine, _adam_reference_steps(w0, grads, step=bug))


def test_adam_textbook_moments_differ_only_by_round_off(rng):
    """β1·m + (1 − β1)·g is Keras's m + (g − m)(1 − β1) in exact arithmetic, not in float32:
    the reference uses Keras's form because the engine does. After 100 steps the two
    forms' weights differ by round-off only: within 1e-5 of the distance travelled."""
    def textbook(w, g, m, v, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        alpha = learning_rate * math.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        return w - alpha * m / (np.sqrt(v) + epsilon), m, v

    w0 = _f32(rng, 500)
    grads = [_f32(rng, 500) for _ in range(100)]
    keras_form = _adam_reference_steps(w0, grads)
    textbook_form = _adam_reference_steps(w0, grads, step=textbook)
    assert not np.array_equal(keras_form, textbook_form)
    travelled = np.max(np.abs(keras_form - w0))
    assert np.max(np.abs(keras_form - textbook_form)) < 1e-5 * travelled


def test_sgd_step_by_hand():
    w, g = np.array([1.0, -2.0]), np.array([0.5, 1.0])
    w1, vel = ref.sgd_step(w, g, np.zeros(2), learning_rate=0.1)
    assert np.array_equal(w1, [0.95, -2.1])
    w1, vel = ref.sgd_step(w, g, np.zeros(2), learning_rate=0.1, momentum=0.9)
    w2, vel = ref.sgd_step(w1, g, vel, learning_rate=0.1, momentum=0.9)
    assert np.allclose(vel, [-0.095, -0.19]) and np.allclose(w2, [0.855, -2.29])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_step_equals_minnns_sgd(rng, dtype, momentum):
    w0 = rng.standard_normal(40).astype(dtype)
    grads = [rng.standard_normal(40).astype(dtype) for _ in range(100)]
    engine = _engine_steps(optimizers.SGD(learning_rate=0.05, momentum=momentum), w0, grads)
    w, vel = w0, np.zeros_like(w0)
    for g in grads:
        w, vel = ref.sgd_step(w, g, vel, learning_rate=0.05, momentum=momentum)
    assert w.dtype == dtype
    assert np.array_equal(engine, w)


def test_negative_control_sgd_that_forgets_momentum_fails_the_equality(rng):
    w0 = _f32(rng, 40)
    grads = [_f32(rng, 40) for _ in range(10)]
    engine = _engine_steps(optimizers.SGD(learning_rate=0.05, momentum=0.9), w0, grads)
    w, vel = w0, np.zeros_like(w0)
    for g in grads:
        w, vel = ref.sgd_step(w, g, np.zeros_like(w0), learning_rate=0.05, momentum=0.9)
    assert not np.array_equal(engine, w)


# ---------------------------------------------------------------------------
# The epoch: batches and fit
# ---------------------------------------------------------------------------
def test_epoch_batches_2000_rows_at_128_are_15_full_and_one_of_80():
    x = np.arange(2000.0).reshape(-1, 1)
    perm = np.random.default_rng(0).permutation(2000)
    batches = ref.epoch_batches(x, -x, 128, perm)
    assert [len(xb) for xb, _ in batches] == [128] * 15 + [80]
    assert np.array_equal(np.concatenate([xb for xb, _ in batches])[:, 0], perm)  # every row once
    assert all(np.array_equal(yb, -xb) for xb, yb in batches)  # rows stay paired


def test_fit_epoch_two_number_example():
    """Batches of 32 and 2 with losses 0.6 and 0.9 log (32·0.6 + 2·0.9)/34 ≈ 0.618."""
    losses_seen = iter([0.6, 0.9])
    loss = ref.fit_epoch(lambda xb, yb: next(losses_seen), np.zeros((34, 1)), np.zeros((34, 1)),
                         32, np.random.default_rng(0))
    assert loss == pytest.approx((32 * 0.6 + 2 * 0.9) / 34)


def _small_model(seed, dtype="float32"):
    minnn.utils.set_random_seed(seed)
    inp = Input(shape=(3,), dtype=dtype)
    h = Dense(8, activation="relu", dtype=dtype)(inp)
    model = Model(inp, Dense(2, dtype=dtype)(h))
    model.compile(optimizer="adam", loss="mse")
    return model


def _data(n, seed=5):
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, 3)).astype(np.float32)
    return x, (x[:, :2] * x[:, 1:] + 0.1).astype(np.float32)


def test_fit_history_equals_fit_epoch_with_train_on_batch_bit_for_bit():
    x, y = _data(70)  # 70 rows at 16: a partial batch of 6 every epoch
    fitted, twin = _small_model(0), _small_model(0)
    minnn.utils.set_random_seed(11)
    history = fitted.fit(x, y, batch_size=16, epochs=4, verbose=0).history["loss"]
    rng = np.random.default_rng(11)  # the generator fit draws its permutations from
    losses_ = [ref.fit_epoch(twin.train_on_batch, x, y, 16, rng) for _ in range(4)]
    assert history == losses_
    for a, b in zip(fitted.get_weights(), twin.get_weights()):
        assert np.array_equal(a, b)


def _plain_training_step(params, state):
    """One hand-written step of the 3 → 8 relu → 2 network: reference functions only."""
    def step(xb, yb):
        W1, b1, W2, b2 = params
        z1 = ref.dense_forward(xb, W1, b1)
        h1 = ref.relu_forward(z1)
        y_pred = ref.dense_forward(h1, W2, b2)
        loss = ref.mse(yb, y_pred)
        dy = ref.mse_backward(yb, y_pred)
        dh1, dW2, db2 = ref.dense_backward(dy, h1, W2)
        _, dW1, db1 = ref.dense_backward(ref.relu_backward(dh1, z1), xb, W1)
        state["t"] += 1
        for i, g in enumerate([dW1, db1, dW2, db2]):
            params[i], state["m"][i], state["v"][i] = ref.adam_step(
                params[i], g, state["m"][i], state["v"][i], state["t"])
        return loss
    return step


def test_fit_equals_a_plain_loop_of_reference_functions_bit_for_bit():
    x, y = _data(70)
    model = _small_model(3)
    params = model.get_weights()  # kernel, bias, kernel, bias: Keras's order
    state = {"t": 0, "m": [np.zeros_like(p) for p in params], "v": [np.zeros_like(p) for p in params]}
    minnn.utils.set_random_seed(21)
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0).history["loss"]
    rng = np.random.default_rng(21)
    plain = [ref.fit_epoch(_plain_training_step(params, state), x, y, 16, rng) for _ in range(3)]
    assert history == plain
    for a, b in zip(model.get_weights(), params):
        assert np.array_equal(a, b)


def test_negative_control_an_unweighted_epoch_mean_fails_the_equality():
    x, y = _data(70)
    fitted, twin = _small_model(0), _small_model(0)
    minnn.utils.set_random_seed(11)
    history = fitted.fit(x, y, batch_size=16, epochs=1, verbose=0).history["loss"]
    batch_losses = [twin.train_on_batch(xb, yb) for xb, yb in
                    ref.epoch_batches(x, y, 16, np.random.default_rng(11).permutation(70))]
    assert history[0] != np.mean(batch_losses)  # the partial batch counts 6/70, not 1/5
    assert history[0] == pytest.approx(
        sum(n * l for n, l in zip([16] * 4 + [6], batch_losses)) / 70, rel=1e-6)


# ---------------------------------------------------------------------------
# The backward walk
# ---------------------------------------------------------------------------
def _grads(model):
    return [w.grad.copy() for w in model.weights]


def _walk_both(model, x, dy):
    """(dx, grads) from model.backward and from reference.backward_walk, each after its own forward."""
    model.forward(x)
    model.zero_grad()
    dx_engine = model.backward(dy)
    engine = _grads(model)
    model.forward(x)
    model.zero_grad()
    dx_ref = ref.backward_walk(model, dy)
    return (dx_engine, engine), (dx_ref, _grads(model))


def _assert_same(a, b):
    (dxa, ga), (dxb, gb) = a, b
    for p, q in zip(dxa if isinstance(dxa, list) else [dxa], dxb if isinstance(dxb, list) else [dxb]):
        assert np.array_equal(p, q)
    assert len(ga) == len(gb) and all(np.array_equal(p, q) for p, q in zip(ga, gb))


def _branched_shared(dtype="float64"):
    """x → shared → relu ─┬─ shared → a ─┐
                          └─ b ──────────┴─ Add → out   (the Dense 'shared' is used twice)"""
    inp = Input(shape=(4,), dtype=dtype)
    shared = Dense(4, activation="tanh", name="shared", dtype=dtype)
    h = ReLU(dtype=dtype)(shared(inp))
    a = Dense(3, name="a", dtype=dtype)(shared(h))
    b = Dense(3, activation="relu", name="b", dtype=dtype)(h)
    return Model(inp, Dense(2, name="out", dtype=dtype)(Add(dtype=dtype)([a, b])))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_backward_walk_equals_model_backward_on_a_branched_graph_with_a_shared_layer(rng, dtype):
    model = _branched_shared(dtype)
    for layer in model.layers:
        if getattr(layer, "bias", None) is not None:
            layer.bias.value[...] = rng.standard_normal(layer.bias.shape)
    x = rng.standard_normal((6, 4)).astype(dtype)
    dy = rng.standard_normal((6, 2)).astype(dtype)
    _assert_same(*_walk_both(model, x, dy))


def test_backward_walk_equals_model_backward_on_nested_models(rng):
    _, _, ae = build_tutorial_ae()
    x, dy = _f32(rng, 16, 2), _f32(rng, 16, 2)
    _assert_same(*_walk_both(ae, x, dy))


def test_backward_walk_equals_model_backward_with_two_inputs_and_two_outputs(rng):
    i1, i2 = Input(shape=(3,)), Input(shape=(2,))
    t1, t2 = Dense(4, activation="relu")(i1), Dense(4)(i2)
    s = Add()([t1, t2])
    model = Model([i1, i2], [Dense(1, name="o1")(s), Dense(2, name="o2")(t2)])
    x = [_f32(rng, 5, 3), _f32(rng, 5, 2)]
    dy = [_f32(rng, 5, 1), _f32(rng, 5, 2)]
    _assert_same(*_walk_both(model, x, dy))


def test_backward_walk_matches_central_differences(rng):
    model = _branched_shared("float64")
    x = rng.standard_normal((3, 4))
    G = rng.standard_normal((3, 2))
    model.forward(x)
    model.zero_grad()
    dx = ref.backward_walk(model, G)
    assert rel_error(dx, ref.numerical_gradient(lambda v: np.sum(model.forward(v) * G), x)) < GOOD
    shared = model.get_layer("shared").kernel
    analytic = shared.grad.copy()  # both uses of 'shared' add into it

    def s_of_kernel(kernel):
        old = shared.value.copy()
        shared.value[...] = kernel
        try:
            return np.sum(model.forward(x) * G)
        finally:
            shared.value[...] = old
    assert rel_error(analytic, ref.numerical_gradient(s_of_kernel, shared.value.copy())) < GOOD


def test_negative_control_a_walk_that_overwrites_gradients_fails_the_equality(rng, monkeypatch):
    """A walk that overwrites a tensor's gradient instead of summing loses one branch."""
    model = _branched_shared()
    x, dy = rng.standard_normal((6, 4)), rng.standard_normal((6, 2))

    def overwriting_walk(model, dy):
        grad = {model._out_slots[0]: dy}
        for step, cache in zip(reversed(model._steps), reversed(model.cache)):
            if step.outs[0] not in grad:
                continue
            step.layer.cache = cache
            dx = step.layer.backward(grad[step.outs[0]])
            for slot, d in zip(step.ins, dx if step.multi_in else [dx]):
                grad[slot] = d  # the bug: the other reader's gradient is lost
        return grad[0]

    engine, _ = _walk_both(model, x, dy)
    model.forward(x)
    model.zero_grad()
    assert not np.array_equal(overwriting_walk(model, dy), engine[0])


def test_negative_control_a_float64_running_total_fails_the_equality():
    """fit keeps the epoch's running total in float32, as Keras's loss tracker does; the
    same mean summed in Python floats differs in the last digits (here in epoch 1)."""
    x, y = _data(70)
    fitted, twin = _small_model(0), _small_model(0)
    minnn.utils.set_random_seed(11)
    history = fitted.fit(x, y, batch_size=16, epochs=1, verbose=0).history["loss"]
    batches = ref.epoch_batches(x, y, 16, np.random.default_rng(11).permutation(70))
    float64_mean = sum(len(xb) * twin.train_on_batch(xb, yb) for xb, yb in batches) / 70
    assert history[0] != float64_mean
    assert history[0] == pytest.approx(float64_mean, rel=1e-6)


def test_import_minnn_reaches_the_reference_and_the_trace():
    # Before: `import minnn; minnn.reference` raised AttributeError in a fresh interpreter
    # (only a module imported elsewhere first made the attribute exist).
    import subprocess
    import sys
    code = ("import minnn; print(minnn.reference.adam_step.__name__, "
            "minnn.trace.trace_step.__name__, minnn.lesson.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["adam_step", "trace_step", "minnn.lesson"]
