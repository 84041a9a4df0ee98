"""minnn against real Keras 3, from identical initial weights (optional: needs keras and jax).

    pip install -e ".[parity]" && KERAS_BACKEND=jax python -m pytest tests/test_keras_parity.py

Skipped when Keras (on JAX) is not installed, as in the default test command. It builds the
tutorial's nested autoencoder in both, copies minnn's weights into Keras with
``keras_model.set_weights(minnn_model.get_weights())`` (so the weight order must match), and
compares the initial loss, the gradients, the first Adam steps, and the loss history with
shuffle=False. Both compute in float32 with different matmul kernels, so they agree to
float32 round-off at first; over thousands of steps that round-off grows (training is
chaotic), so the late history is compared loosely.

It also builds the branched, shared, two-input, two-output and nested graphs of
test_layer_order.py in Keras, checks that Keras lists their layers in the table's order,
loads minnn's get_weights() into each and compares the predictions (with minnn's old
post-order listing planted back as a negative control), and compares summary() texts live.
"""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
jax = pytest.importorskip("jax")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":
    pytest.skip("these checks use Keras on the JAX backend", allow_module_level=True)

import jax.numpy as jnp  # noqa: E402

import minnn  # noqa: E402
from minnn.datasets import two_gaussians  # noqa: E402
from tutorial_ae import build_tutorial_ae  # noqa: E402


def keras_tutorial_ae():
    inputs = keras.Input(shape=(2,), name="Input")
    x = keras.layers.Dense(20, activation="relu")(inputs)
    x = keras.layers.Dense(20, activation="relu")(x)
    lat = keras.layers.Dense(1, activation="linear")(x)
    encoder = keras.Model(inputs, lat, name="encoder")
    lat_in = keras.Input(shape=(1,))
    x = keras.layers.Dense(20, activation="relu")(lat_in)
    x = keras.layers.Dense(20, activation="relu")(x)
    out = keras.layers.Dense(2, activation="linear")(x)
    decoder = keras.Model(lat_in, out, name="decoder")
    return keras.Model(inputs, decoder(encoder(inputs)), name="ae")


@pytest.fixture
def pair():
    data, _ = two_gaussians.load_data(0)
    minnn.utils.set_random_seed(0)
    _, _, m = build_tutorial_ae()
    k = keras_tutorial_ae()
    k.set_weights(m.get_weights())
    m.compile("adam", "mse")
    k.compile(optimizer="adam", loss="mse")
    return m, k, data


def test_same_parameter_count_and_initial_loss(pair):
    m, k, data = pair
    assert k.count_params() == m.count_params() == 1003
    lm = m.evaluate(data, data, batch_size=2000, verbose=0)
    lk = k.evaluate(data, data, batch_size=2000, verbose=0)
    assert abs(lm - lk) <= 1e-6 * lk


def test_same_gradients(pair):
    m, k, data = pair
    xb = data[:128]
    m._ensure_flat()
    y_pred = m.forward(xb)
    m.zero_grad()
    m.backward(m._loss_fns[0].backward(xb, y_pred))

    def keras_loss(values):
        y, _ = k.stateless_call(values, [], xb)
        return jnp.mean(jnp.mean(jnp.square(xb - y), axis=-1))

    grads_k = jax.grad(keras_loss)([v.value for v in k.trainable_variables])
    for w, gk in zip(m.weights, grads_k):
        gk = np.asarray(gk)
        assert w.grad.shape == gk.shape
        assert np.max(np.abs(w.grad - gk)) <= 1e-5 * np.max(np.abs(gk)) + 1e-9, w.name


def test_same_first_adam_steps(pair):
    m, k, data = pair
    xb = data[:128]
    for _ in range(3):
        m.train_on_batch(xb, xb)
        k.train_on_batch(xb, xb)
        for a, b in zip(m.get_weights(), k.get_weights()):
            assert np.max(np.abs(a - b)) < 1e-6
    assert m.optimizer.iterations == int(k.optimizer.iterations) == 3


