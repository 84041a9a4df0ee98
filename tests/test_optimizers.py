"""SGD and Adam against values worked out by hand from their formulas.

The reference updates below are written in plain Python floats, one scalar at
a time, straight from the formulas in keras-semantics.md; they share no code
with minnn.optimizers. Adam is Keras's "epsilon hat" form::

    m ← β1·m + (1 − β1)·g
    v ← β2·v + (1 − β2)·g²
    α_t = lr · sqrt(1 − β2^t) / (1 − β1^t)          (t = 1 on the first step)
    θ ← θ − α_t · m / (sqrt(v) + ε)
"""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minnn
from minnn import Dense, Input, Model, optimizers


# ---------------------------------------------------------------------------
# References, in plain Python
# ---------------------------------------------------------------------------
def adam_by_hand(theta, grads, lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    """Scalar θ after Adam steps with the gradients ``grads`` (t = 1, 2, …)."""
    m = v = 0.0
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        theta = theta - alpha * m / (math.sqrt(v) + eps)
    return theta


def adam_pytorch_form(theta, grads, lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    """Algorithm 1 of Kingma & Ba, as torch.optim.Adam: ε added to the *corrected* sqrt(v)."""
    m = v = 0.0
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        theta = theta - lr * m_hat / (math.sqrt(v_hat) + eps)
    return theta


def run(opt, theta0, grad_steps):
    """Apply ``opt`` to float64 copies of theta0 (list of arrays) with each list of gradients."""
    params = [np.array(p, dtype=np.float64) for p in theta0]
    for grads in grad_steps:
        opt.apply([np.array(g, dtype=np.float64) for g in grads], params)
    return params


def elementwise(ref, theta0, grad_steps, **kw):
    """Apply the scalar reference to every coordinate of every array."""
    out = []
    for i, p in enumerate(theta0):
        p = np.asarray(p, dtype=np.float64)
        res = np.empty_like(p)
        for idx in np.ndindex(p.shape):
            res[idx] = ref(float(p[idx]), [float(np.asarray(g[i])[idx]) for g in grad_steps], **kw)
        out.append(res)
    return out


# ---------------------------------------------------------------------------
# Adam
# ---------------------------------------------------------------------------
def first_two_steps_by_hand(cls):
    """θ0 = 1, g1 = 0.5, g2 = −0.25, Keras's defaults, worked out on paper.

    t=1: m = 0.05, v = 0.00025, α1 = 1e-3·sqrt(0.001)/0.1 = 3.16227766e-4,
         step = α1·0.05/(0.0158113883 + 1e-7) = 9.99993675e-4  (≈ lr: the bias
         correction makes the first step lr·sign(g))
    t=2: m = 0.9·0.05 − 0.1·0.25 = 0.02, v = 0.999·0.00025 + 0.001·0.0625 = 0.00031225,
         α2 = 1e-3·sqrt(1 − 0.999²)/(1 − 0.9²) = 2.35316725e-4,
         step = α2·0.02/(0.0176705970 + 1e-7) = 2.66335532e-4
    """
    opt = cls()
    theta = [np.array([1.0])]
    opt.apply([np.array([0.5])], theta)
    assert opt.iterations == 1
    assert theta[0][0] == pytest.approx(1 - 9.99993675e-4, abs=1e-12)
    opt.apply([np.array([-0.25])], theta)
    assert opt.iterations == 2
    assert theta[0][0] == pytest.approx(1 - 9.99993675e-4 - 2.66335532e-4, abs=1e-12)


def test_adam_first_two_steps_by_hand():
    first_two_steps_by_hand(optimizers.Adam)


def hand_value_check(opt_factory, seed=0, steps=6, **kw):
    rng = np.random.default_rng(seed)
    theta0 = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    grad_steps = [[rng.standard_normal(p.shape) * 10.0 ** rng.integers(-4, 2) for p in theta0]
                  for _ in range(steps)]
    opt = opt_factory()
    got = run(opt, theta0, grad_steps)
    want = elementwise(adam_by_hand, theta0, grad_steps, **kw)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)
    assert opt.iterations == steps  # once per step, not once per parameter array


def test_adam_matches_hand_values_over_several_steps():
    hand_value_check(optimizers.Adam)


def test_adam_with_other_hyperparameters_matches_hand_values():
    kw = dict(lr=0.05, b1=0.8, b2=0.99, eps=1e-4)
    hand_value_check(lambda: optimizers.Adam(learning_rate=0.05, beta_1=0.8, beta_2=0.99,
                                             epsilon=1e-4), seed=1, **kw)


class AdamWithoutBiasCorrection(optimizers.Adam):
    """Planted bug: α_t = lr (the 1/(1 − β1^t) and sqrt(1 − β2^t) factors dropped)."""

    def _update(self, params, grads):
        t = self.iterations + 1
        lr = self.learning_rate
        # Scale lr so that minnn's α_t comes out as plain lr.
        self.learning_rate = lr * (1 - self.beta_1 ** t) / math.sqrt(1 - self.beta_2 ** t)
        try:
            super()._update(params, grads)
        finally:
            self.learning_rate = lr


def test_negative_control_adam_without_bias_correction_fails_the_hand_values():
    # Without the correction, step 1 is lr·0.05/0.0158 ≈ 3.2·lr instead of ≈ lr.
    with pytest.raises(AssertionError):
        first_two_steps_by_hand(AdamWithoutBiasCorrection)
    with pytest.raises(AssertionError):
        hand_value_check(AdamWithoutBiasCorrection)


@given(seed=st.integers(0, 2**32 - 1), lr=st.sampled_from([1e-3, 1e-2, 0.1]))
def test_adam_first_step_is_lr_times_sign_of_g(seed, lr):
    """Keras's own check: with |g| ≫ ε/sqrt(1 − β2) ≈ 3.2e-6, step 1 moves each θ by ≈ lr·sign(g)."""
    rng = np.random.default_rng(seed)
    g = rng.choice([-1.0, 1.0], size=7) * 10.0 ** rng.uniform(-3, 2, size=7)
    theta = [np.zeros(7)]
    optimizers.Adam(learning_rate=lr).apply([g], theta)
    # exact: Δθ = −lr·g/(|g| + ε/sqrt(1 − β2)), so the relative deviation is ≤ 3.2e-6/1e-3
    np.testing.assert_allclose(theta[0], -lr * np.sign(g), rtol=4e-3)


def test_adam_epsilon_is_keras_epsilon_hat_not_pytorchs():
    """For a tiny gradient the two forms differ; minnn follows Keras."""
    g = [1e-8, 1e-8]
    opt = optimizers.Adam()
    got = run(opt, [np.array([0.0])], [[np.array([gi])] for gi in g])[0][0]
    assert got == pytest.approx(adam_by_hand(0.0, g), rel=1e-12)
    assert abs(got - adam_pytorch_form(0.0, g)) > 1e-5  # PyTorch's form moves ~30× further


def test_adam_state_is_kept_between_steps_and_shapes_are_checked():
    opt = optimizers.Adam()
    theta = [np.zeros(3)]
    opt.apply([np.ones(3)], theta)
    with pytest.raises(ValueError, match="shape"):
        opt.apply([np.ones(4)], theta)
    assert opt.iterations == 1  # a refused step is not counted


# ---------------------------------------------------------------------------
# SGD
# ---------------------------------------------------------------------------
def test_sgd_by_hand():
    """θ ← θ − lr·g: 1.0 − 0.01·0.5 = 0.995, then 0.995 − 0.01·(−2) = 1.015, then 1.015 − 0.01·4 = 0.975."""
    opt = optimizers.SGD()
    theta = [np.array([1.0, -1.0])]
    for g in ([0.5, 0.0], [-2.0, 1.0], [4.0, 0.25]):
        opt.apply([np.array(g)], theta)
    np.testing.assert_allclose(theta[0], [0.975, -1.0125], rtol=1e-13)
    assert opt.iterations == 3


@given(seed=st.integers(0, 2**32 - 1), lr=st.floats(1e-4, 1.0))
def test_sgd_matches_its_formula_over_several_steps(seed, lr):
    rng = np.random.default_rng(seed)
    theta0 = [rng.standard_normal((2, 3)), rng.standard_normal(3)]
    grad_steps = [[rng.standard_normal(p.shape) for p in theta0] for _ in range(4)]
    got = run(optimizers.SGD(learning_rate=lr), theta0, grad_steps)

    def sgd_by_hand(theta, grads):
        for g in grads:
            theta = theta - lr * g
        return theta

    for g, w in zip(got, elementwise(sgd_by_hand, theta0, grad_steps)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------
# Strings and defaults
# ---------------------------------------------------------------------------
def test_adam_string_gives_keras_defaults():
    for name in ("adam", "Adam"):
        opt = optimizers.get(name)
        assert type(opt) is optimizers.Adam
        assert (opt.learning_rate, opt.beta_1, opt.beta_2, opt.epsilon) == (0.001, 0.9, 0.999, 1e-7)
        assert opt.iterations == 0
    assert optimizers.Adam().get_config() == {"learning_rate": 0.001, "beta_1": 0.9,
                                             "beta_2": 0.999, "epsilon": 1e-7}


def test_sgd_string_gives_keras_defaults():
    opt = optimizers.get("sgd")
    assert type(opt) is optimizers.SGD and opt.learning_rate == 0.01
    assert optimizers.SGD().learning_rate == 0.01


def test_compile_with_a_string_builds_a_fresh_optimizer():
    inp = Input(shape=(2,))
    model = Model(inp, Dense(1)(inp))
    model.compile(optimizer="adam", loss="mse")
    assert type(model.optimizer) is optimizers.Adam and model.optimizer.learning_rate == 0.001
    opt = optimizers.SGD(learning_rate=0.5)
    model.compile(optimizer=opt, loss="mse")
    assert model.optimizer is opt


def test_unknown_optimizer_string_is_refused():
    with pytest.raises(ValueError, match="adamax"):
        optimizers.get("adamax")


# ---------------------------------------------------------------------------
# Through a model: the flat buffer gives the same numbers
# ---------------------------------------------------------------------------
def test_train_on_batch_applies_adam_to_the_model_gradients():
    """Two train_on_batch calls = the hand Adam applied to gradients from forward/backward."""
    minnn.config.set_floatx("float64")
    rng = np.random.default_rng(0)
    inp = Input(shape=(3,))
    model = Model(inp, Dense(2)(Dense(4, activation="relu")(inp)))
    for w in model.weights:
        w.value[...] = rng.uniform(-1, 1, w.shape)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))

    def gradients():
        y_pred = model.forward(x)
        model.zero_grad()
        model.backward(2 * (y_pred - y) / y.size)  # dL/dŷ of the MSE
        return [w.grad.copy() for w in model.weights]

    theta0 = model.get_weights()
    model.compile(optimizer=optimizers.Adam(learning_rate=0.01), loss="mse")
    g1 = gradients()
    model.train_on_batch(x, y)
    g2 = gradients()
    model.train_on_batch(x, y)
    want = elementwise(adam_by_hand, theta0, [g1, g2], lr=0.01)
    for got, w in zip(model.get_weights(), want):
        np.testing.assert_allclose(got, w, rtol=1e-12, atol=1e-15)
    assert model.optimizer.iterations == 2
