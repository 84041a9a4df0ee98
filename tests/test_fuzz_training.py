"""Hypothesis fuzzing: random small graphs, widths, batch sizes and data.

Every call either trains, with finite weights and correctly shaped results, or raises
one of the documented errors (ValueError / TypeError, whose message names what it got).
Nothing else may escape: no IndexError, no broadcasting surprise, no NaN weights."""
import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minnn
from minnn import Add, Dense, Input, Model


@st.composite
def graphs(draw):
    d_in = draw(st.integers(1, 4))
    x = Input((d_in,))
    h = x
    for _ in range(draw(st.integers(1, 3))):
        width = draw(st.integers(1, 5))
        act = draw(st.sampled_from([None, "relu"]))
        if draw(st.booleans()):  # fan out into two branches and Add them back
            h = Add()([Dense(width, activation=act)(h), Dense(width)(h)])
        else:
            h = Dense(width, activation=act)(h)
    d_out = draw(st.integers(1, 3))
    return Model(x, Dense(d_out)(h)), d_in, d_out


@st.composite
def cases(draw):
    seed = draw(st.integers(0, 2**16))
    minnn.utils.set_random_seed(seed)
    model, d_in, d_out = draw(graphs())
    n = draw(st.integers(1, 12))
    batch = draw(st.sampled_from([1, n + 3, max(1, n // 2 + 1), 5]))
    scale = draw(st.sampled_from([1.0, 1e3, 1e20, 1e36]))
    lr = draw(st.sampled_from([1e-3, 1.0, 1e10]))
    opt = draw(st.sampled_from(["adam", "sgd"]))
    bad = draw(st.sampled_from([None, None, None, "nan", "width", "rank", "length", "batch"]))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d_in)) * scale
    y = rng.normal(size=(n, d_out))
    if bad == "nan":
        x[rng.integers(n), rng.integers(d_in)] = np.nan
    elif bad == "width":
        x = np.zeros((n, d_in + 1))
    elif bad == "rank":
        x = x[0]
    elif bad == "length":
        y = y[: max(0, n - 1)] if n > 1 else np.zeros((2, d_out))
    elif bad == "batch":
        batch = draw(st.sampled_from([0, -1, 1.5]))
    return model, x, y, batch, opt, lr, bad


@settings(max_examples=80)
@given(cases(), st.integers(0, 3))
def test_fit_either_trains_finitely_or_raises_a_documented_error(case, epochs):
    model, x, y, batch, opt, lr, bad = case
    optimizer = minnn.optimizers.get(opt)
    optimizer.learning_rate = lr
    model.compile(optimizer, "mse")
    before = model.get_weights()
    with np.errstate(all="ignore"):
        try:
            h = model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0, shuffle=True)
        except (ValueError, TypeError) as e:
            assert bad is not None, f"unexpected error on good input: {e!r}"
            assert str(e)
            for a, b in zip(before, model.get_weights()):
                np.testing.assert_array_equal(a, b)
            assert model.optimizer.iterations == 0
            return
        assert bad is None, f"bad input {bad!r} was accepted"
        assert all(np.isfinite(w).all() for w in model.get_weights())
        assert [w.shape for w in model.get_weights()] == [w.shape for w in before]
        losses = h.history.get("loss", [])
        assert all(np.isfinite(losses))
        if h.diverged is None:
            assert len(losses) == epochs
            steps = -(-len(x) // batch)
            assert model.optimizer.iterations == epochs * steps
        else:
            assert len(losses) == h.diverged["epoch"] < epochs
        out = model.predict(x, batch_size=batch, verbose=0)
        assert out.shape == (len(x), model.outputs[0].shape[1]) and out.dtype == np.float32
        try:
            loss = model.train_on_batch(x, y)
            assert np.isfinite(loss)
        except ValueError as e:
            assert "lower learning_rate" in str(e)
        assert all(np.isfinite(w).all() for w in model.get_weights())


def test_the_fuzz_check_notices_non_finite_weights(monkeypatch):
    # Negative control: with the step guard and the loss check planted away, a huge
    # learning rate leaves non-finite weights, which the fuzz assertions would catch.
    from minnn.guard import StepGuard

    monkeypatch.setattr(StepGuard, "protect", lambda self, o, p, loss: contextlib.nullcontext())
    minnn.utils.set_random_seed(0)
    x = Input((2,))
    m = Model(x, Dense(1)(Dense(3)(x)))
    m.compile(minnn.optimizers.SGD(1e30), "mse")
    data = np.random.default_rng(0).normal(size=(8, 2)) * 1e10
    with np.errstate(all="ignore"):
        m.fit(data, data[:, :1], epochs=2, batch_size=1, verbose=0)
    with pytest.raises(AssertionError):
        assert all(np.isfinite(w).all() for w in m.get_weights())