def test_same_loss_history_without_shuffling(pair):
    m, k, data = pair
    hm = np.array(m.fit(data, data, epochs=200, batch_size=128, shuffle=False, verbose=0).history["loss"])
    hk = np.array(k.fit(data, data, epochs=200, batch_size=128, shuffle=False, verbose=0).history["loss"])
    rel = np.abs(hm - hk) / hk
    assert rel[:20].max() < 1e-4      # measured: 5e-6
    assert rel[-1] < 0.1               # measured: 4e-3 after 3200 steps


# -- branched graphs: Keras's layer and weight order --------------------------------------
import types  # noqa: E402

import test_layer_order as order  # noqa: E402

KERAS = types.SimpleNamespace(Input=keras.Input, Dense=keras.layers.Dense,
                              Add=keras.layers.Add, Model=keras.Model)


def _inputs_for(model, rng):
    shapes = [tuple(t.shape[1:]) for t in model.inputs]
    return [rng.normal(size=(7,) + s).astype("float32") for s in shapes]


def _predict(model, xs):
    out = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    return out if isinstance(out, list) else [out]


@pytest.mark.parametrize("case, build, names, shapes", order.CASES,
                         ids=[c[0] for c in order.CASES])
def test_branched_graph_weights_load_into_keras(case, build, names, shapes):
    """The table of test_layer_order.py is Keras's order, and Keras predicts as minnn does
    once it is given minnn's get_weights()."""
    minnn.utils.set_random_seed(1)
    m = build()
    k = build(KERAS)
    assert [l.name for l in k.layers] == [l.name for l in m.layers] == names
    k.set_weights(m.get_weights())
    xs = _inputs_for(m, np.random.default_rng(0))
    for a, b in zip(_predict(m, xs), _predict(k, xs)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _same_shaped_branches(lib):
    """The issue's scenario: b1 and a1 have the same shape, so a wrong order loads silently."""
    inp = lib.Input((3,), name="inp")
    b1 = lib.Dense(2, name="b1")(inp)
    a2 = lib.Dense(2, name="a2")(lib.Dense(2, name="a1")(inp))
    return lib.Model(inp, lib.Dense(1, name="out")(lib.Add(name="add")([b1, a2])))


def test_same_shaped_branches_agree_and_the_old_order_would_not(monkeypatch):
    minnn.utils.set_random_seed(2)
    m = _same_shaped_branches(order.MINNN)
    k = _same_shaped_branches(KERAS)
    x = np.random.default_rng(1).normal(size=(7, 3)).astype("float32")
    k.set_weights(m.get_weights())
    np.testing.assert_allclose(m.predict(x, verbose=0), k.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    # Negative control: minnn's old post-order listing loads into Keras without an error...
    monkeypatch.setattr(minnn.graph, "keras_order", order._post_order_listing)
    old = _same_shaped_branches(order.MINNN)
    old.set_weights(m.get_weights())
    assert [l.name for l in old.layers] == ["inp", "b1", "a1", "a2", "add", "out"]
    k.set_weights(old.get_weights())
    # ...and Keras then computes something else.
    assert not np.allclose(old.predict(x, verbose=0), k.predict(x, verbose=0), atol=1e-3)


# -- summary(): live against Keras, beside the recorded tables --------------------------------
import sys  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "keras_reference"))
import summary_models  # noqa: E402


@pytest.mark.parametrize("name", sorted(summary_models.MODELS))
def test_summary_is_keras_text_live(name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    kk, mm = [], []
    summary_models.MODELS[name](KERAS).summary(print_fn=lambda s, **_: kk.append(s),
                                               expand_nested=True)
    M = types.SimpleNamespace(Input=minnn.Input, Dense=minnn.Dense, Add=minnn.Add, Model=minnn.Model)
    summary_models.MODELS[name](M).summary(print_fn=mm.append, expand_nested=True)
    assert mm == kk
