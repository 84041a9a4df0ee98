"""RMSprop against Keras's update worked by hand (keras-semantics-2 §8), and as compile's default.

The reference is plain Python floats, one coordinate at a time, straight from Keras's
rmsprop.py; it shares no code with minnn::

    v ← ρ·v + (1 − ρ)·g²            centered: a ← ρ·a + (1 − ρ)·g;  denom = v − a² + ε
    Δ = lr·g / sqrt(v + ε)
    θ ← θ − Δ                        momentum: m ← momentum·m + Δ;  θ ← θ − m
"""
import math

import numpy as np
import pytest

import minnn
from minnn import Dense, Input, Model, optimizers


def apply(opt, params, grads):
    opt.apply(grads, params)  # Keras's order


def rmsprop_by_hand(theta, grads, lr=0.001, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    v = m = a = 0.0
    for g in grads:
        v = rho * v + (1 - rho) * g * g
        if centered:
            a = rho * a + (1 - rho) * g
            denom = v - a * a + eps
        else:
            denom = v + eps
        step = lr * g / math.sqrt(denom)
        if momentum > 0:
            m = momentum * m + step
            theta -= m
        else:
            theta -= step
    return theta


@pytest.mark.parametrize("momentum", [0.0, 0.5])
@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop_matches_keras_formula_over_several_steps(momentum, centered):
    rng = np.random.default_rng(0)
    theta0 = rng.standard_normal(6)
    grads = [rng.standard_normal(6) * 10.0 ** rng.integers(-4, 2) for _ in range(5)]
    opt = optimizers.RMSprop(0.01, momentum=momentum, centered=centered)
    theta = theta0.copy()
    for g in grads:
        apply(opt, [theta], [g])
    expected = [rmsprop_by_hand(t, [g[i] for g in grads], 0.01, 0.9, momentum, 1e-7, centered)
                for i, t in enumerate(theta0)]
    np.testing.assert_allclose(theta, expected, rtol=1e-12)
    assert opt.iterations == 5


def test_first_step_sizes_measured_in_keras():
    """keras-semantics-2 §8 (measured): 0.00316226 for g = 1 and g = −2, 3.1466e-4 for g = 1e-4."""
    theta = np.zeros(3, dtype=np.float32)
    apply(optimizers.RMSprop(), [theta], [np.array([1.0, -2.0, 1e-4], dtype=np.float32)])
    np.testing.assert_allclose(-theta, [0.00316226, -0.00316226, 3.1466e-4], rtol=1e-4)


def test_epsilon_inside_the_sqrt_is_what_is_tested():
    """Negative control: PyTorch's form, sqrt(v) + ε, moves a tiny gradient by 3.16e-3, not
    3.15e-4, so the test above would catch ε in the wrong place."""
    g = 1e-4
    torch_form = 0.001 * g / (math.sqrt(0.1 * g * g) + 1e-7)
    assert abs(torch_form - 3.1466e-4) > 1e-4


def test_defaults_and_compile_default_is_rmsprop():
    opt = optimizers.RMSprop()
    assert (opt.learning_rate, opt.rho, opt.momentum, opt.epsilon, opt.centered) == \
        (0.001, 0.9, 0.0, 1e-7, False)
    x = Input((2,))
    m = Model(x, Dense(1)(x))
    m.compile(loss="mse")
    assert isinstance(m.optimizer, optimizers.RMSprop)
    for name in ("rmsprop", "RMSprop"):
        assert isinstance(optimizers.get(name), optimizers.RMSprop)


@pytest.mark.parametrize("kw", [{"rho": 1.0}, {"rho": 0}, {"momentum": -0.1}, {"momentum": 1.0},
                                {"epsilon": 0}, {"learning_rate": -1}, {"centered": 1}])
def test_bad_settings_are_refused(kw):
    with pytest.raises((ValueError, TypeError), match=list(kw)[0]):
        optimizers.RMSprop(**kw)


@pytest.mark.parametrize("kw", [{}, {"momentum": 0.9}, {"centered": True, "momentum": 0.5}])
def test_rmsprop_state_saves_and_resumes_exactly(tmp_path, kw):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((40, 3)).astype(np.float32)
    target = data @ rng.standard_normal((3, 1)).astype(np.float32)

    def model():
        minnn.utils.set_random_seed(1)
        x = Input((3,))
        m = Model(x, Dense(1)(Dense(4, activation="relu")(x)))
        m.compile(optimizer=optimizers.RMSprop(0.01, **kw), loss="mse")
        return m

    a = model()
    a.fit(data, target, epochs=2, batch_size=8, shuffle=False, verbose=0)
    a.save(tmp_path / "a.minnn")
    b = minnn.models.load_model(tmp_path / "a.minnn")
    assert isinstance(b.optimizer, optimizers.RMSprop) and b.optimizer.get_config() == a.optimizer.get_config()
    ha = a.fit(data, target, epochs=2, batch_size=8, shuffle=False, verbose=0)
    hb = b.fit(data, target, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert ha.history["loss"] == hb.history["loss"]
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


def test_a_diverging_rmsprop_step_is_undone_with_its_state():
    x = Input((1,))
    m = Model(x, Dense(1)(x))
    m.compile(optimizer=optimizers.RMSprop(0.01, momentum=0.9), loss="mse")
    data = np.ones((4, 1), dtype=np.float32)
    m.train_on_batch(data, data)
    state = [s.copy() for s in m.optimizer.get_state()]
    weights = m.get_weights()
    assert len(state) == 2 and np.any(state[0] != 0)  # velocity and momentum, both in use
    m.optimizer.learning_rate = 1e39  # lr·g overflows float32: the step makes weights inf
    with pytest.raises(ValueError, match="not updated"):
        m.train_on_batch(data, data)
    assert all(np.array_equal(u, v) for u, v in zip(weights, m.get_weights()))
    assert all(np.array_equal(u, v) for u, v in zip(state, m.optimizer.get_state()))
